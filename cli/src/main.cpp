// vigie: the operator's command line over the collector's JSON API.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api.h"
#include "csirt_command.h"
#include "format.h"
#include "job_command.h"
#include "report_command.h"
#include "rules_command.h"
#include "table.h"
#include "vigie/protocol/event.h"
#include "vigie/protocol/http_client.h"

namespace {

using nlohmann::json;
using vigie::cli::ApiAnswer;
using vigie::cli::kExitError;
using vigie::cli::kExitUnreachable;
using vigie::cli::local_time;
using vigie::cli::parse_duration_ns;
using vigie::cli::query;
using vigie::cli::Table;

struct Options {
  std::string collector = "http://127.0.0.1:9800";
  bool json = false;
  unsigned timeout_s = 10;
  std::string token;       // API token (Authorization: Bearer)
  std::string token_file;  // or a file holding it
  vigie::protocol::ClientTls tls;
};

// The API token from --token or --token-file (whitespace around it trimmed);
// "" when neither is given. Exits when the file cannot be read.
std::string api_token(const Options& options) {
  std::string token = options.token;
  if (token.empty() && !options.token_file.empty()) {
    std::ifstream in(options.token_file);
    if (!in) {
      std::cerr << "vigie: cannot read --token-file " << options.token_file << '\n';
      std::exit(kExitError);
    }
    std::getline(in, token);
  }
  const auto first = token.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return token.substr(first, token.find_last_not_of(" \t\r\n") - first + 1);
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string watts(double value) { return fixed(value, value < 10 ? 2 : 1) + " W"; }
std::string energy(double joules) {
  return joules < 360'000 ? fixed(joules, joules < 10 ? 2 : 0) + " J"
                          : fixed(joules / 3.6e6, 3) + " kWh";
}
std::string grams(double value) { return fixed(value, value < 10 ? 3 : 1) + " g"; }
std::string estimated(const json& object) {
  return object.value("estimated", false) ? "(estimated)" : "";
}

std::string workload_text(const json& workload) {
  std::string kind = workload.value("kind", "");
  const std::string id = workload.value("id", "");
  if (kind == "host" || kind == "unattributed") return kind;
  return kind + ":" + id;
}

// Sends `request` with the API token and returns the answer, or exits with a
// message saying why not (vigie::cli::Api). A handled error's body is its
// JSON, or {"error": "<the body>"} when it is not JSON.
ApiAnswer call_api(const Options& options, vigie::protocol::HttpRequest request,
                   const std::vector<int>& handled = {}) {
  const auto endpoint = vigie::protocol::Endpoint::parse(options.collector, options.tls);
  if (!endpoint) {
    std::cerr << "vigie: bad --collector: " << endpoint.error() << '\n';
    std::exit(kExitError);
  }
  if (const std::string token = api_token(options); !token.empty())
    request.headers.emplace_back("Authorization", "Bearer " + token);
  const auto response =
      vigie::protocol::send(*endpoint, request, std::chrono::seconds(options.timeout_s));
  if (response.status == 0) {
    std::cerr << "vigie: cannot reach the collector at " << options.collector << ": "
              << response.error << '\n';
    std::exit(kExitUnreachable);
  }
  json body = json::parse(response.body, nullptr, false);
  if (!response.ok()) {
    const std::string message =
        body.is_object() && body.contains("error") && body["error"].is_string()
            ? body["error"].get<std::string>()
            : response.body;
    if (std::find(handled.begin(), handled.end(), response.status) != handled.end()) {
      if (!body.is_object()) body = json{{"error", message}};
      return {response.status, std::move(body)};
    }
    std::cerr << "vigie: the collector answered " << response.status << ": " << message << '\n';
    if (response.status == 401)
      std::cerr << "vigie: give an API token with --token-file FILE (env VIGIE_TOKEN_FILE) or "
                   "--token (env VIGIE_TOKEN)\n";
    std::exit(kExitError);
  }
  const bool wants_json =
      std::none_of(request.headers.begin(), request.headers.end(), [](const auto& h) {
        return h.first == "Accept" && h.second.find("json") == std::string::npos;
      });
  if (body.is_discarded()) {
    if (!wants_json) return {response.status, json(), response.body};
    std::cerr << "vigie: the collector's answer to " << request.target << " is not JSON\n";
    std::exit(kExitError);
  }
  return {response.status, std::move(body), response.body};
}

// GETs `target`, or exits with a message saying why not.
json fetch(const Options& options, const std::string& target) {
  vigie::protocol::HttpRequest get;
  get.target = target;
  return call_api(options, std::move(get)).body;
}

std::string since_param(const std::string& since) {
  if (since.empty()) return {};
  const auto duration = parse_duration_ns(since);
  if (!duration) {
    std::cerr << "vigie: --since expects a duration such as 90s, 10m, 2h or 7d, got '" << since
              << "'\n";
    std::exit(kExitError);
  }
  const uint64_t now = vigie::protocol::wall_clock_ns();
  return std::to_string(*duration > now ? 0 : now - *duration);
}

void print_alerts(const json& body) {
  Table table({"TIME", "LEVEL", "RULE", "HOST", "USER", "PID", "WORKLOAD", "COMMAND LINE"});
  for (const auto& alert : body.at("alerts")) {
    table.add({local_time(alert.value("time_ns", 0ull)), alert.value("level", ""),
               alert.value("rule_title", ""), alert.value("host", ""), alert.value("user", ""),
               std::to_string(alert.value("pid", 0u)),
               workload_text(alert.value("workload", json::object())),
               alert.value("command_line", "").empty() ? alert.value("image", "")
                                                       : alert.value("command_line", "")});
  }
  table.print(std::cout, "no alerts");
}

// "ip:port", IPv6 in brackets; "" when there is no address.
std::string endpoint(const json& event, const char* ip_key, const char* port_key) {
  const std::string ip = event.value(ip_key, "");
  if (ip.empty()) return "";
  return (event.value("ipv6", false) ? "[" + ip + "]" : ip) + ":" +
         std::to_string(event.value(port_key, 0));
}

// " failed (errno N)" / " refused (-N)" style suffix; "" on success.
std::string failure(int code, const char* word) {
  return code == 0 ? "" : std::string(" ") + word + " (" + std::to_string(code) + ")";
}

// One line saying what happened, per event kind (the API's JSON shape).
std::string event_detail(const json& event) {
  const std::string kind = event.value("kind", "");
  std::string image = event.value("image", "");
  if (kind == "process_exec") {
    std::string detail = event.value("command_line", "");
    if (event.value("argv_truncated", false)) detail += " [truncated]";
    return detail + failure(event.value("exec_errno", 0), "failed, errno");
  }
  if (kind == "fileless_exec") {
    return std::string(event.value("memfd", false) ? "memfd " : "deleted file ") + image + ": " +
           event.value("command_line", "");
  }
  if (kind == "process_exit") {
    const int signal = event.value("signal", 0);
    return image + (signal ? " killed by signal " + std::to_string(signal)
                           : " exit " + std::to_string(event.value("exit_code", 0)));
  }
  if (kind == "process_fork")
    return image + " → pid " + std::to_string(event.value("child_pid", 0));
  if (kind == "network_connect" || kind == "network_accept") {
    const std::string arrow = kind == "network_connect" ? " → " : " ← ";
    const std::string peer = kind == "network_connect"
                                 ? endpoint(event, "destination_ip", "destination_port")
                                 : endpoint(event, "source_ip", "source_port");
    return image + arrow + event.value("transport", "") + " " + peer;
  }
  if (kind == "network_listen") {
    return image + " listens on " + event.value("transport", "") + " " +
           endpoint(event, "source_ip", "source_port");
  }
  if (kind == "file_open") {
    return image + (event.value("write", false) ? " writes " : " reads ") +
           event.value("path", "") + failure(event.value("result", 0), "refused");
  }
  if (kind == "privilege_change") {
    return image + " " + event.value("syscall", "") + " uid " +
           std::to_string(event.value("old_euid", 0u)) + "→" +
           std::to_string(event.value("new_euid", 0u)) + " gid " +
           std::to_string(event.value("old_egid", 0u)) + "→" +
           std::to_string(event.value("new_egid", 0u)) +
           failure(event.value("result", 0), "refused");
  }
  if (kind == "ptrace") {
    return image + " ptrace(" + std::to_string(event.value("request", 0)) + ") pid " +
           std::to_string(event.value("target_pid", 0u)) + " " + event.value("target_image", "") +
           failure(event.value("result", 0), "refused");
  }
  return image;
}

void print_events(const json& body) {
  Table table({"TIME", "KIND", "HOST", "USER", "PID", "PPID", "WORKLOAD", "DETAIL"});
  for (const auto& event : body.at("events")) {
    table.add({local_time(event.value("time_ns", 0ull)), event.value("kind", ""),
               event.value("host", ""), event.value("user", ""),
               std::to_string(event.value("pid", 0u)), std::to_string(event.value("ppid", 0u)),
               workload_text(event.value("workload", json::object())), event_detail(event)});
  }
  table.print(std::cout, "no events");
}

void print_energy(const json& body) {
  const auto& window = body.at("window");
  std::cout << "Window " << local_time(window.value("start_ns", 0ull)) << " → "
            << local_time(window.value("end_ns", 0ull)) << "\n\nNodes\n";
  Table nodes({"SITE", "HOST", "POWER", "ENERGY", "CARBON", "ZONES", ""});
  for (const auto& node : body.at("nodes")) {
    std::string zones;
    for (const auto& zone : node.value("zones", json::array())) {
      if (!zones.empty()) zones += ", ";
      zones += zone.value("zone", "") + " " + watts(zone.value("power_watts", 0.0));
    }
    nodes.add({node.value("site", ""), node.value("host", ""),
               watts(node.value("power_watts", 0.0)), energy(node.value("energy_joules", 0.0)),
               grams(node.value("carbon_gco2e", 0.0)), zones, estimated(node)});
  }
  nodes.print(std::cout, "no energy samples in this window");
  std::cout << "\nWorkloads\n";
  Table workloads({"HOST", "WORKLOAD", "USER", "POWER", "ENERGY", "CPU", "CARBON", ""});
  for (const auto& workload : body.at("workloads")) {
    const auto& w = workload.at("workload");
    workloads.add({workload.value("host", ""), workload_text(w), w.value("user", ""),
                   watts(workload.value("power_watts", 0.0)),
                   energy(workload.value("energy_joules", 0.0)),
                   fixed(workload.value("cpu_seconds", 0.0), 1) + " s",
                   grams(workload.value("carbon_gco2e", 0.0)), estimated(workload)});
  }
  workloads.print(std::cout, "no workload samples in this window");
}

void print_agents(const json& body) {
  Table table({"AGENT", "SITE", "HOST", "LAST SEEN", "SEQUENCE", "RING BUFFER DROPS", "RULE PACK"});
  for (const auto& agent : body.at("agents")) {
    table.add({agent.value("agent_id", ""), agent.value("site", ""), agent.value("host", ""),
               local_time(agent.value("last_seen_ns", 0ull)),
               std::to_string(agent.value("last_sequence", 0ull)),
               std::to_string(agent.value("ringbuf_drops_total", 0ull)),
               agent.value("rule_pack_version", "")});
  }
  table.print(std::cout, "no agents");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigie: alerts, events, energy and CSIRT incidents from a Vigie collector"};
  app.require_subcommand(1);
  // Global options are accepted after the subcommand too (`vigie job 42 --json`):
  // subcommands made below inherit this and hand what they do not know to app.
  app.fallthrough();
  Options options;
  if (const char* env = std::getenv("VIGIE_COLLECTOR"); env && *env) options.collector = env;
  app.add_option("--collector", options.collector,
                 "collector URL, http://HOST:PORT or https://HOST:PORT (env VIGIE_COLLECTOR)")
      ->capture_default_str();
  app.add_flag("--json", options.json, "print the API's JSON, pretty");
  app.add_option("--timeout", options.timeout_s, "seconds to wait for the collector")
      ->capture_default_str();
  app.add_option("--token", options.token,
                 "API token (Authorization: Bearer); prefer --token-file, argv is visible to "
                 "other users")
      ->envname("VIGIE_TOKEN");
  app.add_option("--token-file", options.token_file, "file holding the API token")
      ->envname("VIGIE_TOKEN_FILE");
  app.add_option("--ca-file", options.tls.ca_file,
                 "PEM CA certificates to verify an https:// collector (default: the system's)")
      ->envname("VIGIE_CA_FILE");
  app.add_option("--client-cert", options.tls.cert_file,
                 "PEM client certificate for a collector that requires one (mTLS)")
      ->envname("VIGIE_CLIENT_CERT");
  app.add_option("--client-key", options.tls.key_file, "PEM private key of --client-cert")
      ->envname("VIGIE_CLIENT_KEY");

  std::string host, since, kind;
  unsigned limit = 50;
  auto* alerts = app.add_subcommand("alerts", "latest alerts, newest first");
  alerts->add_option("--host", host, "only this host");
  alerts->add_option("--since", since, "only the last DURATION (90s, 10m, 2h, 7d)");
  alerts->add_option("--limit", limit, "at most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();

  auto* events = app.add_subcommand("events", "latest security events, newest first");
  events->add_option("--kind", kind,
                     "one event kind: process_exec, process_exit, process_fork, fileless_exec, "
                     "network_connect, network_accept, network_listen, file_open, "
                     "privilege_change, ptrace");
  events->add_option("--host", host, "only this host");
  events->add_option("--since", since, "only the last DURATION (90s, 10m, 2h, 7d)");
  events->add_option("--limit", limit, "at most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();

  auto* energy_cmd = app.add_subcommand("energy", "power and energy per node and workload");
  energy_cmd->add_option("--host", host, "only this host");
  energy_cmd->add_option("--since", since, "window: the last DURATION (default 5m)");

  auto* agents = app.add_subcommand("agents", "agents and when they were last heard from");
  std::string job_id;
  auto* job_cmd = vigie::cli::add_job_command(app, job_id);
  int rules_exit = 0;
  auto* rules_cmd = vigie::cli::add_rules_command(app, rules_exit);
  const vigie::cli::CsirtCommands csirt(app);
  const vigie::cli::ReportCommands reports(app);
  CLI11_PARSE(app, argc, argv);
  if (rules_cmd->parsed()) return rules_exit;
  if (reports.parsed()) {
    return reports.run(
        [&options](vigie::protocol::HttpRequest r, const std::vector<int>& handled) {
          return call_api(options, std::move(r), handled);
        },
        options.json, std::cout);
  }
  if (csirt.parsed()) {
    return csirt.run(
        [&options](vigie::protocol::HttpRequest r, const std::vector<int>& handled) {
          return call_api(options, std::move(r), handled);
        },
        options.json, std::chrono::seconds(options.timeout_s), std::cout);
  }

  json body;
  void (*print)(const json&) = nullptr;
  if (alerts->parsed()) {
    body = fetch(options, "/api/v1/alerts" + query({{"host", host},
                                                    {"since", since_param(since)},
                                                    {"limit", std::to_string(limit)}}));
    print = print_alerts;
  } else if (events->parsed()) {
    body = fetch(options, "/api/v1/events" + query({{"kind", kind},
                                                    {"host", host},
                                                    {"since", since_param(since)},
                                                    {"limit", std::to_string(limit)}}));
    print = print_events;
  } else if (energy_cmd->parsed()) {
    body =
        fetch(options, "/api/v1/energy" + query({{"host", host}, {"since", since_param(since)}}));
    print = print_energy;
  } else if (agents->parsed()) {
    body = fetch(options, "/api/v1/agents");
    print = print_agents;
  } else if (job_cmd->parsed()) {
    body = fetch(options, vigie::cli::job_footprint_target(job_id));
    print = [](const json& b) { vigie::cli::print_job_footprint(b, std::cout); };
  }
  try {
    if (options.json) {
      std::cout << body.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    } else {
      print(body);
    }
  } catch (const json::exception& e) {
    std::cerr << "vigie: unexpected answer from the collector: " << e.what() << '\n';
    return kExitError;
  }
  return 0;
}
