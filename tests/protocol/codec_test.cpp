#include "vigie/protocol/codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <cmath>
#include <memory>
#include <string>

namespace vigie::protocol {
namespace {

Batch sample_batch() {
  Batch b;
  b.agent_id = "node001-agent";
  b.site = "mesocentre-a";
  b.host = "node001";
  b.sequence = 42;
  b.sent_ns = 1'700'000'000'000'000'000;
  Event exec;
  exec.time_ns = 1'700'000'000'000'000'001;
  exec.site = b.site;
  exec.host = b.host;
  exec.pid = 1234;
  exec.ppid = 1;
  exec.uid = 1000;
  exec.gid = 1000;
  exec.user = "alice";
  exec.cgroup_id = 777;
  exec.process_start_ns = 1'699'999'999'000'000'000;
  exec.login_uid = 1000;
  exec.workload = {WorkloadKind::kSlurmJob,
                   "4242",
                   "alice",
                   "/slurm/uid_1000/job_4242/step_0",
                   "physics",
                   "0",
                   ""};
  exec.body = ProcessExec{"/tmp/xmrig",
                          {"/tmp/xmrig", "-o", "pool:3333"},
                          true,
                          "/tmp/xmrig -o pool:3333",
                          "/bin/bash",
                          "-bash",
                          "/home/alice",
                          std::string(64, 'a'),
                          0,
                          {{900, 5, "/bin/bash", "-bash"}, {1, 1, "/sbin/init", "/sbin/init"}}};
  b.events.push_back(exec);
  auto with_body = [&](auto body) {
    Event e = exec;
    e.body = std::move(body);
    b.events.push_back(e);
  };
  with_body(NetworkConnect{Transport::kUdp, true, "::1", 3333, "/tmp/xmrig", "::1", 40000,
                           "pool.example.org"});
  Event daemon = exec;
  daemon.login_uid = kLoginUidUnset;
  b.events.push_back(daemon);
  with_body(ProcessExit{0, 9, "/tmp/xmrig", 123, 456});
  with_body(ProcessFork{1235, 77, "/tmp/xmrig"});
  with_body(NetworkAccept{Transport::kTcp, false, "10.0.0.1", 22, "/usr/sbin/sshd", "10.0.0.2", 5});
  with_body(NetworkListen{Transport::kTcp, false, "", 0, "/tmp/nc", "0.0.0.0", 4444});
  with_body(FileOpen{"/etc/shadow", 0101, true, true, false, "/usr/bin/vi", -13});
  with_body(PrivilegeChange{"capset", 1000, 1000, 1000, 1000, 0, 0, 0, 0, 0, 1 << 21, 0, 1 << 21,
                            "/tmp/x", 0});
  with_body(Ptrace{16, 1, 0, "/sbin/init", "/usr/bin/gdb", -1});
  with_body(FilelessExec{"/memfd:x (deleted)", {"x"}, "x", true});
  b.zone_energy.push_back({1, 2, "node", EnergySource::kEstimate, true, 12.5, true});
  b.zone_energy.push_back({1, 2, "package-0/core", EnergySource::kRapl, false, 3.5, false});
  b.zone_energy.push_back({1, 2, "gpu-0", EnergySource::kNvml, false, 300.0, true});
  b.zone_energy.push_back({1, 2, "node", EnergySource::kIpmi, false, 500.0, false});
  b.workload_energy.push_back({1, 2, exec.workload, 0.5, 10.0, 0.1, true, 6, 1, 2, 1, 0.01});
  b.alerts.push_back({"rule-1", "Miner", "high", {"attack.t1496"}, exec});
  b.status = {3, 100, 1, "starter-1"};
  b.status.drops_by_source = {{"ringbuf.process_exec", 3}, {"process_table.evicted", 2}};
  b.status.ringbuf_size_bytes = 8 << 20;
  b.status.ringbuf_used_bytes = 4096;
  b.status.kinds_off = {"ptrace"};
  b.workload_ends.push_back({1, 2, exec.workload});
  return b;
}

TEST(Codec, RoundTripKeepsEveryField) {
  const Batch in = sample_batch();
  Batch out;
  const DecodeResult r = decode_batch(encode_batch(in), out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(in, out);
}

TEST(Codec, EncodingIsDeterministicWithMaps) {
  Batch in = sample_batch();
  for (int i = 0; i < 50; ++i) in.status.drops_by_source["source-" + std::to_string(i)] = i;
  const std::string once = encode_batch(in);
  Batch out;
  ASSERT_TRUE(decode_batch(once, out).ok());
  EXPECT_EQ(encode_batch(out), once);  // same bytes, whatever the protobuf map's order
}

TEST(Codec, EveryEventKindIsInTheSample) {
  std::vector<bool> seen(kEventKindCount, false);
  for (const auto& e : sample_batch().events) seen[static_cast<int>(e.kind())] = true;
  for (int i = 0; i < kEventKindCount; ++i) EXPECT_TRUE(seen[i]) << i;
}

TEST(Codec, RefusesOutOfRangePortsAndTimes) {
  Batch b = sample_batch();
  Batch out;
  b.events[0].process_start_ns = uint64_t{1} << 63;
  EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid);
  b = sample_batch();
  b.workload_ends[0].start_ns = 3;  // after end_ns
  EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid);
  b = sample_batch();
  b.workload_energy[0].gpu_joules = -1;
  EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid);
}

TEST(Codec, RefusesNonZstd) {
  Batch out;
  const DecodeResult r = decode_batch("this is not zstd", out);
  EXPECT_EQ(r.error().code, DecodeError::kNotZstd);
  EXPECT_FALSE(r.error().message.empty());
}

TEST(Codec, RefusesTruncatedFrame) {
  std::string body = encode_batch(sample_batch());
  body.resize(body.size() / 2);
  Batch out;
  EXPECT_FALSE(decode_batch(body, out).ok());
}

TEST(Codec, RefusesProtobufGarbage) {
  const std::string garbage = "\xff\xff\xff\xff\xff\xff garbage";
  std::string frame(ZSTD_compressBound(garbage.size()), '\0');
  frame.resize(ZSTD_compress(frame.data(), frame.size(), garbage.data(), garbage.size(), 1));
  Batch out;
  EXPECT_EQ(decode_batch(frame, out).error().code, DecodeError::kBadProtobuf);
}

TEST(Codec, RefusesDecompressionBomb) {
  Batch big = sample_batch();
  std::get<ProcessExec>(big.events[0].body).argv.assign(1000, std::string(1000, 'a'));
  Batch out;
  const DecodeResult r = decode_batch(encode_batch(big), out, 64 * 1024);
  EXPECT_EQ(r.error().code, DecodeError::kTooLarge);
}

TEST(Codec, RefusesBatchWithoutIdentity) {
  Batch b = sample_batch();
  Batch out;
  b.sequence = 0;
  EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid);
  b = sample_batch();
  b.agent_id.clear();
  EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid);
  b = sample_batch();
  b.host.clear();
  EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid);
}

TEST(Codec, KeepsTextThatIsNotUtf8) {
  // `exec -a $'\xff\xfe' ...` must not make the whole batch unreadable.
  Batch in = sample_batch();
  auto& exec = std::get<ProcessExec>(in.events[0].body);
  exec.argv = {"\xff\xfe", "caf\xe9"};
  exec.command_line = "\xff\xfe caf\xe9";
  exec.image = "/tmp/\x80";
  in.events[0].user = "\xc3";
  Batch out;
  const DecodeResult r = decode_batch(encode_batch(in), out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(in, out);
}

TEST(Codec, CommandLineKeepsAnEmptyArgvZero) {
  // execve with argv[0] == "" is legal: the collector must rebuild the same
  // CommandLine the agent's rules saw.
  Batch in = sample_batch();
  auto& exec = std::get<ProcessExec>(in.events[0].body);
  exec.argv = {"", "sh", "-c", "id"};
  exec.command_line = join_command_line(exec.argv);
  EXPECT_EQ(exec.command_line, " sh -c id");
  Batch out;
  ASSERT_TRUE(decode_batch(encode_batch(in), out).ok());
  EXPECT_EQ(std::get<ProcessExec>(out.events[0].body).command_line, " sh -c id");
}

TEST(Codec, RefusesUnusableEnergy) {
  Batch out;
  for (double bad : {std::nan(""), double(INFINITY), -1.0}) {
    Batch b = sample_batch();
    b.zone_energy[0].energy_joules = bad;
    EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid) << bad;
    b = sample_batch();
    b.workload_energy[0].carbon_gco2e = bad;
    EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid) << bad;
  }
  Batch b = sample_batch();
  b.zone_energy[0].start_ns = 10;
  b.zone_energy[0].end_ns = 5;
  const DecodeResult r = decode_batch(encode_batch(b), out);
  EXPECT_EQ(r.error().code, DecodeError::kInvalid);
  EXPECT_NE(r.error().message.find("start_ns after end_ns"), std::string::npos) << r.error().message;
}

TEST(Codec, RefusesIntegersStoresCannotHold) {
  Batch out;
  Batch b = sample_batch();
  b.sequence = uint64_t{1} << 63;
  EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid);
  b = sample_batch();
  b.events[0].time_ns = UINT64_MAX;
  EXPECT_EQ(decode_batch(encode_batch(b), out).error().code, DecodeError::kInvalid);
}

std::string varint(uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7f) | 0x80);
  return out + static_cast<char>(v);
}

// A zstd frame of a Batch payload: agent_id "a", host "h", sequence 1, then `rest`.
std::string frame_of(const std::string& rest) {
  const std::string payload = std::string(
                                  "\x0a\x01"
                                  "a"
                                  "\x1a\x01"
                                  "h"
                                  "\x20\x01") +
                              rest;
  std::string frame(ZSTD_compressBound(payload.size()), '\0');
  frame.resize(ZSTD_compress(frame.data(), frame.size(), payload.data(), payload.size(), 1));
  return frame;
}

std::string repeated(const std::string& entry, std::size_t count) {
  std::string out;
  out.reserve(entry.size() * count);
  for (std::size_t i = 0; i < count; ++i) out += entry;
  return out;
}

TEST(Codec, BoundsTheRecordsOfABatchBeforeParsingThem) {
  // events { process_exit {} }: 5 bytes on the wire, hundreds once parsed.
  const std::string empty_event("\x32\x03\x8a\x01\x00", 5);
  Batch out;
  const DecodeResult at = decode_batch(frame_of(repeated(empty_event, kMaxBatchRecords)), out);
  ASSERT_TRUE(at.ok()) << at.error().message;
  EXPECT_EQ(out.events.size(), kMaxBatchRecords);
  EXPECT_EQ(*at, 8 + 5 * kMaxBatchRecords);
  const DecodeResult over =
      decode_batch(frame_of(repeated(empty_event, kMaxBatchRecords + 1)), out);
  EXPECT_EQ(over.error().code, DecodeError::kTooLarge);
  EXPECT_NE(over.error().message.find("more than 100000 events"), std::string::npos) << over.error().message;
}

TEST(Codec, BoundsTheFieldsOfABatchAtAnyDepth) {
  Batch out;
  // One exec event with too many (empty) argv strings.
  const std::string argv = repeated(std::string("\x12\x00", 2), kMaxBatchElements);
  const std::string exec = "\x82\x01" + varint(argv.size()) + argv;
  const DecodeResult nested = decode_batch(frame_of("\x32" + varint(exec.size()) + exec), out);
  EXPECT_EQ(nested.error().code, DecodeError::kTooLarge);
  EXPECT_NE(nested.error().message.find("protobuf fields"), std::string::npos) << nested.error().message;
  // Unknown fields (kept by the parser), flat or inside an unknown group.
  const std::string unknown = repeated(std::string("\xf8\x06\x00", 3), kMaxBatchElements);
  EXPECT_EQ(decode_batch(frame_of(unknown), out).error().code, DecodeError::kTooLarge);
  EXPECT_EQ(decode_batch(frame_of("\xfb\x06" + unknown + "\xfc\x06"), out).error().code,
            DecodeError::kTooLarge);
  // An agent's real batch is far below.
  EXPECT_TRUE(decode_batch(encode_batch(sample_batch()), out).ok());
}

TEST(Codec, DecodesAFrameOfUnknownSizeThatFlushesAfterItsLastInput) {
  // Streamed without a declared size, 2 MiB of one letter in a few hundred
  // bytes: the decoder has output left once all input is consumed.
  Batch big = sample_batch();
  std::get<ProcessExec>(big.events[0].body).argv = {std::string(2u << 20, 'a')};
  const std::string sized = encode_batch(big);
  std::string raw(ZSTD_getFrameContentSize(sized.data(), sized.size()), '\0');
  ASSERT_EQ(ZSTD_decompress(raw.data(), raw.size(), sized.data(), sized.size()), raw.size());
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  std::string frame(ZSTD_compressBound(raw.size()), '\0');
  ZSTD_outBuffer o{frame.data(), frame.size(), 0};
  for (std::size_t at = 0; at < raw.size(); at += 4096) {
    ZSTD_inBuffer in{raw.data() + at, std::min<std::size_t>(4096, raw.size() - at), 0};
    while (in.pos < in.size)
      ASSERT_FALSE(ZSTD_isError(ZSTD_compressStream2(cctx.get(), &o, &in, ZSTD_e_continue)));
  }
  ZSTD_inBuffer none{nullptr, 0, 0};
  while (ZSTD_compressStream2(cctx.get(), &o, &none, ZSTD_e_end) != 0) {
  }
  frame.resize(o.pos);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  Batch out;
  const DecodeResult r = decode_batch(frame, out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, raw.size());
  EXPECT_EQ(encode_batch(out), sized);
  // The same under a bound just below its size: refused, not truncated.
  EXPECT_EQ(decode_batch(frame, out, raw.size() - 1).error().code, DecodeError::kTooLarge);
}

TEST(Codec, RefusesDataAfterTheFrame) {
  Batch out;
  EXPECT_FALSE(decode_batch(encode_batch(sample_batch()) + "trailing", out).ok());
}

TEST(EventKinds, NamesRoundTrip) {
  for (int i = 0; i < kEventKindCount; ++i) {
    EventKind parsed;
    ASSERT_TRUE(parse_event_kind(to_string(static_cast<EventKind>(i)), parsed));
    EXPECT_EQ(static_cast<int>(parsed), i);
  }
  EventKind k;
  EXPECT_FALSE(parse_event_kind("process_spawn", k));
  EXPECT_EQ(to_string(EventKind::kFilelessExec), "fileless_exec");
  for (int i = 0; i < kWorkloadKindCount; ++i) {
    WorkloadKind parsed;
    ASSERT_TRUE(parse_workload_kind(to_string(static_cast<WorkloadKind>(i)), parsed));
    EXPECT_EQ(static_cast<int>(parsed), i);
  }
  for (const auto source :
       {EnergySource::kRapl, EnergySource::kEstimate, EnergySource::kNvml, EnergySource::kIpmi}) {
    EnergySource parsed;
    ASSERT_TRUE(parse_energy_source(to_string(source), parsed));
    EXPECT_EQ(parsed, source);
  }
  WorkloadKind w;
  ASSERT_TRUE(parse_workload_kind("slurm_job", w));
  EXPECT_EQ(w, WorkloadKind::kSlurmJob);
}

}  // namespace
}  // namespace vigie::protocol
