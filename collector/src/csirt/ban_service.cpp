#include "csirt/ban_service.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "vigie/csirt/incident.h"
#include "vigie/protocol/distribution.h"

namespace vigie::collector {

using nlohmann::json;
namespace dist = protocol::distribution;

namespace {

constexpr std::string_view kLists = "ban-list";
constexpr std::string_view kOwn = "own";
constexpr std::string_view kReceived = "received:";
constexpr std::size_t kMaxDocuments = 1000;

csirt::IdentityMap read_identity_map(const std::string& path) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    spdlog::error("ban list: cannot read the identity map {}", path);
    return {};
  }
  auto map = csirt::parse_identity_map(std::string(std::istreambuf_iterator<char>(in), {}));
  if (!map) {
    spdlog::error("ban list: identity map {}: {}", path, map.error());
    return {};
  }
  return std::move(*map);
}

}  // namespace

BanService::BanService(csirt::CsirtStore& store, std::string site, std::string publish_dir,
                       std::string identity_map, prometheus::Registry* registry)
    : store_(store),
      site_(std::move(site)),
      publish_dir_(std::move(publish_dir)),
      identity_map_(std::move(identity_map)) {
  if (registry == nullptr) return;
  serials_ = &prometheus::BuildGauge()
                  .Name("vigie_csirt_ban_serial")
                  .Help("Serial number of each CSIRT ban list held, by origin")
                  .Register(*registry);
  lag_ = &prometheus::BuildGauge()
              .Name("vigie_csirt_ban_serial_lag")
              .Help("This collector's ban list serial minus the serial each site applied")
              .Register(*registry);
  rollbacks_ = &prometheus::BuildCounter()
                    .Name("vigie_csirt_ban_rollbacks_refused_total")
                    .Help("Ban lists refused because their serial was lower than the one held")
                    .Register(*registry)
                    .Add({});
}

csirt::BanList BanService::read_list(const std::string& key) {
  const auto text = store_.document(std::string(kLists), key);
  if (!text) return {};
  auto list = csirt::parse_ban_list(*text);
  if (!list)
    throw std::runtime_error("the stored ban list " + key + " is corrupt: " + list.error());
  return std::move(*list);
}

void BanService::write_list(const std::string& key, const csirt::BanList& list, uint64_t now_ns) {
  store_.put_document(std::string(kLists), key, csirt::to_json(list).dump(), now_ns);
  if (serials_ != nullptr)
    serials_->Add({{"origin", list.origin}}).Set(static_cast<double>(list.serial));
}

csirt::BanList BanService::own() {
  std::lock_guard lock(mutex_);
  csirt::BanList list = read_list(std::string(kOwn));
  if (list.origin.empty()) list.origin = site_;
  return list;
}

std::vector<csirt::BanList> BanService::lists() {
  std::lock_guard lock(mutex_);
  std::vector<csirt::BanList> out;
  csirt::BanList own = read_list(std::string(kOwn));
  if (own.origin.empty()) own.origin = site_;
  out.push_back(std::move(own));
  std::vector<std::pair<std::string, std::string>> received;
  for (auto& [key, text] : store_.documents(std::string(kLists), kMaxDocuments)) {
    if (key.starts_with(kReceived)) received.emplace_back(key, std::move(text));
  }
  std::sort(received.begin(), received.end());
  for (const auto& [key, text] : received) {
    auto list = csirt::parse_ban_list(text);
    if (list) out.push_back(std::move(*list));
  }
  return out;
}

csirt::BanEntry BanService::add(csirt::BanEntry entry, const std::string& by, uint64_t now_ns) {
  {
    std::lock_guard lock(mutex_);
    csirt::BanList list = read_list(std::string(kOwn));
    list.origin = site_;
    entry.id = csirt::new_uuid();
    entry.origin = site_;
    entry.created_by = by;
    entry.created_ns = now_ns;
    entry.lifted_ns = 0;
    list.entries.push_back(entry);
    ++list.serial;
    list.updated_ns = now_ns;
    write_list(std::string(kOwn), list, now_ns);
  }
  publish(now_ns);
  return entry;
}

std::optional<csirt::BanEntry> BanService::lift(const std::string& id, const std::string& by,
                                                const std::string& reason, uint64_t now_ns) {
  std::optional<csirt::BanEntry> out;
  {
    std::lock_guard lock(mutex_);
    csirt::BanList list = read_list(std::string(kOwn));
    const auto it = std::find_if(list.entries.begin(), list.entries.end(),
                                 [&](const csirt::BanEntry& e) { return e.id == id; });
    if (it == list.entries.end() || it->lifted_ns != 0) return std::nullopt;
    it->lifted_ns = now_ns;
    it->lifted_by = by;
    it->lift_reason = reason;
    out = *it;
    list.origin = site_;
    ++list.serial;
    list.updated_ns = now_ns;
    write_list(std::string(kOwn), list, now_ns);
  }
  publish(now_ns);
  return out;
}

BanService::Receipt BanService::receive(const std::string& file, std::string_view text,
                                        uint64_t now_ns) {
  auto incoming = csirt::parse_ban_list(text);
  if (!incoming) {
    spdlog::error("ban list {} from upstream refused: {}", file, incoming.error());
    return Receipt::kInvalid;
  }
  {
    std::lock_guard lock(mutex_);
    const std::string key = std::string(kReceived) + file;
    const csirt::BanList held = read_list(key);
    if (!csirt::takes(*incoming, held.serial)) {
      if (incoming->serial == held.serial) return Receipt::kHeld;
      if (rollbacks_ != nullptr) rollbacks_->Increment();
      spdlog::error(
          "ban list {} from upstream refused: serial {} is lower than the {} held "
          "(a rollback)",
          file, incoming->serial, held.serial);
      return Receipt::kRollback;
    }
    // Whatever upstream sent, this site passes on only what may leave it.
    write_list(key, csirt::shareable(std::move(*incoming)), now_ns);
  }
  publish(now_ns);
  return Receipt::kTaken;
}

void BanService::applied(const std::map<std::string, uint64_t>& serials,
                         const std::vector<std::string>& failures, uint64_t now_ns) {
  const json report = {{"serials", serials}, {"failures", failures}, {"applied_ns", now_ns}};
  store_.put_document("ban-applied", "local", report.dump(), now_ns);
}

csirt::BanAck BanService::ack_for(const std::string& origin) {
  csirt::BanAck ack;
  ack.site = site_;
  for (const auto& list : lists()) {
    if (list.origin == origin) ack.reached_serial = list.serial;
  }
  const auto report = store_.document("ban-applied", "local");
  if (!report) return ack;
  const json parsed = json::parse(*report, nullptr, false);
  if (!parsed.is_object()) return ack;
  const json& serials = parsed.value("serials", json::object());
  if (serials.contains(origin) && serials[origin].is_number_unsigned())
    ack.applied_serial = serials[origin].get<uint64_t>();
  ack.applied_ns = parsed.value("applied_ns", uint64_t{0});
  for (const auto& failure : parsed.value("failures", json::array()))
    if (failure.is_string()) ack.failures.push_back(failure.get<std::string>());
  return ack;
}

void BanService::record_ack(csirt::BanAck ack, uint64_t now_ns) {
  ack.received_ns = now_ns;
  store_.put_document("ban-ack", ack.site, csirt::to_json(ack).dump(), now_ns);
  update_lag(own().serial, acks());
}

std::vector<csirt::BanAck> BanService::acks() {
  std::vector<csirt::BanAck> out;
  for (const auto& [site, text] : store_.documents("ban-ack", kMaxDocuments)) {
    json parsed = json::parse(text, nullptr, false);
    if (!parsed.is_object()) continue;
    const uint64_t received = parsed.value("received_ns", uint64_t{0});
    parsed.erase("received_ns");
    auto ack = csirt::parse_ban_ack(parsed.dump());
    if (!ack) continue;
    ack->received_ns = received;
    out.push_back(std::move(*ack));
  }
  return out;
}

std::vector<csirt::SiteBanState> BanService::states() {
  const csirt::BanList list = own();
  std::set<std::string> sites;
  for (const auto& entry : list.entries) sites.insert(entry.sites.begin(), entry.sites.end());
  const auto all = acks();
  update_lag(list.serial, all);
  return csirt::ban_states(list.serial, {sites.begin(), sites.end()}, all);
}

void BanService::update_lag(uint64_t serial, const std::vector<csirt::BanAck>& acks) {
  if (lag_ == nullptr) return;
  for (const auto& state : csirt::ban_states(serial, {}, acks))
    lag_->Add({{"site", state.site}}).Set(static_cast<double>(state.lag));
}

void BanService::publish(uint64_t now_ns) {
  if (publish_dir_.empty()) return;
  const auto held = lists();
  std::vector<dist::Item> items;
  const std::string own_name = site_ + ".json";
  if (dist::valid_name(dist::Kind::kBans, own_name)) {
    items.push_back({dist::Kind::kBans,
                     own_name,
                     {{own_name, csirt::to_json(csirt::shareable(held.front())).dump(1) + "\n"}},
                     ""});
  } else {
    spdlog::error("ban list: site name '{}' cannot name a distribution item", site_);
  }
  // The agents' IOC sets: every list held, for this site.
  csirt::BanList all;
  for (const auto& list : held)
    all.entries.insert(all.entries.end(), list.entries.begin(), list.entries.end());
  for (auto& [name, csv] :
       csirt::ban_ioc_lists(all, site_, read_identity_map(identity_map_), now_ns))
    items.push_back({dist::Kind::kIocs, name, {{name, std::move(csv)}}, ""});
  for (auto& item : items) {
    item.etag = dist::content_etag(item.files);
    // Called at every SEC01 check: an unchanged item is not written again.
    const auto installed = dist::read_item(publish_dir_, item.kind, item.name);
    if (installed && installed->etag == item.etag) continue;
    std::string error;
    if (!dist::install_item(publish_dir_, item, error))
      spdlog::error("ban list: cannot publish {}/{} to {}: {}", dist::to_string(item.kind),
                    item.name, publish_dir_, error);
  }
}

}  // namespace vigie::collector
