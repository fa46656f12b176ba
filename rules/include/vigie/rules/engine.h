// The Sigma detection rules engine: loads rules from YAML, compiles them into
// predicates over typed protocol::Event fields, and evaluates them per event.
//
// Supported subset of the Sigma rules specification (shared/corpus/sigma-spec,
// "sigma-rules-specification.md"); anything else refuses the rule with a
// Diagnostic naming the feature, and the other rules still load:
//  - attributes: title, id (required: it identifies alerts), status, level
//    (required), tags, logsource; other attributes are accepted and ignored.
//  - logsource (§LogSource): product `linux` with category `process_creation`
//    (ProcessExec events) or `network_connection` (NetworkConnect events); no `service`.
//  - detection (§Detection): search identifiers as a map (AND of fields) or a
//    list of maps (OR); a field's value is a scalar or a list of scalars (OR),
//    or null (the field is absent); keyword (full-text) lists are refused.
//  - values (§String Wildcard, §Escape Character): case-insensitive (ASCII),
//    `*` and `?` wildcards, `\` escapes `*`, `?` and `\`.
//  - modifiers (sigma-appendix-modifiers.md §Generic): contains, startswith,
//    endswith, all.
//  - condition (§Condition): and, or, not, parentheses, `1 of pattern*`,
//    `all of pattern*`, `1 of them`, `all of them`; a list of conditions is OR'ed.
//    Precedence, least to most binding: or, and, not, x of, ( ).
//
// Fields (sigma-appendix-taxonomy.md) are resolved at load time to compiled
// accessors; an unknown field refuses the rule. process_creation: Image,
// CommandLine, ParentImage, ParentCommandLine, User, ProcessId, ParentProcessId,
// CurrentDirectory (not collected yet: always absent). network_connection:
// Image, DestinationIp, DestinationPort, Protocol ("tcp"/"udp"), Initiated
// ("true"), User, ProcessId. Both: Vigie's `job.id` and `job.user` (present
// only when the workload is a Slurm job), `workload.kind` ("slurm_job", ...),
// `workload.id`, `site`, `host`.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/protocol/event.h"
#include "vigie/rules/diagnostic.h"

namespace vigie::rules {

struct CompiledRule;  // internal (rules/src/compiled_rule.h)

// What a loaded rule is, for listing and for matching fixtures to rules.
struct RuleInfo {
  std::string id;
  std::string title;
  std::string level;   // informational, low, medium, high, critical
  std::string status;  // empty when the rule has none
  std::vector<std::string> tags;
  protocol::EventKind event_kind = protocol::EventKind::kProcessExec;
  std::string file;  // where the rule was loaded from
  int line = 0;      // line of its first attribute
};

// An immutable, compiled rule set. Build one with load_rules(), then share it
// between threads as std::shared_ptr<const Engine>; a reload builds a new
// Engine aside and swaps the pointer.
class Engine {
 public:
  Engine();
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  // Appends one Alert per rule of the event's kind that matches `event`.
  // Allocates only for the alerts it appends; never throws except std::bad_alloc.
  void evaluate(const protocol::Event& event, std::vector<protocol::Alert>& out) const;

  std::span<const RuleInfo> rules() const { return infos_; }
  // Content of the VERSION file of the loaded pack directory; empty if none.
  const std::string& pack_version() const { return pack_version_; }

 private:
  friend class EngineBuilder;
  std::vector<RuleInfo> infos_;
  std::array<std::vector<CompiledRule>, protocol::kEventKindCount> by_kind_;
  std::string pack_version_;
};

// The outcome of a load: the engine (never null, possibly empty) and why any
// rule was refused. rules_total counts rule documents seen, rules_loaded those
// in `engine`.
struct LoadResult {
  std::shared_ptr<const Engine> engine;
  std::vector<Diagnostic> diagnostics;
  int rules_total = 0;
  int rules_loaded = 0;

  std::string summary() const;  // "loaded N of M rules"
};

// Loads one rule file, or every *.yml / *.yaml file under a directory
// (recursively, in path order, skipping directories named `fixtures`).
// A `VERSION` file at the top of a directory sets Engine::pack_version().
// Never throws: unreadable paths, bad YAML and unsupported features become
// diagnostics. A rule whose id was already loaded is refused.
LoadResult load_rules(const std::filesystem::path& path);

// Same as load_rules for YAML text held in memory; `file_name` labels diagnostics.
LoadResult load_rules_yaml(std::string_view yaml, const std::string& file_name);

}  // namespace vigie::rules
