#include "vigie/protocol/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace vigie::protocol {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

bool Endpoint::parse(const std::string& url, Endpoint& out, std::string& error) {
  std::string rest = url;
  if (rest.rfind("https://", 0) == 0) {
    error = "https:// is not supported yet; use http:// on a trusted network";
    return false;
  }
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  std::string host;
  std::string port = "80";
  if (!rest.empty() && rest.front() == '[') {  // [::1]:9800
    const auto close = rest.find(']');
    if (close == std::string::npos) {
      error = "unbalanced '[' in " + url;
      return false;
    }
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else {
    host = rest;
  }
  if (host.empty() || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    error = "expected http://HOST:PORT, got '" + url + "'";
    return false;
  }
  out.host = host;
  out.port = port;
  return true;
}

HttpResponse send(const Endpoint& endpoint, const HttpRequest& request,
                  std::chrono::milliseconds timeout, std::size_t max_body_bytes) {
  HttpResponse result;
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;

  http::request<http::string_body> req;
  req.method(http::string_to_verb(request.method));
  req.target(request.target);
  req.version(11);
  req.set(http::field::host, endpoint.host + ":" + endpoint.port);
  req.set(http::field::user_agent, "vigie/0.1");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.body() = request.body;
  req.prepare_payload();

  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);

  auto fail = [&result](std::string_view what, beast::error_code ec) {
    if (result.error.empty()) result.error = std::string(what) + ": " + ec.message();
  };

  auto on_connect = [&](beast::error_code ec) {
    if (ec) return fail("connect", ec);
    http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
      if (ec) return fail("write", ec);
      http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
        if (ec) return fail("read", ec);
        result.status = static_cast<int>(parser.get().result_int());
        result.body = std::move(parser.get().body());
      });
    });
  };

  // One chain of async operations on a private io_context, so that a single
  // deadline (expires_after) bounds connect, write and read together.
  stream.expires_after(timeout);
  beast::error_code ec;
  const auto address = net::ip::make_address(endpoint.host, ec);
  if (!ec) {
    // A literal address needs no resolver (whose getaddrinfo runs on a thread
    // of its own, started for every request).
    stream.async_connect(tcp::endpoint(address, static_cast<uint16_t>(std::stoul(endpoint.port))),
                         on_connect);
  } else {
    resolver.async_resolve(
        endpoint.host, endpoint.port,
        [&](beast::error_code ec, const tcp::resolver::results_type& results) {
          if (ec) return fail("resolve", ec);
          stream.async_connect(results,
                               [&](beast::error_code ec, const tcp::endpoint&) { on_connect(ec); });
        });
  }
  ioc.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  if (!result.error.empty()) result.status = 0;
  return result;
}

}  // namespace vigie::protocol
