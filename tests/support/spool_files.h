// Spool files and encoded batches for the tests of the spool
// (vigie/delivery/spool.h) and of its users (the uplink, the federation).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "vigie/protocol/codec.h"
#include "vigie/protocol/event.h"

namespace vigie::testing {

namespace fs = std::filesystem;

// The file name the spool gives a batch.
inline std::string spool_name(uint64_t sequence) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.batch", static_cast<unsigned long long>(sequence));
  return name;
}

inline std::vector<std::string> batch_files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

inline void flip_byte(const fs::path& file, std::streamoff at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(at);
  f.write(&c, 1);
}

// An exec event whose argv carries `pid` (to be found again) and `payload`
// random hex bytes (to make batches of a known, barely compressible size).
inline protocol::Event exec_event(uint32_t pid, std::size_t payload = 0, uint64_t seed = 0) {
  protocol::Event e;
  e.pid = pid;
  std::string arg;
  std::mt19937_64 random(seed * 1'000'003 + pid);
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < payload; ++i) arg.push_back(kHex[random() & 15]);
  e.body =
      protocol::ProcessExec{"/bin/true", {"/bin/true", arg}, false, "/bin/true " + arg, "", ""};
  return e;
}

inline std::string encoded_batch(uint64_t sequence, uint32_t first_pid, std::size_t events) {
  protocol::Batch b;
  b.agent_id = "agent-1";
  b.site = "site-a";
  b.host = "node001";
  b.sequence = sequence;
  for (std::size_t i = 0; i < events; ++i) {
    b.events.push_back(exec_event(first_pid + static_cast<uint32_t>(i)));
  }
  return protocol::encode_batch(b);
}

}  // namespace vigie::testing
