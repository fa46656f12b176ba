// A loopback HTTP server for tests that receive what the collector sends
// (webhooks, Alertmanager's notifications): records every request and
// answers with the status `respond` chooses (and "{}"), or with the status
// and JSON body an `Answer` gives for each request (a stand-in for a JSON
// API). Listens on 127.0.0.1, an
// ephemeral port; each connection is served on its own thread, so that a
// client holding an idle keep-alive connection (Alertmanager's Go client
// keeps one for 90 s) never keeps another client waiting. Stopped at
// destruction: the listener first, then every open connection is shut down.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vigie::collector::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

class HttpReceiver {
 public:
  // A status and a body for a request.
  using Answer = std::function<std::pair<int, std::string>(const ReceivedRequest&)>;

  // `respond` gives the status for request number n (0-based); default 200.
  explicit HttpReceiver(std::function<int(std::size_t)> respond = {})
      : HttpReceiver(Respond([respond = std::move(respond)](std::size_t n, const ReceivedRequest&) {
          return std::pair<int, std::string>{respond ? respond(n) : 200, "{}"};
        })) {}
  explicit HttpReceiver(Answer answer)
      : HttpReceiver(Respond([answer = std::move(answer)](std::size_t, const ReceivedRequest& r) {
          return answer(r);
        })) {}
  ~HttpReceiver() {
    stopping_ = true;
    boost::system::error_code ignored;
    // Wake the blocking accept with a connection of our own.
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket socket(ioc);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port()}, ignored);
    thread_.join();
    // A shutdown wakes a connection thread blocked reading its socket.
    std::vector<std::thread> connections;
    {
      std::lock_guard lock(mutex_);
      for (const auto& open : sockets_)
        open->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
      connections.swap(connections_);
    }
    for (auto& connection : connections) connection.join();
  }
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

  // Request number n and its answer, asked once the request is recorded
  // (requests() already holds it) and without the receiver's lock held.
  using Respond = std::function<std::pair<int, std::string>(std::size_t, const ReceivedRequest&)>;
  explicit HttpReceiver(Respond respond)
      : respond_(std::move(respond)),
        acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }

  std::vector<ReceivedRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  // Waits until `pred(requests())` holds or `limit` passed; its last answer.
  bool wait_for(const std::function<bool(const std::vector<ReceivedRequest>&)>& pred,
                std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return pred(requests_); });
  }

 private:
  void serve() {
    while (!stopping_) {
      auto socket = std::make_shared<boost::asio::ip::tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec || stopping_) continue;
      std::lock_guard lock(mutex_);
      sockets_.push_back(socket);
      connections_.emplace_back([this, socket] { serve_connection(*socket); });
    }
  }

  // Serves every request of one connection (keep-alive) until the client
  // closes it or the receiver stops.
  void serve_connection(boost::asio::ip::tcp::socket& socket) {
    namespace http = boost::beast::http;
    boost::system::error_code ec;
    boost::beast::flat_buffer buffer;
    while (!stopping_) {
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) break;
      ReceivedRequest received{
          std::string(request.method_string()), std::string(request.target()), {}, request.body()};
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        received.headers[name] = std::string(field.value());
      }
      std::size_t index = 0;
      {
        std::lock_guard lock(mutex_);
        index = requests_.size();
        requests_.push_back(received);
      }
      changed_.notify_all();
      auto answer = respond_(index, received);
      http::response<http::string_body> response;
      response.version(11);
      response.result(static_cast<unsigned>(answer.first));
      response.set(http::field::content_type, "application/json");
      response.keep_alive(request.keep_alive());
      response.body() = std::move(answer.second);
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || !request.keep_alive()) break;
    }
    socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  }

  Respond respond_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ReceivedRequest> requests_;
  std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;  // every accepted one
  std::vector<std::thread> connections_;
};

}  // namespace vigie::collector::testing
