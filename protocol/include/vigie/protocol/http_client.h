// A small blocking HTTP/1.1 client over Boost.Beast, for the agent's uplink, the
// collector's outbound deliveries, the `vigie` CLI and tests. One request per
// connection; bounded response.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigie/protocol/result.h"

namespace vigie::protocol {

// Client-side TLS settings for an https:// endpoint. PEM files. The server's
// certificate is verified against `ca_file`, or the system store
// (/etc/ssl/certs) when empty, and its name against the URL's host (RFC 6125:
// DNS names in subjectAltName, IP literals against IP SANs); SNI carries the
// host unless it is an IP literal (RFC 6066 section 3). A client certificate
// (mTLS) is sent when `cert_file` and `key_file` are set.
struct ClientTls {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  bool operator==(const ClientTls&) const = default;
};

// "http://host:port" or "https://host:port"; parsed once.
struct Endpoint {
  std::string host = "127.0.0.1";
  std::string port = "9800";
  bool https = false;  // TLS 1.2 or later, OpenSSL through Boost.Asio
  ClientTls tls;       // used when https

  // Parses "http://host:port", "https://host:port" or "host:port" (http);
  // the port defaults to 80 or 443, a path after the authority is ignored.
  // `tls` is the result's (used when https). Fails saying what is wrong.
  static Result<Endpoint> parse(const std::string& url, ClientTls tls = {});
  // "http://host:port" or "https://host:port" (IPv6 in brackets).
  std::string url() const;
};

struct HttpRequest {
  std::string method = "GET";  // GET, POST
  std::string target = "/";    // path and query, e.g. "/api/v1/alerts?limit=10"
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  std::string body;
};

// The POST an agent (or a site forwarding to its federation) makes to a
// collector's /api/v1/ingest: `body` is an encode_batch() result (protobuf,
// zstd), `token` the agent's bearer token.
HttpRequest ingest_request(std::string_view token, std::string body);

struct HttpResponse {
  int status = 0;  // HTTP status; 0 when the request never got an answer
  std::string body;
  std::string error;  // transport error (connect refused, timeout…) when status == 0
  // The server's Retry-After (429, 503: how long to wait before trying again),
  // when it sent one that parse_retry_after understands.
  std::optional<std::chrono::seconds> retry_after;
  bool ok() const { return status >= 200 && status < 300; }
};

// A Retry-After field value (RFC 9110 section 10.2.3): delay-seconds
// ("120"), or an HTTP-date in the IMF-fixdate form every current server sends
// ("Sun, 06 Nov 1994 08:49:37 GMT"), as the delay from `now` (0 for a date in
// the past), capped at a day. nullopt for anything else (the obsolete RFC 850 and asctime
// date forms included): the caller then keeps its own backoff.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// Sends `request` to `endpoint`, waiting at most `timeout` for the whole
// exchange (connect, TLS handshake, write, read). Never throws: transport
// failures come back as status 0 + error, TLS ones saying why ("TLS
// handshake: certificate verify failed: certificate has expired", an
// unreadable ca_file…). Responses larger than `max_body_bytes` are an error.
// TLS contexts are cached per ClientTls and rebuilt when a file changes.
HttpResponse send(const Endpoint& endpoint, const HttpRequest& request,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10),
                  std::size_t max_body_bytes = 64u << 20);

}  // namespace vigie::protocol
