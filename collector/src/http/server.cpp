// The only translation unit of the collector that includes Boost.Beast.
#include "http/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>

namespace vigie::collector {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// After refusing an oversized body or an unauthenticated ingest, read and
// discard (never buffer) what the client is still sending, bounded, before
// closing, so that it sees the 413 or 401 instead of a connection reset.
constexpr std::size_t kMaxDrainBytes = 64u << 20;
constexpr auto kDrainTimeout = std::chrono::seconds(10);
constexpr std::size_t kDiscardBytes = 64u << 10;  // read at a time while draining
// What the first read of a keep-alive connection's next request asks for.
constexpr std::size_t kFirstReadBytes = 4096;
// To send TLS close_notify and wait for the peer's before closing.
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(5);

using Message = http::response<http::string_body>;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

Message to_message(Response response, bool keep_alive, unsigned version) {
  Message message(static_cast<http::status>(response.status), version);
  message.set(http::field::server, "vigie-collector");
  message.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) message.set(name, value);
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive);
  message.prepare_payload();
  return message;
}

// Open connections, shared by the listener and its sessions.
using ConnectionCount = std::atomic<std::size_t>;

// One connection, plain (PlainStream) or TLS (TlsStream, handshake done by
// start_tls). `plain_on_tls_port`: a plain connection to a TLS port, whose
// first request is answered with a 400 in plain text and the connection
// closed, so that a curl http:// sees why.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  Session(Stream&& stream, beast::flat_buffer&& buffer, const Config& config, Handler& handler,
          std::shared_ptr<ConnectionCount> open, bool plain_on_tls_port = false)
      : stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        config_(config),
        handler_(handler),
        open_(std::move(open)),
        plain_on_tls_port_(plain_on_tls_port) {}
  ~Session() {
    release_held();
    --*open_;
    handler_.metrics().connections(-1);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    net::dispatch(lowest().get_executor(),
                  beast::bind_front_handler(&Session::do_read_header, this->shared_from_this()));
  }

  // TLS: the handshake, bounded by tls.handshake_timeout, over what the
  // detector already read; then requests as on a plain connection.
  void start_tls() {
    static_assert(kTls);
    lowest().expires_after(config_.tls.handshake_timeout);
    stream_.async_handshake(
        ssl::stream_base::server, buffer_.data(),
        beast::bind_front_handler(&Session::on_handshake, this->shared_from_this()));
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void on_handshake(beast::error_code ec, std::size_t used) {
    if (ec) {
      // Bad or no client certificate, no shared protocol version or cipher,
      // a timeout: nothing HTTP can be said; count and close.
      spdlog::debug("TLS handshake from {} failed: {}", peer(), ec.message());
      handler_.count_rejection(Rejection::kTlsHandshake);
      return close_socket();
    }
    buffer_.consume(used);
    do_read_header();
  }

  std::string peer() {
    beast::error_code ec;
    const auto endpoint = lowest().socket().remote_endpoint(ec);
    return ec ? std::string("?") : endpoint.address().to_string();
  }

  // Between keep-alive requests: up to idle_timeout for the next one's first
  // bytes; its headers then get header_timeout like a new connection's.
  void do_wait_next() {
    if (buffer_.size() > 0) return do_read_header();  // pipelined
    lowest().expires_after(config_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->do_close();
                              self->do_read_header();
                            });
  }

  void do_read_header() {
    reading_body_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(config_.header_limit_bytes));
    parser_->body_limit(config_.body_limit_bytes);
    lowest().expires_after(config_.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::on_read_header, this->shared_from_this()));
  }

  static Request request_of(const http::request<http::string_body>& message) {
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.authorization = std::string(message[http::field::authorization]);
    request.content_type = std::string(message[http::field::content_type]);
    request.content_encoding = std::string(message[http::field::content_encoding]);
    request.if_none_match = std::string(message[http::field::if_none_match]);
    request.if_match = std::string(message[http::field::if_match]);
    return request;
  }

  void on_read_header(beast::error_code ec, std::size_t header_bytes) {
    if (ec) return on_error(ec);
    hold(held_header_, header_bytes, &Metrics::request_header_bytes);
    if (plain_on_tls_port_) {
      draining_ = true;
      return send(handler_.reject(Rejection::kPlainHttpOnTls, parser_->get().target()), false,
                  parser_->get().version());
    }
    // Authenticate before reading a body: a client without a token must not
    // make the collector buffer up to body_limit_bytes or wait read_timeout.
    if (auto refusal = handler_.refuse_before_body(request_of(parser_->get()))) {
      draining_ = true;
      return send(std::move(*refusal), false, parser_->get().version());
    }
    lowest().expires_after(config_.read_timeout);
    reading_body_ = true;
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, this->shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    auto& message = parser_->get();
    hold(held_body_, message.body().size(), &Metrics::request_body_bytes);
    Request request = request_of(message);
    request.body = std::move(message.body());
    Response response;
    try {
      response = handler_.handle(request);
    } catch (const std::exception& e) {
      spdlog::error("{} {}: {}", request.method, request.target, e.what());
      response = {500, "application/json", R"({"error":"internal error"})", {}};
    }
    send(std::move(response), message.keep_alive(), message.version());
  }

  void on_error(beast::error_code ec) {
    if (ec == beast::error::timeout && !plain_on_tls_port_) {
      // Slowloris (headers) or a slow POST (body): closed without an answer.
      handler_.count_rejection(reading_body_ ? Rejection::kReadTimeout : Rejection::kHeaderTimeout);
      return do_close();
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == ssl::error::stream_truncated) {
      return do_close();
    }
    const std::string target(parser_->get().target());
    const unsigned version = parser_->get().version() ? parser_->get().version() : 11;
    if (plain_on_tls_port_) {
      draining_ = true;
      return send(handler_.reject(Rejection::kPlainHttpOnTls, target), false, version);
    }
    if (ec == http::error::body_limit) {
      draining_ = true;
      return send(handler_.reject(Rejection::kTooLarge, target), false, version);
    }
    if (ec == http::error::header_limit)
      return send(handler_.reject(Rejection::kHeaderTooLarge, target), false, version);
    send(handler_.reject(Rejection::kMalformedHttp, target, ec.message()), false, version);
  }

  void send(Response response, bool keep_alive, unsigned version) {
    auto message = std::make_shared<Message>(to_message(std::move(response), keep_alive, version));
    lowest().expires_after(config_.read_timeout);
    http::async_write(
        stream_, *message,
        [self = this->shared_from_this(), message](beast::error_code ec, std::size_t) {
          self->release_held();
          if (ec) return self->do_close();
          if (!message->keep_alive()) return self->draining_ ? self->do_drain() : self->do_close();
          self->do_wait_next();
        });
  }

  void do_drain() {
    // Plain: a FIN says the answer is complete. TLS: a TCP half-close would
    // truncate the TLS stream, so the answer's Content-Length says it.
    if constexpr (!kTls) {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    lowest().expires_after(kDrainTimeout);
    discard_ = std::make_unique<char[]>(kDiscardBytes);
    read_some_discarded();
  }

  void read_some_discarded() {
    stream_.async_read_some(net::buffer(discard_.get(), kDiscardBytes),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrainBytes)
                                return self->close_socket();
                              self->read_some_discarded();
                            });
  }

  void do_close() {
    if constexpr (kTls) {
      // close_notify, bounded: the peer may be gone or never answer.
      lowest().expires_after(kTlsShutdownTimeout);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close_socket(); });
    } else {
      close_socket();
    }
  }

  // Request bytes held from when they are read until the answer is sent,
  // exported as vigie_collector_request_{header,body}_bytes.
  void hold(std::size_t& held, std::size_t bytes, void (Metrics::*gauge)(double)) {
    held += bytes;
    (handler_.metrics().*gauge)(static_cast<double>(bytes));
  }
  void release_held() {
    if (held_header_ != 0)
      handler_.metrics().request_header_bytes(-static_cast<double>(held_header_));
    if (held_body_ != 0) handler_.metrics().request_body_bytes(-static_cast<double>(held_body_));
    held_header_ = held_body_ = 0;
  }

  void close_socket() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const Config& config_;
  Handler& handler_;
  std::shared_ptr<ConnectionCount> open_;
  const bool plain_on_tls_port_;
  bool draining_ = false;
  bool reading_body_ = false;  // which timeout a timeout is: read_timeout, else header_timeout
  std::size_t held_header_ = 0;
  std::size_t held_body_ = 0;
  std::size_t drained_ = 0;
  // Only for draining, so that an idle or slow connection costs a few KiB.
  std::unique_ptr<char[]> discard_;
};

// On a TLS port, reads the first bytes (bounded by tls.handshake_timeout)
// to tell a TLS ClientHello from plain HTTP, then hands the connection to a
// TLS session or to a plain one that answers 400.
class Detector : public std::enable_shared_from_this<Detector> {
 public:
  Detector(tcp::socket&& socket, ssl::context& context, const Config& config, Handler& handler,
           std::shared_ptr<ConnectionCount> open)
      : stream_(std::move(socket)),
        context_(context),
        config_(config),
        handler_(handler),
        open_(std::move(open)) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->stream_.expires_after(self->config_.tls.handshake_timeout);
      beast::async_detect_ssl(self->stream_, self->buffer_,
                              beast::bind_front_handler(&Detector::on_detect, self));
    });
  }

 private:
  void on_detect(beast::error_code ec, bool tls) {
    if (ec) {
      // Nothing arrived in time, or the peer went away before a byte.
      handler_.count_rejection(Rejection::kTlsHandshake);
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.close();
      --*open_;
      handler_.metrics().connections(-1);
      return;
    }
    // The open connection passes to the session (which decrements it).
    if (tls) {
      std::make_shared<Session<TlsStream>>(TlsStream(std::move(stream_), context_),
                                           std::move(buffer_), config_, handler_, open_)
          ->start_tls();
    } else {
      std::make_shared<Session<PlainStream>>(std::move(stream_), std::move(buffer_), config_,
                                             handler_, open_, true)
          ->run();
    }
  }

  beast::tcp_stream stream_;
  ssl::context& context_;
  beast::flat_buffer buffer_;
  const Config& config_;
  Handler& handler_;
  std::shared_ptr<ConnectionCount> open_;
};

// The server's TLS context from config.tls; throws std::runtime_error naming
// the file that cannot be used.
std::unique_ptr<ssl::context> make_tls_context(const ServerTls& tls) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, tls.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::single_dh_use |
                       ssl::context::no_compression);
  // Renegotiation is a DoS vector and HTTP/1.1 over TLS 1.2 never needs it.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  beast::error_code ec;
  if (context->use_certificate_chain_file(tls.cert_file, ec); ec)
    throw std::runtime_error("tls.cert_file " + tls.cert_file + ": " + ec.message());
  if (context->use_private_key_file(tls.key_file, ssl::context::pem, ec); ec)
    throw std::runtime_error("tls.key_file " + tls.key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1)
    throw std::runtime_error("tls.key_file " + tls.key_file + " does not match tls.cert_file " +
                             tls.cert_file);
  if (!tls.client_ca_file.empty()) {
    if (context->load_verify_file(tls.client_ca_file, ec); ec)
      throw std::runtime_error("tls.client_ca_file " + tls.client_ca_file + ": " + ec.message());
    // The CA names sent in the CertificateRequest, so that clients with
    // several certificates pick the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str()))
      SSL_CTX_set_client_CA_list(native, names);
    context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, const Config& config, Handler& handler, ssl::context* tls)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        retry_(acceptor_.get_executor()),
        config_(config),
        handler_(handler),
        tls_(tls) {
    beast::error_code ec;
    const auto address = net::ip::make_address(config.listen_address, ec);
    if (ec) throw std::runtime_error("invalid listen address '" + config.listen_address + "'");
    const tcp::endpoint endpoint(address, config.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + config.listen_address + ":" +
                               std::to_string(config.port) + ": " + ec.message());
    }
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void start() { do_accept(); }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Typically out of file descriptors: back off instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      retry_.expires_after(std::chrono::milliseconds(100));
      retry_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) self->do_accept();
      });
      return;
    }
    if (open_->load() >= config_.max_connections) {
      refuse(std::move(socket));
    } else {
      ++*open_;
      handler_.metrics().connections(+1);
      if (tls_ != nullptr) {
        std::make_shared<Detector>(std::move(socket), *tls_, config_, handler_, open_)->run();
      } else {
        std::make_shared<Session<PlainStream>>(PlainStream(std::move(socket)), beast::flat_buffer(),
                                               config_, handler_, open_)
            ->run();
      }
    }
    do_accept();
  }

  // A 503 written without waiting (it fits in a new connection's send
  // buffer; if not, the client just sees the close), then close. On a TLS
  // port nothing can be written before a handshake: the close says it.
  void refuse(tcp::socket socket) {
    Message message = to_message(handler_.reject(Rejection::kTooManyConnections, {}), false, 11);
    beast::error_code ignored;
    if (tls_ == nullptr) {
      socket.non_blocking(true, ignored);
      http::write(socket, message, ignored);
    }
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  const Config& config_;
  Handler& handler_;
  ssl::context* tls_;
  std::shared_ptr<ConnectionCount> open_ = std::make_shared<ConnectionCount>(0);
};

}  // namespace

struct Server::Impl {
  Impl(const Config& config_in, Handler& handler_in)
      : config(config_in),
        handler(handler_in),
        ioc(std::in_place, static_cast<int>(config_in.threads)) {}

  const Config config;
  Handler& handler;
  std::unique_ptr<ssl::context> tls;  // outlives every session (ioc is reset first)
  // Reset at stop: destroying the io_context destroys every pending
  // handler, hence every session and the listener, closing their sockets.
  std::optional<net::io_context> ioc;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;
};

Server::Server(const Config& config, Handler& handler)
    : impl_(std::make_unique<Impl>(config, handler)) {}

Server::~Server() { stop(); }

void Server::start() {
  if (impl_->listener || impl_->stopped) throw std::logic_error("Server::start called twice");
  if (impl_->config.tls.enabled()) impl_->tls = make_tls_context(impl_->config.tls);
  impl_->listener =
      std::make_shared<Listener>(*impl_->ioc, impl_->config, impl_->handler, impl_->tls.get());
  impl_->port = impl_->listener->port();
  impl_->listener->start();
  for (unsigned i = 0; i < std::max(1u, impl_->config.threads); ++i) {
    impl_->threads.emplace_back([this] { impl_->ioc->run(); });
  }
}

uint16_t Server::port() const { return impl_->port; }

void Server::stop() {
  if (!impl_->listener || impl_->stopped) return;
  impl_->stopped = true;
  impl_->ioc->stop();
  for (auto& thread : impl_->threads) thread.join();
  impl_->listener.reset();
  impl_->ioc.reset();
}

}  // namespace vigie::collector
