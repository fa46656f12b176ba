// A whole vigie-collector: the store, the HTTP server, and what follows
// storage (retention, remote_write, alert routing to Alertmanager, webhooks
// and federation peers, collector-side correlation, rule-pack distribution),
// wired from one Config. The executable parses flags and signals around it;
// tests can run a complete collector in-process.
#pragma once

#include <cstdint>
#include <memory>

#include "vigie/collector/config.h"

namespace vigie::collector {

class Service {
 public:
  // Opens (and migrates) the store and builds every configured component.
  // Throws std::runtime_error (or StoreError) with the cause on bad
  // configuration or an unreachable store.
  explicit Service(const Config& config);
  ~Service();  // stops
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Binds and serves; starts retention and the background senders. Once.
  void start();
  // The bound port (the ephemeral one when config.port was 0).
  uint16_t port() const;
  // Stops serving (a request being handled finishes first), stops retention,
  // and gives queued remote_write samples a few seconds to go out. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::collector
