// The compiled form behind rules::Engine: rules by event kind, and the
// Hyperscan literal prefilter of each kind.
#pragma once

#include <hs/hs.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "compiled_rule.h"

namespace vigie::rules {

// A literal every match of a rule contains, in one field (lower-cased unless from a cased value).
struct Literal {
  FieldAccessor accessor = nullptr;
  std::string text;
  bool free_text = false;  // of a free-text field (FieldDef::text)
};

struct KindRules {
  std::vector<CompiledRule> rules;  // in load order
  // Prefilter: one Hyperscan literal database over the kind's literal
  // fields laid end to end (one scan per event); a hit counts only when it
  // lies inside the field its literal belongs to.
  hs_database_t* database = nullptr;
  std::vector<FieldAccessor> scan_fields;
  std::vector<std::vector<uint32_t>> literal_rules;  // literal id -> indices into `rules`
  std::vector<uint32_t> literal_field;               // literal id -> index into scan_fields
  std::vector<uint32_t> literal_length;              // literal id -> bytes
  std::vector<uint8_t> filtered;     // per rule: 1 when it runs only if one of its literals hit
  std::vector<uint32_t> unfiltered;  // rules with filtered == 0, in order: always evaluated
  std::size_t literal_count = 0;
};

struct EngineImpl {
  EngineImpl();
  ~EngineImpl();
  EngineImpl(const EngineImpl&) = delete;
  EngineImpl& operator=(const EngineImpl&) = delete;

  // Compiles the prefilter of every kind. Throws std::runtime_error when
  // Hyperscan refuses a database (the loader then reports it).
  void build_prefilter();

  std::array<KindRules, protocol::kEventKindCount> kinds;
  uint64_t serial;  // unique per engine: keys the per-thread Hyperscan scratch
};

// What a compiled rule needs in the event for it to match: nullopt when no literal is known.
std::optional<std::vector<Literal>> required_literals(const CompiledRule& rule);

}  // namespace vigie::rules
