// Prometheus remote_write 1.0 out of the collector (DESIGN "Storage and
// scale"): node energy, workload energy, carbon and CPU, and agent health,
// from every stored batch, to Prometheus, VictoriaMetrics or Mimir.
// Specification: https://prometheus.io/docs/specs/remote_write_spec/ (1.0).
//
// Series (names per https://prometheus.io/docs/practices/naming/: base units,
// `_total` for counters). Energy, carbon and CPU time are counters
// accumulated per series by the collector from the agents' per-interval
// figures, because remote_write carries samples, not intervals, and a
// counter survives a lost sample where a per-interval gauge would not;
// power is rate(vigie_node_energy_joules_total[5m]) in watts. Each sample's
// timestamp is the end of the interval it closes (agent clock); a counter
// starts at 0 when the collector first sees the series.
//   vigie_node_energy_joules_total{site,host,zone,source,estimated,in_node_total}
//       in_node_total="false" for zones inside another one (RAPL core in its
//       package): sum only in_node_total="true" for a node's energy.
//   vigie_workload_energy_joules_total{site,host,workload_kind,job_id,user,account,workload_id,estimated}
//   vigie_workload_co2e_grams_total{…same}      operational gCO2e (energy x PUE x grid intensity)
//   vigie_workload_cpu_seconds_total{…same}
//       job_id, user, account, workload_id as SeriesOptions::workload_labels
//       keeps them; a label with an empty value is left out (spec: label
//       values must not be empty).
// Agent health, from each batch's AgentStatus, at the batch's sent_ns:
//   vigie_agent_ringbuf_drops_total{site,host,agent_id}     (the agent's own counters)
//   vigie_agent_events_total{…}
//   vigie_agent_uplink_dropped_total{…}
//   vigie_agent_drops_total{…,source}                       drops_by_source
//   vigie_agent_ringbuf_size_bytes{…}, vigie_agent_ringbuf_used_bytes{…}   gauges
//   vigie_agent_event_kinds_off{…}                          gauge: kinds the sensor does not run
// Every series also gets SeriesOptions::external_labels.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/collector/pipeline.h"
#include "vigie/collector/remote_write_config.h"
#include "vigie/protocol/event.h"
#include "vigie/protocol/result.h"

namespace prometheus {
class Registry;
}

namespace vigie::collector::remote_write {

// prometheus.Label, prometheus.Sample, prometheus.TimeSeries of the spec.
struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
};
struct Sample {
  double value = 0;
  int64_t timestamp_ms = 0;  // ms since the Unix epoch
  bool operator==(const Sample&) const = default;
};
struct TimeSeries {
  std::vector<Label> labels;  // `__name__` included
  std::vector<Sample> samples;
  bool operator==(const TimeSeries&) const = default;
};

// The body of a remote_write request: prometheus.WriteRequest serialised
// (collector/proto/prometheus/remote.proto) and compressed with snappy's
// block format (not the framed one), as the spec requires. Labels are sorted
// by name here (stable; the spec requires sorted labels), so callers may
// pass them in any order; samples go out in the order given, which must be
// timestamp order per series. Label names must be valid
// ([a-zA-Z_][a-zA-Z0-9_]*) and unique within a series, values non-empty UTF-8:
// not checked here (SeriesBuilder makes only such series).
std::string encode_write_request(const std::vector<TimeSeries>& series);

// The inverse, for tests and tools: snappy block format, then
// prometheus.WriteRequest. Fails on bad snappy, an uncompressed size over
// `max_uncompressed_bytes`, or bad protobuf.
protocol::Result<std::vector<TimeSeries>> decode_write_request(
    std::string_view body, std::size_t max_uncompressed_bytes = 64u << 20);

// Turns stored batches into series for one receiver, accumulating the energy,
// carbon and CPU counters. Not thread-safe (Writer serialises calls).
class SeriesBuilder {
 public:
  explicit SeriesBuilder(SeriesOptions options);

  // The samples `batch` adds, at most one series per label set, each with its
  // samples in increasing timestamp order and every timestamp after the
  // series' previous sample. An interval that ends at or before its series'
  // last sample (an agent resending old data) is added to the counter but
  // gets no sample of its own: the next sample carries it (counted in
  // folded()). Non-finite or negative figures are skipped (invalid()).
  // `received_ns` (collector clock) drives idle_timeout.
  std::vector<TimeSeries> build(const protocol::Batch& batch, uint64_t received_ns);

  uint64_t folded() const { return folded_; }
  uint64_t invalid() const { return invalid_; }
  std::size_t series_count() const { return state_.size(); }

 private:
  struct State {
    double total = 0;                                       // counters: the running sum
    int64_t last_ms = std::numeric_limits<int64_t>::min();  // of the last sample sent
    uint64_t seen_ns = 0;                                   // collector clock of the last update
  };
  void expire(uint64_t now_ns);

  SeriesOptions options_;
  std::map<std::string, State> state_;  // by encoded label set
  uint64_t folded_ = 0;
  uint64_t invalid_ = 0;
  uint64_t last_expiry_ns_ = 0;
};

// The remote_write sender: a BatchListener with, per receiver, its own
// SeriesBuilder, bounded queue and sending thread. Metrics (label
// remote_name, the endpoint's name or URL), on the registry given:
//   vigie_collector_remote_write_samples_sent_total          2xx
//   vigie_collector_remote_write_samples_failed_total        4xx other than 429: dropped, not
//   retried vigie_collector_remote_write_samples_retried_total       re-sent after 5xx, 429 or no
//   answer vigie_collector_remote_write_samples_dropped_total{reason}
//       queue_full (oldest dropped), stopped (still queued when stopped),
//       invalid_value (non-finite or negative figure in a batch)
//   vigie_collector_remote_write_samples_folded_total        out of order, carried by a later
//   sample vigie_collector_remote_write_requests_total{code}        answers by status ("error":
//   none) vigie_collector_remote_write_queue_samples               gauge
class Writer : public BatchListener {
 public:
  // Starts one thread per endpoint. Throws std::invalid_argument on a bad
  // URL or an unreadable credentials file.
  Writer(std::vector<EndpointConfig> endpoints, prometheus::Registry& registry);
  // Stops the threads: a request being retried is abandoned; what is still
  // queued is dropped (reason stopped). Call flush() first to send it.
  ~Writer() override;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Never blocks on the network: builds the series and queues them.
  void on_stored(const protocol::Batch& batch, uint64_t received_ns) override;

  // Waits until every queue is empty and no request is in flight, or
  // `timeout` has passed. True when everything queued was sent or dropped.
  bool flush(std::chrono::milliseconds timeout);

  // Per endpoint, in configuration order: the metric values above.
  struct Stats {
    uint64_t sent = 0, failed = 0, retried = 0, dropped = 0, folded = 0, queued = 0;
  };
  Stats stats(std::size_t endpoint) const;
  std::size_t endpoint_count() const;

 private:
  struct Queue;
  std::vector<std::unique_ptr<Queue>> queues_;
};

}  // namespace vigie::collector::remote_write
