// The only translation unit of the collector that includes Boost.Beast.
#include "vigie/collector/server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

namespace vigie::collector {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// After refusing an oversized body or an unauthenticated ingest, read and
// discard (never buffer) what the client is still sending, bounded, before
// closing, so that it sees the 413 or 401 instead of a connection reset.
constexpr std::size_t kMaxDrainBytes = 64u << 20;
constexpr auto kDrainTimeout = std::chrono::seconds(10);
// What the first read of a keep-alive connection's next request asks for.
constexpr std::size_t kFirstReadBytes = 4096;

using Message = http::response<http::string_body>;

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

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, const Config& config, Handler& handler,
          std::shared_ptr<ConnectionCount> open)
      : stream_(std::move(socket)), config_(config), handler_(handler), open_(std::move(open)) {}
  ~Session() { --*open_; }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::do_read_header, shared_from_this()));
  }

 private:
  // Between keep-alive requests: up to idle_timeout for the next one's first
  // bytes; its headers then get header_timeout like a new connection's.
  void do_wait_next() {
    if (buffer_.size() > 0) return do_read_header();  // pipelined
    stream_.expires_after(config_.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->do_close();
                              self->do_read_header();
                            });
  }

  void do_read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(config_.header_limit_bytes));
    parser_->body_limit(config_.body_limit_bytes);
    stream_.expires_after(config_.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&Session::on_read_header, shared_from_this()));
  }

  static Request request_of(const http::request<http::string_body>& message) {
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.authorization = std::string(message[http::field::authorization]);
    request.content_type = std::string(message[http::field::content_type]);
    request.content_encoding = std::string(message[http::field::content_encoding]);
    return request;
  }

  void on_read_header(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    // Authenticate before reading a body: a client without a token must not
    // make the collector buffer up to body_limit_bytes or wait read_timeout.
    if (auto refusal = handler_.refuse_before_body(request_of(parser_->get()))) {
      draining_ = true;
      return send(std::move(*refusal), false, parser_->get().version());
    }
    stream_.expires_after(config_.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return on_error(ec);
    auto& message = parser_->get();
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
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof) {
      return do_close();
    }
    const std::string target(parser_->get().target());
    const unsigned version = parser_->get().version() ? parser_->get().version() : 11;
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
    stream_.expires_after(config_.read_timeout);
    http::async_write(stream_, *message,
                      [self = shared_from_this(), message](beast::error_code ec, std::size_t) {
                        if (ec) return self->do_close();
                        if (!message->keep_alive())
                          return self->draining_ ? self->do_drain() : self->do_close();
                        self->do_wait_next();
                      });
  }

  void do_drain() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kDrainTimeout);
    read_some_discarded();
  }

  void read_some_discarded() {
    stream_.async_read_some(net::buffer(discard_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrainBytes) return self->do_close();
                              self->read_some_discarded();
                            });
  }

  void do_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const Config& config_;
  Handler& handler_;
  std::shared_ptr<ConnectionCount> open_;
  bool draining_ = false;
  std::size_t drained_ = 0;
  std::array<char, 64 * 1024> discard_{};
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, const Config& config, Handler& handler)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        retry_(acceptor_.get_executor()),
        config_(config),
        handler_(handler) {
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
      std::make_shared<Session>(std::move(socket), config_, handler_, open_)->run();
    }
    do_accept();
  }

  // A 503 written without waiting (it fits in a new connection's send
  // buffer; if not, the client just sees the close), then close.
  void refuse(tcp::socket socket) {
    Message message = to_message(handler_.reject(Rejection::kTooManyConnections, {}), false, 11);
    beast::error_code ignored;
    socket.non_blocking(true, ignored);
    http::write(socket, message, ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  const Config& config_;
  Handler& handler_;
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
  impl_->listener = std::make_shared<Listener>(*impl_->ioc, impl_->config, impl_->handler);
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
