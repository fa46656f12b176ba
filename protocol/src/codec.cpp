#include "vigie/protocol/codec.h"

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
}

bool from_pb(const pb::Workload& in, Workload& out) {
  if (!pb::WorkloadKind_IsValid(in.kind()) || in.kind() > pb::WORKLOAD_KIND_UNATTRIBUTED) {
    return false;
  }
  out.kind = static_cast<WorkloadKind>(in.kind());
  out.id = in.id();
  out.user = in.user();
  out.cgroup_path = in.cgroup_path();
  return true;
}

void to_pb(const Event& in, pb::Event* out) {
  out->set_time_ns(in.time_ns);
  out->set_pid(in.pid);
  out->set_ppid(in.ppid);
  out->set_uid(in.uid);
  out->set_gid(in.gid);
  out->set_user(in.user);
  out->set_cgroup_id(in.cgroup_id);
  to_pb(in.workload, out->mutable_workload());
  if (const auto* exec = std::get_if<ProcessExec>(&in.body)) {
    auto* e = out->mutable_process_exec();
    e->set_image(exec->image);
    for (const auto& arg : exec->argv) e->add_argv(arg);
    e->set_argv_truncated(exec->argv_truncated);
    e->set_parent_image(exec->parent_image);
    e->set_parent_command_line(exec->parent_command_line);
  } else if (const auto* exit = std::get_if<ProcessExit>(&in.body)) {
    auto* e = out->mutable_process_exit();
    e->set_exit_code(exit->exit_code);
    e->set_signal(exit->signal);
    e->set_image(exit->image);
  } else if (const auto* conn = std::get_if<NetworkConnect>(&in.body)) {
    auto* e = out->mutable_network_connect();
    e->set_transport(static_cast<pb::Transport>(conn->transport));
    e->set_ipv6(conn->ipv6);
    e->set_destination_ip(conn->destination_ip);
    e->set_destination_port(conn->destination_port);
    e->set_image(conn->image);
  }
}

// Fills `out` from `in`; batch-level site/host are copied into each event.
bool from_pb(const pb::Event& in, const std::string& site, const std::string& host, Event& out,
             std::string& why) {
  if (in.time_ns() > kMaxStoredInteger) {
    why = "time_ns out of range";
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
  if (!from_pb(in.workload(), out.workload)) {
    why = "unknown workload kind";
    return false;
  }
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
      out.body = std::move(exec);
      return true;
    }
    case pb::Event::kProcessExit: {
      const auto& e = in.process_exit();
      out.body = ProcessExit{e.exit_code(), e.signal(), e.image()};
      return true;
    }
    case pb::Event::kNetworkConnect: {
      const auto& e = in.network_connect();
      if (e.destination_port() > 65535) {
        why = "destination_port out of range";
        return false;
      }
      if (e.transport() != pb::TRANSPORT_TCP && e.transport() != pb::TRANSPORT_UDP) {
        why = "unknown transport";
        return false;
      }
      out.body = NetworkConnect{static_cast<Transport>(e.transport()), e.ipv6(), e.destination_ip(),
                                static_cast<uint16_t>(e.destination_port()), e.image()};
      return true;
    }
    case pb::Event::BODY_NOT_SET:
      break;
  }
  why = "event without a body";
  return false;
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
}

DecodeResult invalid(std::string message) { return {DecodeError::kInvalid, std::move(message)}; }

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
  pb::Batch msg;
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

  const std::string raw = msg.SerializeAsString();
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
  // ZSTD_compress only fails on a too-small destination or a bad level.
  if (ZSTD_isError(n)) return {};
  out.resize(n);
  return out;
}

DecodeResult decode_batch(std::string_view body, Batch& out, std::size_t max_decoded_bytes) {
  const unsigned long long size = ZSTD_getFrameContentSize(body.data(), body.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) {
    return {DecodeError::kNotZstd, "body is not a zstd frame"};
  }
  // Frames without a declared size are streamed into a bounded buffer.
  std::string raw;
  if (size != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (size > max_decoded_bytes) {
      return {DecodeError::kTooLarge, "decompressed batch of " + std::to_string(size) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(max_decoded_bytes)};
    }
    raw.resize(size);
    const std::size_t n = ZSTD_decompress(raw.data(), raw.size(), body.data(), body.size());
    if (ZSTD_isError(n) || n != size) {
      return {DecodeError::kCorrupt, std::string("corrupt zstd frame: ") +
                                         (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short")};
    }
  } else {
    std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    if (!dctx) return {DecodeError::kCorrupt, "out of memory for zstd"};
    // Bound the decoder's window (16 MiB) so a frame cannot make it allocate 128 MiB.
    ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 24);
    ZSTD_inBuffer in{body.data(), body.size(), 0};
    std::string chunk(ZSTD_DStreamOutSize(), '\0');
    std::size_t ret = 1;
    while (in.pos < in.size && ret != 0) {
      ZSTD_outBuffer o{chunk.data(), chunk.size(), 0};
      ret = ZSTD_decompressStream(dctx.get(), &o, &in);
      if (ZSTD_isError(ret)) {
        return {DecodeError::kCorrupt,
                std::string("corrupt zstd frame: ") + ZSTD_getErrorName(ret)};
      }
      raw.append(chunk.data(), o.pos);
      if (raw.size() > max_decoded_bytes) {
        return {DecodeError::kTooLarge, "decompressed batch exceeds the limit of " +
                                            std::to_string(max_decoded_bytes) + " bytes"};
      }
    }
    if (ret != 0) return {DecodeError::kCorrupt, "truncated zstd frame"};
    if (in.pos != in.size) return {DecodeError::kCorrupt, "data after the zstd frame"};
  }

  pb::Batch msg;
  if (!msg.ParseFromString(raw)) {
    return {DecodeError::kBadProtobuf, "payload is not a vigie.v1.Batch protobuf message"};
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
    if (z.source() != pb::ENERGY_SOURCE_RAPL && z.source() != pb::ENERGY_SOURCE_ESTIMATE) {
      return invalid(where + "unknown source");
    }
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
    WorkloadEnergy we{w.start_ns(),      w.end_ns(),       {},           w.cpu_seconds(),
                      w.energy_joules(), w.carbon_gco2e(), w.estimated()};
    const std::string where = "workload_energy[" + std::to_string(i) + "]: ";
    if (!from_pb(w.workload(), we.workload)) return invalid(where + "unknown workload kind");
    if (const auto e = interval_error(w.start_ns(), w.end_ns()); !e.empty())
      return invalid(where + e);
    if (!valid_quantity(w.energy_joules()) || !valid_quantity(w.cpu_seconds()) ||
        !valid_quantity(w.carbon_gco2e())) {
      return invalid(where + "energy_joules, cpu_seconds and carbon_gco2e must be finite and >= 0");
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
  out.status = {st.ringbuf_drops_total(), st.events_total(), st.uplink_dropped_total(),
                st.rule_pack_version()};
  return {};
}

}  // namespace vigie::protocol
