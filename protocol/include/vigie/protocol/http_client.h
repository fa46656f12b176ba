// A small blocking HTTP/1.1 client over Boost.Beast, for the agent's uplink, the
// collector's outbound deliveries, the `vigie` CLI and tests. One request per
// connection; bounded response.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vigie::protocol {

// "http://host:port" (http only for now); parsed once.
struct Endpoint {
  std::string host = "127.0.0.1";
  std::string port = "9800";

  // Parses "http://host:port" or "host:port". Returns false with `error` set otherwise.
  static bool parse(const std::string& url, Endpoint& out, std::string& error);
};

struct HttpRequest {
  std::string method = "GET";  // GET, POST
  std::string target = "/";    // path and query, e.g. "/api/v1/alerts?limit=10"
  std::vector<std::pair<std::string, std::string>> headers;  // extra request headers
  std::string body;
};

struct HttpResponse {
  int status = 0;  // HTTP status; 0 when the request never got an answer
  std::string body;
  std::string error;  // transport error (connect refused, timeout…) when status == 0
  bool ok() const { return status >= 200 && status < 300; }
};

// Sends `request` to `endpoint`, waiting at most `timeout` for the whole
// exchange. Never throws: transport failures come back as status 0 + error.
// Responses larger than `max_body_bytes` are an error.
HttpResponse send(const Endpoint& endpoint, const HttpRequest& request,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10),
                  std::size_t max_body_bytes = 64u << 20);

}  // namespace vigie::protocol
