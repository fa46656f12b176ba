// For the collector's headless-Chromium tests (job page, dashboard token):
// running a shell command, and what the browser checks need.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

namespace vigie::collector::testing {

// Runs `cmd` through the shell; its exit status and stdout + stderr.
inline std::pair<int, std::string> run(const std::string& cmd) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "popen failed"};
  std::string output;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), p)) output.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// Empty when node, Chromium ($CHROMIUM or /usr/bin/chromium) and
// playwright-core are there; otherwise what is missing, for a FAIL().
inline std::string browser_missing(const std::string& source_dir) {
  const char* chromium_env = std::getenv("CHROMIUM");
  const std::string chromium = chromium_env != nullptr ? chromium_env : "/usr/bin/chromium";
  if (std::filesystem::exists(chromium) &&
      std::filesystem::exists(source_dir + "/dashboards/node_modules/playwright-core") &&
      run("node --version").first == 0)
    return {};
  return "needs node, " + chromium +
         " and dashboards/node_modules/playwright-core (deploy/install-deps.sh --test, "
         "deploy/build.sh)";
}

}  // namespace vigie::collector::testing
