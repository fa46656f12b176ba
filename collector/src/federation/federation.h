// Federation (DESIGN "Data flow"): what a site collector forwards to the
// federation collectors above it, and the rule packs and IOC lists that come
// back down.
//
// Wire: the vigie.v1 ingest protocol itself. A site collector POSTs batches
// to each peer's /api/v1/ingest with its site token (an agent token of the
// federation with site: <site>, any_host: true); the federation stores them
// with its normal Store, so its API and dashboard show every site:
//   - alerts: one batch per original host (the codec stamps events with the
//     batch's host), agent_id "collector/<name>", each alert's tags carrying
//     its effective `tlp.<level>`; an alert over several hosts goes under
//     the collector's name;
//   - energy aggregates: batches with host = the site name: per interval,
//     one ZoneEnergy per (zone kind, source, estimated, in_node_total) and
//     one WorkloadEnergy per (workload kind, estimated) with id "all" and no
//     user, account, job or cgroup: no per-job data or user name leaves the
//     site. The federation's energy report then shows each site as a node
//     whose energy is the site's node total and whose carbon is the site's.
// Batches are numbered per peer by a persisted allocator and spooled to disk
// until delivered, with the agent's own delivery::SequenceAllocator and
// delivery::Spool (CRC-checked files, fsync'd; the oldest dropped beyond the
// queue bound), so a retry (after a fault or a restart) is recognised by
// (host, agent_id, sequence) and stored once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "http/request.h"
#include "vigie/collector/federation_config.h"
#include "vigie/collector/pipeline.h"
#include "vigie/protocol/event.h"

namespace prometheus {
class Registry;
}

namespace vigie::collector {

class CsirtService;  // csirt/csirt_service.h

// The zone kind of a RAPL/NVML zone name: each '/'-separated part without a
// trailing "-<index>" ("package-0/core" -> "package/core", "gpu-1" -> "gpu").
std::string zone_kind(std::string_view zone);

// Whether TLP 2.0 lets an alert marked `tlp` go to `peer`: CLEAR and GREEN
// always, AMBER and AMBER+STRICT when the peer allows that level, RED never
// (https://www.first.org/tlp/, DESIGN "Security model").
bool tlp_allows(Tlp tlp, const FederationPeer& peer);

// Counters of one peer (also exported, see FederationForwarder).
struct PeerStats {
  std::string peer;
  uint64_t alerts_forwarded_total = 0;    // queued for the peer
  uint64_t alerts_refused_total[5] = {};  // by Tlp (index = enum value), refused by policy
  uint64_t energy_records_forwarded_total = 0;
  uint64_t batches_sent_total = 0;      // acknowledged 2xx (stored or duplicate)
  uint64_t batches_rejected_total = 0;  // 4xx other than 429: dropped, never retried
  uint64_t batches_dropped_total = 0;   // queue full
  uint64_t send_failures_total = 0;     // every failed attempt (retried)
  std::size_t queue_batches = 0;        // sealed, waiting (incl. in flight)
};

// An AlertSink (register on the AlertRouter) and a BatchListener (register on
// the Handler) for a site collector with peers. Thread-safe; deliver() and
// on_stored() only queue.
class FederationForwarder : public AlertSink, public BatchListener {
 public:
  // Loads the spool and sequence state under config.state_dir/federation
  // (creating it); throws std::runtime_error when it cannot. `registry` may
  // be null (no metrics). Starts the sender threads.
  FederationForwarder(FederationConfig config, prometheus::Registry* registry);
  ~FederationForwarder() override;  // stop()
  FederationForwarder(const FederationForwarder&) = delete;
  FederationForwarder& operator=(const FederationForwarder&) = delete;

  void deliver(const AlertNotification& notification) override;
  void on_stored(const protocol::Batch& batch, uint64_t received_ns) override;

  // Seals every pending alert and every energy interval, ended or not (a
  // still-open interval may then be sent in two rows). For tests and stop().
  void flush();
  // Flushes, then tries to deliver what is queued for at most `grace`; what
  // is left stays spooled for the next start (or is counted dropped when
  // there is no state_dir). Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  std::vector<PeerStats> stats() const;

 private:
  struct Peer;
  struct Metrics;
  // (interval start, zone kind, source, estimated, in_node_total)
  using ZoneKey = std::tuple<uint64_t, std::string, uint8_t, bool, bool>;
  // (interval start, workload kind, estimated)
  using WorkloadKey = std::tuple<uint64_t, uint8_t, bool>;

  void run_ticker();
  // Seals pending alerts, and the intervals that ended before `cutoff_ns`.
  void seal(uint64_t cutoff_ns);

  const FederationConfig config_;
  std::unique_ptr<Metrics> metrics_;
  std::vector<std::unique_ptr<Peer>> peers_;

  std::mutex mutex_;  // the aggregates below
  std::map<ZoneKey, double> zones_;
  std::map<WorkloadKey, protocol::WorkloadEnergy> workloads_;

  std::mutex ticker_mutex_;
  std::condition_variable ticker_wake_;
  bool stopping_ = false;
  std::thread ticker_;
};

// Serves the distribution directory (protocol/distribution.h) on
// GET /api/v1/distribution and GET /api/v1/distribution/<kind>/<name>:
// the item's manifest with ETag: "<content hash>" and Cache-Control:
// no-cache; 304 when If-None-Match matches; 404 for an unknown item.
// The handler checks the caller's token (an agent or site token) first.
class DistributionServer {
 public:
  explicit DistributionServer(std::filesystem::path root) : root_(std::move(root)) {}
  // `path` is the request's path (no query).
  Response handle(const Request& request, std::string_view path) const;

 private:
  std::filesystem::path root_;
};

// A site's mirror of its pull peer's distribution directory: every
// pull_interval, fetches the peer's index, pulls each item with
// If-None-Match into config.distribution_dir, and removes the items the
// peer no longer lists, except what the site publishes itself (its CSIRT
// list csirt.csv, its ban list bans/<site>.json and the ban IOC sets).
// With set_csirt(), each ban list pulled (bans/<origin>.json) goes to the
// BanService, which refuses rollbacks, each round acknowledges each list
// (POST /api/v1/distribution/bans/ack), and each round sends up the site's
// incidents that changed and the peer may receive (CLEAR and GREEN; AMBER
// to a peer with allow_amber; never AMBER+STRICT or RED) as STIX bundles
// without names (POST /api/v1/distribution/incidents), and reads the peer's
// incidents as heads-ups (its MISP feed, with the site token): each new or
// changed event's indicators are imported and retro-hunted, and once the
// hunt ends its counts go back (POST /api/v1/distribution/headsups/answer).
// Exports vigie_distribution_pulls_total{result}.
class DistributionMirror {
 public:
  DistributionMirror(const FederationConfig& config, const FederationPeer& peer,
                     prometheus::Registry* registry);
  ~DistributionMirror();  // stops the thread

  // One round now, on the calling thread; returns the items updated, or -1
  // when the index could not be fetched (logged, counted).
  int sync();
  // Starts the periodic thread (a first round at once).
  void start();
  // Before start(); `csirt` outlives the mirror.
  void set_csirt(CsirtService& csirt) { csirt_ = &csirt; }

 private:
  struct Counters;
  // Hands the ban lists pulled to the BanService, then acknowledges each upstream.
  void receive_bans(const std::vector<std::string>& names);
  // Sends the peer the incidents it may receive that changed.
  void uplink_incidents();
  // Reads the peer's heads-ups and answers those whose retro-hunt ended.
  void headsups();
  // POSTs `body` (JSON) to the peer at `target`; false (logged) on failure.
  bool post(const std::string& target, std::string body, const char* what);
  std::filesystem::path root_;
  std::string peer_name_;
  std::chrono::seconds interval_;
  std::unique_ptr<Counters> counters_;
  struct Options;
  std::unique_ptr<Options> options_;
  CsirtService* csirt_ = nullptr;
  bool allow_amber_ = false;  // the peer's
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vigie::collector
