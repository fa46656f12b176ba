// A Sigma rule compiled for evaluation: selections of field predicates and a condition.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "condition.h"
#include "field.h"
#include "value_pattern.h"
#include "vigie/protocol/event.h"
#include "vigie/rules/ioc.h"

namespace vigie::rules {

// `re` (sigma-appendix-modifiers.md §Regular Expression): an unanchored search, RE2 syntax.
struct RegexMatcher {
  std::shared_ptr<const re2::RE2> regex;
};
// `cidr`: the field parses as an IPv4/IPv6 address inside the network.
struct CidrMatcher {
  IpNetwork network;
};
// `lt` `lte` `gt` `gte`: the field parses as a number compared with `bound`.
struct NumericMatcher {
  enum class Op : uint8_t { kLess, kLessEqual, kGreater, kGreaterEqual };
  Op op;
  double bound;
};
// `fieldref`: the field equals another field of the same event (case-insensitive unless cased).
struct FieldRefMatcher {
  FieldAccessor other;
  FieldSetter other_setter;
  bool cased;
};
// `ioc` (Vigie): the field matches an indicator of a named IOC set.
struct IocMatcher {
  std::shared_ptr<const IocSet> set;
};

using ValueMatcher = std::variant<ValuePattern, RegexMatcher, CidrMatcher, NumericMatcher,
                                  FieldRefMatcher, IocMatcher>;

bool matches(const ValueMatcher& matcher, std::string_view value, const protocol::Event& event);

// `Field|modifiers: values` — OR over the values, AND with `all`; `neq` negates.
struct FieldPredicate {
  enum class Presence : uint8_t {
    kValues,   // compare the values
    kAbsent,   // `null` or `exists: false`: the event lacks the field (or it is empty)
    kPresent,  // `exists: true`
  };
  std::string field;  // as written in the rule, for explanations
  FieldAccessor accessor = nullptr;
  FieldSetter setter = nullptr;  // for synthesized examples
  bool free_text = false;        // FieldDef::text: paths, command lines (not enums, numbers)
  Presence presence = Presence::kValues;
  bool match_all = false;  // `all`
  bool negate = false;     // `neq`
  uint8_t cost = 0;        // evaluation order within a selection, cheapest first
  std::vector<ValueMatcher> matchers;

  bool matches(const protocol::Event& event) const {
    FieldScratch scratch;
    const auto value = accessor(event, scratch);
    switch (presence) {
      case Presence::kAbsent:
        return !value;
      case Presence::kPresent:
        return value.has_value();
      case Presence::kValues:
        break;
    }
    if (!value) return negate;
    bool result = match_all;
    for (const ValueMatcher& matcher : matchers) {
      if (rules::matches(matcher, *value, event) != match_all) {
        result = !match_all;
        break;
      }
    }
    return result != negate;
  }
};

// A search identifier: a map is one AND group, a list of maps is an OR of groups.
struct Selection {
  std::string name;
  std::vector<std::vector<FieldPredicate>> any_of;

  bool matches(const protocol::Event& event) const {
    for (const auto& group : any_of) {
      bool all = true;
      for (const FieldPredicate& predicate : group) {
        if (!predicate.matches(event)) {
          all = false;
          break;
        }
      }
      if (all) return true;
    }
    return false;
  }
};

// One rule compiled for one event kind (a logsource may map to several kinds).
struct CompiledRule {
  uint32_t info_index = 0;  // into Engine::rules()
  // Implied by the logsource: Sigma's file_event is a file created or
  // written, so a FileOpen for reading does not raise file_event rules.
  bool (*guard)(const protocol::Event&) = nullptr;
  std::vector<Selection> selections;
  Condition condition;

  bool matches(const protocol::Event& event) const {
    if (guard != nullptr && !guard(event)) return false;
    return condition.evaluate([&](uint32_t i) { return selections[i].matches(event); });
  }
};

}  // namespace vigie::rules
