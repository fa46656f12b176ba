// The collector's HTTP/1.1 server (Boost.Beast, after its advanced server
// example): a session per connection, bounded headers, body and time per
// request, ingest tokens checked before any body is read, a cap on open
// connections, keep-alive, requests answered by a Handler.
#pragma once

#include <cstdint>
#include <memory>

#include "vigie/collector/config.h"
#include "vigie/collector/handler.h"

namespace vigie::collector {

class Server {
 public:
  // Uses config.listen_address, port, body/header limits, max_connections,
  // timeouts, threads.
  // `handler` must outlive the server.
  Server(const Config& config, Handler& handler);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts config.threads I/O threads; once per Server.
  // Throws std::runtime_error when the address cannot be bound.
  void start();
  // The bound port (the ephemeral one when config.port was 0).
  uint16_t port() const;
  // Stops accepting and closes every connection; a request being handled
  // finishes first (a batch is stored entirely or not at all). Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::collector
