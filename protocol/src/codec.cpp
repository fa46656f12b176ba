#include "vigie/protocol/codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <zstd.h>

#include <cmath>
#include <cstdint>
#include <memory>

#include "vigie/v1/batch.pb.h"

namespace vigie::protocol {
namespace {

namespace pb = ::vigie::v1;

// Stores keep integers as signed 64-bit (SQLite, PostgreSQL BIGINT).
constexpr uint64_t kMaxStoredInteger = static_cast<uint64_t>(INT64_MAX);

void to_pb(const Workload& in, pb::Workload* out) {
  out->set_kind(static_cast<pb::WorkloadKind>(in.kind));
  out->set_id(in.id);
  out->set_user(in.user);
  out->set_cgroup_path(in.cgroup_path);
  out->set_account(in.account);
  out->set_step(in.step);
  out->set_pod_uid(in.pod_uid);
}

bool from_pb(const pb::Workload& in, Workload& out) {
  if (!pb::WorkloadKind_IsValid(in.kind()) || in.kind() >= kWorkloadKindCount) return false;
  out.kind = static_cast<WorkloadKind>(in.kind());
  out.id = in.id();
  out.user = in.user();
  out.cgroup_path = in.cgroup_path();
  out.account = in.account();
  out.step = in.step();
  out.pod_uid = in.pod_uid();
  return true;
}

void to_pb(const NetworkFlow& in, pb::NetworkFlow* out) {
  out->set_transport(static_cast<pb::Transport>(in.transport));
  out->set_ipv6(in.ipv6);
  out->set_destination_ip(in.destination_ip);
  out->set_destination_port(in.destination_port);
  out->set_image(in.image);
  out->set_source_ip(in.source_ip);
  out->set_source_port(in.source_port);
  out->set_destination_hostname(in.destination_hostname);
}

bool from_pb(const pb::NetworkFlow& in, NetworkFlow& out, std::string& why) {
  if (in.destination_port() > 65535 || in.source_port() > 65535) {
    why = "port out of range";
    return false;
  }
  if (in.transport() != pb::TRANSPORT_TCP && in.transport() != pb::TRANSPORT_UDP) {
    why = "unknown transport";
    return false;
  }
  out = {static_cast<Transport>(in.transport()),
         in.ipv6(),
         in.destination_ip(),
         static_cast<uint16_t>(in.destination_port()),
         in.image(),
         in.source_ip(),
         static_cast<uint16_t>(in.source_port()),
         in.destination_hostname()};
  return true;
}

// Encodes the body of one event kind; overloaded per struct, chosen by std::visit.
struct BodyEncoder {
  pb::Event* out;

  void operator()(const ProcessExec& in) const {
    auto* e = out->mutable_process_exec();
    e->set_image(in.image);
    for (const auto& arg : in.argv) e->add_argv(arg);
    e->set_argv_truncated(in.argv_truncated);
    e->set_parent_image(in.parent_image);
    e->set_parent_command_line(in.parent_command_line);
    e->set_cwd(in.cwd);
    e->set_sha256(in.sha256);
    e->set_exec_errno(in.exec_errno);
    for (const auto& ancestor : in.ancestry) {
      auto* a = e->add_ancestry();
      a->set_pid(ancestor.pid);
      a->set_start_ns(ancestor.start_ns);
      a->set_image(ancestor.image);
      a->set_command_line(ancestor.command_line);
    }
  }
  void operator()(const ProcessExit& in) const {
    auto* e = out->mutable_process_exit();
    e->set_exit_code(in.exit_code);
    e->set_signal(in.signal);
    e->set_image(in.image);
    e->set_cpu_user_ns(in.cpu_user_ns);
    e->set_cpu_system_ns(in.cpu_system_ns);
  }
  void operator()(const ProcessFork& in) const {
    auto* e = out->mutable_process_fork();
    e->set_child_pid(in.child_pid);
    e->set_child_start_ns(in.child_start_ns);
    e->set_image(in.image);
  }
  void operator()(const NetworkConnect& in) const { to_pb(in, out->mutable_network_connect()); }
  void operator()(const NetworkAccept& in) const { to_pb(in, out->mutable_network_accept()); }
  void operator()(const NetworkListen& in) const { to_pb(in, out->mutable_network_listen()); }
  void operator()(const FileOpen& in) const {
    auto* e = out->mutable_file_open();
    e->set_path(in.path);
    e->set_flags(in.flags);
    e->set_write(in.write);
    e->set_create(in.create);
    e->set_truncate(in.truncate);
    e->set_image(in.image);
    e->set_result(in.result);
  }
  void operator()(const PrivilegeChange& in) const {
    auto* e = out->mutable_privilege_change();
    e->set_syscall(in.syscall);
    e->set_old_uid(in.old_uid);
    e->set_old_euid(in.old_euid);
    e->set_old_gid(in.old_gid);
    e->set_old_egid(in.old_egid);
    e->set_new_uid(in.new_uid);
    e->set_new_euid(in.new_euid);
    e->set_new_gid(in.new_gid);
    e->set_new_egid(in.new_egid);
    e->set_old_cap_effective(in.old_cap_effective);
    e->set_new_cap_effective(in.new_cap_effective);
    e->set_old_cap_permitted(in.old_cap_permitted);
    e->set_new_cap_permitted(in.new_cap_permitted);
    e->set_image(in.image);
    e->set_result(in.result);
  }
  void operator()(const Ptrace& in) const {
    auto* e = out->mutable_ptrace();
    e->set_request(in.request);
    e->set_target_pid(in.target_pid);
    e->set_target_uid(in.target_uid);
    e->set_target_image(in.target_image);
    e->set_image(in.image);
    e->set_result(in.result);
  }
  void operator()(const FilelessExec& in) const {
    auto* e = out->mutable_fileless_exec();
    e->set_image(in.image);
    for (const auto& arg : in.argv) e->add_argv(arg);
    e->set_memfd(in.memfd);
  }
};

void to_pb(const Event& in, pb::Event* out) {
  out->set_time_ns(in.time_ns);
  out->set_pid(in.pid);
  out->set_ppid(in.ppid);
  out->set_uid(in.uid);
  out->set_gid(in.gid);
  out->set_user(in.user);
  out->set_cgroup_id(in.cgroup_id);
  out->set_process_start_ns(in.process_start_ns);
  out->set_login_uid_plus_one(in.login_uid == kLoginUidUnset ? 0 : uint64_t{in.login_uid} + 1);
  to_pb(in.workload, out->mutable_workload());
  std::visit(BodyEncoder{out}, in.body);
}

// Decodes the body of `in` into `out.body`; false with `why` on invalid input.
bool body_from_pb(const pb::Event& in, Event& out, std::string& why) {
  switch (in.body_case()) {
    case pb::Event::kProcessExec: {
      const auto& e = in.process_exec();
      ProcessExec exec;
      exec.image = e.image();
      exec.argv.assign(e.argv().begin(), e.argv().end());
      exec.argv_truncated = e.argv_truncated();
      exec.command_line = join_command_line(exec.argv);
      exec.parent_image = e.parent_image();
      exec.parent_command_line = e.parent_command_line();
      exec.cwd = e.cwd();
      exec.sha256 = e.sha256();
      exec.exec_errno = e.exec_errno();
      for (const auto& a : e.ancestry()) {
        if (a.start_ns() > kMaxStoredInteger) {
          why = "ancestry start_ns out of range";
          return false;
        }
        exec.ancestry.push_back({a.pid(), a.start_ns(), a.image(), a.command_line()});
      }
      out.body = std::move(exec);
      return true;
    }
    case pb::Event::kProcessExit: {
      const auto& e = in.process_exit();
      if (e.cpu_user_ns() > kMaxStoredInteger || e.cpu_system_ns() > kMaxStoredInteger) {
        why = "cpu time out of range";
        return false;
      }
      out.body =
          ProcessExit{e.exit_code(), e.signal(), e.image(), e.cpu_user_ns(), e.cpu_system_ns()};
      return true;
    }
    case pb::Event::kProcessFork: {
      const auto& e = in.process_fork();
      if (e.child_start_ns() > kMaxStoredInteger) {
        why = "child_start_ns out of range";
        return false;
      }
      out.body = ProcessFork{e.child_pid(), e.child_start_ns(), e.image()};
      return true;
    }
    case pb::Event::kNetworkConnect: {
      NetworkConnect flow;
      if (!from_pb(in.network_connect(), flow, why)) return false;
      out.body = std::move(flow);
      return true;
    }
    case pb::Event::kNetworkAccept: {
      NetworkAccept flow;
      if (!from_pb(in.network_accept(), flow, why)) return false;
      out.body = std::move(flow);
      return true;
    }
    case pb::Event::kNetworkListen: {
      NetworkListen flow;
      if (!from_pb(in.network_listen(), flow, why)) return false;
      out.body = std::move(flow);
      return true;
    }
    case pb::Event::kFileOpen: {
      const auto& e = in.file_open();
      out.body =
          FileOpen{e.path(), e.flags(), e.write(), e.create(), e.truncate(), e.image(), e.result()};
      return true;
    }
    case pb::Event::kPrivilegeChange: {
      const auto& e = in.privilege_change();
      PrivilegeChange change;
      change.syscall = e.syscall();
      change.old_uid = e.old_uid();
      change.old_euid = e.old_euid();
      change.old_gid = e.old_gid();
      change.old_egid = e.old_egid();
      change.new_uid = e.new_uid();
      change.new_euid = e.new_euid();
      change.new_gid = e.new_gid();
      change.new_egid = e.new_egid();
      change.old_cap_effective = e.old_cap_effective();
      change.new_cap_effective = e.new_cap_effective();
      change.old_cap_permitted = e.old_cap_permitted();
      change.new_cap_permitted = e.new_cap_permitted();
      change.image = e.image();
      change.result = e.result();
      out.body = std::move(change);
      return true;
    }
    case pb::Event::kPtrace: {
      const auto& e = in.ptrace();
      out.body = Ptrace{e.request(),      e.target_pid(), e.target_uid(),
                        e.target_image(), e.image(),      e.result()};
      return true;
    }
    case pb::Event::kFilelessExec: {
      const auto& e = in.fileless_exec();
      FilelessExec fileless;
      fileless.image = e.image();
      fileless.argv.assign(e.argv().begin(), e.argv().end());
      fileless.command_line = join_command_line(fileless.argv);
      fileless.memfd = e.memfd();
      out.body = std::move(fileless);
      return true;
    }
    case pb::Event::BODY_NOT_SET:
      break;
  }
  why = "event without a body";
  return false;
}

// Fills `out` from `in`; batch-level site/host are copied into each event.
bool from_pb(const pb::Event& in, const std::string& site, const std::string& host, Event& out,
             std::string& why) {
  if (in.time_ns() > kMaxStoredInteger || in.process_start_ns() > kMaxStoredInteger) {
    why = "time_ns or process_start_ns out of range";
    return false;
  }
  out.time_ns = in.time_ns();
  out.site = site;
  out.host = host;
  out.pid = in.pid();
  out.ppid = in.ppid();
  out.uid = in.uid();
  out.gid = in.gid();
  out.user = in.user();
  out.cgroup_id = in.cgroup_id();
  out.process_start_ns = in.process_start_ns();
  if (in.login_uid_plus_one() > kLoginUidUnset) {
    why = "login_uid out of range";
    return false;
  }
  out.login_uid = in.login_uid_plus_one() == 0 ? kLoginUidUnset
                                               : static_cast<uint32_t>(in.login_uid_plus_one() - 1);
  if (!from_pb(in.workload(), out.workload)) {
    why = "unknown workload kind";
    return false;
  }
  return body_from_pb(in, out, why);
}

void to_pb(const ZoneEnergy& in, pb::ZoneEnergy* out) {
  out->set_start_ns(in.start_ns);
  out->set_end_ns(in.end_ns);
  out->set_zone(in.zone);
  out->set_source(static_cast<pb::EnergySource>(in.source));
  out->set_estimated(in.estimated);
  out->set_energy_joules(in.energy_joules);
  out->set_nested(!in.in_node_total);
}

void to_pb(const WorkloadEnergy& in, pb::WorkloadEnergy* out) {
  out->set_start_ns(in.start_ns);
  out->set_end_ns(in.end_ns);
  to_pb(in.workload, out->mutable_workload());
  out->set_cpu_seconds(in.cpu_seconds);
  out->set_energy_joules(in.energy_joules);
  out->set_carbon_gco2e(in.carbon_gco2e);
  out->set_estimated(in.estimated);
  out->set_cpu_joules(in.cpu_joules);
  out->set_dram_joules(in.dram_joules);
  out->set_gpu_joules(in.gpu_joules);
  out->set_idle_joules(in.idle_joules);
  out->set_embodied_gco2e(in.embodied_gco2e);
}

DecodeResult failure(DecodeError code, std::string message) {
  return fail(DecodeFailure{code, std::move(message)});
}
DecodeResult invalid(std::string message) { return failure(DecodeError::kInvalid, std::move(message)); }

// What a serialized message would cost once parsed, counted on the wire
// before parsing: a few bytes of protobuf can stand for a record of several
// hundred bytes in memory (an empty event is 5 bytes on the wire), so the
// decoded-size bound alone lets a 6 KB zstd frame become gigabytes.
struct WireCount {
  std::size_t records = 0;   // top-level repeated entries of the Batch
  std::size_t elements = 0;  // field occurrences at any depth, packed values included
};

// Walks one message of type `type` (nullptr: an unknown group, kept by the
// parser as unknown fields) from `in` to its end, its limit or its END_GROUP,
// adding to `count`; stops early once a bound is passed. Malformed input
// just ends the walk: the parser reports it.
void count_wire(google::protobuf::io::CodedInputStream& in,
                const google::protobuf::Descriptor* type, int depth, WireCount& count) {
  using google::protobuf::FieldDescriptor;
  using google::protobuf::internal::WireFormatLite;
  while (count.records <= kMaxBatchRecords && count.elements <= kMaxBatchElements) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return;
    const auto wire_type = WireFormatLite::GetTagWireType(tag);
    if (wire_type == WireFormatLite::WIRETYPE_END_GROUP) return;
    ++count.elements;
    const FieldDescriptor* field =
        type == nullptr ? nullptr : type->FindFieldByNumber(WireFormatLite::GetTagFieldNumber(tag));
    if (depth == 0 && field != nullptr && field->is_repeated()) ++count.records;
    if (depth >= 32) return;  // deeper than the schema goes: the parser will say
    if (wire_type == WireFormatLite::WIRETYPE_START_GROUP) {
      count_wire(in, nullptr, depth + 1, count);
      continue;
    }
    if (wire_type != WireFormatLite::WIRETYPE_LENGTH_DELIMITED || field == nullptr ||
        (field->type() != FieldDescriptor::TYPE_MESSAGE && !field->is_packable())) {
      if (!WireFormatLite::SkipField(&in, tag)) return;
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || length > static_cast<uint32_t>(INT32_MAX)) return;
    if (field->type() != FieldDescriptor::TYPE_MESSAGE) {
      count.elements += length;  // packed: at least one byte per value
      if (!in.Skip(static_cast<int>(length))) return;
      continue;
    }
    const auto limit = in.PushLimit(static_cast<int>(length));
    count_wire(in, field->message_type(), depth + 1, count);
    if (!in.Skip(in.BytesUntilLimit())) return;
    in.PopLimit(limit);
  }
}

// A joule, second or gram figure: finite and not negative.
bool valid_quantity(double v) { return std::isfinite(v) && v >= 0; }

// Why an energy interval is unusable, or empty when it is fine.
std::string interval_error(uint64_t start_ns, uint64_t end_ns) {
  if (end_ns > kMaxStoredInteger) return "end_ns out of range";
  if (start_ns > end_ns) return "start_ns after end_ns";
  return {};
}

}  // namespace

std::string encode_batch(const Batch& batch, int level) {
  // One arena for the whole message: a few large blocks freed at once, not
  // one allocation per field (less heap churn and fragmentation in the agent).
  google::protobuf::Arena arena;
  pb::Batch& msg = *google::protobuf::Arena::CreateMessage<pb::Batch>(&arena);
  msg.set_agent_id(batch.agent_id);
  msg.set_site(batch.site);
  msg.set_host(batch.host);
  msg.set_sequence(batch.sequence);
  msg.set_sent_ns(batch.sent_ns);
  for (const auto& e : batch.events) to_pb(e, msg.add_events());
  for (const auto& z : batch.zone_energy) to_pb(z, msg.add_zone_energy());
  for (const auto& w : batch.workload_energy) to_pb(w, msg.add_workload_energy());
  for (const auto& a : batch.alerts) {
    auto* out = msg.add_alerts();
    out->set_rule_id(a.rule_id);
    out->set_rule_title(a.rule_title);
    out->set_level(a.level);
    for (const auto& t : a.tags) out->add_tags(t);
    to_pb(a.event, out->mutable_event());
  }
  auto* st = msg.mutable_status();
  st->set_ringbuf_drops_total(batch.status.ringbuf_drops_total);
  st->set_events_total(batch.status.events_total);
  st->set_uplink_dropped_total(batch.status.uplink_dropped_total);
  st->set_rule_pack_version(batch.status.rule_pack_version);
  for (const auto& [source, count] : batch.status.drops_by_source) {
    (*st->mutable_drops_by_source())[source] = count;
  }
  st->set_ringbuf_size_bytes(batch.status.ringbuf_size_bytes);
  st->set_ringbuf_used_bytes(batch.status.ringbuf_used_bytes);
  for (const auto& kind : batch.status.kinds_off) st->add_kinds_off(kind);
  for (const auto& end : batch.workload_ends) {
    auto* out = msg.add_workload_ends();
    out->set_start_ns(end.start_ns);
    out->set_end_ns(end.end_ns);
    to_pb(end.workload, out->mutable_workload());
  }

  // Deterministic: map fields (drops_by_source) in key order, so the same
  // batch always encodes to the same bytes.
  std::string raw;
  {
    google::protobuf::io::StringOutputStream stream(&raw);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!msg.SerializeToCodedStream(&coded)) return {};
  }
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
  // ZSTD_compress only fails on a too-small destination or a bad level.
  if (ZSTD_isError(n)) return {};
  out.resize(n);
  out.shrink_to_fit();  // queued batches keep their compressed size, not the bound
  return out;
}

DecodeResult decode_batch(std::string_view body, Batch& out, std::size_t max_decoded_bytes) {
  const unsigned long long size = ZSTD_getFrameContentSize(body.data(), body.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) {
    return failure(DecodeError::kNotZstd, "body is not a zstd frame");
  }
  // Frames without a declared size are streamed into a bounded buffer.
  std::string raw;
  if (size != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (size > max_decoded_bytes) {
      return failure(DecodeError::kTooLarge, "decompressed batch of " + std::to_string(size) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(max_decoded_bytes));
    }
    raw.resize(size);
    const std::size_t n = ZSTD_decompress(raw.data(), raw.size(), body.data(), body.size());
    if (ZSTD_isError(n) || n != size) {
      return failure(DecodeError::kCorrupt, std::string("corrupt zstd frame: ") +
                                         (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short"));
    }
  } else {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!dctx) return failure(DecodeError::kCorrupt, "out of memory for zstd");
    // Bound the decoder's window (16 MiB) so a frame cannot make it allocate 128 MiB.
    ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 24);
    ZSTD_inBuffer in{body.data(), body.size(), 0};
    std::string chunk(ZSTD_DStreamOutSize(), '\0');
    std::size_t ret = 1;
    bool flushed = false;  // the last call left no output in the decoder
    // All input consumed is not the end: a full output chunk means the
    // decoder may hold more (zstd.h, ZSTD_decompressStream).
    while (ret != 0 && (in.pos < in.size || !flushed)) {
      ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
      ret = ZSTD_decompressStream(dctx.get(), &o, &in);
      if (ZSTD_isError(ret)) {
        return failure(DecodeError::kCorrupt,
                std::string("corrupt zstd frame: ") + ZSTD_getErrorName(ret));
      }
      flushed = o.pos < o.size;
      if (raw.size() + o.pos > max_decoded_bytes) {
        return failure(DecodeError::kTooLarge, "decompressed batch exceeds the limit of " +
                                            std::to_string(max_decoded_bytes) + " bytes");
      }
      raw.append(chunk.data(), o.pos);
    }
    if (ret != 0) return failure(DecodeError::kCorrupt, "truncated zstd frame");
    if (in.pos != in.size) return failure(DecodeError::kCorrupt, "data after the zstd frame");
  }

  {
    google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(raw.data()),
                                              static_cast<int>(raw.size()));
    WireCount count;
    count_wire(in, pb::Batch::descriptor(), 0, count);
    if (count.records > kMaxBatchRecords) {
      return failure(DecodeError::kTooLarge, "batch holds more than " + std::to_string(kMaxBatchRecords) +
                                          " events, energy records and alerts");
    }
    if (count.elements > kMaxBatchElements) {
      return failure(DecodeError::kTooLarge,
              "batch holds more than " + std::to_string(kMaxBatchElements) + " protobuf fields");
    }
  }
  pb::Batch msg;
  if (!msg.ParseFromString(raw)) {
    return failure(DecodeError::kBadProtobuf, "payload is not a vigie.v1.Batch protobuf message");
  }
  if (msg.agent_id().empty()) return invalid("agent_id is empty");
  if (msg.sent_ns() > kMaxStoredInteger) return invalid("sent_ns out of range");
  if (msg.host().empty()) return invalid("host is empty");
  if (msg.sequence() == 0 || msg.sequence() > kMaxStoredInteger) {
    return invalid("sequence must be within [1, 2^63)");
  }

  out = Batch{};
  out.agent_id = msg.agent_id();
  out.site = msg.site();
  out.host = msg.host();
  out.sequence = msg.sequence();
  out.sent_ns = msg.sent_ns();
  std::string why;
  out.events.resize(msg.events_size());
  for (int i = 0; i < msg.events_size(); ++i) {
    if (!from_pb(msg.events(i), out.site, out.host, out.events[i], why)) {
      return invalid("events[" + std::to_string(i) + "]: " + why);
    }
  }
  for (int i = 0; i < msg.zone_energy_size(); ++i) {
    const auto& z = msg.zone_energy(i);
    const std::string where = "zone_energy[" + std::to_string(i) + "]: ";
    if (!pb::EnergySource_IsValid(z.source())) return invalid(where + "unknown source");
    if (const auto e = interval_error(z.start_ns(), z.end_ns()); !e.empty())
      return invalid(where + e);
    if (!valid_quantity(z.energy_joules())) {
      return invalid(where + "energy_joules must be finite and >= 0");
    }
    out.zone_energy.push_back({z.start_ns(), z.end_ns(), z.zone(),
                               static_cast<EnergySource>(z.source()), z.estimated(),
                               z.energy_joules(), !z.nested()});
  }
  for (int i = 0; i < msg.workload_energy_size(); ++i) {
    const auto& w = msg.workload_energy(i);
    WorkloadEnergy we{w.start_ns(),    w.end_ns(),        {},
                      w.cpu_seconds(), w.energy_joules(), w.carbon_gco2e(),
                      w.estimated(),   w.cpu_joules(),    w.dram_joules(),
                      w.gpu_joules(),  w.idle_joules(),   w.embodied_gco2e()};
    const std::string where = "workload_energy[" + std::to_string(i) + "]: ";
    if (!from_pb(w.workload(), we.workload)) return invalid(where + "unknown workload kind");
    if (const auto e = interval_error(w.start_ns(), w.end_ns()); !e.empty())
      return invalid(where + e);
    for (const double v : {w.energy_joules(), w.cpu_seconds(), w.carbon_gco2e(), w.cpu_joules(),
                           w.dram_joules(), w.gpu_joules(), w.idle_joules(), w.embodied_gco2e()}) {
      if (!valid_quantity(v)) {
        return invalid(where + "energies, cpu_seconds and carbon must be finite and >= 0");
      }
    }
    out.workload_energy.push_back(std::move(we));
  }
  for (int i = 0; i < msg.alerts_size(); ++i) {
    const auto& a = msg.alerts(i);
    Alert alert{a.rule_id(), a.rule_title(), a.level(), {a.tags().begin(), a.tags().end()}, {}};
    if (a.rule_id().empty()) return invalid("alerts[" + std::to_string(i) + "]: rule_id is empty");
    if (!from_pb(a.event(), out.site, out.host, alert.event, why)) {
      return invalid("alerts[" + std::to_string(i) + "].event: " + why);
    }
    out.alerts.push_back(std::move(alert));
  }
  const auto& st = msg.status();
  out.status.ringbuf_drops_total = st.ringbuf_drops_total();
  out.status.events_total = st.events_total();
  out.status.uplink_dropped_total = st.uplink_dropped_total();
  out.status.rule_pack_version = st.rule_pack_version();
  out.status.drops_by_source.insert(st.drops_by_source().begin(), st.drops_by_source().end());
  out.status.ringbuf_size_bytes = st.ringbuf_size_bytes();
  out.status.ringbuf_used_bytes = st.ringbuf_used_bytes();
  out.status.kinds_off.assign(st.kinds_off().begin(), st.kinds_off().end());
  for (int i = 0; i < msg.workload_ends_size(); ++i) {
    const auto& w = msg.workload_ends(i);
    const std::string where = "workload_ends[" + std::to_string(i) + "]: ";
    WorkloadEnd end{w.start_ns(), w.end_ns(), {}};
    if (!from_pb(w.workload(), end.workload)) return invalid(where + "unknown workload kind");
    if (const auto e = interval_error(w.start_ns(), w.end_ns()); !e.empty()) {
      return invalid(where + e);
    }
    out.workload_ends.push_back(std::move(end));
  }
  return raw.size();
}

}  // namespace vigie::protocol
