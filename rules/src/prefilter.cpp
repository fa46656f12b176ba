// The literal prefilter: for each rule, literals one of which every match must
// contain (derived from its condition and selections), compiled per field into
// one Hyperscan literal database (caseless, single match per literal).
#include <algorithm>
#include <atomic>
#include <map>
#include <stdexcept>

#include "engine_impl.h"

namespace vigie::rules {
namespace {

// Shorter literals hit too often to skip anything; such predicates are left to evaluation.
constexpr std::size_t kMinLiteralBytes = 3;

using Literals = std::vector<Literal>;

std::size_t shortest(const Literals& literals) {
  std::size_t n = SIZE_MAX;
  for (const Literal& l : literals) n = std::min(n, l.text.size());
  return n;
}

// Prefer the need with the longest shortest literal (fewer false hits), then the smallest.
bool better(const Literals& a, const Literals& b) {
  const std::size_t sa = shortest(a), sb = shortest(b);
  return sa != sb ? sa > sb : a.size() < b.size();
}

std::optional<Literals> predicate_literals(const FieldPredicate& predicate) {
  if (predicate.presence != FieldPredicate::Presence::kValues || predicate.negate ||
      predicate.matchers.empty()) {
    return std::nullopt;
  }
  Literals literals;
  for (const ValueMatcher& matcher : predicate.matchers) {
    const auto* pattern = std::get_if<ValuePattern>(&matcher);
    const std::string_view text = pattern ? pattern->longest_literal() : std::string_view();
    if (text.size() < kMinLiteralBytes) {
      if (predicate.match_all) continue;  // another value of the AND may do
      return std::nullopt;
    }
    Literal literal{predicate.accessor, std::string(text)};
    if (predicate.match_all) {
      if (literals.empty() || literal.text.size() > literals.front().text.size()) {
        literals = {std::move(literal)};
      }
    } else {
      literals.push_back(std::move(literal));
    }
  }
  if (literals.empty()) return std::nullopt;
  return literals;
}

std::optional<Literals> selection_literals(const Selection& selection) {
  Literals all;
  for (const auto& group : selection.any_of) {
    std::optional<Literals> best;
    for (const FieldPredicate& predicate : group) {
      auto need = predicate_literals(predicate);
      if (need && (!best || better(*need, *best))) best = std::move(need);
    }
    if (!best) return std::nullopt;
    all.insert(all.end(), best->begin(), best->end());
  }
  return all;
}

std::atomic<uint64_t> next_serial{1};

}  // namespace

std::optional<std::vector<Literal>> required_literals(const CompiledRule& rule) {
  return rule.condition.required<Literals>(
      [&](uint32_t i) { return selection_literals(rule.selections[i]); }, better);
}

EngineImpl::EngineImpl() : serial(next_serial.fetch_add(1)) {}

EngineImpl::~EngineImpl() {
  for (KindRules& kind : kinds) hs_free_database(kind.database);
}

void EngineImpl::build_prefilter() {
  for (KindRules& kind : kinds) {
    // field -> literal text -> literal id
    std::map<FieldAccessor, std::map<std::string, uint32_t>> ids;
    kind.filtered.assign(kind.rules.size(), 0);
    for (uint32_t r = 0; r < kind.rules.size(); ++r) {
      const auto literals = required_literals(kind.rules[r]);
      if (!literals) continue;
      kind.filtered[r] = 1;
      for (const Literal& literal : *literals) {
        std::string text = literal.text;
        for (char& c : text) c = ascii_lower(c);
        const auto [it, inserted] = ids[literal.accessor].try_emplace(
            std::move(text), static_cast<uint32_t>(kind.literal_rules.size()));
        if (inserted) kind.literal_rules.emplace_back();
        auto& targets = kind.literal_rules[it->second];
        if (targets.empty() || targets.back() != r) targets.push_back(r);
      }
    }
    kind.literal_count = kind.literal_rules.size();
    if (ids.empty()) continue;
    kind.literal_field.resize(kind.literal_count);
    kind.literal_length.resize(kind.literal_count);
    std::vector<const char*> expressions;
    std::vector<std::size_t> lengths;
    std::vector<unsigned> flags, literal_ids;
    for (const auto& [accessor, literals] : ids) {
      const auto field = static_cast<uint32_t>(kind.scan_fields.size());
      kind.scan_fields.push_back(accessor);
      for (const auto& [text, id] : literals) {
        expressions.push_back(text.data());
        lengths.push_back(text.size());
        // Every occurrence is reported (no single-match): the first one may
        // lie in another field than the literal's.
        flags.push_back(HS_FLAG_CASELESS);
        literal_ids.push_back(id);
        kind.literal_field[id] = field;
        kind.literal_length[id] = static_cast<uint32_t>(text.size());
      }
    }
    hs_compile_error_t* error = nullptr;
    if (hs_compile_lit_multi(expressions.data(), flags.data(), literal_ids.data(), lengths.data(),
                             static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr,
                             &kind.database, &error) != HS_SUCCESS) {
      const std::string message = error ? error->message : "unknown error";
      hs_free_compile_error(error);
      throw std::runtime_error("Hyperscan cannot compile the literal prefilter: " + message);
    }
  }
}

}  // namespace vigie::rules
