// What the collector does with data once it is durably stored: correlation
// and threshold rules, alert delivery (Alertmanager, webhooks), remote_write
// and federation forwarding. The ingest path calls every BatchListener after
// Store::store_batch returned kStored (never for a duplicate), so each
// consumer sees every batch exactly once per collector.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vigie/csirt/tlp.h"
#include "vigie/protocol/event.h"

namespace vigie::collector {

// Called on the request's I/O thread, concurrently from several threads.
// Must not block (queue the work and return) and must not throw; a listener
// whose queue is full drops and counts the drop in its own metrics.
class BatchListener {
 public:
  virtual ~BatchListener() = default;
  virtual void on_stored(const protocol::Batch& batch, uint64_t received_ns) = 0;
};

// Traffic Light Protocol 2.0 (csirt/tlp.h): how far an alert may be shared.
using Tlp = csirt::Tlp;

// An alert on its way out of the collector: raised by an agent's detection
// rule (origin "agent") or by the collector's correlation and threshold
// rules (origin "collector"), or forwarded by a site (origin "federation").
struct AlertNotification {
  std::string origin;       // "agent", "collector", "federation"
  std::string site;         // the site the alert belongs to
  std::string host;         // empty for an alert over several hosts
  protocol::Alert alert;    // rule id, title, level, tags, the matching event
  std::string fingerprint;  // stable identity: same alert, same fingerprint (hex)
  uint64_t starts_ns = 0;   // ns since epoch
  uint64_t ends_ns = 0;     // 0 while active; set once resolved
  Tlp tlp = Tlp::kAmber;    // from the rule's `tlp.*` tag, else the site default
  std::vector<std::pair<std::string, std::string>> labels;  // extra labels (group-by values)
  // Extra annotations (a threshold rule's rendered summary/description);
  // sinks add the event's summary themselves.
  std::vector<std::pair<std::string, std::string>> annotations;
};

// A destination for alerts (Alertmanager, a webhook, the federation
// uplink). Same threading contract as BatchListener.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  virtual void deliver(const AlertNotification& notification) = 0;
};

}  // namespace vigie::collector
