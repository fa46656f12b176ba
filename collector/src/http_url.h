// Outbound URLs of the collector's alert sinks: "http[s]://host:port/path".
#pragma once

#include <string>

#include "vigie/protocol/http_client.h"
#include "vigie/protocol/result.h"

namespace vigie::collector {

struct HttpUrl {
  protocol::Endpoint endpoint;  // scheme, host, port, and the TLS files given
  std::string path;             // "" when the URL has none; never ends with '/' unless it is "/"
};

// Parses `url`; fails when it is not http(s)://HOST[:PORT][/PATH] or its
// path holds a space or a line break.
inline protocol::Result<HttpUrl> parse_http_url(const std::string& url,
                                                protocol::ClientTls tls = {}) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return protocol::fail("expected http://HOST:PORT[/PATH] or https://…, got '" + url + "'");
  }
  auto endpoint = protocol::Endpoint::parse(url, std::move(tls));
  if (!endpoint) return protocol::fail(endpoint.error());
  const auto scheme_end = url.find("://") + 3;
  const auto slash = url.find('/', scheme_end);
  std::string path = slash == std::string::npos ? std::string() : url.substr(slash);
  if (path.find_first_of(" \r\n") != std::string::npos) {
    return protocol::fail("invalid characters in the path of '" + url + "'");
  }
  return HttpUrl{std::move(*endpoint), std::move(path)};
}

}  // namespace vigie::collector
