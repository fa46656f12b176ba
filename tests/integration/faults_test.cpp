// Faults between the kernel and the collector's store (issue 7, "Nothing
// lost"): real vigie-collector and vigie-agent processes, the real eBPF
// sensor, the default SQLite store, and real faults: the collector killed
// with SIGKILL mid-stream, the collector blackholed for minutes inside a
// network namespace the test creates, the agent killed with SIGKILL while a
// batch is in flight, and the agent's spool on a full tmpfs.
//
// Every test execs `/bin/true <marker>` with a marker unique to the run and
// its number, and reads the markers back from the collector's SQLite database
// (events.command_line), so "exactly once" is counted row by row. Needs root
// (eBPF, network and mount namespaces).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "support/exposition.h"
#include "support/processes.h"
#include "vigie/delivery/spool.h"
#include "vigie/protocol/codec.h"
#include "vigie/protocol/http_client.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using vigie::integration::eventually;
using vigie::integration::free_port;
using vigie::integration::read_file;
using vigie::integration::spawn;
using vigie::integration::write_file;

constexpr const char* kSite = "faults-site";
constexpr const char* kHost = "faults-node";
constexpr auto kFlushInterval = 200ms;  // the agents' collector.flush_interval_ms

std::mt19937_64& rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

std::string random_hex(std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < digits; ++i) s += kHex[rng()() % 16];
  return s;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `command` with /bin/sh; its exit status and its stdout and stderr.
struct CommandResult {
  int status = -1;
  std::string output;
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};
CommandResult sh(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), p)) r.output.append(buf, n);
  r.status = ::pclose(p);
  return r;
}

// sha256 of a file's bytes in hex, as agent_tokens[].sha256 takes the token file.
std::string sha256_hex(const fs::path& file) {
  const auto r = sh("sha256sum " + file.string());
  return r.output.substr(0, 64);
}

// Sum of the samples of `name` whose labels contain `label` (exposition.h).
std::optional<double> metric(const std::string& exposition, const std::string& name,
                             const std::string& label = "") {
  return vigie::integration::sum_samples(exposition, name, label);
}

// A child process, killed with SIGKILL and reaped when dropped.
class Child {
 public:
  Child() = default;
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() { kill9(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Reaps it if it has exited.
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }
  int exit_status() const { return exit_status_; }
  // SIGKILL, as a crash: nothing flushed, nothing answered.
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &exit_status_, 0);
    pid_ = -1;
  }
  // SIGTERM, then SIGKILL after 10 s.
  void stop() {
    vigie::integration::stop(pid_);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// A network namespace with a veth pair to this one, named and addressed
// uniquely per run: a private 10.x.y.z/30, .1 here and .2 inside. Deleting the
// namespace deletes the veth pair; the destructor does it whatever happened.
class NetworkNamespace {
 public:
  NetworkNamespace() {
    const std::string tag = random_hex(6);
    name_ = "vigie-faults-" + tag;
    host_link_ = "vf" + tag + "h";
    ns_link_ = "vf" + tag + "n";
    const uint64_t r = rng()();
    const std::string net =
        "10." + std::to_string(200 + r % 50) + "." + std::to_string((r >> 8) % 256) + ".";
    const unsigned base = 4 * ((r >> 16) % 64);
    host_ip_ = net + std::to_string(base + 1);
    ns_ip_ = net + std::to_string(base + 2);
    const std::vector<std::string> setup = {
        "ip netns add " + name_,
        "ip link add " + host_link_ + " type veth peer name " + ns_link_,
        "ip link set " + ns_link_ + " netns " + name_,
        "ip addr add " + host_ip_ + "/30 dev " + host_link_,
        "ip link set " + host_link_ + " up",
        in_ns("ip addr add " + ns_ip_ + "/30 dev " + ns_link_),
        in_ns("ip link set " + ns_link_ + " up"),
        in_ns("ip link set lo up"),
    };
    for (const auto& command : setup) {
      const auto r = sh(command);
      if (!r.ok()) {
        remove();
        throw std::runtime_error("network namespace setup failed: `" + command + "`: " + r.output);
      }
    }
  }
  ~NetworkNamespace() { remove(); }
  NetworkNamespace(const NetworkNamespace&) = delete;
  NetworkNamespace& operator=(const NetworkNamespace&) = delete;

  const std::string& name() const { return name_; }
  const std::string& host_ip() const { return host_ip_; }  // this side of the veth
  const std::string& ns_ip() const { return ns_ip_; }      // inside the namespace
  std::string in_ns(const std::string& command) const {
    return "ip netns exec " + name_ + " " + command;
  }
  // argv prefix that runs a program inside the namespace (ip execs it: same pid).
  std::vector<std::string> exec_prefix() const { return {"/bin/ip", "netns", "exec", name_}; }

  // Inside the namespace, packets to `ip` go nowhere: TCP connects and
  // answers hang, as behind a dead link.
  CommandResult blackhole(const std::string& ip) const {
    return sh(in_ns("ip route add blackhole " + ip + "/32"));
  }
  CommandResult unblackhole(const std::string& ip) const {
    return sh(in_ns("ip route del blackhole " + ip + "/32"));
  }

 private:
  void remove() {
    sh("ip netns del " + name_);
    sh("ip link del " + host_link_);  // gone with the namespace already, unless it never moved
  }
  std::string name_, host_link_, ns_link_, host_ip_, ns_ip_;
};

// A vigie-collector process on `address:port` with the SQLite store at
// `database`; restartable on the same port and database.
class CollectorProcess {
 public:
  CollectorProcess(const fs::path& dir, std::string address, uint16_t port,
                   const std::string& token_sha256, std::vector<std::string> exec_prefix = {})
      : dir_(dir),
        address_(std::move(address)),
        port_(port),
        database_(dir / "collector.db"),
        config_(dir / "collector.yaml"),
        exec_prefix_(std::move(exec_prefix)) {
    write_file(config_, "listen:\n  address: " + address_ + "\n  port: " + std::to_string(port_) +
                            "\ndatabase: " + database_.string() +
                            "\napi:\n  anonymous_role: admin  # test-private network only" +
                            "\nagent_tokens:\n  - sha256: " + token_sha256 +
                            "\n    site: " + kSite + "\n    host: " + kHost + "\n");
  }

  // Starts it (again); each start logs to its own file.
  void start() {
    std::vector<std::string> argv = exec_prefix_;
    argv.push_back(std::string(VIGIE_BINARY_DIR) + "/collector/vigie-collector");
    argv.push_back("--config");
    argv.push_back(config_.string());
    ++starts_;
    child_ = std::make_unique<Child>(spawn(argv, log_path(starts_)));
  }
  // Serves /metrics (the store is open by then).
  bool ready() const {
    return vigie::protocol::send(endpoint(), {"GET", "/metrics", {}, ""}, 2s).ok();
  }
  bool wait_ready(std::chrono::milliseconds limit) {
    return eventually([&] { return ready() || !running(); }, limit) && running();
  }
  bool running() { return child_ && child_->running(); }
  void kill9() {
    if (child_) child_->kill9();
  }
  void stop() {
    if (child_) child_->stop();
  }

  vigie::protocol::Endpoint endpoint() const { return {address_, std::to_string(port_)}; }
  std::string url() const { return "http://" + address_ + ":" + std::to_string(port_); }
  const fs::path& database() const { return database_; }
  std::string logs() const {
    std::string all;
    for (int i = 1; i <= starts_; ++i) {
      all += "---- collector log (start " + std::to_string(i) + ")\n" + read_file(log_path(i));
    }
    return all;
  }

 private:
  fs::path log_path(int start) const {
    return dir_ / ("collector-" + std::to_string(start) + ".log");
  }
  fs::path dir_;
  std::string address_;
  uint16_t port_;
  fs::path database_;
  fs::path config_;
  std::vector<std::string> exec_prefix_;
  int starts_ = 0;
  std::unique_ptr<Child> child_;
};

struct AgentSettings {
  std::string collector_url;
  fs::path state_dir;
  fs::path spool_dir;  // empty: the default, <state_dir>/spool
  uint64_t spool_max_bytes = 1ull << 30;
  // Non-empty ("1m"): the spool directory is a tmpfs of this size, mounted in
  // a private mount namespace of the agent (gone with it).
  std::string spool_tmpfs_size;
};

// A vigie-agent process: the real eBPF sensor, the power estimate, no rules,
// batches every kFlushInterval, /metrics on a loopback port.
class AgentProcess {
 public:
  AgentProcess(const fs::path& dir, const std::string& name, const AgentSettings& settings)
      : settings_(settings), log_(dir / (name + ".log")), metrics_port_(free_port()) {
    const fs::path config = dir / (name + ".yaml");
    const fs::path spool_dir =
        settings.spool_dir.empty() ? settings.state_dir / "spool" : settings.spool_dir;
    std::string yaml = std::string("site: ") + kSite + "\nhost: " + kHost +
                       "\nstate_dir: " + settings.state_dir.string() +
                       "\ncollector:\n  url: " + settings.collector_url +
                       "\n  token_file: " + (dir / "agent.token").string() +
                       "\n  flush_interval_ms: " + std::to_string(kFlushInterval.count()) +
                       "\nmetrics:\n  listen: 127.0.0.1:" + std::to_string(metrics_port_) +
                       "\npower:\n  source: estimate\n  nvml: false\n" +
                       "spool:\n  enabled: true\n  dir: " + spool_dir.string() +
                       "\n  max_bytes: " + std::to_string(settings.spool_max_bytes) +
                       "\n  sync: true\n";
    write_file(config, yaml);
    const std::string agent = std::string(VIGIE_BINARY_DIR) + "/agents/vigie-agent";
    pid_t pid = -1;
    if (settings.spool_tmpfs_size.empty()) {
      pid = spawn({agent, "--config", config.string()}, log_);
    } else {
      fs::create_directories(spool_dir);
      // unshare and sh exec in turn: the pid is the agent's.
      pid = spawn({"/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                   "mount -t tmpfs -o size=" + settings.spool_tmpfs_size + " vigie-faults-spool " +
                       spool_dir.string() + " && exec " + agent + " --config " + config.string()},
                  log_);
    }
    child_ = std::make_unique<Child>(pid);
  }

  pid_t pid() const { return child_->pid(); }
  bool running() { return child_->running(); }
  void kill9() { child_->kill9(); }
  void stop() { child_->stop(); }
  std::string log() const { return read_file(log_); }

  // Its /metrics; empty when it does not answer.
  std::string metrics() const {
    const auto r = vigie::protocol::send({"127.0.0.1", std::to_string(metrics_port_)},
                                         {"GET", "/metrics", {}, ""}, 5s);
    return r.ok() ? r.body : std::string();
  }
  double metric(const std::string& name, const std::string& label = "") const {
    return ::metric(metrics(), name, label).value_or(-1);
  }
  // The resident set size in KiB (/proc/PID/status VmRSS); -1 when gone.
  long rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(pid()) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }
  // The spool directory as the agent sees it (through its mount namespace).
  fs::path spool_path() const {
    const fs::path spool_dir =
        settings_.spool_dir.empty() ? settings_.state_dir / "spool" : settings_.spool_dir;
    return settings_.spool_tmpfs_size.empty()
               ? spool_dir
               : fs::path("/proc/" + std::to_string(pid()) + "/root") / spool_dir.relative_path();
  }
  // The spool's batch file names, in sequence order.
  std::vector<std::string> spool_files() const {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(spool_path(), ec)) {
      if (entry.path().extension() == ".batch") files.push_back(entry.path().filename());
    }
    std::sort(files.begin(), files.end());
    return files;
  }
  // Exec events of the marker stream `prefix` held by the spool's batch
  // files (header skipped, body decoded as the collector would).
  std::size_t spooled_markers(const std::string& prefix) const {
    const std::string head = "/bin/true " + prefix + "-";
    std::size_t markers = 0;
    for (const auto& name : spool_files()) {
      const std::string file = read_file(spool_path() / name);
      if (file.size() < vigie::delivery::Spool::kHeaderBytes) continue;
      vigie::protocol::Batch batch;
      if (!vigie::protocol::decode_batch(
               std::string_view(file).substr(vigie::delivery::Spool::kHeaderBytes), batch)
               .ok()) {
        continue;
      }
      for (const auto& event : batch.events) {
        const auto* exec = std::get_if<vigie::protocol::ProcessExec>(&event.body);
        if (exec != nullptr && exec->command_line.rfind(head, 0) == 0) ++markers;
      }
    }
    return markers;
  }

  // The sensor is live once an exec we make is counted.
  bool wait_sensor_live(std::chrono::milliseconds limit) {
    return eventually(
        [&] {
          const double before = metric("vigie_sensor_events_total", "kind=\"process_exec\"");
          const pid_t p = spawn({"/bin/true", "vigie-faults-probe"}, "/dev/null");
          ::waitpid(p, nullptr, 0);
          std::this_thread::sleep_for(300ms);  // the sensor wakes every 100 ms at most
          return before >= 0 &&
                 metric("vigie_sensor_events_total", "kind=\"process_exec\"") > before;
        },
        limit);
  }

 private:
  AgentSettings settings_;
  fs::path log_;
  uint16_t metrics_port_;
  std::unique_ptr<Child> child_;
};

// Execs `/bin/true <prefix>-<n>`, n = 0, 1, ..., at a steady rate from a
// thread until stopped; counts the execs that succeeded. `padding` > 0 adds
// an argument of that many random letters (incompressible bytes per event).
class MarkerStream {
 public:
  MarkerStream(std::string prefix, double per_second, std::size_t padding = 0)
      : prefix_(std::move(prefix)),
        period_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(1.0 / per_second))),
        padding_(padding) {
    thread_ = std::thread([this] { loop(); });
  }
  ~MarkerStream() { stop(); }
  MarkerStream(const MarkerStream&) = delete;
  MarkerStream& operator=(const MarkerStream&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint32_t generated() const { return generated_; }
  uint32_t failures() const { return failures_; }

  // One exec of marker `n`; whether /bin/true ran and exited 0.
  static bool exec_marker(const std::string& prefix, uint32_t n, const std::string& padding = "") {
    const std::string arg = prefix + "-" + std::to_string(n);
    char* argv[] = {const_cast<char*>("/bin/true"), const_cast<char*>(arg.c_str()),
                    padding.empty() ? nullptr : const_cast<char*>(padding.c_str()), nullptr};
    pid_t pid = -1;
    // glibc's posix_spawn reports a failed exec as its result.
    if (::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) return false;
    int status = 0;
    return ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  void loop() {
    auto next = Clock::now();
    uint32_t n = 0;
    std::mt19937_64 random(std::random_device{}());
    std::string padding(padding_, 'a');
    while (!stop_) {
      for (char& c : padding) c = static_cast<char>('a' + random() % 26);
      if (exec_marker(prefix_, n, padding)) {
        ++n;
        generated_ = n;
      } else {
        ++failures_;
      }
      next += period_;
      std::this_thread::sleep_until(next);
    }
  }
  std::string prefix_;
  Clock::duration period_;
  std::size_t padding_;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> generated_{0};
  std::atomic<uint32_t> failures_{0};
  std::thread thread_;
};

// marker number -> rows of process_exec events in the collector's SQLite
// database whose command line is `/bin/true <prefix>-<n>[ <padding>]`. Throws when the
// database cannot be read.
std::map<uint32_t, int> stored_markers(const fs::path& database, const std::string& prefix) {
  std::map<uint32_t, int> rows;
  if (!fs::exists(database)) return rows;
  sqlite3* db = nullptr;
  if (::sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string error = db ? ::sqlite3_errmsg(db) : "out of memory";
    ::sqlite3_close(db);
    throw std::runtime_error(database.string() + ": " + error);
  }
  ::sqlite3_busy_timeout(db, 10000);
  const std::string head = "/bin/true " + prefix + "-";
  sqlite3_stmt* stmt = nullptr;
  const char* sql =
      "SELECT command_line FROM events WHERE kind = 'process_exec' AND "
      "substr(command_line, 1, ?2) = ?1";
  int rc = ::sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  if (rc == SQLITE_OK) {
    ::sqlite3_bind_text(stmt, 1, head.c_str(), static_cast<int>(head.size()), SQLITE_TRANSIENT);
    ::sqlite3_bind_int(stmt, 2, static_cast<int>(head.size()));
    while ((rc = ::sqlite3_step(stmt)) == SQLITE_ROW) {
      const std::string line(reinterpret_cast<const char*>(::sqlite3_column_text(stmt, 0)));
      const std::string number =
          line.substr(head.size(), line.find(' ', head.size()) - head.size());
      if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos) continue;
      ++rows[static_cast<uint32_t>(std::stoul(number))];
    }
  }
  const std::string error = ::sqlite3_errmsg(db);
  ::sqlite3_finalize(stmt);
  ::sqlite3_close(db);
  if (rc != SQLITE_DONE) {
    // A collector that was never up has no schema yet: nothing stored.
    if (error.find("no such table") != std::string::npos) return {};
    throw std::runtime_error(database.string() + ": " + error);
  }
  return rows;
}

// Markers 0 .. generated-1 against what the store holds.
struct Tally {
  uint32_t generated = 0;
  std::vector<uint32_t> missing;
  std::vector<std::pair<uint32_t, int>> duplicated;  // marker, rows
  std::vector<uint32_t> unexpected;                  // stored but never generated
  std::size_t stored = 0;                            // distinct markers stored
  bool exactly_once() const { return missing.empty() && duplicated.empty() && unexpected.empty(); }
  std::string describe() const {
    std::ostringstream s;
    s << generated << " markers generated, " << stored << " stored, " << missing.size()
      << " missing, " << duplicated.size() << " stored more than once, " << unexpected.size()
      << " never generated";
    auto list = [&](const char* what, const std::vector<uint32_t>& v) {
      if (v.empty()) return;
      s << "; " << what << ":";
      for (std::size_t i = 0; i < v.size() && i < 20; ++i) s << ' ' << v[i];
      if (v.size() > 20) s << " ... " << v.back();
    };
    list("missing", missing);
    list("never generated", unexpected);
    if (!duplicated.empty()) {
      s << "; duplicated:";
      for (std::size_t i = 0; i < duplicated.size() && i < 20; ++i) {
        s << ' ' << duplicated[i].first << " (x" << duplicated[i].second << ")";
      }
    }
    return s.str();
  }
};

Tally tally(const std::map<uint32_t, int>& rows, uint32_t generated) {
  Tally t;
  t.generated = generated;
  for (uint32_t n = 0; n < generated; ++n) {
    const auto it = rows.find(n);
    if (it == rows.end()) {
      t.missing.push_back(n);
    } else {
      ++t.stored;
      if (it->second > 1) t.duplicated.emplace_back(n, it->second);
    }
  }
  for (const auto& [n, count] : rows) {
    if (n >= generated) t.unexpected.push_back(n);
  }
  return t;
}

// Accepts TCP connections on 127.0.0.1 and reads what comes, but never
// answers: a collector that hangs with a batch in flight.
class HangingCollector {
 public:
  HangingCollector() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        ::pipe2(wake_, O_CLOEXEC) != 0) {
      throw std::runtime_error("hanging collector: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HangingCollector() {
    const char c = 0;
    (void)::write(wake_[1], &c, 1);
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  HangingCollector(const HangingCollector&) = delete;
  HangingCollector& operator=(const HangingCollector&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint64_t connections() const { return connections_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  void serve() {
    std::vector<int> clients;
    for (;;) {
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const int c : clients) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
      if (fds[0].revents) break;
      if (fds[1].revents & POLLIN) {
        const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          clients.push_back(c);
          ++connections_;
        }
      }
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[65536];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n > 0) {
          bytes_read_ += static_cast<uint64_t>(n);
        } else {  // closed by the agent (its request timeout)
          ::close(fds[i].fd);
          clients.erase(std::find(clients.begin(), clients.end(), fds[i].fd));
        }
      }
    }
    for (const int c : clients) ::close(c);
  }
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> bytes_read_{0};
  std::thread thread_;
};

class Faults : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u)
        << "the fault tests load eBPF programs and create network and mount namespaces: run "
           "them as root";
    char tmpl[] = "/tmp/vigie-faults.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write_file(dir_ / "agent.token", "faults-" + random_hex(32));  // hashed as is
    token_sha256_ = sha256_hex(dir_ / "agent.token");
    ASSERT_EQ(token_sha256_.size(), 64u);
    prefix_ = "vigie-fault-" + random_hex(12);
    started_ = Clock::now();
  }

  void TearDown() override {
    // Processes first (an agent or a collector may still run inside the
    // namespace or on the tmpfs), then the namespace, then the files.
    stream_.reset();
    const bool failed = HasFailure();
    std::string logs;
    for (auto& agent : agents_) {
      if (failed) logs += "---- " + agent.first + " log\n" + agent.second->log();
      agent.second->kill9();
    }
    if (collector_) {
      if (failed) logs += collector_->logs();
      collector_->kill9();
    }
    if (failed) std::cerr << logs;
    agents_.clear();
    collector_.reset();
    netns_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
    std::cout << "[ duration ] " << seconds_since(started_) << " s\n";
  }

  AgentProcess& start_agent(const std::string& name, const AgentSettings& settings) {
    agents_.emplace_back(name, std::make_unique<AgentProcess>(dir_, name, settings));
    return *agents_.back().second;
  }

  // Waits until the agent's sensor and uplink deliver: a probe marker
  // (number 1000000 + k) is found in the store.
  ::testing::AssertionResult wait_delivering(std::chrono::milliseconds limit) {
    uint32_t probe = 1000000;
    const bool ok = eventually(
        [&] {
          MarkerStream::exec_marker(prefix_ + "-probe", probe++);
          std::this_thread::sleep_for(2 * kFlushInterval);
          return !stored_markers(collector_->database(), prefix_ + "-probe").empty();
        },
        limit);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "no exec of ours reached the collector's store in " << limit.count() << " ms";
  }

  // Waits until every marker 0..generated-1 is stored (or `limit`), then one
  // more spool/queue drain and two flush intervals, so duplicates that a late
  // retry would add are seen too. The final tally.
  Tally wait_stored(AgentProcess& agent, uint32_t generated, std::chrono::milliseconds limit,
                    const std::string& prefix) {
    eventually(
        [&] {
          return tally(stored_markers(collector_->database(), prefix), generated).missing.empty();
        },
        limit);
    wait_drained(agent, 30s);
    std::this_thread::sleep_for(2 * kFlushInterval);
    return tally(stored_markers(collector_->database(), prefix), generated);
  }

  // The agent's spool and send queue are empty per its /metrics.
  static bool drained(const AgentProcess& agent) {
    const std::string m = agent.metrics();
    const auto spool = metric(m, "vigie_uplink_spool_batches");
    const auto queue = metric(m, "vigie_uplink_queue_batches");
    return !m.empty() && spool.value_or(0) == 0 && queue.value_or(-1) == 0;
  }
  static bool wait_drained(const AgentProcess& agent, std::chrono::milliseconds limit) {
    return eventually([&] { return drained(agent); }, limit);
  }

  // Events the kernel could not hand to the agent (ring buffer full): a loss
  // before the uplink, which the spool cannot help.
  // -1 when /metrics does not answer; 0 when no kind has a drop series yet.
  static double ringbuf_drops(const AgentProcess& agent) {
    const std::string m = agent.metrics();
    return m.empty() ? -1 : metric(m, "vigie_sensor_ringbuf_drops_total").value_or(0);
  }

  fs::path dir_;
  std::string token_sha256_;
  std::string prefix_;
  Clock::time_point started_;
  std::unique_ptr<NetworkNamespace> netns_;
  std::unique_ptr<CollectorProcess> collector_;
  std::vector<std::pair<std::string, std::unique_ptr<AgentProcess>>> agents_;
  std::unique_ptr<MarkerStream> stream_;
};

// A steady stream of execs; the collector is killed with SIGKILL mid-stream
// and restarted on the same port and database a few seconds later. Every
// marker is stored exactly once: what the dead collector had acknowledged was
// durable, what it had not was retried, and retries of batches it had stored
// without answering are recognised by (agent id, sequence).
TEST_F(Faults, CollectorKilledDuringASteadyStreamLosesNothing) {
  collector_ = std::make_unique<CollectorProcess>(dir_, "127.0.0.1", free_port(), token_sha256_);
  collector_->start();
  ASSERT_TRUE(collector_->wait_ready(30s)) << "the collector did not start";
  AgentProcess& agent =
      start_agent("agent", {collector_->url(), dir_ / "agent-state", {}, 1ull << 30, ""});
  ASSERT_TRUE(wait_delivering(60s));

  constexpr double kRate = 60;  // execs per second
  stream_ = std::make_unique<MarkerStream>(prefix_, kRate);
  std::this_thread::sleep_for(7s);
  const uint32_t at_kill = stream_->generated();
  collector_->kill9();
  std::this_thread::sleep_for(4s);
  const uint32_t at_restart = stream_->generated();
  collector_->start();
  ASSERT_TRUE(collector_->wait_ready(30s)) << "the collector did not restart";
  std::this_thread::sleep_for(9s);
  stream_->stop();
  const uint32_t generated = stream_->generated();
  ASSERT_GT(at_kill, 0u);
  ASSERT_GT(at_restart, at_kill) << "no marker was made while the collector was down";
  ASSERT_GT(generated, at_restart);
  EXPECT_EQ(stream_->failures(), 0u);

  const Tally t = wait_stored(agent, generated, 90s, prefix_);
  EXPECT_TRUE(drained(agent)) << "the agent's spool or queue did not empty:\n" << agent.metrics();
  const double drops = ringbuf_drops(agent);
  ASSERT_EQ(drops, 0) << "the kernel ring buffer dropped " << drops
                      << " events: a loss before the uplink, so this test cannot judge the "
                         "spool; "
                      << t.describe();
  EXPECT_TRUE(t.exactly_once()) << t.describe();
  // The outage was felt: sends failed while the collector was down.
  EXPECT_GT(agent.metric("vigie_uplink_send_failures_total"), 0);
  std::cout << "[ figures  ] markers " << generated << " (" << at_kill << " before the kill, "
            << at_restart - at_kill << " while down), stored " << t.stored << ", missing "
            << t.missing.size() << ", duplicated " << t.duplicated.size() << "\n";
}

// The collector runs in a network namespace; a blackhole route there to the
// agent's address makes it unreachable (connects and answers hang) for two
// minutes while markers keep flowing. The agent spools to disk with bounded
// memory, and catches up once the route is gone: every marker exactly once.
TEST_F(Faults, CollectorBlackholedForMinutesIsCaughtUp) {
  try {
    netns_ = std::make_unique<NetworkNamespace>();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  collector_ = std::make_unique<CollectorProcess>(dir_, netns_->ns_ip(), 9800, token_sha256_,
                                                  netns_->exec_prefix());
  collector_->start();
  ASSERT_TRUE(collector_->wait_ready(30s)) << "the collector did not start in " << netns_->name();
  AgentProcess& agent =
      start_agent("agent", {collector_->url(), dir_ / "agent-state", {}, 1ull << 30, ""});
  ASSERT_TRUE(wait_delivering(60s));

  constexpr double kRate = 20;
  constexpr auto kBlackhole = 125s;
  stream_ = std::make_unique<MarkerStream>(prefix_, kRate);
  std::this_thread::sleep_for(3s);
  const long rss_before_kib = agent.rss_kib();
  const double spool_bytes_before = agent.metric("vigie_uplink_spool_bytes");
  const auto blackholed = netns_->blackhole(netns_->host_ip());
  ASSERT_TRUE(blackholed.ok()) << blackholed.output;
  const uint32_t at_blackhole = stream_->generated();

  // Sample once a second: RSS, and the spool and in-memory queue per /metrics.
  long rss_peak_kib = rss_before_kib;
  double spool_bytes_peak = 0, spool_batches_peak = 0, queue_bytes_peak = 0;
  double queue_bytes_limit = -1;
  double pending_peak = 0, pending_limit = -1;
  const auto blackhole_end = Clock::now() + kBlackhole;
  while (Clock::now() < blackhole_end) {
    std::this_thread::sleep_for(1s);
    ASSERT_TRUE(agent.running()) << "the agent died during the outage";
    rss_peak_kib = std::max(rss_peak_kib, agent.rss_kib());
    const std::string m = agent.metrics();
    spool_bytes_peak =
        std::max(spool_bytes_peak, metric(m, "vigie_uplink_spool_bytes").value_or(0));
    spool_batches_peak =
        std::max(spool_batches_peak, metric(m, "vigie_uplink_spool_batches").value_or(0));
    queue_bytes_peak =
        std::max(queue_bytes_peak, metric(m, "vigie_uplink_queue_bytes").value_or(0));
    queue_bytes_limit = metric(m, "vigie_uplink_queue_bytes_limit").value_or(queue_bytes_limit);
    pending_peak = std::max(pending_peak, metric(m, "vigie_uplink_pending_events").value_or(0));
    pending_limit = metric(m, "vigie_uplink_pending_events_limit").value_or(pending_limit);
  }
  const uint32_t at_unblackhole = stream_->generated();
  const auto unblackholed = netns_->unblackhole(netns_->host_ip());
  ASSERT_TRUE(unblackholed.ok()) << unblackholed.output;
  const auto catch_up_start = Clock::now();
  std::this_thread::sleep_for(3s);
  stream_->stop();
  const uint32_t generated = stream_->generated();
  ASSERT_GT(at_unblackhole - at_blackhole, static_cast<uint32_t>(kRate * 60))
      << "markers did not keep flowing during the outage";

  const Tally t = wait_stored(agent, generated, 150s, prefix_);
  const double catch_up_s = seconds_since(catch_up_start);
  const double drops = ringbuf_drops(agent);
  std::cout << "[ figures  ] markers " << generated << " (" << at_unblackhole - at_blackhole
            << " during the " << kBlackhole.count() << " s blackhole), stored " << t.stored
            << ", missing " << t.missing.size() << ", duplicated " << t.duplicated.size()
            << "; agent RSS " << rss_before_kib << " KiB before, peak " << rss_peak_kib
            << " KiB; spool peak " << spool_bytes_peak << " bytes in " << spool_batches_peak
            << " batches; in-memory queue peak " << queue_bytes_peak << " bytes (limit "
            << queue_bytes_limit << "); unsealed events peak " << pending_peak << " (limit "
            << pending_limit << "); caught up in " << catch_up_s << " s\n";
  EXPECT_EQ(drops, 0) << "the kernel ring buffer dropped events: a loss before the uplink";

  EXPECT_TRUE(t.exactly_once()) << t.describe();
  EXPECT_TRUE(drained(agent)) << agent.metrics();
  // The outage went to disk: the spool grew by batches (at most
  // max_batch_events events each, so the ~3 events per marker of the outage
  // make several of them), while in memory the queue stayed small.
  EXPECT_GT(spool_bytes_peak, spool_bytes_before);
  EXPECT_GE(spool_batches_peak, 5) << "the outage did not go to the spool";
  // Bounded memory: the agent may keep at most queue_bytes_limit of encoded
  // batches in memory (UplinkOptions::max_queue_bytes; with a spool, only
  // batches not yet written); everything else waits on disk. Over the outage,
  // RSS may grow by that bound plus 16 MiB for the batch being sealed
  // (max_batch_events events), allocator fragmentation and the sender's
  // buffers; an uplink that kept the outage in memory grows without bound.
  ASSERT_GT(queue_bytes_limit, 0) << "vigie_uplink_queue_bytes_limit is not exported";
  EXPECT_LE(queue_bytes_peak, queue_bytes_limit);
  ASSERT_GT(pending_limit, 0) << "vigie_uplink_pending_events_limit is not exported";
  EXPECT_LE(pending_peak, pending_limit);
  const double growth_bound_kib = queue_bytes_limit / 1024 + 16 * 1024;
  EXPECT_LE(static_cast<double>(rss_peak_kib - rss_before_kib), growth_bound_kib)
      << "agent RSS grew from " << rss_before_kib << " KiB to " << rss_peak_kib << " KiB";
}

// The agent sends to a collector that reads batches but never answers, so a
// batch is in flight and the next ones wait in the spool; it is killed with
// SIGKILL. Restarted on the same state_dir against a real collector, it
// replays its spool: every marker made before the kill is stored exactly once.
TEST_F(Faults, AgentKilledMidBatchReplaysItsSpool) {
  HangingCollector hanging;
  const fs::path state_dir = dir_ / "agent-state";
  AgentProcess& first = start_agent("agent-1", {hanging.url(), state_dir, {}, 1ull << 30, ""});
  ASSERT_TRUE(first.wait_sensor_live(60s)) << "the agent's sensor counts no exec";
  ASSERT_TRUE(eventually([&] { return hanging.bytes_read() > 0; }, 30s))
      << "the agent sent nothing to the hanging collector";

  constexpr uint32_t kMarkers = 300;
  const double execs_before = first.metric("vigie_sensor_events_total", "kind=\"process_exec\"");
  uint32_t generated = 0;
  for (uint32_t n = 0; n < kMarkers; ++n) {
    ASSERT_TRUE(MarkerStream::exec_marker(prefix_, n));
    generated = n + 1;
    std::this_thread::sleep_for(20ms);
  }
  // Every marker decoded by the sensor, then sealed and written to the spool
  // while the batch in flight hangs (until the agent's 10 s request timeout),
  // not kept behind it (tests/uplink's SealsEveryFlushIntervalWhileASendHangs
  // shows the sealing exactly).
  ASSERT_TRUE(eventually(
      [&] {
        return first.metric("vigie_sensor_events_total", "kind=\"process_exec\"") >=
               execs_before + kMarkers;
      },
      30s));
  ASSERT_TRUE(eventually([&] { return first.spooled_markers(prefix_) == kMarkers; }, 30s))
      << first.spooled_markers(prefix_) << " of " << kMarkers
      << " markers in the spool while a batch is in flight: a crash would lose the others\n"
      << first.metrics();
  ASSERT_TRUE(eventually(
      [&] {
        const std::string m = first.metrics();
        // On disk: the batch in flight and the markers' batches; in memory
        // only the one in flight (queue_batches counts it) and nothing unspooled.
        return metric(m, "vigie_uplink_spool_batches").value_or(0) >= 2 &&
               metric(m, "vigie_uplink_queue_batches").value_or(2) <= 1;
      },
      30s))
      << first.metrics();
  EXPECT_EQ(first.metric("vigie_uplink_batches_sent_total"), 0);
  first.kill9();
  const auto spooled = first.spool_files();
  ASSERT_FALSE(spooled.empty()) << "no batch file in " << state_dir / "spool";

  collector_ = std::make_unique<CollectorProcess>(dir_, "127.0.0.1", free_port(), token_sha256_);
  collector_->start();
  ASSERT_TRUE(collector_->wait_ready(30s)) << "the collector did not start";
  AgentProcess& second = start_agent("agent-2", {collector_->url(), state_dir, {}, 1ull << 30, ""});
  const Tally t = wait_stored(second, generated, 90s, prefix_);
  const double replayed = second.metric("vigie_uplink_spool_replayed_batches_total");
  std::cout << "[ figures  ] markers " << generated << ", " << spooled.size()
            << " batch files after the kill, " << replayed << " replayed, stored " << t.stored
            << ", missing " << t.missing.size() << ", duplicated " << t.duplicated.size() << "\n";
  EXPECT_GT(replayed, 0);
  EXPECT_TRUE(t.exactly_once()) << t.describe();
  EXPECT_EQ(ringbuf_drops(second), 0);
  EXPECT_TRUE(drained(second)) << second.metrics();
}

// The spool is a 1 MiB tmpfs while spool.max_bytes is far larger, so the
// real ENOSPC path runs: with the collector down and markers flowing, the
// agent drops its oldest spooled batches (counted as disk_full) and keeps
// running and spooling. Once the collector starts, what remained is
// delivered: each stored once, the missing markers the oldest, no more of
// them than vigie_uplink_events_dropped_total.
TEST_F(Faults, SpoolOnAFullDiskDropsOldestAndKeepsRunning) {
  const uint16_t collector_port = free_port();  // nothing listens there yet
  const fs::path spool_dir = dir_ / "spool-tmpfs";
  AgentProcess& agent = start_agent("agent", {"http://127.0.0.1:" + std::to_string(collector_port),
                                              dir_ / "agent-state", spool_dir, 64ull << 20, "1m"});
  ASSERT_TRUE(agent.wait_sensor_live(60s)) << "the agent's sensor counts no exec";

  // ~700 incompressible bytes per exec (under the sensor's 1024-byte command
  // line), so that the 1 MiB fills in tens of seconds.
  constexpr double kRate = 60;
  stream_ = std::make_unique<MarkerStream>(prefix_, kRate, 700);
  const auto disk_full = [&] {
    return agent.metric("vigie_uplink_batches_dropped_total", "reason=\"disk_full\"");
  };
  ASSERT_TRUE(eventually([&] { return disk_full() > 0 || !agent.running(); }, 150s) &&
              agent.running())
      << "no disk_full drop while the 1 MiB spool filled up:\n"
      << agent.metrics();
  const double first_drops = disk_full();
  const auto files_at_full = agent.spool_files();
  ASSERT_FALSE(files_at_full.empty());
  std::this_thread::sleep_for(8s);

  // Still running, serving /metrics, and taking new batches into the spool.
  ASSERT_TRUE(agent.running()) << "the agent died on a full disk";
  const std::string m = agent.metrics();
  ASSERT_FALSE(m.empty()) << "the agent's /metrics does not answer";
  const auto files_later = agent.spool_files();
  ASSERT_FALSE(files_later.empty());
  EXPECT_GT(files_later.back(), files_at_full.back()) << "no newer batch was spooled";
  EXPECT_GT(metric(m, "vigie_uplink_batches_dropped_total", "reason=\"disk_full\"").value_or(0),
            first_drops);
  stream_->stop();
  const uint32_t generated = stream_->generated();

  collector_ = std::make_unique<CollectorProcess>(dir_, "127.0.0.1", collector_port, token_sha256_);
  collector_->start();
  ASSERT_TRUE(collector_->wait_ready(30s)) << "the collector did not start";
  ASSERT_TRUE(wait_drained(agent, 120s)) << "the agent did not deliver its spool:\n"
                                         << agent.metrics();
  std::this_thread::sleep_for(2 * kFlushInterval);
  const Tally t = tally(stored_markers(collector_->database(), prefix_), generated);
  const double events_dropped = agent.metric("vigie_uplink_events_dropped_total");
  std::cout << "[ figures  ] markers " << generated << ", stored " << t.stored << ", missing "
            << t.missing.size() << ", duplicated " << t.duplicated.size() << "; disk_full drops "
            << disk_full() << " batches, " << events_dropped << " events dropped\n";

  EXPECT_TRUE(t.duplicated.empty()) << t.describe();
  EXPECT_TRUE(t.unexpected.empty()) << t.describe();
  ASSERT_FALSE(t.missing.empty()) << "nothing was lost although batches were dropped";
  EXPECT_LE(static_cast<double>(t.missing.size()), events_dropped) << t.describe();
  // The oldest are missing, every marker after them stored. Among them only
  // the batch that was in flight (never evicted) may have survived: one run
  // of at most one batch of markers, wherever the sender had taken it from.
  const uint32_t last_missing = t.missing.back();
  const std::set<uint32_t> missing(t.missing.begin(), t.missing.end());
  std::vector<uint32_t> survived;
  for (uint32_t m = 0; m < last_missing; ++m)
    if (!missing.count(m)) survived.push_back(m);
  if (!survived.empty()) {
    EXPECT_EQ(survived.back() - survived.front() + 1, survived.size())
        << "the missing markers are not the oldest but for one batch: " << t.describe();
    EXPECT_LE(survived.size(), static_cast<std::size_t>(kRate))
        << "more than the in-flight batch survived among the dropped ones: " << t.describe();
  }
  EXPECT_LT(last_missing + 1, generated) << "nothing after the drops was delivered";
  EXPECT_EQ(ringbuf_drops(agent), 0);
}

}  // namespace
