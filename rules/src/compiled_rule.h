// A Sigma rule compiled for evaluation: selections of field predicates and a condition.
#pragma once

#include <cstdint>
#include <vector>

#include "condition.h"
#include "field.h"
#include "value_pattern.h"
#include "vigie/protocol/event.h"

namespace vigie::rules {

// `Field|modifiers: values` — OR over the values, AND with the `all` modifier.
struct FieldPredicate {
  FieldAccessor accessor = nullptr;
  bool match_all = false;     // `all` modifier
  bool match_absent = false;  // value `null`: true when the event lacks the field
  std::vector<ValuePattern> patterns;

  bool matches(const protocol::Event& event) const {
    FieldScratch scratch;
    const auto value = accessor(event, scratch);
    if (!value) return match_absent;
    if (match_absent) return false;
    for (const ValuePattern& pattern : patterns) {
      if (pattern.matches(*value) != match_all) return !match_all;
    }
    return match_all;
  }
};

// A search identifier: a map is one AND group, a list of maps is an OR of groups.
struct Selection {
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

struct CompiledRule {
  uint32_t info_index = 0;  // into Engine::rules()
  std::vector<Selection> selections;
  Condition condition;

  bool matches(const protocol::Event& event) const {
    return condition.evaluate([&](uint32_t i) { return selections[i].matches(event); });
  }
};

}  // namespace vigie::rules
