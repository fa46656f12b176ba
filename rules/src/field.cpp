#include "field.h"

#include <charconv>
#include <cstdint>

namespace vigie::rules {
namespace {

using protocol::Event;
using protocol::EventKind;
using protocol::NetworkConnect;
using protocol::ProcessExec;
using Value = std::optional<std::string_view>;

Value number(uint64_t value, FieldScratch& scratch) {
  auto [end, ec] =
      std::to_chars(scratch.data.data(), scratch.data.data() + scratch.data.size(), value);
  return std::string_view(scratch.data.data(), static_cast<std::size_t>(end - scratch.data.data()));
}

// Fields the sensor may not know (parent of an exec whose parent already exited) are
// empty; Sigma treats them as absent rather than as an empty string.
Value non_empty(const std::string& text) { return text.empty() ? Value() : Value(text); }

template <typename Body, const std::string Body::*member>
Value body_text(const Event& event, FieldScratch&) {
  const auto* body = std::get_if<Body>(&event.body);
  return body ? non_empty(body->*member) : Value();
}

Value user(const Event& event, FieldScratch&) { return non_empty(event.user); }
Value site(const Event& event, FieldScratch&) { return non_empty(event.site); }
Value host(const Event& event, FieldScratch&) { return non_empty(event.host); }
Value pid(const Event& event, FieldScratch& scratch) { return number(event.pid, scratch); }
Value ppid(const Event& event, FieldScratch& scratch) { return number(event.ppid, scratch); }
Value absent(const Event&, FieldScratch&) { return Value(); }

Value workload_kind(const Event& event, FieldScratch&) {
  return protocol::to_string(event.workload.kind);
}
Value workload_id(const Event& event, FieldScratch&) { return non_empty(event.workload.id); }
Value job_id(const Event& event, FieldScratch&) {
  if (event.workload.kind != protocol::WorkloadKind::kSlurmJob) return Value();
  return non_empty(event.workload.id);
}
Value job_user(const Event& event, FieldScratch&) {
  if (event.workload.kind != protocol::WorkloadKind::kSlurmJob) return Value();
  return non_empty(event.workload.user);
}

Value destination_port(const Event& event, FieldScratch& scratch) {
  const auto* body = std::get_if<NetworkConnect>(&event.body);
  return body ? number(body->destination_port, scratch) : Value();
}
Value transport(const Event& event, FieldScratch&) {
  const auto* body = std::get_if<NetworkConnect>(&event.body);
  return body ? Value(protocol::to_string(body->transport)) : Value();
}
// The sensor reports connect(), so every network_connect event is outbound.
Value initiated(const Event&, FieldScratch&) { return std::string_view("true"); }

struct KindField {
  std::string_view name;
  EventKind kind;
  FieldAccessor accessor;
};
struct CommonField {
  std::string_view name;
  FieldAccessor accessor;
};

constexpr EventKind kExec = EventKind::kProcessExec;
constexpr EventKind kConnect = EventKind::kNetworkConnect;

// sigma-appendix-taxonomy.md field names, plus Vigie's own (job.*, workload.*, site, host).
constexpr std::array kFields = {
    KindField{"Image", kExec, &body_text<ProcessExec, &ProcessExec::image>},
    KindField{"CommandLine", kExec, &body_text<ProcessExec, &ProcessExec::command_line>},
    KindField{"ParentImage", kExec, &body_text<ProcessExec, &ProcessExec::parent_image>},
    KindField{"ParentCommandLine", kExec,
              &body_text<ProcessExec, &ProcessExec::parent_command_line>},
    KindField{"ParentProcessId", kExec, &ppid},
    KindField{"CurrentDirectory", kExec, &absent},  // not collected by the sensor yet
    KindField{"Image", kConnect, &body_text<NetworkConnect, &NetworkConnect::image>},
    KindField{"DestinationIp", kConnect,
              &body_text<NetworkConnect, &NetworkConnect::destination_ip>},
    KindField{"DestinationPort", kConnect, &destination_port},
    KindField{"Protocol", kConnect, &transport},
    KindField{"Initiated", kConnect, &initiated},
};

// Fields every supported event kind carries.
constexpr std::array kCommonFields = {
    CommonField{"User", &user},
    CommonField{"ProcessId", &pid},
    CommonField{"job.id", &job_id},
    CommonField{"job.user", &job_user},
    CommonField{"workload.kind", &workload_kind},
    CommonField{"workload.id", &workload_id},
    CommonField{"site", &site},
    CommonField{"host", &host},
};

}  // namespace

FieldAccessor resolve_field(EventKind kind, std::string_view name) {
  for (const KindField& entry : kFields) {
    if (entry.kind == kind && entry.name == name) return entry.accessor;
  }
  for (const CommonField& entry : kCommonFields) {
    if (entry.name == name) return entry.accessor;
  }
  return nullptr;
}

}  // namespace vigie::rules
