#include "field.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace vigie::rules {
namespace {

using protocol::Event;
using protocol::EventKind;
using Value = std::optional<std::string_view>;

// Index of Body in Event::body, which is also its EventKind.
template <typename Body, typename Variant>
struct KindOf;
template <typename Body, typename... Ts>
struct KindOf<Body, std::variant<Ts...>> {
  static constexpr int value = [] {
    int i = 0, found = -1;
    ((std::is_same_v<Body, Ts> ? (found = i, ++i) : ++i), ...);
    return found;
  }();
};
template <typename Body>
constexpr int kKindOf = KindOf<Body, decltype(Event::body)>::value;
constexpr int kAnyKind = -1;

// Text forms. Empty strings are absent: the sensor leaves unknown fields empty,
// and Sigma treats a missing field as absent, not as "".
Value format(const std::string& text, FieldScratch&) {
  return text.empty() ? Value() : Value(text);
}
Value format(bool value, FieldScratch&) { return value ? "true" : "false"; }
Value format(protocol::Transport transport, FieldScratch&) {
  return protocol::to_string(transport);
}
template <typename Int>
requires std::is_integral_v<Int> Value format(Int value, FieldScratch& scratch) {
  const auto [end, ec] =
      std::to_chars(scratch.data.data(), scratch.data.data() + scratch.data.size(), value);
  return std::string_view(scratch.data.data(), static_cast<std::size_t>(end - scratch.data.data()));
}

bool parse(std::string_view text, std::string& out) {
  out = text;
  return true;
}
bool parse(std::string_view text, bool& out) {
  if (text != "true" && text != "false") return false;
  out = text == "true";
  return true;
}
bool parse(std::string_view text, protocol::Transport& out) {
  if (text == "tcp")
    out = protocol::Transport::kTcp;
  else if (text == "udp")
    out = protocol::Transport::kUdp;
  else
    return false;
  return true;
}
template <typename Int>
requires std::is_integral_v<Int>
bool parse(std::string_view text, Int& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// A member of the event's body; Member may belong to a base of Body (NetworkFlow).
template <typename Body, auto Member>
Value get_body(const Event& event, FieldScratch& scratch) {
  const Body* body = std::get_if<Body>(&event.body);
  return body ? format(body->*Member, scratch) : Value();
}
template <typename Body, auto Member>
bool set_body(Event& event, std::string_view text) {
  Body* body = std::get_if<Body>(&event.body);
  return body && parse(text, body->*Member);
}
template <auto Member>
Value get_event(const Event& event, FieldScratch& scratch) {
  return format(event.*Member, scratch);
}
template <auto Member>
bool set_event(Event& event, std::string_view text) {
  return parse(text, event.*Member);
}

// Slurm job fields exist only when the workload is a Slurm job.
template <auto Member>
Value get_job(const Event& event, FieldScratch& scratch) {
  if (event.workload.kind != protocol::WorkloadKind::kSlurmJob) return Value();
  return format(event.workload.*Member, scratch);
}
template <auto Member>
bool set_job(Event& event, std::string_view text) {
  event.workload.kind = protocol::WorkloadKind::kSlurmJob;
  return parse(text, event.workload.*Member);
}
template <auto Member>
Value get_workload(const Event& event, FieldScratch& scratch) {
  return format(event.workload.*Member, scratch);
}
template <auto Member>
bool set_workload(Event& event, std::string_view text) {
  return parse(text, event.workload.*Member);
}
Value get_workload_kind(const Event& event, FieldScratch&) {
  return protocol::to_string(event.workload.kind);
}
bool set_workload_kind(Event& event, std::string_view text) {
  return protocol::parse_workload_kind(text, event.workload.kind);
}

// Sysmon's Hashes field: "SHA256=<hex>" (the only hash the sensor computes).
Value get_hashes(const Event& event, FieldScratch& scratch) {
  const auto* exec = std::get_if<protocol::ProcessExec>(&event.body);
  if (!exec || exec->sha256.empty() || exec->sha256.size() + 7 > scratch.data.size())
    return Value();
  std::copy_n("SHA256=", 7, scratch.data.data());
  std::copy(exec->sha256.begin(), exec->sha256.end(), scratch.data.data() + 7);
  return std::string_view(scratch.data.data(), exec->sha256.size() + 7);
}
bool set_hashes(Event& event, std::string_view text) {
  auto* exec = std::get_if<protocol::ProcessExec>(&event.body);
  if (!exec || text.substr(0, 7) != "SHA256=") return false;
  exec->sha256 = text.substr(7);
  return true;
}

// Sysmon's convention: connect is initiated by this host, accept by the peer.
Value get_initiated(const Event& event, FieldScratch&) {
  if (event.kind() == EventKind::kNetworkConnect) return std::string_view("true");
  if (event.kind() == EventKind::kNetworkAccept) return std::string_view("false");
  return Value();
}

// Sysmon for Linux's LogonId is the audit login uid; absent outside a login
// session (kLoginUidUnset, the kernel's AUDIT_UID_UNSET).
Value get_login_uid(const Event& event, FieldScratch& scratch) {
  if (event.login_uid == protocol::kLoginUidUnset) return Value();
  return format(event.login_uid, scratch);
}

struct FieldEntry {
  std::string_view name;
  int kind;  // EventKind, or kAnyKind
  FieldDef def;
};

template <typename Body, auto Member>
constexpr FieldEntry body(std::string_view name) {
  using T = std::remove_cvref_t<decltype(std::declval<Body&>().*Member)>;
  return {name,
          kKindOf<Body>,
          {&get_body<Body, Member>, &set_body<Body, Member>, std::is_same_v<T, std::string>}};
}
template <typename Body>
constexpr FieldEntry image(std::string_view name = "Image") {
  return body<Body, &Body::image>(name);
}
template <auto Member>
constexpr FieldEntry common(std::string_view name) {
  return {name, kAnyKind, {&get_event<Member>, &set_event<Member>, false}};
}

using protocol::FilelessExec;
using protocol::FileOpen;
using protocol::NetworkAccept;
using protocol::NetworkConnect;
using protocol::NetworkFlow;
using protocol::NetworkListen;
using protocol::PrivilegeChange;
using protocol::ProcessExec;
using protocol::ProcessExit;
using protocol::ProcessFork;
using protocol::Ptrace;
using protocol::Workload;

template <typename Flow>
constexpr auto flow_fields() {
  return std::array{
      image<Flow>(),
      body<Flow, &NetworkFlow::destination_ip>("DestinationIp"),
      body<Flow, &NetworkFlow::destination_port>("DestinationPort"),
      body<Flow, &NetworkFlow::destination_hostname>("DestinationHostname"),
      body<Flow, &NetworkFlow::source_ip>("SourceIp"),
      body<Flow, &NetworkFlow::source_port>("SourcePort"),
      body<Flow, &NetworkFlow::transport>("Protocol"),
      body<Flow, &NetworkFlow::ipv6>("network.ipv6"),
      FieldEntry{"Initiated", kKindOf<Flow>, {&get_initiated, nullptr, false}},
  };
}

// sigma-appendix-taxonomy.md names where Sigma has one (Sysmon for Linux's
// fields), Vigie's own dotted lower-case names for what Sigma does not name.
constexpr std::array kBodyFields = {
    image<ProcessExec>(),
    body<ProcessExec, &ProcessExec::command_line>("CommandLine"),
    body<ProcessExec, &ProcessExec::parent_image>("ParentImage"),
    body<ProcessExec, &ProcessExec::parent_command_line>("ParentCommandLine"),
    body<ProcessExec, &ProcessExec::cwd>("CurrentDirectory"),
    body<ProcessExec, &ProcessExec::sha256>("sha256"),
    FieldEntry{"Hashes", kKindOf<ProcessExec>, {&get_hashes, &set_hashes, false}},
    body<ProcessExec, &ProcessExec::exec_errno>("exec.errno"),
    image<ProcessExit>(),
    body<ProcessExit, &ProcessExit::exit_code>("exit.code"),
    body<ProcessExit, &ProcessExit::signal>("exit.signal"),
    image<ProcessFork>(),
    body<ProcessFork, &ProcessFork::child_pid>("fork.child_pid"),
    image<FileOpen>(),
    body<FileOpen, &FileOpen::path>("TargetFilename"),
    body<FileOpen, &FileOpen::flags>("file.flags"),
    body<FileOpen, &FileOpen::write>("file.write"),
    body<FileOpen, &FileOpen::create>("file.create"),
    body<FileOpen, &FileOpen::truncate>("file.truncate"),
    body<FileOpen, &FileOpen::result>("file.result"),
    image<PrivilegeChange>(),
    body<PrivilegeChange, &PrivilegeChange::syscall>("privilege.syscall"),
    body<PrivilegeChange, &PrivilegeChange::old_uid>("privilege.old_uid"),
    body<PrivilegeChange, &PrivilegeChange::old_euid>("privilege.old_euid"),
    body<PrivilegeChange, &PrivilegeChange::old_gid>("privilege.old_gid"),
    body<PrivilegeChange, &PrivilegeChange::old_egid>("privilege.old_egid"),
    body<PrivilegeChange, &PrivilegeChange::new_uid>("privilege.new_uid"),
    body<PrivilegeChange, &PrivilegeChange::new_euid>("privilege.new_euid"),
    body<PrivilegeChange, &PrivilegeChange::new_gid>("privilege.new_gid"),
    body<PrivilegeChange, &PrivilegeChange::new_egid>("privilege.new_egid"),
    body<PrivilegeChange, &PrivilegeChange::old_cap_effective>("privilege.old_cap_effective"),
    body<PrivilegeChange, &PrivilegeChange::new_cap_effective>("privilege.new_cap_effective"),
    body<PrivilegeChange, &PrivilegeChange::old_cap_permitted>("privilege.old_cap_permitted"),
    body<PrivilegeChange, &PrivilegeChange::new_cap_permitted>("privilege.new_cap_permitted"),
    body<PrivilegeChange, &PrivilegeChange::result>("privilege.result"),
    image<Ptrace>(),
    body<Ptrace, &Ptrace::request>("ptrace.request"),
    body<Ptrace, &Ptrace::target_pid>("TargetProcessId"),
    body<Ptrace, &Ptrace::target_uid>("ptrace.target_uid"),
    body<Ptrace, &Ptrace::target_image>("TargetImage"),
    body<Ptrace, &Ptrace::result>("ptrace.result"),
    image<FilelessExec>(),
    body<FilelessExec, &FilelessExec::command_line>("CommandLine"),
    body<FilelessExec, &FilelessExec::memfd>("fileless.memfd"),
};
constexpr auto kConnectFields = flow_fields<NetworkConnect>();
constexpr auto kAcceptFields = flow_fields<NetworkAccept>();
constexpr auto kListenFields = flow_fields<NetworkListen>();

// Fields every event kind carries: the process, its user, and where it ran.
constexpr std::array kCommonFields = {
    common<&Event::user>("User"),
    common<&Event::pid>("ProcessId"),
    common<&Event::ppid>("ParentProcessId"),
    common<&Event::uid>("uid"),
    common<&Event::gid>("gid"),
    FieldEntry{"LogonId", kAnyKind, {&get_login_uid, &set_event<&Event::login_uid>, false}},
    common<&Event::site>("site"),
    common<&Event::host>("host"),
    FieldEntry{"job.id", kAnyKind, {&get_job<&Workload::id>, &set_job<&Workload::id>, false}},
    FieldEntry{"job.user", kAnyKind, {&get_job<&Workload::user>, &set_job<&Workload::user>, false}},
    FieldEntry{"job.account",
               kAnyKind,
               {&get_job<&Workload::account>, &set_job<&Workload::account>, false}},
    FieldEntry{"job.step", kAnyKind, {&get_job<&Workload::step>, &set_job<&Workload::step>, false}},
    FieldEntry{"workload.kind", kAnyKind, {&get_workload_kind, &set_workload_kind, false}},
    FieldEntry{"workload.id",
               kAnyKind,
               {&get_workload<&Workload::id>, &set_workload<&Workload::id>, false}},
};

template <typename Fn>
void for_each_field(EventKind kind, Fn&& fn) {
  const int k = static_cast<int>(kind);
  auto visit = [&](const auto& table) {
    for (const FieldEntry& entry : table) {
      if (entry.kind == k || entry.kind == kAnyKind) fn(entry);
    }
  };
  visit(kBodyFields);
  visit(kConnectFields);
  visit(kAcceptFields);
  visit(kListenFields);
  visit(kCommonFields);
}

}  // namespace

FieldDef resolve_field(EventKind kind, std::string_view name) {
  FieldDef found;
  for_each_field(kind, [&](const FieldEntry& entry) {
    if (found.get == nullptr && entry.name == name) found = entry.def;
  });
  return found;
}

std::vector<std::string_view> text_fields(EventKind kind) {
  std::vector<std::string_view> names;
  for_each_field(kind, [&](const FieldEntry& entry) {
    if (entry.def.text) names.push_back(entry.name);
  });
  return names;
}

namespace {
template <std::size_t... I>
decltype(Event::body) empty_body(std::size_t index, std::index_sequence<I...>) {
  decltype(Event::body) body;
  ((index == I ? (body.emplace<I>(), 0) : 0), ...);
  return body;
}
}  // namespace

decltype(Event::body) empty_body(EventKind kind) {
  return empty_body(static_cast<std::size_t>(kind),
                    std::make_index_sequence<std::variant_size_v<decltype(Event::body)>>());
}

std::vector<std::string_view> field_names(EventKind kind) {
  std::vector<std::string_view> names;
  for_each_field(kind, [&](const FieldEntry& entry) { names.push_back(entry.name); });
  return names;
}

}  // namespace vigie::rules
