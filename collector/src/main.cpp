// vigie-collector: the site collector (ingest, storage, API, dashboard).
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "vigie/collector/config.h"
#include "vigie/collector/handler.h"
#include "vigie/collector/metrics.h"
#include "vigie/collector/server.h"
#include "vigie/collector/sqlite_store.h"

int main(int argc, char** argv) {
  using namespace vigie::collector;
  CLI::App app{
      "vigie-collector: receives agent batches, stores them, serves the API and dashboard"};
  std::string config_path, listen, database, dashboard_dir, vendor_dir;
  int port = -1;
  bool hash_token = false;
  app.add_option("--config", config_path, "YAML configuration file")->check(CLI::ExistingFile);
  app.add_option("--listen", listen, "listen address (overrides listen.address)");
  app.add_option("--port", port, "listen port, 0 for an ephemeral one (overrides listen.port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--database", database, "SQLite database file (overrides database)");
  app.add_option("--dashboard-dir", dashboard_dir,
                 "static dashboard files (overrides dashboard.dir)");
  app.add_option("--vendor-dir", vendor_dir,
                 "uPlot dist/ directory served at /vendor/ (overrides dashboard.vendor_dir)");
  app.add_flag("--hash-token", hash_token,
               "read an agent token on stdin, print its sha256 for agent_tokens[].sha256, exit");
  CLI11_PARSE(app, argc, argv);

  if (hash_token) {
    std::string token;
    std::getline(std::cin, token);
    std::cout << to_hex(sha256(token)) << '\n';
    return 0;
  }

  // SIGINT/SIGTERM are taken synchronously by sigwait below; block them
  // before any thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    Config config = config_path.empty() ? default_config() : load_config(config_path);
    if (!listen.empty()) config.listen_address = listen;
    if (port >= 0) config.port = static_cast<uint16_t>(port);
    if (!database.empty()) config.database_path = database;
    if (!dashboard_dir.empty()) config.dashboard_dir = dashboard_dir;
    if (!vendor_dir.empty()) config.vendor_dir = vendor_dir;
    if (config.agent_tokens.empty())
      spdlog::warn("no agent_tokens configured: every ingest request will get 401");

    SqliteStore store(config.database_path);
    Metrics metrics;
    Handler handler(config, store, metrics);
    Server server(config, handler);
    server.start();
    spdlog::info("vigie-collector listening on {}:{}, database {}", config.listen_address,
                 server.port(), config.database_path);

    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("signal {} received, stopping", signal);
    server.stop();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
