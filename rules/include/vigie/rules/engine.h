// The Sigma detection rules engine: loads rules from YAML, compiles them into
// predicates over typed protocol::Event fields, and evaluates them per event.
//
// Sigma rules specification 2.x (shared/corpus/sigma-spec); anything outside
// what is listed refuses the rule with a Diagnostic (file, line, the feature)
// and the other rules still load:
//  - attributes: title, id and level (required), name, status, tags,
//    logsource; others are accepted and ignored. A file may hold several
//    documents separated by `---` (a rule collection); `action: global` is refused.
//  - logsource (§LogSource), product `linux`, no `service`:
//      process_creation   -> ProcessExec
//      network_connection -> NetworkConnect (Initiated "true") and NetworkAccept ("false")
//      file_event         -> FileOpen that writes or creates (file.write or file.create)
//    and Vigie's categories: file_access (every FileOpen), process_exit,
//    process_fork, network_listen, privilege_change, ptrace, fileless_exec.
//  - detection (§Detection): search identifiers as maps (AND) or lists of
//    maps (OR); keyword lists (full-text: any text field of the kind contains
//    the keyword); values scalar, list (OR) or null (field absent or empty).
//  - values (§String Wildcard): ASCII case-insensitive unless `cased`, `*` and `?`, `\` escapes.
//  - modifiers (sigma-appendix-modifiers.md): contains, startswith, endswith,
//    all, exists, cased, neq, windash, re (RE2 syntax, sub-modifiers i m s),
//    base64, base64offset, lt, lte, gt, gte, cidr (IPv4, IPv6), fieldref;
//    and Vigie's `ioc: <set name>` (see ioc.h). utf16*/wide, expand and the
//    time modifiers are refused.
//  - condition (§Condition): and, or, not, parentheses, `1 of x*`, `all of x*`,
//    `them`; a list of conditions is OR'ed.
//  - correlation rules (sigma-correlation-rules-specification.md) are parsed
//    into LoadResult::correlations for the collector (see correlation.h).
//
// Fields: see field_names(); Sigma's taxonomy names (Image, CommandLine,
// ParentImage, ParentCommandLine, CurrentDirectory, User, ProcessId,
// ParentProcessId, Hashes, DestinationIp, DestinationPort, SourceIp,
// SourcePort, DestinationHostname, Protocol, Initiated, TargetFilename,
// TargetImage, TargetProcessId, LogonId: the audit login uid, absent outside a
// login session) plus Vigie's: job.id, job.user, job.account, job.step
// (present only in Slurm jobs), workload.kind, workload.id, site, host, uid,
// gid, sha256, exec.errno, exit.code, exit.signal, fork.child_pid, network.ipv6,
// file.flags/write/create/truncate/result, privilege.* (syscall, old_/new_
// uid/euid/gid/egid/cap_effective/cap_permitted, result), ptrace.request,
// ptrace.target_uid, ptrace.result, fileless.memfd. Booleans read "true"/"false".
//
// Evaluation is compiled: rules are dispatched by event kind, predicates run
// cheapest first, and a Hyperscan literal prefilter per field skips every
// rule none of whose required literals occurs in the event (literals of
// free-text fields preferred; case-sensitive `re` values contribute RE2's
// required atoms, re2::FilteredRE2).
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/protocol/event.h"
#include "vigie/rules/diagnostic.h"
#include "vigie/rules/ioc.h"

namespace vigie::rules {

struct EngineImpl;       // internal (rules/src/engine_impl.h)
struct CorrelationRule;  // correlation.h

// What a loaded rule is, for listing and for matching fixtures to rules.
struct RuleInfo {
  std::string id;
  std::string name;  // Sigma `name`, how correlation rules may refer to it; empty if none
  std::string title;
  std::string level;   // informational, low, medium, high, critical
  std::string status;  // empty when the rule has none
  std::vector<std::string> tags;
  std::string category;                          // logsource category
  std::vector<protocol::EventKind> event_kinds;  // what the category maps to
  std::string file;                              // where the rule was loaded from
  int line = 0;                                  // line of its first attribute
};

// Why a rule did or did not match one event, selection by selection.
struct Explanation {
  struct Selection {
    std::string name;
    bool matched = false;
    // For each `|`-group of the selection, the first field predicate that
    // failed ("CommandLine|contains" ...), or empty when the group matched.
    std::vector<std::string> failed_fields;
  };
  std::size_t rule_index = 0;  // into Engine::rules()
  bool matched = false;
  bool guard_failed = false;       // the logsource's implied condition (file_event: a write) failed
  bool prefilter_skipped = false;  // the literal prefilter would not have evaluated the rule
  std::vector<Selection> selections;
};

// An immutable, compiled rule set. Build one with load_rules(), then share it
// between threads as std::shared_ptr<const Engine>; a reload builds a new
// Engine aside and swaps the pointer. Every method is const and thread-safe.
class Engine {
 public:
  Engine();
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  // Appends one Alert per rule that matches `event`, in rule order. Allocates
  // only for the alerts it appends (and once per thread for the prefilter's
  // scratch space); never throws except std::bad_alloc.
  void evaluate(const protocol::Event& event, std::vector<protocol::Alert>& out) const;

  // The same result by evaluating every rule of the event's kind one after
  // the other, without the prefilter: the baseline of benchmarks and tests.
  void evaluate_naive(const protocol::Event& event, std::vector<protocol::Alert>& out) const;

  // One Explanation per rule of the event's kind.
  std::vector<Explanation> explain(const protocol::Event& event) const;

  // Events built from the rule's own selections, at least one of which the
  // rule should match: for each way the condition can hold, each selection it
  // needs gets values that satisfy it (a literal for an exact value, the text
  // around wildcards, ...). Empty when nothing could be synthesized (a rule of
  // regular expressions only, for instance).
  std::vector<protocol::Event> examples(std::size_t rule_index) const;

  std::span<const RuleInfo> rules() const { return infos_; }
  // Content of the VERSION file of the loaded pack directory; empty if none.
  const std::string& pack_version() const { return pack_version_; }
  // Distinct (field, literal) keys of the prefilter, and the rules it cannot
  // skip (no literal every match must contain), for `vigie rules lint` and tests.
  std::size_t prefilter_literals() const;
  std::size_t unfiltered_rules() const;

 private:
  friend class EngineBuilder;
  std::vector<RuleInfo> infos_;
  std::unique_ptr<EngineImpl> impl_;
  std::string pack_version_;
};

// Options of a load: the IOC sets rules may name with the `ioc` modifier.
struct LoadOptions {
  std::shared_ptr<const IocStore> iocs;
};

// The outcome of a load: the engine (never null, possibly empty) and why any
// rule was refused. rules_total counts rule documents seen (detection and
// correlation), rules_loaded those loaded (in `engine` or `correlations`).
struct LoadResult {
  std::shared_ptr<const Engine> engine;
  std::vector<std::shared_ptr<const CorrelationRule>> correlations;
  std::vector<Diagnostic> diagnostics;
  int rules_total = 0;
  int rules_loaded = 0;

  std::string summary() const;  // "loaded N of M rules"
};

// Loads rule files, or every *.yml / *.yaml file under directories
// (recursively, in path order, skipping directories named `fixtures`).
// A `VERSION` file at the top of the first directory sets Engine::pack_version().
// Never throws: unreadable paths, bad YAML and unsupported features become
// diagnostics. A rule whose id was already loaded is refused.
LoadResult load_rules(std::span<const std::filesystem::path> paths,
                      const LoadOptions& options = {});
LoadResult load_rules(const std::filesystem::path& path, const LoadOptions& options = {});

// Same as load_rules for YAML text held in memory; `file_name` labels diagnostics.
LoadResult load_rules_yaml(std::string_view yaml, const std::string& file_name,
                           const LoadOptions& options = {});

}  // namespace vigie::rules
