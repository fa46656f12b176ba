// Runs a shell command line for the CLI tests: its exit code and its output.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace vigie::cli::testing {

struct Run {
  int exit_code = -1;  // -1: the command did not exit normally
  std::string output;  // stdout and stderr
};

inline Run run_command(const std::string& command) {
  Run result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace vigie::cli::testing
