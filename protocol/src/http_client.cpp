#include "vigie/protocol/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>
#include <mutex>
#include <optional>

#include "vigie/protocol/codec.h"

namespace vigie::protocol {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

HttpRequest ingest_request(std::string_view token, std::string body) {
  return {"POST",
          "/api/v1/ingest",
          {{"Authorization", "Bearer " + std::string(token)},
           {"Content-Type", std::string(kContentType)},
           {"Content-Encoding", std::string(kContentEncoding)}},
          std::move(body)};
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  // Beyond a day it is a day: no server means more, and it keeps the sums finite.
  constexpr std::chrono::seconds kMax(86400);
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 6) return kMax;
    return std::min(std::chrono::seconds(std::stoll(std::string(value))), kMax);
  }
  // IMF-fixdate, always GMT, in the C locale's day and month names.
  std::tm tm{};
  const std::string text(value);
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
  if (at <= now) return std::chrono::seconds(0);
  return std::min(std::chrono::duration_cast<std::chrono::seconds>(at - now), kMax);
}

Result<Endpoint> Endpoint::parse(const std::string& url, ClientTls tls) {
  std::string rest = url;
  bool https = false;
  if (rest.rfind("https://", 0) == 0) {
    https = true;
    rest = rest.substr(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (const auto scheme = rest.find("://"); scheme != std::string::npos) {
    return fail("unsupported scheme in '" + url + "'; use http:// or https://");
  }
  if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  std::string host;
  std::string port = https ? "443" : "80";
  if (!rest.empty() && rest.front() == '[') {  // [::1]:9800
    const auto close = rest.find(']');
    if (close == std::string::npos) {
      return fail("unbalanced '[' in " + url);
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
    return fail("expected http://HOST:PORT or https://HOST:PORT, got '" + url + "'");
  }
  Endpoint out;
  out.host = std::move(host);
  out.port = std::move(port);
  out.https = https;
  out.tls = std::move(tls);
  return out;
}

std::string Endpoint::url() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return std::string(https ? "https://" : "http://") + (ipv6 ? "[" + host + "]" : host) + ":" +
         port;
}

namespace {

// What identifies a version of a file: a changed certificate or CA bundle
// (rotation) rebuilds the context.
struct FileStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  timespec modified{};

  bool operator==(const FileStamp& other) const {
    return device == other.device && inode == other.inode && size == other.size &&
           modified.tv_sec == other.modified.tv_sec && modified.tv_nsec == other.modified.tv_nsec;
  }
};

FileStamp stamp_of(const std::string& path) {
  FileStamp stamp;
  struct stat st {};
  if (!path.empty() && ::stat(path.c_str(), &st) == 0) {
    stamp = {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  }
  return stamp;
}

struct CachedContext {
  ClientTls settings;
  std::array<FileStamp, 3> stamps;
  std::shared_ptr<ssl::context> context;
};

// The client TLS context for `settings`, built once and shared (an
// SSL_CTX is safe to use from several threads once configured); nullptr
// with `error` set when a file cannot be used.
std::shared_ptr<ssl::context> client_context(const ClientTls& settings, std::string& error) {
  static std::mutex mutex;
  static std::vector<CachedContext> cache;
  constexpr std::size_t kMaxCached = 16;

  const std::array<FileStamp, 3> stamps = {stamp_of(settings.ca_file), stamp_of(settings.cert_file),
                                           stamp_of(settings.key_file)};
  std::lock_guard lock(mutex);
  for (const auto& entry : cache) {
    if (entry.settings == settings && entry.stamps == stamps) return entry.context;
  }

  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (settings.ca_file.empty()) {
    context->set_default_verify_paths(ec);
    if (ec) error = "cannot load the system's CA certificates: " + ec.message();
  } else if (context->load_verify_file(settings.ca_file, ec); ec) {
    error = "ca_file " + settings.ca_file + ": cannot load CA certificates (PEM): " + ec.message();
  }
  if (error.empty() && settings.cert_file.empty() != settings.key_file.empty())
    error = "a client certificate needs both cert_file and key_file";
  if (error.empty() && !settings.cert_file.empty()) {
    if (context->use_certificate_chain_file(settings.cert_file, ec); ec) {
      error = "cert_file " + settings.cert_file + ": " + ec.message();
    } else if (context->use_private_key_file(settings.key_file, ssl::context::pem, ec); ec) {
      error = "key_file " + settings.key_file + ": " + ec.message();
    } else if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
      error = "key_file " + settings.key_file + " does not match cert_file " + settings.cert_file;
    }
  }
  if (!error.empty()) return nullptr;
  if (cache.size() >= kMaxCached) cache.erase(cache.begin());
  cache.push_back({settings, stamps, context});
  return context;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// Runs one request/response exchange over `stream` (already connected and,
// for TLS, with its handshake done) and fills `result`.
template <typename Stream>
void exchange(Stream& stream, http::request<http::string_body>& req,
              http::response_parser<http::string_body>& parser, beast::flat_buffer& buffer,
              HttpResponse& result) {
  http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
    if (ec) {
      result.error = "write: " + ec.message();
      return;
    }
    http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
      if (ec) {
        result.error = "read: " + ec.message();
        return;
      }
      result.status = static_cast<int>(parser.get().result_int());
      result.body = std::move(parser.get().body());
      if (const auto field = parser.get().find(http::field::retry_after);
          field != parser.get().end())
        result.retry_after = parse_retry_after(field->value(), std::chrono::system_clock::now());
    });
  });
}

// Resolves (unless `host` is an IP literal) and connects `socket_stream`,
// then calls `on_connected`; failures land in `result.error`.
template <typename Then>
void connect(tcp::resolver& resolver, beast::tcp_stream& socket_stream, const Endpoint& endpoint,
             HttpResponse& result, Then on_connected) {
  auto on_connect = [&result, on_connected](beast::error_code ec) {
    if (ec) {
      result.error = "connect: " + ec.message();
      return;
    }
    on_connected();
  };
  beast::error_code ec;
  const auto address = net::ip::make_address(endpoint.host, ec);
  if (!ec) {
    // A literal address needs no resolver (whose getaddrinfo runs on a thread
    // of its own, started for every request).
    socket_stream.async_connect(
        tcp::endpoint(address, static_cast<uint16_t>(std::stoul(endpoint.port))), on_connect);
    return;
  }
  resolver.async_resolve(
      endpoint.host, endpoint.port,
      [&socket_stream, &result, on_connect](beast::error_code ec,
                                            const tcp::resolver::results_type& results) {
        if (ec) {
          result.error = "resolve: " + ec.message();
          return;
        }
        socket_stream.async_connect(
            results, [on_connect](beast::error_code ec, const tcp::endpoint&) { on_connect(ec); });
      });
}

}  // namespace

HttpResponse send(const Endpoint& endpoint, const HttpRequest& request,
                  std::chrono::milliseconds timeout, std::size_t max_body_bytes) {
  HttpResponse result;
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::flat_buffer buffer;

  http::request<http::string_body> req;
  req.method(http::string_to_verb(request.method));
  req.target(request.target);
  req.version(11);
  const bool ipv6 = endpoint.host.find(':') != std::string::npos;
  req.set(http::field::host,
          (ipv6 ? "[" + endpoint.host + "]" : endpoint.host) + ":" + endpoint.port);
  req.set(http::field::user_agent, "vigie/0.1");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  req.body() = request.body;
  req.prepare_payload();

  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);

  // One chain of async operations on a private io_context, so that a single
  // deadline (expires_after) bounds connect, handshake, write and read together.
  if (!endpoint.https) {
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    connect(resolver, stream, endpoint, result,
            [&] { exchange(stream, req, parser, buffer, result); });
    ioc.run();
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  } else {
    const auto context = client_context(endpoint.tls, result.error);
    if (!context) return result;
    beast::ssl_stream<beast::tcp_stream> stream(ioc, *context);
    SSL* ssl_handle = stream.native_handle();
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
    if (is_ip_literal(endpoint.host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, endpoint.host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_handle, endpoint.host.c_str());
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      X509_VERIFY_PARAM_set1_host(param, endpoint.host.c_str(), endpoint.host.size());
    }
    beast::get_lowest_layer(stream).expires_after(timeout);
    connect(resolver, beast::get_lowest_layer(stream), endpoint, result, [&] {
      stream.async_handshake(ssl::stream_base::client, [&](beast::error_code ec) {
        if (ec) {
          result.error = "TLS handshake: " + ec.message();
          const long verify = SSL_get_verify_result(ssl_handle);
          if (verify != X509_V_OK)
            result.error += std::string(": ") + X509_verify_cert_error_string(verify);
          return;
        }
        exchange(stream, req, parser, buffer, result);
      });
    });
    ioc.run();
    // No close_notify round trip: one request per connection, and the
    // response is complete (its length is known) once read.
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  }
  if (!result.error.empty()) result.status = 0;
  return result;
}

}  // namespace vigie::protocol
