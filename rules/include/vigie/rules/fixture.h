// Rule fixtures: events written in YAML that a rule must or must not match,
// shipped next to each pack as `fixtures/<rule-file-stem>.yml` and run by
// tests and by `vigie rules test` (tested as data, like sqllogictest):
//
//   rule: <rule id>
//   match:      [<event>, ...]   # each must raise the rule
//   no_match:   [<event>, ...]   # none may raise it
//
// An <event> is a map. Keys (all optional except `kind`):
//   kind: process_exec | process_exit | process_fork | network_connect |
//         network_accept | network_listen | file_open | privilege_change |
//         ptrace | fileless_exec
//   uid, gid, time_ns (integers)
//   workload: {kind: host|slurm_job|systemd_unit|container|kubernetes_pod,
//              id, user, account, step, cgroup_path}
//   argv (list; process_exec, fileless_exec: command_line defaults to argv
//   joined by spaces), ancestry (process_exec: list of {image, command_line, pid})
//   any field a rule can name on that kind (engine.h: Image, CommandLine,
//   TargetFilename, job.id, privilege.new_euid, ...), as text
//   and the snake_case names of the first fixture format: pid, ppid, user,
//   image, command_line, parent_image, parent_command_line, cwd,
//   destination_ip, destination_port, source_ip, source_port, transport
//   (tcp|udp), ipv6 (default: an address contains ':'), exit_code, signal, path.
// Unknown keys, keys of another kind and values that do not parse are errors.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vigie/protocol/event.h"
#include "vigie/rules/diagnostic.h"
#include "vigie/rules/engine.h"

namespace vigie::rules {

// Parses one fixture event. On error returns a Diagnostic with `line` and
// `message` set and `file` empty (the caller knows the file). Never throws.
std::optional<Diagnostic> parse_event(const YAML::Node& node, protocol::Event& event);

struct FixtureEvent {
  int line = 0;  // of the event in the fixture file
  protocol::Event event;
};

struct Fixture {
  std::string file;
  std::string rule_id;
  std::vector<FixtureEvent> match;
  std::vector<FixtureEvent> no_match;
};

// Reads a fixture file. Returns nullopt and appends to `diagnostics` on any
// error (unreadable file, bad YAML, missing `rule`, bad event). Never throws.
std::optional<Fixture> load_fixture(const std::filesystem::path& path,
                                    std::vector<Diagnostic>& diagnostics);

// Runs `fixture` against `engine`: one Diagnostic per event that does not
// behave as the fixture says (pointing at the event's line), and one if the
// engine has no rule with the fixture's id. Empty means the fixture passes.
std::vector<Diagnostic> check_fixture(const Engine& engine, const Fixture& fixture);

}  // namespace vigie::rules
