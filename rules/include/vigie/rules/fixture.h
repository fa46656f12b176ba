// Rule fixtures: events written in YAML that a rule must or must not match,
// shipped next to each pack as `fixtures/<rule-file-stem>.yml` and run by
// tests and by `vigie rules test` (tested as data, like sqllogictest):
//
//   rule: <rule id>
//   match:      [<event>, ...]   # each must raise the rule
//   no_match:   [<event>, ...]   # none may raise it
//
// An <event> is a map. Keys (all optional except `kind`):
//   kind: process_exec | process_exit | network_connect
//   pid, ppid, uid, gid (integers); user, host, site (strings)
//   workload: {kind: host|slurm_job|systemd_unit|container, id, user, cgroup_path}
//   process_exec:    image, argv (list), command_line (default: argv joined by
//                    spaces), parent_image, parent_command_line
//   process_exit:    image, exit_code, signal
//   network_connect: image, transport (tcp|udp, default tcp), destination_ip,
//                    destination_port, ipv6 (default: destination_ip contains ':')
// Unknown keys, and keys of another kind, are errors.
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
