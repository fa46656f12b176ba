// SHA-256 of executed images (ProcessExec::sha256), with a cache keyed by the
// file's identity so that an exec storm of one binary hashes it once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace vigie::sensor {

struct ImageHashStats {
  uint64_t hashed = 0;  // files read and hashed
  uint64_t cache_hits = 0;
  uint64_t evictions = 0;  // cache entries dropped for room
  uint64_t failures = 0;   // images that could not be opened or read: no sha256
  uint64_t too_large = 0;  // images above max_file_bytes: not hashed
};

// Not thread-safe: owned by the sensor's polling thread.
class ImageHasher {
 public:
  // max_entries: cache bound (>= 1). max_file_bytes: larger images are not
  // hashed (counted in too_large), to bound the time one exec can cost.
  explicit ImageHasher(size_t max_entries = 4096, uint64_t max_file_bytes = 256ull << 20);

  // Lowercase hex SHA-256 (FIPS 180-4) of the file at `path`, "" when it
  // cannot be read or is too large. The cache key is (st_dev, st_ino,
  // st_mtime ns, st_size) of the opened file: a rewritten binary is hashed
  // again, a renamed one is not. `path` may be /proc/PID/exe, which opens the
  // image itself even when it was deleted or replaced.
  std::string hash(const std::string& path);

  const ImageHashStats& stats() const { return stats_; }
  size_t size() const { return cache_.size(); }

 private:
  struct Key {
    uint64_t dev, ino, mtime_ns, size;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<uint64_t>()(k.ino * 0x9e3779b97f4a7c15ull ^ k.dev ^ k.mtime_ns ^ k.size);
    }
  };
  struct Entry {
    std::string hex;
    std::list<Key>::iterator order;
  };
  size_t max_entries_;
  uint64_t max_file_bytes_;
  ImageHashStats stats_;
  std::unordered_map<Key, Entry, KeyHash> cache_;
  std::list<Key> order_;  // least recently used first
};

}  // namespace vigie::sensor
