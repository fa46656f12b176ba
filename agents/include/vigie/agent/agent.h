// vigie-agent's pipelines: eBPF sensor -> workload -> edge rules -> uplink,
// and the power sampler -> attribution -> uplink, with /metrics.
#pragma once

#include <atomic>
#include <memory>

#include "vigie/agent/config.h"

namespace vigie::agent {

class Agent {
 public:
  // Opens every part. Degraded modes (no eBPF, no RAPL) log once at warn and
  // keep going; configuration errors (unreadable rules, metrics port taken)
  // throw std::runtime_error.
  explicit Agent(Config config);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until `stop` becomes true, then flushes what is queued (bounded).
  void run(const std::atomic<bool>& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigie::agent
