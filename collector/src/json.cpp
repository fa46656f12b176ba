#include "json.h"

// JSON forms of the event bodies, one key per struct field (same names). They
// live in the types' namespace so that nlohmann finds them by ADL.
namespace vigie::protocol {

void to_json(nlohmann::json& out, Transport transport) { out = to_string(transport); }
void from_json(const nlohmann::json& in, Transport& transport) {
  const auto text = in.get<std::string>();
  if (text != "tcp" && text != "udp") {
    throw nlohmann::json::other_error::create(501, "unknown transport '" + text + "'", &in);
  }
  transport = text == "udp" ? Transport::kUdp : Transport::kTcp;
}

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Ancestor, pid, start_ns, image, command_line)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ProcessExec, image, argv, argv_truncated,
                                                command_line, parent_image, parent_command_line,
                                                cwd, sha256, exec_errno, ancestry)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ProcessExit, exit_code, signal, image, cpu_user_ns,
                                                cpu_system_ns)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ProcessFork, child_pid, child_start_ns, image)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(NetworkFlow, transport, ipv6, destination_ip,
                                                destination_port, image, source_ip, source_port,
                                                destination_hostname)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FileOpen, path, flags, write, create, truncate,
                                                image, result)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PrivilegeChange, syscall, old_uid, old_euid,
                                                old_gid, old_egid, new_uid, new_euid, new_gid,
                                                new_egid, old_cap_effective, new_cap_effective,
                                                old_cap_permitted, new_cap_permitted, image, result)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Ptrace, request, target_pid, target_uid,
                                                target_image, image, result)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FilelessExec, image, argv, command_line, memfd)

// connect, accept and listen share NetworkFlow's form.
template <typename Flow>
requires std::is_base_of_v<NetworkFlow, Flow>
void to_json(nlohmann::json& out, const Flow& flow) {
  to_json(out, static_cast<const NetworkFlow&>(flow));
}
template <typename Flow>
requires std::is_base_of_v<NetworkFlow, Flow>
void from_json(const nlohmann::json& in, Flow& flow) {
  from_json(in, static_cast<NetworkFlow&>(flow));
}

}  // namespace vigie::protocol

namespace vigie::collector {
namespace {

using nlohmann::json;
using protocol::Event;

// Reads `json[key]` into `out` when present; a wrong type is an error.
template <typename T>
bool read(const json& object, const char* key, T& out, std::string& error) {
  const auto it = object.find(key);
  if (it == object.end()) return true;
  try {
    out = it->template get<T>();
    return true;
  } catch (const json::exception&) {
    error = std::string("field '") + key + "' has the wrong type";
    return false;
  }
}

// Event::body of the kind at variant index I, read from the flattened object.
template <std::size_t I = 0>
void body_from_json(const json& in, protocol::EventKind kind, Event& event) {
  if constexpr (I < std::variant_size_v<decltype(Event::body)>) {
    if (static_cast<std::size_t>(kind) == I) {
      event.body = in.get<std::variant_alternative_t<I, decltype(Event::body)>>();
      return;
    }
    body_from_json<I + 1>(in, kind, event);
  }
}

const std::string kEmpty;

}  // namespace

json to_json_short(const protocol::Workload& workload) {
  return {
      {"kind", protocol::to_string(workload.kind)}, {"id", workload.id}, {"user", workload.user}};
}

json to_json(const Event& event) {
  json out = {
      {"kind", protocol::to_string(event.kind())},
      {"time_ns", event.time_ns},
      {"site", event.site},
      {"host", event.host},
      {"pid", event.pid},
      {"ppid", event.ppid},
      {"uid", event.uid},
      {"gid", event.gid},
      {"user", event.user},
      {"cgroup_id", event.cgroup_id},
      {"process_start_ns", event.process_start_ns},
      {"login_uid", event.login_uid},
      {"workload", to_json_short(event.workload)},
  };
  auto& workload = out["workload"];
  workload["cgroup_path"] = event.workload.cgroup_path;
  workload["account"] = event.workload.account;
  workload["step"] = event.workload.step;
  workload["pod_uid"] = event.workload.pod_uid;
  std::visit([&out](const auto& body) { out.update(json(body)); }, event.body);
  return out;
}

namespace {

bool read_event(const json& in, Event& event, std::string& error) {
  if (!in.is_object()) {
    error = "event is not a JSON object";
    return false;
  }
  std::string kind_text;
  protocol::EventKind kind{};
  if (!read(in, "kind", kind_text, error)) return false;
  if (!protocol::parse_event_kind(kind_text, kind)) {
    error = "unknown event kind '" + kind_text + "'";
    return false;
  }
  event = Event{};
  if (!read(in, "time_ns", event.time_ns, error) || !read(in, "site", event.site, error) ||
      !read(in, "host", event.host, error) || !read(in, "pid", event.pid, error) ||
      !read(in, "ppid", event.ppid, error) || !read(in, "uid", event.uid, error) ||
      !read(in, "gid", event.gid, error) || !read(in, "user", event.user, error) ||
      !read(in, "cgroup_id", event.cgroup_id, error) ||
      !read(in, "process_start_ns", event.process_start_ns, error) ||
      !read(in, "login_uid", event.login_uid, error)) {
    return false;
  }
  if (const auto it = in.find("workload"); it != in.end() && it->is_object()) {
    auto& w = event.workload;
    std::string workload_kind;
    if (!read(*it, "kind", workload_kind, error) || !read(*it, "id", w.id, error) ||
        !read(*it, "user", w.user, error) || !read(*it, "cgroup_path", w.cgroup_path, error) ||
        !read(*it, "account", w.account, error) || !read(*it, "step", w.step, error) ||
        !read(*it, "pod_uid", w.pod_uid, error)) {
      return false;
    }
    if (!protocol::parse_workload_kind(workload_kind, w.kind)) {
      error = "unknown workload kind '" + workload_kind + "'";
      return false;
    }
  }
  try {
    body_from_json(in, kind, event);
  } catch (const json::exception& e) {
    error = std::string(kind_text) + ": " + e.what();
    return false;
  }
  return true;
}

}  // namespace

protocol::Result<Event> event_from_json(const json& in) {
  Event event;
  std::string error;
  if (!read_event(in, event, error)) return protocol::fail(std::move(error));
  return event;
}

const std::string& event_image(const Event& event) { return protocol::image_of(event); }

const std::string& event_command_line(const Event& event) {
  if (const auto* exec = std::get_if<protocol::ProcessExec>(&event.body)) return exec->command_line;
  if (const auto* fileless = std::get_if<protocol::FilelessExec>(&event.body)) {
    return fileless->command_line;
  }
  return kEmpty;
}

json to_json(const StoredAlert& stored) {
  const auto& alert = stored.alert;
  const auto& event = alert.event;
  return {
      {"id", stored.id},
      {"received_ns", stored.received_ns},
      {"time_ns", event.time_ns},
      {"rule_id", alert.rule_id},
      {"rule_title", alert.rule_title},
      {"level", alert.level},
      {"tags", alert.tags},
      {"site", event.site},
      {"host", event.host},
      {"agent_id", stored.agent_id},
      {"pid", event.pid},
      {"ppid", event.ppid},
      {"uid", event.uid},
      {"user", event.user},
      {"image", event_image(event)},
      {"command_line", event_command_line(event)},
      {"workload", to_json_short(event.workload)},
      {"event", to_json(event)},
  };
}

json to_json(const EnergyReport& report) {
  json nodes = json::array();
  for (const auto& node : report.nodes) {
    json zones = json::array();
    for (const auto& zone : node.zones) {
      zones.push_back({{"zone", zone.zone},
                       {"source", zone.source},
                       {"energy_joules", zone.energy_joules},
                       {"power_watts", zone.power_watts},
                       {"estimated", zone.estimated},
                       {"in_node_total", zone.in_node_total}});
    }
    nodes.push_back({{"site", node.site},
                     {"host", node.host},
                     {"energy_joules", node.energy_joules},
                     {"power_watts", node.power_watts},
                     {"carbon_gco2e", node.carbon_gco2e},
                     {"estimated", node.estimated},
                     {"zones", std::move(zones)}});
  }
  json workloads = json::array();
  for (const auto& workload : report.workloads) {
    workloads.push_back({{"host", workload.host},
                         {"workload", to_json_short(workload.workload)},
                         {"energy_joules", workload.energy_joules},
                         {"power_watts", workload.power_watts},
                         {"cpu_seconds", workload.cpu_seconds},
                         {"carbon_gco2e", workload.carbon_gco2e},
                         {"estimated", workload.estimated}});
  }
  json series = json::array();
  for (const auto& point : report.series) {
    series.push_back(
        {{"host", point.host}, {"t_ns", point.t_ns}, {"power_watts", point.power_watts}});
  }
  return {{"window", {{"start_ns", report.start_ns}, {"end_ns", report.end_ns}}},
          {"nodes", std::move(nodes)},
          {"workloads", std::move(workloads)},
          {"series", std::move(series)}};
}

json to_json(const AgentRecord& agent) {
  return {{"agent_id", agent.agent_id},
          {"site", agent.site},
          {"host", agent.host},
          {"last_seen_ns", agent.last_seen_ns},
          {"last_sequence", agent.last_sequence},
          {"sent_ns", agent.sent_ns},
          {"ringbuf_drops_total", agent.status.ringbuf_drops_total},
          {"events_total", agent.status.events_total},
          {"uplink_dropped_total", agent.status.uplink_dropped_total},
          {"rule_pack_version", agent.status.rule_pack_version},
          {"drops_by_source", agent.status.drops_by_source},
          {"ringbuf_size_bytes", agent.status.ringbuf_size_bytes},
          {"ringbuf_used_bytes", agent.status.ringbuf_used_bytes},
          {"kinds_off", agent.status.kinds_off}};
}

}  // namespace vigie::collector
