// The literal prefilter: for each rule, literals one of which every match must
// contain (derived from its condition and selections), compiled per field into
// one Hyperscan literal database (caseless, single match per literal).
#include <re2/filtered_re2.h>

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

bool all_free_text(const Literals& literals) {
  return std::all_of(literals.begin(), literals.end(),
                     [](const Literal& l) { return l.free_text; });
}

// Prefer needs on free-text fields (a literal of an enumerated field, such as
// workload.kind "slurm_job", is in most events of a batch node), then the
// longest shortest literal (fewer false hits), then the smallest.
bool better(const Literals& a, const Literals& b) {
  const bool ta = all_free_text(a), tb = all_free_text(b);
  if (ta != tb) return ta;
  const std::size_t sa = shortest(a), sb = shortest(b);
  return sa != sb ? sa > sb : a.size() < b.size();
}

// Literals one of which every match of `regex` contains: RE2's own
// prefilter atoms (re2::FilteredRE2), used only when RE2 says the expression
// cannot match without one of them, the expression is case-sensitive (RE2
// folds case over Unicode, Hyperscan over ASCII) and every atom is ASCII.
std::optional<std::vector<std::string>> regex_literals(const re2::RE2& regex) {
  const std::string& pattern = regex.pattern();
  for (std::size_t at = pattern.find("(?"); at != std::string::npos;
       at = pattern.find("(?", at + 2)) {
    const std::size_t end = pattern.find_first_of(":)", at + 2);
    if (pattern.substr(at + 2, end - at - 2).find('i') != std::string::npos) return std::nullopt;
  }
  if (!regex.options().case_sensitive()) return std::nullopt;
  re2::FilteredRE2 filter(static_cast<int>(kMinLiteralBytes));
  int id = 0;
  if (filter.Add(pattern, regex.options(), &id) != re2::RE2::NoError) return std::nullopt;
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  std::vector<int> without_atoms;
  filter.AllPotentials({}, &without_atoms);
  if (atoms.empty() || !without_atoms.empty()) return std::nullopt;
  for (const std::string& atom : atoms) {
    if (atom.size() < kMinLiteralBytes ||
        std::any_of(atom.begin(), atom.end(), [](char c) { return (c & 0x80) != 0; })) {
      return std::nullopt;
    }
  }
  return atoms;
}

std::optional<Literals> predicate_literals(const FieldPredicate& predicate) {
  if (predicate.presence != FieldPredicate::Presence::kValues || predicate.negate ||
      predicate.matchers.empty()) {
    return std::nullopt;
  }
  Literals literals;
  for (const ValueMatcher& matcher : predicate.matchers) {
    if (const auto* regex = std::get_if<RegexMatcher>(&matcher)) {
      auto atoms = regex_literals(*regex->regex);
      if (!atoms || predicate.match_all) {
        if (predicate.match_all) continue;  // another value of the AND may do
        return std::nullopt;
      }
      for (std::string& atom : *atoms) {
        literals.push_back({predicate.accessor, std::move(atom), predicate.free_text});
      }
      continue;
    }
    const auto* pattern = std::get_if<ValuePattern>(&matcher);
    const std::string_view text = pattern ? pattern->longest_literal() : std::string_view();
    if (text.size() < kMinLiteralBytes) {
      if (predicate.match_all) continue;  // another value of the AND may do
      return std::nullopt;
    }
    Literal literal{predicate.accessor, std::string(text), predicate.free_text};
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
    for (uint32_t r = 0; r < kind.rules.size(); ++r) {
      if (!kind.filtered[r]) kind.unfiltered.push_back(r);
    }
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
