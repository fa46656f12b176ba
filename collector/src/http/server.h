// The collector's HTTP/1.1 server (Boost.Beast, after its advanced server
// example): a session per connection, bounded headers, body and time per
// request, ingest tokens checked before any body is read, a cap on open
// connections, keep-alive, requests answered by a Handler. With config.tls
// enabled the port speaks TLS only (OpenSSL through Boost.Asio; TLS 1.2 or
// 1.3, optional client certificates): the handshake is bounded by
// tls.handshake_timeout and a failed one is counted
// (vigie_collector_rejections_total{reason="tls_handshake_failed"}); plain
// HTTP to it gets a 400 in plain text saying to use https:// and is closed
// (reason="plain_http_on_tls"). The same limits and timeouts apply after the
// handshake.
#pragma once

#include <cstdint>
#include <memory>

#include "http/handler.h"
#include "vigie/collector/config.h"

namespace vigie::collector {

class Server {
 public:
  // Uses config.listen_address, port, body/header limits, max_connections,
  // timeouts, threads, tls.
  // `handler` must outlive the server.
  Server(const Config& config, Handler& handler);
  ~Server();  // stops
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts config.threads I/O threads; once per Server.
  // Throws std::runtime_error when the address cannot be bound or a TLS
  // file cannot be used (naming it).
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
