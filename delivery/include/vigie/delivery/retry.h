// When to send again, for every sender of Vigie (the agent's uplink, the
// federation forwarder, remote_write, Alertmanager, webhooks): one
// classification of an HTTP answer and one backoff policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "vigie/protocol/http_client.h"

namespace vigie::delivery {

// What to do after one request, after Prometheus remote_write 1.0's rules
// ("Retries & Backoff"): 2xx delivered; a transport error (status 0), 429 and
// 5xx retried with backoff; any other status rejected, never retried
// (resending cannot fix a 400, 401, 403, 404 or 413).
enum class Outcome : uint8_t { kDelivered, kRetry, kRejected };
Outcome classify(int http_status);
Outcome classify(const protocol::HttpResponse& response);

// Exponential backoff with full jitter ("Exponential Backoff And Jitter",
// AWS Architecture Blog, 2015): after failure number `attempt` (0 for the
// first), wait uniform in [0, min(max, initial * 2^attempt)]; and at least the
// receiver's Retry-After (RFC 9110 section 10.2.3), up to max.
struct BackoffPolicy {
  std::chrono::milliseconds initial{250};
  std::chrono::milliseconds max{30'000};

  // The wait after failure `attempt`; `random` is any uniform 64-bit number.
  std::chrono::milliseconds delay(unsigned attempt, uint64_t random,
                                  std::chrono::milliseconds retry_after = {}) const;
};

// One stream's backoff state: failures in a row and its random source. Not
// thread-safe: one per sender thread.
class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy);
  // The wait after one more failure; `retry_after` from the answer, if any.
  std::chrono::milliseconds next(std::chrono::milliseconds retry_after = {});
  std::chrono::milliseconds next(const protocol::HttpResponse& response);
  void reset() { failures_ = 0; }                  // after a success
  unsigned failures() const { return failures_; }  // in a row, since the last reset
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  unsigned failures_ = 0;
  std::mt19937_64 random_;
};

}  // namespace vigie::delivery
