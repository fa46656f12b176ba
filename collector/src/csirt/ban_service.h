// The collector's side of the CSIRT ban list (csirt/ban.h): the list this
// collector makes (a federation's, or a site's own), the lists it receives
// from its pull peer, what it publishes for its agents and for the sites
// below it, and the acknowledgements that travel back up.
//
// Stored as CSIRT documents (csirt/store.h): "ban-list"/"own", the list
// made here; "ban-list"/"received:<file>", each list taken from upstream;
// "ban-applied"/"local", what this site's renderers last applied;
// "ban-ack"/<site>, each site's acknowledgement (at a federation).
//
// Published under the distribution directory (when set) at every change:
//   bans/<site>.json    the own list, shareable() (never its RED or
//                       AMBER+STRICT entries), for the sites below to pull
//   iocs/ban.users.csv, iocs/ban.ips.csv, iocs/ban.ssh_keys.csv
//                       the IOC sets of every list held, for this site's
//                       agents (rules.pull.iocs) and the hpc-csirt rules
//
// Metrics: vigie_csirt_ban_serial{origin} (the serial held per list),
// vigie_csirt_ban_rollbacks_refused_total, vigie_csirt_ban_serial_lag{site}
// (at a federation: its serial minus the one each site applied).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/csirt/ban.h"
#include "vigie/csirt/store.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace vigie::collector {

class BanService {
 public:
  // `identity_map`: a file (csirt::parse_identity_map) mapping federated
  // subjects to this site's users, or empty; read at each publication, a
  // broken one logged and treated as empty. Throws nothing here.
  BanService(csirt::CsirtStore& store, std::string site, std::string publish_dir,
             std::string identity_map, prometheus::Registry* registry);

  const std::string& site() const { return site_; }
  // The list made here (serial 0 and no entries before the first change).
  csirt::BanList own();
  // Every list held: the own one first, then those received, by file name.
  std::vector<csirt::BanList> lists();

  // Adds `entry` (id, origin, created_by and created_ns set here) to the own
  // list, bumps its serial and publishes. Returns the entry as stored.
  csirt::BanEntry add(csirt::BanEntry entry, const std::string& by, uint64_t now_ns);
  // Lifts entry `id` of the own list; nothing when there is no such entry
  // or it is lifted already.
  std::optional<csirt::BanEntry> lift(const std::string& id, const std::string& by,
                                      const std::string& reason, uint64_t now_ns);

  // A list pulled from upstream (the mirror's bans/<file> item).
  enum class Receipt : uint8_t { kTaken, kHeld, kRollback, kInvalid };
  Receipt receive(const std::string& file, std::string_view text, uint64_t now_ns);

  // What this site's renderers applied (vigie ban render --ack): the serial
  // of each list by origin, and what failed.
  void applied(const std::map<std::string, uint64_t>& serials,
               const std::vector<std::string>& failures, uint64_t now_ns);
  // The acknowledgement to send the pull peer about the list of `origin`.
  csirt::BanAck ack_for(const std::string& origin);

  // At a federation: a site's acknowledgement of the own list, and each
  // site's state against it (sites named in acks or in entries' scopes).
  void record_ack(csirt::BanAck ack, uint64_t now_ns);
  std::vector<csirt::SiteBanState> states();

  // Writes what the lists held publish (see above); called after every change.
  void publish(uint64_t now_ns);

 private:
  csirt::BanList read_list(const std::string& key);
  void write_list(const std::string& key, const csirt::BanList& list, uint64_t now_ns);
  std::vector<csirt::BanAck> acks();
  void update_lag(uint64_t serial, const std::vector<csirt::BanAck>& acks);

  csirt::CsirtStore& store_;
  const std::string site_;
  const std::string publish_dir_;
  const std::string identity_map_;
  std::mutex mutex_;  // one change at a time: read, modify, write

  prometheus::Family<prometheus::Gauge>* serials_ = nullptr;
  prometheus::Family<prometheus::Gauge>* lag_ = nullptr;
  prometheus::Counter* rollbacks_ = nullptr;
};

}  // namespace vigie::collector
