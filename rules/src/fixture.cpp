#include "vigie/rules/fixture.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <type_traits>

#include "field.h"

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
      fail(kind,
           "event needs 'kind': process_exec, process_exit, process_fork, network_connect, "
           "network_accept, network_listen, file_open, privilege_change, ptrace or "
           "fileless_exec");
    }
    event_.body = empty_body(event_kind);
    bool has_command_line = false, has_ipv6 = false;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const YAML::Node& value = entry.second;
      if (key == "kind") continue;
      if (key == "uid")
        event_.uid = number<uint32_t>(value);
      else if (key == "gid")
        event_.gid = number<uint32_t>(value);
      else if (key == "time_ns")
        event_.time_ns = number<uint64_t>(value);
      else if (key == "workload")
        read_workload(value);
      else if (key == "argv")
        set_argv(entry.first, list(value));
      else if (key == "ancestry")
        read_ancestry(value);
      else {
        has_command_line |= key == "command_line" || key == "CommandLine";
        has_ipv6 |= key == "ipv6" || key == "network.ipv6";
        set_field(entry.first, key, text(value));
      }
    }
    if (!has_command_line) {
      if (auto* exec = std::get_if<protocol::ProcessExec>(&event_.body)) {
        exec->command_line = protocol::join_command_line(exec->argv);
      } else if (auto* fileless = std::get_if<protocol::FilelessExec>(&event_.body)) {
        fileless->command_line = protocol::join_command_line(fileless->argv);
      }
    }
    if (!has_ipv6) {
      std::visit(
          [](auto& body) {
            if constexpr (std::is_base_of_v<protocol::NetworkFlow, std::decay_t<decltype(body)>>) {
              body.ipv6 = body.destination_ip.find(':') != std::string::npos ||
                          body.source_ip.find(':') != std::string::npos;
            }
          },
          event_.body);
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

  // A Sigma or Vigie field name (Image, CommandLine, job.id, ...), or one of
  // the snake_case names of the first fixture format (image, command_line, ...).
  void set_field(const YAML::Node& at, const std::string& key, const std::string& value) {
    static const std::map<std::string, std::string, std::less<>> kAliases = {
        {"pid", "ProcessId"},
        {"ppid", "ParentProcessId"},
        {"user", "User"},
        {"image", "Image"},
        {"command_line", "CommandLine"},
        {"parent_image", "ParentImage"},
        {"parent_command_line", "ParentCommandLine"},
        {"cwd", "CurrentDirectory"},
        {"destination_ip", "DestinationIp"},
        {"destination_port", "DestinationPort"},
        {"source_ip", "SourceIp"},
        {"source_port", "SourcePort"},
        {"transport", "Protocol"},
        {"ipv6", "network.ipv6"},
        {"exit_code", "exit.code"},
        {"signal", "exit.signal"},
        {"path", "TargetFilename"},
    };
    const auto alias = kAliases.find(key);
    const std::string& name = alias == kAliases.end() ? key : alias->second;
    const FieldDef def = resolve_field(event_.kind(), name);
    if (def.set == nullptr) unknown(at, key);
    if (!def.set(event_, value)) fail(at, "'" + value + "' is not a valid " + key);
  }

  void set_argv(const YAML::Node& at, std::vector<std::string> argv) {
    if (auto* exec = std::get_if<protocol::ProcessExec>(&event_.body)) {
      exec->argv = std::move(argv);
    } else if (auto* fileless = std::get_if<protocol::FilelessExec>(&event_.body)) {
      fileless->argv = std::move(argv);
    } else {
      unknown(at, "argv");
    }
  }

  void read_ancestry(const YAML::Node& node) {
    auto* exec = std::get_if<protocol::ProcessExec>(&event_.body);
    if (!exec) unknown(node, "ancestry");
    if (!node.IsSequence()) fail(node, "'ancestry' must be a list of {image, command_line, pid}");
    for (const YAML::Node& item : node) {
      if (!item.IsMap()) fail(item, "an ancestor must be a map");
      protocol::Ancestor ancestor;
      for (const auto& entry : item) {
        const std::string key = entry.first.Scalar();
        if (key == "image")
          ancestor.image = text(entry.second);
        else if (key == "command_line")
          ancestor.command_line = text(entry.second);
        else if (key == "pid")
          ancestor.pid = number<uint32_t>(entry.second);
        else
          fail(entry.first, "unknown key '" + key + "' in an ancestor");
      }
      exec->ancestry.push_back(std::move(ancestor));
    }
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
      } else if (key == "account") {
        workload.account = text(entry.second);
      } else if (key == "step") {
        workload.step = text(entry.second);
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
