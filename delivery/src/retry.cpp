#include "vigie/delivery/retry.h"

#include <algorithm>

namespace vigie::delivery {

using std::chrono::milliseconds;

Outcome classify(int http_status) {
  if (http_status >= 200 && http_status < 300) return Outcome::kDelivered;
  if (http_status == 0 || http_status == 429 || (http_status >= 500 && http_status < 600))
    return Outcome::kRetry;
  return Outcome::kRejected;
}

Outcome classify(const protocol::HttpResponse& response) { return classify(response.status); }

milliseconds BackoffPolicy::delay(unsigned attempt, uint64_t random,
                                  milliseconds retry_after) const {
  const unsigned shift = std::min(attempt, 30u);
  const auto cap = std::min<int64_t>(max.count(), initial.count() << shift);
  const milliseconds jittered(cap <= 0 ? 0 : static_cast<int64_t>(random % (cap + 1)));
  return std::max(jittered, std::min(retry_after, max));
}

Backoff::Backoff(BackoffPolicy policy) : policy_(policy), random_(std::random_device{}()) {}

milliseconds Backoff::next(milliseconds retry_after) {
  return policy_.delay(failures_++, random_(), retry_after);
}

milliseconds Backoff::next(const protocol::HttpResponse& response) {
  return next(response.retry_after.value_or(std::chrono::seconds(0)));
}

}  // namespace vigie::delivery
