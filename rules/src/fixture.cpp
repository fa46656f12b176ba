#include "vigie/rules/fixture.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace vigie::rules {
namespace {

using protocol::Event;
using protocol::EventKind;

int line_of(const YAML::Node& node, int fallback) {
  return node.IsDefined() && !node.Mark().is_null() ? node.Mark().line + 1 : fallback;
}

struct EventError {
  int line;
  std::string message;
};

class EventReader {
 public:
  explicit EventReader(Event& event) : event_(event) {}

  void read(const YAML::Node& node) {
    line_ = line_of(node, 0);
    if (!node.IsMap()) fail(node, "an event must be a map");
    const YAML::Node kind = node["kind"];
    EventKind event_kind;
    if (!kind.IsDefined() || !kind.IsScalar() ||
        !protocol::parse_event_kind(kind.Scalar(), event_kind)) {
      fail(kind, "event needs 'kind': process_exec, process_exit or network_connect");
    }
    switch (event_kind) {
      case EventKind::kProcessExec:
        event_.body = protocol::ProcessExec{};
        break;
      case EventKind::kProcessExit:
        event_.body = protocol::ProcessExit{};
        break;
      case EventKind::kNetworkConnect:
        event_.body = protocol::NetworkConnect{};
        break;
    }
    bool has_command_line = false, has_ipv6 = false;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const YAML::Node& value = entry.second;
      if (key == "kind") continue;
      if (key == "pid")
        event_.pid = number<uint32_t>(value);
      else if (key == "ppid")
        event_.ppid = number<uint32_t>(value);
      else if (key == "uid")
        event_.uid = number<uint32_t>(value);
      else if (key == "gid")
        event_.gid = number<uint32_t>(value);
      else if (key == "user")
        event_.user = text(value);
      else if (key == "host")
        event_.host = text(value);
      else if (key == "site")
        event_.site = text(value);
      else if (key == "workload")
        read_workload(value);
      else if (auto* exec = std::get_if<protocol::ProcessExec>(&event_.body)) {
        if (key == "image")
          exec->image = text(value);
        else if (key == "argv")
          exec->argv = list(value);
        else if (key == "command_line") {
          exec->command_line = text(value);
          has_command_line = true;
        } else if (key == "parent_image")
          exec->parent_image = text(value);
        else if (key == "parent_command_line")
          exec->parent_command_line = text(value);
        else
          unknown(entry.first, key);
      } else if (auto* exit = std::get_if<protocol::ProcessExit>(&event_.body)) {
        if (key == "image")
          exit->image = text(value);
        else if (key == "exit_code")
          exit->exit_code = number<int32_t>(value);
        else if (key == "signal")
          exit->signal = number<int32_t>(value);
        else
          unknown(entry.first, key);
      } else if (auto* connect = std::get_if<protocol::NetworkConnect>(&event_.body)) {
        if (key == "image")
          connect->image = text(value);
        else if (key == "destination_ip")
          connect->destination_ip = text(value);
        else if (key == "destination_port")
          connect->destination_port = number<uint16_t>(value);
        else if (key == "ipv6") {
          connect->ipv6 = boolean(value);
          has_ipv6 = true;
        } else if (key == "transport")
          connect->transport = transport(value);
        else
          unknown(entry.first, key);
      }
    }
    if (auto* exec = std::get_if<protocol::ProcessExec>(&event_.body); exec && !has_command_line) {
      exec->command_line = protocol::join_command_line(exec->argv);
    }
    if (auto* connect = std::get_if<protocol::NetworkConnect>(&event_.body); connect && !has_ipv6) {
      connect->ipv6 = connect->destination_ip.find(':') != std::string::npos;
    }
  }

 private:
  [[noreturn]] void fail(const YAML::Node& node, std::string message) {
    throw EventError{line_of(node, line_), std::move(message)};
  }

  [[noreturn]] void unknown(const YAML::Node& node, const std::string& key) {
    fail(node, "unknown key '" + key + "' for a " +
                   std::string(protocol::to_string(event_.kind())) + " event");
  }

  std::string text(const YAML::Node& node) {
    if (!node.IsScalar()) fail(node, "expected a string");
    return node.Scalar();
  }

  template <typename Int>
  Int number(const YAML::Node& node) {
    const std::string value = text(node);
    Int out{};
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
    if (ec != std::errc() || end != value.data() + value.size()) {
      fail(node, "'" + value + "' is not an integer in range");
    }
    return out;
  }

  bool boolean(const YAML::Node& node) {
    const std::string value = text(node);
    if (value == "true") return true;
    if (value == "false") return false;
    fail(node, "expected true or false");
  }

  protocol::Transport transport(const YAML::Node& node) {
    const std::string value = text(node);
    if (value == "tcp") return protocol::Transport::kTcp;
    if (value == "udp") return protocol::Transport::kUdp;
    fail(node, "transport must be tcp or udp");
  }

  std::vector<std::string> list(const YAML::Node& node) {
    if (!node.IsSequence()) fail(node, "expected a list of strings");
    std::vector<std::string> out;
    for (const YAML::Node& item : node) out.push_back(text(item));
    return out;
  }

  void read_workload(const YAML::Node& node) {
    if (!node.IsMap()) fail(node, "'workload' must be a map");
    protocol::Workload& workload = event_.workload;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      if (key == "kind") {
        if (!protocol::parse_workload_kind(text(entry.second), workload.kind)) {
          fail(entry.second, "unknown workload kind '" + entry.second.Scalar() + "'");
        }
      } else if (key == "id") {
        workload.id = text(entry.second);
      } else if (key == "user") {
        workload.user = text(entry.second);
      } else if (key == "cgroup_path") {
        workload.cgroup_path = text(entry.second);
      } else {
        fail(entry.first, "unknown key '" + key + "' in workload");
      }
    }
  }

  Event& event_;
  int line_ = 0;
};

}  // namespace

std::optional<Diagnostic> parse_event(const YAML::Node& node, protocol::Event& event) {
  try {
    Event parsed;
    EventReader(parsed).read(node);
    event = std::move(parsed);
    return std::nullopt;
  } catch (const EventError& e) {
    return Diagnostic{"", e.line, e.message};
  } catch (const std::exception& e) {
    return Diagnostic{"", line_of(node, 0), std::string("bad event: ") + e.what()};
  }
}

std::optional<Fixture> load_fixture(const std::filesystem::path& path,
                                    std::vector<Diagnostic>& diagnostics) {
  const std::string file = path.string();
  auto fail = [&](int line, std::string message) {
    diagnostics.push_back(Diagnostic{file, line, std::move(message)});
    return std::nullopt;
  };
  try {
    const YAML::Node root = YAML::LoadFile(file);
    if (!root.IsMap()) return fail(line_of(root, 0), "a fixture must be a map");
    Fixture fixture;
    fixture.file = file;
    const YAML::Node rule = root["rule"];
    if (!rule.IsDefined() || !rule.IsScalar())
      return fail(line_of(root, 1), "missing 'rule: <rule id>'");
    fixture.rule_id = rule.Scalar();
    for (const auto& entry : root) {
      const std::string key = entry.first.Scalar();
      if (key == "rule") continue;
      if (key != "match" && key != "no_match") {
        return fail(line_of(entry.first, 0),
                    "unknown key '" + key + "' (expected rule, match, no_match)");
      }
      if (!entry.second.IsSequence())
        return fail(line_of(entry.second, 0), "'" + key + "' must be a list of events");
      auto& events = key == "match" ? fixture.match : fixture.no_match;
      for (const YAML::Node& item : entry.second) {
        FixtureEvent fixture_event;
        fixture_event.line = line_of(item, 0);
        if (auto error = parse_event(item, fixture_event.event)) {
          return fail(error->line, std::move(error->message));
        }
        events.push_back(std::move(fixture_event));
      }
    }
    return fixture;
  } catch (const YAML::BadFile&) {
    return fail(0, "cannot read fixture file");
  } catch (const YAML::Exception& e) {
    return fail(e.mark.is_null() ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return fail(0, std::string("cannot load fixture: ") + e.what());
  }
}

std::vector<Diagnostic> check_fixture(const Engine& engine, const Fixture& fixture) {
  std::vector<Diagnostic> failures;
  const auto rules = engine.rules();
  if (std::none_of(rules.begin(), rules.end(),
                   [&](const RuleInfo& info) { return info.id == fixture.rule_id; })) {
    failures.push_back({fixture.file, 0, "no loaded rule has id '" + fixture.rule_id + "'"});
    return failures;
  }
  std::vector<protocol::Alert> alerts;
  auto check = [&](const std::vector<FixtureEvent>& events, bool must_match) {
    for (const FixtureEvent& item : events) {
      alerts.clear();
      engine.evaluate(item.event, alerts);
      const bool raised = std::any_of(alerts.begin(), alerts.end(), [&](const protocol::Alert& a) {
        return a.rule_id == fixture.rule_id;
      });
      if (raised != must_match) {
        failures.push_back({fixture.file, item.line,
                            "rule " + fixture.rule_id +
                                (must_match ? " must match this event but did not"
                                            : " must not match this event but did")});
      }
    }
  };
  check(fixture.match, true);
  check(fixture.no_match, false);
  return failures;
}

}  // namespace vigie::rules
