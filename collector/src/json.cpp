#include "vigie/collector/json.h"

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
      {"workload", to_json_short(event.workload)},
  };
  out["workload"]["cgroup_path"] = event.workload.cgroup_path;
  if (const auto* exec = std::get_if<protocol::ProcessExec>(&event.body)) {
    out["image"] = exec->image;
    out["argv"] = exec->argv;
    out["argv_truncated"] = exec->argv_truncated;
    out["command_line"] = exec->command_line;
    out["parent_image"] = exec->parent_image;
    out["parent_command_line"] = exec->parent_command_line;
  } else if (const auto* exit = std::get_if<protocol::ProcessExit>(&event.body)) {
    out["exit_code"] = exit->exit_code;
    out["signal"] = exit->signal;
    out["image"] = exit->image;
  } else if (const auto* connect = std::get_if<protocol::NetworkConnect>(&event.body)) {
    out["transport"] = protocol::to_string(connect->transport);
    out["ipv6"] = connect->ipv6;
    out["destination_ip"] = connect->destination_ip;
    out["destination_port"] = connect->destination_port;
    out["image"] = connect->image;
  }
  return out;
}

bool event_from_json(const json& in, Event& event, std::string& error) {
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
      !read(in, "cgroup_id", event.cgroup_id, error)) {
    return false;
  }
  if (const auto it = in.find("workload"); it != in.end() && it->is_object()) {
    std::string workload_kind;
    if (!read(*it, "kind", workload_kind, error) || !read(*it, "id", event.workload.id, error) ||
        !read(*it, "user", event.workload.user, error) ||
        !read(*it, "cgroup_path", event.workload.cgroup_path, error)) {
      return false;
    }
    if (!protocol::parse_workload_kind(workload_kind, event.workload.kind)) {
      error = "unknown workload kind '" + workload_kind + "'";
      return false;
    }
  }
  switch (kind) {
    case protocol::EventKind::kProcessExec: {
      protocol::ProcessExec exec;
      if (!read(in, "image", exec.image, error) || !read(in, "argv", exec.argv, error) ||
          !read(in, "argv_truncated", exec.argv_truncated, error) ||
          !read(in, "command_line", exec.command_line, error) ||
          !read(in, "parent_image", exec.parent_image, error) ||
          !read(in, "parent_command_line", exec.parent_command_line, error)) {
        return false;
      }
      event.body = std::move(exec);
      return true;
    }
    case protocol::EventKind::kProcessExit: {
      protocol::ProcessExit exit;
      if (!read(in, "exit_code", exit.exit_code, error) ||
          !read(in, "signal", exit.signal, error) || !read(in, "image", exit.image, error)) {
        return false;
      }
      event.body = std::move(exit);
      return true;
    }
    case protocol::EventKind::kNetworkConnect: {
      protocol::NetworkConnect connect;
      std::string transport = "tcp";
      if (!read(in, "transport", transport, error) || !read(in, "ipv6", connect.ipv6, error) ||
          !read(in, "destination_ip", connect.destination_ip, error) ||
          !read(in, "destination_port", connect.destination_port, error) ||
          !read(in, "image", connect.image, error)) {
        return false;
      }
      if (transport != "tcp" && transport != "udp") {
        error = "unknown transport '" + transport + "'";
        return false;
      }
      connect.transport =
          transport == "udp" ? protocol::Transport::kUdp : protocol::Transport::kTcp;
      event.body = std::move(connect);
      return true;
    }
  }
  error = "unhandled event kind";
  return false;
}

const std::string& event_image(const Event& event) {
  return std::visit([](const auto& body) -> const std::string& { return body.image; }, event.body);
}

const std::string& event_command_line(const Event& event) {
  if (const auto* exec = std::get_if<protocol::ProcessExec>(&event.body)) return exec->command_line;
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
          {"rule_pack_version", agent.status.rule_pack_version}};
}

}  // namespace vigie::collector
