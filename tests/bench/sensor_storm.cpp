// Load generator for sensor_storm.sh: `sensor_storm exec N` runs N fork+exec of
// /bin/true one after the other; `sensor_storm connect N` makes N TCP
// connections to a listener of its own on 127.0.0.1 (connect + accept).
// Prints the elapsed wall time in seconds; the script compares runs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

int exec_storm(long n) {
  char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
  char* const envp[] = {nullptr};
  for (long i = 0; i < n; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execve("/bin/true", argv, envp);
      ::_exit(127);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || status != 0) return 1;
  }
  return 0;
}

int connect_storm(long n) {
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(server, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(server, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::listen(server, 512) != 0) {
    return 1;
  }
  std::thread acceptor([&] {
    for (long i = 0; i < n; ++i) {
      int fd = ::accept(server, nullptr, nullptr);
      if (fd >= 0) ::close(fd);
    }
  });
  int failures = 0;
  for (long i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    failures += ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0;
    ::close(fd);
  }
  acceptor.join();
  ::close(server);
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 1) {  // as tests/bench/run.sh runs every executable: say who drives it
    std::printf("load generator of tests/bench/sensor_storm.sh (usage: %s exec|connect COUNT)\n",
                argv[0]);
    return 0;
  }
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s exec|connect COUNT\n", argv[0]);
    return 2;
  }
  const long n = std::strtol(argv[2], nullptr, 10);
  const auto start = std::chrono::steady_clock::now();
  int rc = std::strcmp(argv[1], "exec") == 0      ? exec_storm(n)
           : std::strcmp(argv[1], "connect") == 0 ? connect_storm(n)
                                                  : 2;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.4f\n", seconds);
  return rc;
}
