// For the collector's headless-Chromium tests (job page, dashboard token):
// running a shell command, and what the browser checks need.
#pragma once

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "vigie/collector/access.h"
#include "vigie/collector/config.h"

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

// A whole collector's configuration for a page test: any free port, two
// threads, its database in `dir`, the pages from `source_dir`'s dashboard,
// and one API token `token` of `role` (parse_role) named `name`.
inline Config page_config(const std::filesystem::path& dir, const std::string& source_dir,
                          const std::string& role, const std::string& name,
                          const std::string& token) {
  Config config = default_config();
  config.port = 0;
  config.threads = 2;
  config.database_path = (dir / "collector.db").string();
  config.dashboard_dir = source_dir + "/dashboards/web";
  config.vendor_dir.clear();
  auto principal = parse_role(role);
  principal->name = name;
  config.api.tokens = {{sha256(token), *principal}};
  return config;
}

// Runs the browser check tests/dashboards/<script> (node, playwright-core)
// against the collector at 127.0.0.1:`port`, with `spec` (JSON text) written
// to `spec_file`; screenshots under VIGIE_BINARY_DIR/<prefix>. "" when it
// passed, else the command and what it printed, for a FAIL().
inline std::string page_check_failure(const std::string& source_dir, const std::string& binary_dir,
                                      const std::string& script, uint16_t port,
                                      const std::filesystem::path& spec_file,
                                      const std::string& spec, const std::string& prefix) {
  std::ofstream(spec_file) << spec;
  const std::string cmd = "node " + source_dir + "/tests/dashboards/" + script +
                          " http://127.0.0.1:" + std::to_string(port) + " " + spec_file.string() +
                          " " + binary_dir + "/" + prefix;
  const auto [status, output] = run(cmd);
  return status == 0 ? std::string() : cmd + "\n" + output;
}

}  // namespace vigie::collector::testing
