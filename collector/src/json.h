// The JSON shapes of the collector's API (and of the events' stored form).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "vigie/collector/store.h"
#include "vigie/protocol/event.h"
#include "vigie/protocol/result.h"

namespace vigie::collector {

// {"kind","time_ns","site","host","pid","ppid","uid","gid","user","cgroup_id",
//  "process_start_ns","login_uid","workload":{"kind","id","user","cgroup_path","account","step","pod_uid"},
//  + the fields of the kind's struct in protocol/event.h, flattened, under the same names, e.g.
//  process_exec: "image","argv","argv_truncated","command_line","parent_image",
//    "parent_command_line","cwd","sha256","exec_errno",
//    "ancestry":[{"pid","start_ns","image","command_line"}]
//  network_connect|accept|listen: "transport" ("tcp"|"udp"),"ipv6","destination_ip",
//    "destination_port","image","source_ip","source_port","destination_hostname"}
nlohmann::json to_json(const protocol::Event& event);

// The inverse of to_json(Event); fails saying which field is wrong when
// `json` is not that shape.
protocol::Result<protocol::Event> event_from_json(const nlohmann::json& json);

// {"kind","id","user"}
nlohmann::json to_json_short(const protocol::Workload& workload);

// {"id","received_ns","time_ns","rule_id","rule_title","level","tags":[],"site","host",
//  "agent_id","pid","ppid","uid","user","image","command_line",
//  "workload":{"kind","id","user"},"event":{to_json(Event)}}
nlohmann::json to_json(const StoredAlert& alert);

// {"window":{"start_ns","end_ns"},
//  "nodes":[{"site","host","energy_joules","power_watts","carbon_gco2e","estimated",
//            "zones":[{"zone","source","energy_joules","power_watts","estimated",
//                     "in_node_total"}]}],
//  "workloads":[{"host","workload":{"kind","id","user"},"energy_joules","power_watts",
//                "cpu_seconds","carbon_gco2e","estimated"}],
//  "series":[{"host","t_ns","power_watts"}]}
nlohmann::json to_json(const EnergyReport& report);

// {"agent_id","site","host","last_seen_ns","last_sequence","sent_ns",
//  "ringbuf_drops_total","events_total","uplink_dropped_total","rule_pack_version",
//  "drops_by_source":{"<source>":count},"ringbuf_size_bytes","ringbuf_used_bytes",
//  "kinds_off":["<event kind>"]}
nlohmann::json to_json(const AgentRecord& agent);

// The image of an event whatever its kind ("" when the kind carries none).
const std::string& event_image(const protocol::Event& event);
// The command line of a process_exec or fileless_exec event, "" for other kinds.
const std::string& event_command_line(const protocol::Event& event);

}  // namespace vigie::collector
