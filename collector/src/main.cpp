// vigie-collector: the site collector (ingest, storage, API, dashboard).
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "vigie/collector/access.h"
#include "vigie/collector/config.h"
#include "vigie/collector/service.h"

int main(int argc, char** argv) {
  using namespace vigie::collector;
  CLI::App app{
      "vigie-collector: receives agent batches, stores them, serves the API and dashboard"};
  std::string config_path, listen, database, dashboard_dir, vendor_dir;
  std::string storage_backend, postgresql_url;
  int port = -1;
  bool hash_token = false;
  app.add_option("--config", config_path, "YAML configuration file")->check(CLI::ExistingFile);
  app.add_option("--listen", listen, "listen address (overrides listen.address)");
  app.add_option("--port", port, "listen port, 0 for an ephemeral one (overrides listen.port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--database", database, "SQLite database file (overrides storage.sqlite_path)");
  app.add_option("--storage-backend", storage_backend,
                 "sqlite or postgresql (overrides storage.backend)")
      ->check(CLI::IsMember({"sqlite", "postgresql"}));
  app.add_option("--postgresql-url", postgresql_url,
                 "libpq connection string or postgresql:// URI (overrides storage.postgresql_url)");
  app.add_option("--dashboard-dir", dashboard_dir,
                 "static dashboard files (overrides dashboard.dir)");
  app.add_option("--vendor-dir", vendor_dir,
                 "uPlot dist/ directory served at /vendor/ (overrides dashboard.vendor_dir)");
  app.add_flag("--hash-token", hash_token,
               "read a token on stdin, print its sha256 for agent_tokens[].sha256 or "
               "api_tokens[].sha256, exit");
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
    if (!postgresql_url.empty()) config.storage.postgresql_url = postgresql_url;
    if (!storage_backend.empty())
      config.storage.backend = storage_backend == "postgresql" ? StorageConfig::Backend::kPostgresql
                                                               : StorageConfig::Backend::kSqlite;
    if (config.storage.backend == StorageConfig::Backend::kPostgresql &&
        config.storage.postgresql_url.empty())
      throw std::runtime_error(
          "storage backend postgresql needs --postgresql-url or "
          "storage.postgresql_url");
    if (!dashboard_dir.empty()) config.dashboard_dir = dashboard_dir;
    if (!vendor_dir.empty()) config.vendor_dir = vendor_dir;
    if (config.agent_tokens.empty())
      spdlog::warn("no agent_tokens configured: every ingest request will get 401");
    if (const auto warning = anonymous_access_warning(config.api, config.listen_address);
        !warning.empty())
      spdlog::warn("SECURITY: {}", warning);
    if (config.api.tokens.empty() && !config.api.anonymous)
      spdlog::warn("no api_tokens configured and no api.anonymous_role: every API read gets 401");
    if (!config.tls.enabled() && config.listen_address != "127.0.0.1" &&
        config.listen_address != "::1")
      spdlog::warn("no tls: configured: tokens and data cross the network in clear text");

    Service service(config);
    service.start();

    int signal = 0;
    sigwait(&signals, &signal);
    spdlog::info("signal {} received, stopping", signal);
    service.stop();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
