// A real PostgreSQL server for tests, and a fresh database per test.
//
// API (kept stable; other tests reuse it):
//   PostgresInstance pg;                      // throws std::runtime_error if it cannot
//   PostgresInstance own(PostgresInstance::kPrivate);  // always a private cluster
//   std::string url = pg.create_database();   // a new empty database, its libpq connection string
//   PostgresInstance::exec(url, "SQL");       // runs SQL, returns the first row's first column
//   pg.stop(); pg.start(); pg.restart();      // private cluster only (tests of reconnection)
//   pg.kill();                                // private cluster only: SIGKILL the postmaster
//
// With VIGIE_TEST_POSTGRES_URL set (a libpq connection string or URL whose
// role may CREATE DATABASE, e.g. the cluster tests/run.sh starts), that
// server is used: create_database() makes uniquely named databases on it
// and the destructor drops them. Otherwise a private cluster is made in a
// temp dir: initdb, then postgres with its unix socket in the temp dir and
// TCP on 127.0.0.1:<free port>, fsync on, trust authentication for the
// `postgres` role; it is stopped and removed at destruction. Run as root
// (as CI does), the server runs as the system user `postgres` (PostgreSQL
// refuses root). No server binaries (Debian package `postgresql`) or no
// `postgres` user: the constructor throws with a clear message, so the
// test fails rather than skips.
//
// Link the test with PostgreSQL::PostgreSQL (libpq).
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/processes.h"  // free_port

namespace vigie::collector::testing {

class PostgresInstance {
 public:
  enum Kind {
    kAny,      // VIGIE_TEST_POSTGRES_URL's server when set, else a private cluster
    kPrivate,  // a private cluster whatever the environment (tests that stop the server)
  };
  explicit PostgresInstance(Kind kind = kAny) {
    if (const char* url = std::getenv("VIGIE_TEST_POSTGRES_URL"); kind == kAny && url && *url) {
      server_url_ = url;
      exec(server_url_, "SELECT 1");  // fails clearly now rather than in the test
      return;
    }
    start_private();
  }
  ~PostgresInstance() {
    if (is_private()) {
      stop_server(SIGINT);
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      return;
    }
    for (const auto& name : databases_) {
      try {
        exec(server_url_, "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
      } catch (const std::exception&) {
        // The server may be gone; nothing else to clean.
      }
    }
  }
  PostgresInstance(const PostgresInstance&) = delete;
  PostgresInstance& operator=(const PostgresInstance&) = delete;

  // True for a cluster this object started (stop/start/restart/kill work).
  bool is_private() const { return !dir_.empty(); }
  // The private cluster's TCP port on 127.0.0.1; 0 with VIGIE_TEST_POSTGRES_URL.
  uint16_t port() const { return port_; }
  // The connection string of the server's maintenance database (`postgres`).
  const std::string& server_url() const { return server_url_; }

  // Creates an empty database with a unique name (prefix + random suffix)
  // and returns its libpq connection string.
  std::string create_database(const std::string& prefix = "vigie_test") {
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    const std::string name = prefix + "_" + std::to_string(::getpid()) + "_" +
                             std::to_string(counter++) + "_" + std::to_string(random() % 100000);
    exec(server_url_, "CREATE DATABASE " + name);
    databases_.push_back(name);
    return with_database(server_url_, name);
  }

  // Runs `sql` (one or more statements) on a new connection to `url`.
  // Returns the first column of the last result's first row ("" if none).
  // Throws std::runtime_error with the server's message.
  static std::string exec(const std::string& url, const std::string& sql) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK)
      throw std::runtime_error("cannot connect to PostgreSQL (" + url +
                               "): " + PQerrorMessage(conn.get()));
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    if (!PQsendQuery(conn.get(), sql.c_str()))
      throw std::runtime_error("PostgreSQL: " + std::string(PQerrorMessage(conn.get())));
    std::string value, error;
    while (PGresult* result = PQgetResult(conn.get())) {
      const auto status = PQresultStatus(result);
      if (status == PGRES_TUPLES_OK && PQntuples(result) > 0 && PQnfields(result) > 0)
        value = PQgetvalue(result, 0, 0);
      if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && error.empty())
        error = PQresultErrorMessage(result);
      PQclear(result);
    }
    if (!error.empty()) throw std::runtime_error("PostgreSQL: " + error + " in: " + sql);
    return value;
  }

  // Private cluster only. stop(): fast shutdown (SIGINT), waits for exit.
  // start(): starts it again on the same port and data directory, waits until
  // it accepts connections. restart(): both. kill(): SIGKILL, as a crash.
  void stop() {
    require_private("stop");
    stop_server(SIGINT);
  }
  void kill() {
    require_private("kill");
    stop_server(SIGKILL);
  }
  void start() {
    require_private("start");
    if (pid_ > 0) return;
    launch();
    wait_ready();
  }
  void restart() {
    stop();
    start();
  }

 private:
  static std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  static std::string tail(const std::string& text, std::size_t n = 2000) {
    return text.size() <= n ? text : text.substr(text.size() - n);
  }

  // libpq connection string `url` with its database replaced by `name`.
  static std::string with_database(const std::string& url, const std::string& name) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
    if (!options) {
      const std::string message = error ? error : "out of memory";
      PQfreemem(error);
      throw std::runtime_error("bad PostgreSQL connection string '" + url + "': " + message);
    }
    std::string out;
    for (auto* o = options; o->keyword; ++o) {
      const std::string key = o->keyword;
      const char* val = key == "dbname" ? name.c_str() : o->val;
      if (!val) continue;
      std::string quoted;
      for (const char* c = val; *c; ++c) {
        if (*c == '\\' || *c == '\'') quoted += '\\';
        quoted += *c;
      }
      out += (out.empty() ? "" : " ") + key + "='" + quoted + "'";
    }
    PQconninfoFree(options);
    if (out.find("dbname=") == std::string::npos) out += " dbname='" + name + "'";
    return out;
  }

  // The newest /usr/lib/postgresql/<major>/bin holding initdb and postgres.
  static std::filesystem::path find_bin_dir() {
    std::vector<std::filesystem::path> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      const auto bin = entry.path() / "bin";
      if (std::filesystem::exists(bin / "initdb") && std::filesystem::exists(bin / "postgres"))
        found.push_back(bin);
    }
    if (found.empty())
      throw std::runtime_error(
          "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): install the "
          "Debian package postgresql (deploy/install-deps.sh --test), or set "
          "VIGIE_TEST_POSTGRES_URL to a server the tests may create databases on");
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
      return std::stoi(a.parent_path().filename().string()) <
             std::stoi(b.parent_path().filename().string());
    });
    return found.back();
  }

  void require_private(const char* what) const {
    if (!is_private())
      throw std::runtime_error(std::string("PostgresInstance::") + what +
                               " needs a private cluster: unset VIGIE_TEST_POSTGRES_URL");
  }

  // Forks; the child drops to the `postgres` user when we are root, then
  // execs argv with output to `log`. The server dies with this thread.
  pid_t spawn(const std::vector<std::string>& argv, const std::filesystem::path& log) const {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid != 0) return pid;
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (run_as_) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) ::_exit(126);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGQUIT);  // after setuid, which clears it
    if (::getppid() != parent) ::_exit(125);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }

  void start_private() {
    bin_ = find_bin_dir();
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (!pw)
        throw std::runtime_error(
            "running as root, and there is no system user 'postgres' to run the PostgreSQL "
            "server as (PostgreSQL refuses root): install the Debian package postgresql");
      run_as_ = true;
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "vigie-pg-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("cannot create a temp dir for PostgreSQL");
    dir_ = pattern;
    if (run_as_ && ::chown(dir_.c_str(), uid_, gid_) != 0) {
      std::filesystem::remove_all(dir_);
      dir_.clear();
      throw std::runtime_error("cannot chown the PostgreSQL temp dir to user postgres");
    }
    try {
      const auto log = dir_ / "initdb.log";
      const pid_t pid =
          spawn({(bin_ / "initdb").string(), "-D", (dir_ / "data").string(), "-U", "postgres", "-A",
                 "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
                log);
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error("initdb failed (exit " + std::to_string(status) +
                                 "): " + tail(read_all(log)));
      // A free port may be taken between the check and the bind: try a few.
      for (int attempt = 0;; ++attempt) {
        port_ = integration::free_port();
        try {
          launch();
          wait_ready();
          break;
        } catch (const std::exception&) {
          stop_server(SIGKILL);
          if (attempt == 2) throw;
        }
      }
      server_url_ = "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
    } catch (...) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
      dir_.clear();
      throw;
    }
  }

  void launch() {
    pid_ = spawn({(bin_ / "postgres").string(), "-D", (dir_ / "data").string(), "-p",
                  std::to_string(port_), "-k", dir_.string(), "-c", "listen_addresses=127.0.0.1",
                  "-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "max_connections=200",
                  "-c", "shared_buffers=32MB", "-c", "logging_collector=off"},
                 dir_ / "postgres.log");
  }

  void wait_ready() {
    const std::string url =
        "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres?connect_timeout=2";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("postgres exited at start-up: " +
                                 tail(read_all(dir_ / "postgres.log")));
      }
      if (PQping(url.c_str()) == PQPING_OK) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("postgres not ready after 60 s: " +
                             tail(read_all(dir_ / "postgres.log")));
  }

  // Signals the postmaster and reaps it (SIGKILL after 30 s).
  void stop_server(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    for (int i = 0; i < 600; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (signal == SIGKILL) {
      // Children of a killed postmaster exit on their own once they notice;
      // wait until the shared memory is released so start() can succeed.
      const auto pidfile = dir_ / "data" / "postmaster.pid";
      for (int i = 0; i < 200 && std::filesystem::exists(pidfile); ++i) {
        if (!backends_alive()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  // Whether any process still has the data dir as its cwd (postgres backends do).
  bool backends_alive() const {
    std::error_code ec;
    const auto data = std::filesystem::canonical(dir_ / "data", ec);
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
      std::error_code ignored;
      if (std::filesystem::read_symlink(entry.path() / "cwd", ignored) == data) return true;
    }
    return false;
  }

  std::string server_url_;
  std::vector<std::string> databases_;  // created on a shared server, dropped at the end
  std::filesystem::path dir_;           // private cluster: temp dir (data/, sockets, logs)
  std::filesystem::path bin_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  bool run_as_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace vigie::collector::testing
