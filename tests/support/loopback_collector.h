// A real collector for tests: a SQLite store in a fresh temp dir, a handler
// and a server listening on 127.0.0.1 on an ephemeral port, started at
// construction and stopped at destruction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "http/handler.h"
#include "http/server.h"
#include "metrics.h"
#include "storage/sqlite_store.h"
#include "support/sample_batch.h"
#include "vigie/collector/config.h"

namespace vigie::collector::testing {

class LoopbackCollector {
 public:
  // `configure` may change the configuration (port 0, 1 thread and, as the
  // quick start on loopback, api.anonymous_role admin by default: tests of
  // the API's security reset it) before the handler and the server are made
  // and started.
  explicit LoopbackCollector(const std::function<void(Config&)>& configure = {})
      : store_((dir_.path() / "collector.db").string()) {
    config_.port = 0;
    config_.threads = 1;
    config_.api.anonymous = Principal{Role::kAdmin, "anonymous", {}};
    if (configure) configure(config_);
    handler_ = std::make_unique<Handler>(config_, store_, metrics_);
    server_ = std::make_unique<Server>(config_, *handler_);
    server_->start();
  }
  LoopbackCollector(const LoopbackCollector&) = delete;
  LoopbackCollector& operator=(const LoopbackCollector&) = delete;

  // The temp dir holding collector.db, removed at destruction.
  const std::filesystem::path& dir() const { return dir_.path(); }
  const Config& config() const { return config_; }
  SqliteStore& store() { return store_; }
  Handler& handler() { return *handler_; }
  Server& server() { return *server_; }
  uint16_t port() const { return server_->port(); }
  // "http://127.0.0.1:<port>", or https:// when config.tls is enabled
  std::string url() const {
    return (config_.tls.enabled() ? "https://127.0.0.1:" : "http://127.0.0.1:") +
           std::to_string(port());
  }

 private:
  TempDir dir_;
  Config config_;
  SqliteStore store_;
  Metrics metrics_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<Server> server_;
};

}  // namespace vigie::collector::testing
