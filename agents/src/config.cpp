#include "vigie/agent/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "vigie/config/yaml.h"

namespace vigie::agent {
namespace {

namespace fs = std::filesystem;
namespace cfg = vigie::config;

std::string resolve(const std::string& path, const std::string& base_dir) {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& base_dir,
                    const std::string& source) {
  const YAML::Node root = cfg::load(source, yaml_text);
  Config c;
  if (root.IsNull()) return c;
  bool collector_urls_given = false;
  auto str = [&source](std::string& out, const char* key) {
    return [&out, key, &source](const YAML::Node& n) {
      out = cfg::scalar<std::string>(source, n, key);
    };
  };
  auto flag = [&source](bool& out, const char* key) {
    return [&out, key, &source](const YAML::Node& n) { out = cfg::scalar<bool>(source, n, key); };
  };
  auto number = [&source](auto& out, const char* key, double min, double max) {
    return [&out, key, min, max, &source](const YAML::Node& n) {
      using T = std::remove_reference_t<decltype(out)>;
      const double v = cfg::scalar<double>(source, n, key);
      if (!(v >= min && v <= max)) {  // also refuses NaN
        std::ostringstream msg;
        msg << "'" << key << "' must be within [" << min << ", " << max << "]";
        cfg::fail(source, n, msg.str());
      }
      out = static_cast<T>(v);
    };
  };
  cfg::for_each_key(
      source, root, "",
      {{"agent_id", str(c.agent_id, "agent_id")},
       {"site", str(c.site, "site")},
       {"host", str(c.host, "host")},
       {"state_dir", str(c.state_dir, "state_dir")},
       {"cgroup_root", str(c.cgroup_root, "cgroup_root")},
       {"proc_root", str(c.proc_root, "proc_root")},
       {"log_level", str(c.log_level, "log_level")},
       {"collector",
        [&](const YAML::Node& n) {
          cfg::for_each_key(
              source, n, "collector.",
              {{"url", str(c.collector_url, "collector.url")},
               {"urls",
                [&](const YAML::Node& urls) {
                  if (!urls.IsSequence() || urls.size() == 0)
                    cfg::fail(source, urls, "'collector.urls' must be a non-empty list of URLs");
                  c.collector_urls.clear();
                  collector_urls_given = true;
                  for (const auto& u : urls) {
                    auto url = cfg::scalar<std::string>(source, u, "collector.urls");
                    if (std::find(c.collector_urls.begin(), c.collector_urls.end(), url) !=
                        c.collector_urls.end())
                      cfg::fail(source, u, "'collector.urls' lists " + url + " twice");
                    c.collector_urls.push_back(std::move(url));
                  }
                }},
               {"failback_interval_ms", number(c.collector_failback_interval_ms,
                                               "collector.failback_interval_ms", 0, 86'400'000)},
               {"token", str(c.token, "collector.token")},
               {"token_file", str(c.token_file, "collector.token_file")},
               {"ca_file", str(c.collector_ca_file, "collector.ca_file")},
               {"client_cert_file",
                str(c.collector_client_cert_file, "collector.client_cert_file")},
               {"client_key_file", str(c.collector_client_key_file, "collector.client_key_file")},
               {"flush_interval_ms",
                number(c.flush_interval_ms, "collector.flush_interval_ms", 10, 60000)}});
          if (n["url"] && n["urls"])
            cfg::fail(source, n, "give 'collector.url' or 'collector.urls', not both");
        }},
       {"metrics",
        [&](const YAML::Node& n) {
          cfg::for_each_key(source, n, "metrics.",
                            {{"listen", str(c.metrics_listen, "metrics.listen")}});
        }},
       {"rules",
        [&](const YAML::Node& n) {
          cfg::for_each_key(
              source, n, "rules.",
              {{"path",
                [&](const YAML::Node& paths) {
                  c.rules_paths.clear();
                  if (!paths.IsSequence()) {
                    c.rules_paths.push_back(cfg::scalar<std::string>(source, paths, "rules.path"));
                    return;
                  }
                  for (const auto& p : paths)
                    c.rules_paths.push_back(cfg::scalar<std::string>(source, p, "rules.path"));
                }},
               {"ioc_lists",
                [&](const YAML::Node& lists) {
                  if (!lists.IsMap())
                    cfg::fail(source, lists, "'rules.ioc_lists' must map set names to files");
                  for (const auto& kv : lists) {
                    c.rules_ioc_lists[cfg::scalar<std::string>(source, kv.first,
                                                               "rules.ioc_lists")] =
                        cfg::scalar<std::string>(source, kv.second, "rules.ioc_lists");
                  }
                }},
               {"reload_interval_ms",
                number(c.rules_reload_interval_ms, "rules.reload_interval_ms", 0, 3600000)},
               {"pull", [&](const YAML::Node& pull) {
                  auto& p = c.rules_pull;
                  auto names = [&source](std::vector<std::string>& out, const char* key) {
                    return [&out, key, &source](const YAML::Node& list) {
                      if (!list.IsSequence())
                        cfg::fail(source, list, std::string("'") + key + "' must be a list");
                      for (const auto& item : list)
                        out.push_back(cfg::scalar<std::string>(source, item, key));
                    };
                  };
                  cfg::for_each_key(
                      source, pull, "rules.pull.",
                      {{"url", str(p.url, "rules.pull.url")},
                       {"interval_seconds",
                        number(p.interval_seconds, "rules.pull.interval_seconds", 10, 86400)},
                       {"dir", str(p.dir, "rules.pull.dir")},
                       {"packs", names(p.packs, "rules.pull.packs")},
                       {"iocs", names(p.iocs, "rules.pull.iocs")}});
                }}});
        }},
       {"sensor",
        [&](const YAML::Node& n) {
          auto& s = c.sensor;
          cfg::for_each_key(
              source, n, "sensor.",
              {{"enabled", flag(s.enabled, "sensor.enabled")},
               {"ringbuf_bytes", number(s.ringbuf_bytes, "sensor.ringbuf_bytes", 4096, 1u << 30)},
               {"wakeup_bytes", number(s.wakeup_bytes, "sensor.wakeup_bytes", 0, 1u << 30)},
               {"process_exec", flag(s.process_exec, "sensor.process_exec")},
               {"process_exit", flag(s.process_exit, "sensor.process_exit")},
               {"network_connect", flag(s.network_connect, "sensor.network_connect")},
               {"process_fork", flag(s.process_fork, "sensor.process_fork")},
               {"network_accept", flag(s.network_accept, "sensor.network_accept")},
               {"network_listen", flag(s.network_listen, "sensor.network_listen")},
               {"file_open", flag(s.file_open, "sensor.file_open")},
               {"privilege_change", flag(s.privilege_change, "sensor.privilege_change")},
               {"ptrace", flag(s.ptrace, "sensor.ptrace")},
               {"fileless_exec", flag(s.fileless_exec, "sensor.fileless_exec")},
               {"watched_paths",
                [&](const YAML::Node& list) {
                  if (!list.IsSequence())
                    cfg::fail(source, list, "'sensor.watched_paths' must be a list");
                  if (list.size() > 32)
                    cfg::fail(source, list, "'sensor.watched_paths' holds at most 32");
                  s.watched_paths.clear();
                  for (const auto& item : list) {
                    auto path = cfg::scalar<std::string>(source, item, "sensor.watched_paths");
                    std::string_view p = path;
                    if (p.rfind("w:", 0) == 0) p.remove_prefix(2);
                    if (p.rfind("*/", 0) == 0) {
                      p.remove_prefix(2);
                    } else if (p.empty() || p.front() != '/') {
                      cfg::fail(source, item,
                                "'sensor.watched_paths' entries are /prefix or */suffix");
                    }
                    if (p.empty() || p.size() >= 64) {
                      cfg::fail(source, item, "'sensor.watched_paths' entries have 1 to 63 bytes");
                    }
                    s.watched_paths.push_back(std::move(path));
                  }
                }},
               {"hash_images", flag(s.hash_images, "sensor.hash_images")},
               {"hash_cache_entries",
                number(s.hash_cache_entries, "sensor.hash_cache_entries", 1, 1 << 20)},
               {"ancestry_depth", number(s.ancestry_depth, "sensor.ancestry_depth", 0, 64)},
               {"process_table_entries",
                number(s.process_table_entries, "sensor.process_table_entries", 1024, 1 << 22)}});
          if (s.ringbuf_bytes & (s.ringbuf_bytes - 1)) {
            cfg::fail(source, n, "'sensor.ringbuf_bytes' must be a power of two");
          }
          if (s.wakeup_bytes >= s.ringbuf_bytes) {
            cfg::fail(source, n, "'sensor.wakeup_bytes' must be below 'sensor.ringbuf_bytes'");
          }
        }},
       {"spool",
        [&](const YAML::Node& n) {
          auto& s = c.spool;
          cfg::for_each_key(
              source, n, "spool.",
              {{"enabled", flag(s.enabled, "spool.enabled")},
               {"dir", str(s.dir, "spool.dir")},
               // 1 MiB holds a few batches; 2^50 (1 PiB) keeps the double exact.
               {"max_bytes", number(s.max_bytes, "spool.max_bytes", 1 << 20, 1ull << 50)},
               {"sync", flag(s.sync, "spool.sync")}});
        }},
       {"power", [&](const YAML::Node& n) {
          auto& p = c.power;
          cfg::for_each_key(
              source, n, "power.",
              {{"enabled", flag(p.enabled, "power.enabled")},
               {"interval_ms", number(p.interval_ms, "power.interval_ms", 100, 3'600'000)},
               {"source", str(p.source, "power.source")},
               {"idle_watts",
                [&, read = number(p.idle_watts, "power.idle_watts", 0, 1e5)](const YAML::Node& v) {
                  read(v);
                  p.idle_watts_set = true;
                }},
               {"max_watts",
                [&, read = number(p.max_watts, "power.max_watts", 0, 1e5)](const YAML::Node& v) {
                  read(v);
                  p.max_watts_set = true;
                }},
               {"idle_policy", str(p.idle_policy, "power.idle_policy")},
               {"grid_intensity_gco2e_per_kwh",
                number(p.grid_intensity_gco2e_per_kwh, "power.grid_intensity_gco2e_per_kwh", 0,
                       5000)},
               {"pue", number(p.pue, "power.pue", 1, 10)},
               {"core_watts", number(p.core_watts, "power.core_watts", 0, 1000)},
               {"cpu_model", str(p.cpu_model, "power.cpu_model")},
               {"nvml", flag(p.nvml, "power.nvml")},
               {"nvml_library", str(p.nvml_library, "power.nvml_library")},
               {"ipmi", flag(p.ipmi, "power.ipmi")},
               {"grid_intensity_csv", str(p.grid_intensity_csv, "power.grid_intensity_csv")},
               {"pue_csv", str(p.pue_csv, "power.pue_csv")},
               {"embodied_kgco2e", number(p.embodied_kgco2e, "power.embodied_kgco2e", 0, 1e6)},
               {"lifetime_years", number(p.lifetime_years, "power.lifetime_years", 0.1, 50)}});
          if (p.source != "auto" && p.source != "rapl" && p.source != "estimate") {
            cfg::fail(source, n, "'power.source' must be auto, rapl or estimate");
          }
          if (p.idle_policy != "unattributed" && p.idle_policy != "allocated_cores") {
            cfg::fail(source, n, "'power.idle_policy' must be unattributed or allocated_cores");
          }
          if (p.max_watts < p.idle_watts) {
            cfg::fail(source, n, "'power.max_watts' must be >= 'power.idle_watts'");
          }
        }}});
  c.token_file = resolve(c.token_file, base_dir);
  c.collector_ca_file = resolve(c.collector_ca_file, base_dir);
  c.collector_client_cert_file = resolve(c.collector_client_cert_file, base_dir);
  c.collector_client_key_file = resolve(c.collector_client_key_file, base_dir);
  for (auto& path : c.rules_paths) path = resolve(path, base_dir);
  for (auto& [name, path] : c.rules_ioc_lists) path = resolve(path, base_dir);
  c.rules_pull.dir = resolve(c.rules_pull.dir, base_dir);
  c.power.grid_intensity_csv = resolve(c.power.grid_intensity_csv, base_dir);
  c.power.pue_csv = resolve(c.power.pue_csv, base_dir);
  c.spool.dir = resolve(c.spool.dir, base_dir);
  if (collector_urls_given) {
    c.collector_url = c.collector_urls.front();
  } else {
    c.collector_urls = {c.collector_url};
  }
  return c;
}

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  Config c = parse_config(text.str(), fs::path(path).parent_path().string(), path);
  if (c.host.empty()) {
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    c.host = name;
  }
  if (c.agent_id.empty()) c.agent_id = c.host;
  if (c.token.empty() && !c.token_file.empty()) {
    std::ifstream tf(c.token_file);
    if (!tf || !std::getline(tf, c.token) || c.token.empty()) {
      throw std::runtime_error(path + ": cannot read an agent token from " + c.token_file);
    }
  }
  if (c.token.empty())
    throw std::runtime_error(path + ": collector.token or token_file is required");
  return c;
}

}  // namespace vigie::agent
