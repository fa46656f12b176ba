// What the integration tests that run a real Slurm on one node share
// (slurm_footprint_test.cpp, slurm_ban_test.cpp): a shell command's output,
// the short host name Slurm knows the node by, and munged with a key of the
// test's own in the test's directory.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <utility>

#include "support/processes.h"

namespace vigie::integration {

// `text` into `path`, then `perms` (slurmdbd.conf must be 0600, munge.key 0400).
inline void write_file(const std::filesystem::path& path, const std::string& text,
                       std::filesystem::perms perms) {
  std::ofstream(path) << text;
  std::filesystem::permissions(path, perms);
}

// stdout and stderr of a shell command, and its exit status (-1 when it did not exit).
inline std::pair<int, std::string> shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline bool running(pid_t pid) { return pid > 0 && ::waitpid(pid, nullptr, WNOHANG) == 0; }

// The host name up to its first dot: the NodeName slurmd registers as.
inline std::string short_hostname() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  std::string host = name;
  return host.substr(0, host.find('.'));
}

// Starts munged on `dir`/munge/munge.socket with a random key (mode 0400);
// its pid, or -1 with `error` (its logs) when the socket never appeared.
inline pid_t start_munged(const std::filesystem::path& dir, std::string& error) {
  namespace fs = std::filesystem;
  fs::create_directories(dir / "munge");
  std::mt19937_64 rng(std::random_device{}());
  std::string key;
  for (int i = 0; i < 128; ++i) key += static_cast<char>(rng());
  write_file(dir / "munge" / "munge.key", key, fs::perms::owner_read);
  // --force: /tmp is world-writable, which munged otherwise refuses for its files.
  const pid_t pid = spawn({"/usr/sbin/munged", "--foreground", "--force",
                           "--socket=" + (dir / "munge" / "munge.socket").string(),
                           "--key-file=" + (dir / "munge" / "munge.key").string(),
                           "--pid-file=" + (dir / "munge" / "munged.pid").string(),
                           "--seed-file=" + (dir / "munge" / "seed").string(),
                           "--log-file=" + (dir / "munge" / "munged.log").string()},
                          dir / "munged.out");
  if (eventually([&] { return fs::exists(dir / "munge" / "munge.socket"); },
                 std::chrono::seconds(10)))
    return pid;
  error = read_file(dir / "munged.out") + read_file(dir / "munge" / "munged.log");
  return pid;  // the caller stops it
}

}  // namespace vigie::integration
