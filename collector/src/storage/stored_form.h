// How events, tags and agent health are kept in a database column, the same
// for every Store backend: CBOR (RFC 8949) of their JSON shapes (json.h).
// nlohmann's CBOR keeps text strings byte for byte, so command lines that are
// not UTF-8 come back as they were sent (JSON text could not hold them).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "json.h"
#include "vigie/collector/store.h"

namespace vigie::collector::stored_form {

inline std::vector<std::uint8_t> encode_event(const protocol::Event& event) {
  return nlohmann::json::to_cbor(to_json(event));
}

// The inverse of encode_event; throws StoreError naming `what` when corrupt.
inline protocol::Event decode_event(const std::vector<std::uint8_t>& cbor,
                                    const std::string& what) {
  const auto json = nlohmann::json::from_cbor(cbor, true, false);
  if (json.is_discarded()) throw StoreError(what + " is corrupt in the database: not CBOR");
  auto event = event_from_json(json);
  if (!event) throw StoreError(what + " is corrupt in the database: " + event.error());
  return std::move(*event);
}

inline std::vector<std::uint8_t> encode_tags(const std::vector<std::string>& tags) {
  return nlohmann::json::to_cbor(tags);
}

inline std::vector<std::string> decode_tags(const std::vector<std::uint8_t>& cbor,
                                            const std::string& what) {
  const auto tags = nlohmann::json::from_cbor(cbor, true, false);
  if (!tags.is_array()) throw StoreError(what + " is corrupt in the database: tags");
  std::vector<std::string> out;
  for (const auto& tag : tags) out.push_back(tag.is_string() ? tag.get<std::string>() : tag.dump());
  return out;
}

// drops_by_source, ringbuf_size_bytes, ringbuf_used_bytes, kinds_off.
inline std::vector<std::uint8_t> encode_health(const protocol::AgentStatus& status) {
  return nlohmann::json::to_cbor(nlohmann::json{{"drops_by_source", status.drops_by_source},
                                                {"ringbuf_size_bytes", status.ringbuf_size_bytes},
                                                {"ringbuf_used_bytes", status.ringbuf_used_bytes},
                                                {"kinds_off", status.kinds_off}});
}

// Fills those fields of `status`; an empty `cbor` leaves them. Throws
// StoreError naming `agent_id` when corrupt.
inline void decode_health(const std::vector<std::uint8_t>& cbor, const std::string& agent_id,
                          protocol::AgentStatus& status) {
  if (cbor.empty()) return;
  const auto json = nlohmann::json::from_cbor(cbor, true, false);
  try {
    if (!json.is_object()) throw std::invalid_argument("not a CBOR map");
    status.drops_by_source = json.value("drops_by_source", std::map<std::string, uint64_t>{});
    status.ringbuf_size_bytes = json.value("ringbuf_size_bytes", uint64_t{0});
    status.ringbuf_used_bytes = json.value("ringbuf_used_bytes", uint64_t{0});
    status.kinds_off = json.value("kinds_off", std::vector<std::string>{});
  } catch (const std::exception& e) {
    throw StoreError("agent " + agent_id + ": corrupt health record: " + e.what());
  }
}

// Energy downsampling (RetentionPolicy): the row resolutions and the bucket
// of a row, by the end of its interval: bucket k of width w holds the rows
// with end_ns in (k*w, (k+1)*w], so intervals that tile a minute make one row.
inline constexpr uint64_t kRawResolutionNs = 0;
inline constexpr uint64_t kMinuteNs = 60'000'000'000ull;
inline constexpr uint64_t kHourNs = 3'600'000'000'000ull;

// The cut-offs of one retention run, in ns since the epoch; 0: nothing to do.
// Rows whose end_ns <= a cut-off are downsampled; cut-offs are bucket bounds,
// so only whole buckets are. Hour rows only from what is past raw retention.
struct RetentionCutoffs {
  uint64_t events_ns = 0;  // events with time_ns < this are deleted
  uint64_t alerts_ns = 0;
  uint64_t minute_ns = 0;   // raw energy rows with end_ns <= this become minute rows
  uint64_t hour_ns = 0;     // raw and minute rows with end_ns <= this become hour rows
  uint64_t batches_ns = 0;  // batch keys received before this are forgotten
};

inline RetentionCutoffs retention_cutoffs(const RetentionPolicy& policy, uint64_t now_ns) {
  auto before = [now_ns](std::chrono::hours age) -> uint64_t {
    const auto age_ns =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(age).count());
    return age.count() <= 0 || age_ns >= now_ns ? 0 : now_ns - age_ns;
  };
  RetentionCutoffs c;
  c.events_ns = before(policy.events);
  c.alerts_ns = before(policy.alerts);
  if (const uint64_t raw = before(policy.raw_energy); raw != 0) {
    c.minute_ns = raw / kMinuteNs * kMinuteNs;
    if (const uint64_t minute = before(policy.minute_energy); minute != 0)
      c.hour_ns = std::min(minute, c.minute_ns) / kHourNs * kHourNs;
  }
  // A batch key is what makes a retried batch a duplicate: kept as long as
  // the longest-kept of its rows, so a retry can never store a row twice.
  if (policy.events.count() > 0 && policy.alerts.count() > 0 && policy.raw_energy.count() > 0)
    c.batches_ns = before(std::max({policy.events, policy.alerts, policy.raw_energy}));
  return c;
}

}  // namespace vigie::collector::stored_form
