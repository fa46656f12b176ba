// Outbound URLs of the collector's alert sinks: "http[s]://host:port/path".
#pragma once

#include <string>

#include "vigie/protocol/http_client.h"

namespace vigie::collector {

// Splits `url` into the endpoint (scheme, host, port) and the path ("" when
// the URL has none; never ends with '/' unless it is exactly "/"). Returns
// false with `error` set when the URL is not http(s)://HOST[:PORT][/PATH].
inline bool parse_http_url(const std::string& url, protocol::Endpoint& endpoint, std::string& path,
                           std::string& error) {
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    error = "expected http://HOST:PORT[/PATH] or https://…, got '" + url + "'";
    return false;
  }
  if (!protocol::Endpoint::parse(url, endpoint, error)) return false;
  const auto scheme_end = url.find("://") + 3;
  const auto slash = url.find('/', scheme_end);
  path = slash == std::string::npos ? std::string() : url.substr(slash);
  if (path.find_first_of(" \r\n") != std::string::npos) {
    error = "invalid characters in the path of '" + url + "'";
    return false;
  }
  return true;
}

}  // namespace vigie::collector
