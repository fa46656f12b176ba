// The on-disk spool (ARCHITECTURE.md "Delivery"): every sealed batch that its
// receiver has not acknowledged yet is kept in a directory, one file per
// batch, so that a receiver outage, a crash or a reboot loses nothing that was
// sealed. Used by the agent's uplink and the collector's federation
// forwarder. The caller owns the policy (what to write, what to evict when
// full, what to count); the Spool only stores, lists, reads and removes
// batches, crash-safely.
//
// On disk: `<directory>/<sequence, 20 decimal digits>.batch`, so that names
// sort in sequence order. A file is a fixed 64-byte little-endian header
//   magic "VIGIESP1" (8 bytes), sequence u64, events u64, alerts u64,
//   energy_records u64, body_size u64, body_crc32 u32 (zlib's CRC-32 of the
//   body), header_crc32 u32 (of the 56 bytes before it), 0 u64 (reserved)
// followed by the body as it is sent (protocol::encode_batch, zstd).
// A file is written as `<name>.tmp`, fsync'd, renamed, and the directory
// fsync'd (the pattern of LevelDB's and Prometheus's WAL segment creation),
// so after a crash a batch is either whole under its final name or absent; a
// leftover `.tmp` is removed at open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::delivery {

// What a sealed batch holds, for the drop counters.
struct BatchCounts {
  std::size_t events = 0;
  std::size_t alerts = 0;
  std::size_t energy_records = 0;  // zone and workload energy records, workload ends
};

// One spooled batch's index entry (its header; the body stays on disk).
struct SpoolEntry {
  uint64_t sequence = 0;
  BatchCounts counts;
  uint64_t file_bytes = 0;  // header + body, what counts against the spool's bound
};

struct SpoolOptions {
  std::string directory;  // created (0700, parents too) when missing
  // fsync each file and the directory on write. Off only where a
  // crash of the machine need not be survived (benchmarks, simulations).
  bool sync = true;
};

// Result of Spool::write: 0, or the errno of the failing call (ENOSPC and
// EDQUOT mean the disk is full: the caller may evict older batches and retry).
struct SpoolWriteResult {
  int error = 0;
  std::string message;  // "<path>: <strerror>" when error != 0
  bool ok() const { return error == 0; }
};

// Not thread-safe: the caller uses it under its own lock or from one thread.
class Spool {
 public:
  // Creates the directory if needed, removes leftover `.tmp` files, and
  // indexes every `.batch` file by reading its header. A file whose header is
  // unreadable, has the wrong magic or CRC, or whose size disagrees with its
  // header is removed, logged and counted in corrupt_files() (its batch
  // cannot be replayed). Throws std::runtime_error when the directory cannot
  // be created, read or written (a configuration error at start-up).
  explicit Spool(SpoolOptions options);

  // The batches found at open, oldest (lowest sequence) first.
  const std::vector<SpoolEntry>& recovered() const { return recovered_; }

  // Writes one batch durably (see the file comment). On failure nothing is
  // left under the final name and the `.tmp` is removed. With
  // `sync_directory` false the directory is not fsync'd: the caller writes
  // several batches, then calls sync_directory() once for all (group
  // commit); until then a power loss may take the new names away.
  SpoolWriteResult write(uint64_t sequence, const BatchCounts& counts, std::string_view body,
                         bool sync_directory = true);

  // fsyncs the directory (when SpoolOptions::sync): every write before it
  // survives a power loss. 0, or the errno.
  int sync_directory();

  // The body of a spooled batch, checked against its CRC. nullopt when the
  // file is missing, short or fails its CRC: such a file is removed and
  // counted in corrupt_files().
  std::optional<std::string> read(uint64_t sequence);

  // Removes a batch (acknowledged, rejected or evicted); a missing file is
  // fine. Not fsync'd: after a crash a removed batch may come back, and its
  // replay is a duplicate the collector ignores.
  void remove(uint64_t sequence);

  uint64_t bytes() const { return bytes_; }  // file bytes of the batches on disk
  std::size_t batches() const { return sizes_.size(); }
  uint64_t corrupt_files() const { return corrupt_files_; }
  const std::string& directory() const { return options_.directory; }

  static constexpr std::size_t kHeaderBytes = 64;

 private:
  std::string path_of(uint64_t sequence) const;
  SpoolOptions options_;
  std::vector<SpoolEntry> recovered_;
  std::map<uint64_t, uint64_t> sizes_;  // sequence -> file bytes, for bytes_
  uint64_t bytes_ = 0;
  uint64_t corrupt_files_ = 0;
};

}  // namespace vigie::delivery
