// vigie-agent: the node agent (eBPF sensor, power, edge rules, uplink).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>

#include "vigie/agent/agent.h"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigie-agent: eBPF security events, energy and carbon for this node"};
  std::string config_path = "/etc/vigie/vigie-agent.yaml";
  app.add_option("-c,--config", config_path, "YAML configuration file")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    vigie::agent::Config config = vigie::agent::load_config(config_path);
    spdlog::set_level(spdlog::level::from_str(config.log_level));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    spdlog::info("vigie-agent {} on {} (site {}), sending to {}", config.agent_id, config.host,
                 config.site, config.collector_url);
    vigie::agent::Agent agent(std::move(config));
    agent.run(g_stop);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  spdlog::info("vigie-agent stopped");
  return 0;
}
