// A real Prometheus Alertmanager (/usr/bin/prometheus-alertmanager, Debian's
// prometheus-alertmanager) on loopback, clustering off, routing every alert
// to `<receiver_url>/alertmanager` (a webhook the test runs); killed at
// destruction. Its log and API are there to read.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/processes.h"
#include "vigie/protocol/http_client.h"

namespace vigie::collector::testing {

inline constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

// A real Alertmanager, killed at destruction.
class AlertmanagerProcess {
 public:
  AlertmanagerProcess(const std::filesystem::path& dir, const std::string& receiver_url)
      : port_(integration::free_port()) {
    const auto config = dir / "alertmanager.yml";
    std::ofstream(config) << "route:\n"
                             "  receiver: vigie-test\n"
                             "  group_by: ['alertname', 'host']\n"
                             "  group_wait: 1s\n"
                             "  group_interval: 1s\n"
                             "  repeat_interval: 1h\n"
                             "receivers:\n"
                             "  - name: vigie-test\n"
                             "    webhook_configs:\n"
                             "      - url: " +
                                 receiver_url +
                                 "/alertmanager\n"
                                 "        send_resolved: true\n";
    std::filesystem::create_directories(dir / "am-data");
    log_ = dir / "alertmanager.log";
    pid_ = integration::spawn(
        {kAlertmanager, "--config.file=" + config.string(),
         "--storage.path=" + (dir / "am-data").string(),
         "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--cluster.listen-address="},
        log_);
  }
  ~AlertmanagerProcess() { integration::stop(pid_); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return integration::read_file(log_); }

  protocol::HttpResponse get(const std::string& target) const {
    protocol::Endpoint endpoint;
    endpoint.host = "127.0.0.1";
    endpoint.port = std::to_string(port_);
    return protocol::send(endpoint, {"GET", target, {}, {}}, std::chrono::seconds(5));
  }

 private:
  uint16_t port_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

}  // namespace vigie::collector::testing
