#include "vigie/protocol/codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <cmath>

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
  exec.workload = {WorkloadKind::kSlurmJob, "4242", "alice", "/slurm/uid_1000/job_4242/step_0"};
  exec.body = ProcessExec{"/tmp/xmrig", {"/tmp/xmrig", "-o", "pool:3333"},
                          true,         "/tmp/xmrig -o pool:3333",
                          "/bin/bash",  "-bash"};
  b.events.push_back(exec);
  Event conn = exec;
  conn.body = NetworkConnect{Transport::kUdp, true, "::1", 3333, "/tmp/xmrig"};
  b.events.push_back(conn);
  Event exit = exec;
  exit.body = ProcessExit{0, 9, "/tmp/xmrig"};
  b.events.push_back(exit);
  b.zone_energy.push_back({1, 2, "node", EnergySource::kEstimate, true, 12.5, true});
  b.zone_energy.push_back({1, 2, "package-0/core", EnergySource::kRapl, false, 3.5, false});
  b.workload_energy.push_back({1, 2, exec.workload, 0.5, 10.0, 0.1, true});
  b.alerts.push_back({"rule-1", "Miner", "high", {"attack.t1496"}, exec});
  b.status = {3, 100, 1, "starter-1"};
  return b;
}

TEST(Codec, RoundTripKeepsEveryField) {
  const Batch in = sample_batch();
  Batch out;
  const DecodeResult r = decode_batch(encode_batch(in), out);
  ASSERT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(in, out);
}

TEST(Codec, RefusesNonZstd) {
  Batch out;
  const DecodeResult r = decode_batch("this is not zstd", out);
  EXPECT_EQ(r.error, DecodeError::kNotZstd);
  EXPECT_FALSE(r.message.empty());
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
  EXPECT_EQ(decode_batch(frame, out).error, DecodeError::kBadProtobuf);
}

TEST(Codec, RefusesDecompressionBomb) {
  Batch big = sample_batch();
  std::get<ProcessExec>(big.events[0].body).argv.assign(1000, std::string(1000, 'a'));
  Batch out;
  const DecodeResult r = decode_batch(encode_batch(big), out, 64 * 1024);
  EXPECT_EQ(r.error, DecodeError::kTooLarge);
}

TEST(Codec, RefusesBatchWithoutIdentity) {
  Batch b = sample_batch();
  Batch out;
  b.sequence = 0;
  EXPECT_EQ(decode_batch(encode_batch(b), out).error, DecodeError::kInvalid);
  b = sample_batch();
  b.agent_id.clear();
  EXPECT_EQ(decode_batch(encode_batch(b), out).error, DecodeError::kInvalid);
  b = sample_batch();
  b.host.clear();
  EXPECT_EQ(decode_batch(encode_batch(b), out).error, DecodeError::kInvalid);
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
  ASSERT_TRUE(r.ok()) << r.message;
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
    EXPECT_EQ(decode_batch(encode_batch(b), out).error, DecodeError::kInvalid) << bad;
    b = sample_batch();
    b.workload_energy[0].carbon_gco2e = bad;
    EXPECT_EQ(decode_batch(encode_batch(b), out).error, DecodeError::kInvalid) << bad;
  }
  Batch b = sample_batch();
  b.zone_energy[0].start_ns = 10;
  b.zone_energy[0].end_ns = 5;
  const DecodeResult r = decode_batch(encode_batch(b), out);
  EXPECT_EQ(r.error, DecodeError::kInvalid);
  EXPECT_NE(r.message.find("start_ns after end_ns"), std::string::npos) << r.message;
}

TEST(Codec, RefusesIntegersStoresCannotHold) {
  Batch out;
  Batch b = sample_batch();
  b.sequence = uint64_t{1} << 63;
  EXPECT_EQ(decode_batch(encode_batch(b), out).error, DecodeError::kInvalid);
  b = sample_batch();
  b.events[0].time_ns = UINT64_MAX;
  EXPECT_EQ(decode_batch(encode_batch(b), out).error, DecodeError::kInvalid);
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
  EXPECT_FALSE(parse_event_kind("process_fork", k));
  WorkloadKind w;
  ASSERT_TRUE(parse_workload_kind("slurm_job", w));
  EXPECT_EQ(w, WorkloadKind::kSlurmJob);
}

}  // namespace
}  // namespace vigie::protocol
