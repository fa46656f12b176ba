// The bounded sender worker every sender of Vigie runs on (remote_write,
// Alertmanager, webhooks, the federation forwarder): producers push items,
// one sender thread takes them, sends, and waits its backoff; the queue is
// bounded in items and in bytes, every item it drops is handed to the drop
// callback with its reason, and stop() gives the sender a deadline to finish.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace vigie::delivery {

// Drop reasons the worker itself uses; senders add their own (a refused
// request, an attempt limit reached).
inline constexpr std::string_view kDropQueueFull = "queue_full";
inline constexpr std::string_view kDropStopped = "stopped";

// What waits in a worker: queued items and their bytes, and what the sender
// took and has not finished with (in flight), counted apart.
struct QueueSize {
  std::size_t items = 0;
  std::size_t bytes = 0;
  std::size_t in_flight_items = 0;
  std::size_t in_flight_bytes = 0;
};

struct QueueLimits {
  std::size_t max_items = std::numeric_limits<std::size_t>::max();
  // Bytes as the worker's `weigh` counts them (encoded bytes, samples...).
  std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
  // Which item goes when a push exceeds a bound: the new one (alert
  // notifications: what is already queued keeps its order) or the oldest
  // (samples, batches: the newest data is worth more).
  enum class Overflow : uint8_t { kDropNewest, kDropOldest } overflow = Overflow::kDropNewest;
};

// Thread-safe: push() from any thread; take(), pause() and done() from the
// sender thread that start() runs; stop() from the owner.
template <class Item>
class SendWorker {
 public:
  using Clock = std::chrono::steady_clock;
  // How many bytes an item counts for against QueueLimits::max_bytes (default 0).
  using Weigh = std::function<std::size_t(const Item&)>;
  // Called with each item the worker drops and the reason, under the
  // worker's lock: count it, remove its file; never call the worker back.
  using OnDrop = std::function<void(const Item&, std::string_view reason)>;
  // Called under the lock after every change of what waits. For gauges.
  using OnSize = std::function<void(const QueueSize& size)>;

  explicit SendWorker(QueueLimits limits, Weigh weigh = {}, OnDrop on_drop = {},
                      OnSize on_size = {})
      : limits_(limits),
        weigh_(std::move(weigh)),
        on_drop_(std::move(on_drop)),
        on_size_(std::move(on_size)) {}
  ~SendWorker() { stop(std::chrono::milliseconds(0)); }
  SendWorker(const SendWorker&) = delete;
  SendWorker& operator=(const SendWorker&) = delete;

  // Runs `loop` on the sender thread. The loop takes items until take()
  // returns none with stopping() set, or pause() returns false.
  void start(std::function<void()> loop) { thread_ = std::thread(std::move(loop)); }

  // Queues `item`. Beyond a bound, the new item or the oldest ones (per
  // QueueLimits::overflow) are dropped with reason "queue_full"; after stop(),
  // the new item is dropped with reason "stopped". False when `item` itself
  // was dropped.
  bool push(Item item) {
    bool kept = false;
    {
      std::lock_guard lock(mutex_);
      kept = push_locked(std::move(item));
      size_changed_locked();
    }
    wake_.notify_all();
    return kept;
  }

  // Queues `items` at once, in order: the sender sees all of them or none
  // (a batch's series go out in one request). Bounds as for push().
  void push_all(std::vector<Item> items) {
    {
      std::lock_guard lock(mutex_);
      for (Item& item : items) push_locked(std::move(item));
      size_changed_locked();
    }
    wake_.notify_all();
  }

  // Puts an item the sender took back first (a retry); not bounded again.
  void push_front(Item item) {
    std::lock_guard lock(mutex_);
    bytes_ += weigh(item);
    items_.push_front(std::move(item));
    in_flight_ = 0;
    in_flight_items_ = 0;
    size_changed_locked();
  }

  // Waits until an item is queued, stop() is called, or `until`; then takes
  // the oldest items, at most max_items and max_bytes of them (one at least,
  // whatever it weighs). They count as in flight until the next take() or
  // done(). Empty when nothing came, or when the stop deadline has passed.
  std::vector<Item> take(Clock::time_point until = Clock::time_point::max(),
                         std::size_t max_items = std::numeric_limits<std::size_t>::max(),
                         std::size_t max_bytes = std::numeric_limits<std::size_t>::max()) {
    std::unique_lock lock(mutex_);
    in_flight_ = 0;
    in_flight_items_ = 0;
    size_changed_locked();
    idle_.notify_all();
    wake_.wait_until(lock, until, [&] { return stopping_ || !items_.empty(); });
    std::vector<Item> taken;
    if (past_deadline_locked()) return taken;
    std::size_t taken_bytes = 0;
    while (!items_.empty() && taken.size() < max_items) {
      const std::size_t weight = weigh(items_.front());
      if (!taken.empty() && taken_bytes + weight > max_bytes) break;
      taken_bytes += weight;
      bytes_ -= weight;
      taken.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    in_flight_ = taken_bytes;
    in_flight_items_ = taken.size();
    if (!taken.empty()) size_changed_locked();
    return taken;
  }

  // The oldest item, as take() with max_items 1.
  std::optional<Item> take_one(Clock::time_point until = Clock::time_point::max()) {
    auto taken = take(until, 1);
    if (taken.empty()) return std::nullopt;
    return std::move(taken.front());
  }

  // The sender finished with what it took (sent, refused or given up).
  void done() {
    std::lock_guard lock(mutex_);
    in_flight_ = 0;
    in_flight_items_ = 0;
    size_changed_locked();
    idle_.notify_all();
  }

  // Waits `delay` (a backoff), cut short once the stop deadline passes. False:
  // the sender must give up what it holds and return.
  bool pause(std::chrono::milliseconds delay) {
    std::unique_lock lock(mutex_);
    const auto until = Clock::now() + delay;
    // The target is taken again at each wake: a stop() that comes during the
    // pause brings it forward to the stop deadline.
    while (!past_deadline_locked() && Clock::now() < until) {
      wake_.wait_until(lock, stopping_ ? std::min(until, deadline_) : until);
    }
    return !past_deadline_locked();
  }

  // True once stop() was called: the sender may still send until the deadline.
  bool stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
  }

  // Waits until nothing is queued or in flight, up to `timeout`; true if so.
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, timeout, [&] { return items_.empty() && in_flight_items_ == 0; });
  }

  // Stops: new pushes are dropped ("stopped"); the sender keeps taking what
  // is queued for up to `grace`, then take() returns nothing and pause()
  // false. Joins the sender thread and returns the items still queued, for
  // the caller to keep (a spool) or drop (drop_all). Idempotent.
  std::vector<Item> stop(std::chrono::milliseconds grace) {
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        stopping_ = true;
        deadline_ = Clock::now() + grace;
      } else {
        deadline_ = std::min(deadline_, Clock::now() + grace);
      }
    }
    wake_.notify_all();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
    std::lock_guard lock(mutex_);
    std::vector<Item> left(std::make_move_iterator(items_.begin()),
                           std::make_move_iterator(items_.end()));
    items_.clear();
    bytes_ = 0;
    in_flight_ = 0;
    in_flight_items_ = 0;
    size_changed_locked();
    idle_.notify_all();
    return left;
  }

  // Drops `items` (those stop() returned) with `reason`, counted.
  void drop_all(const std::vector<Item>& items, std::string_view reason) {
    std::lock_guard lock(mutex_);
    for (const Item& item : items) drop_locked(item, reason);
  }
  QueueSize size() const {
    std::lock_guard lock(mutex_);
    return size_locked();
  }
  // Items dropped, by reason.
  std::map<std::string, uint64_t, std::less<>> dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }
  uint64_t dropped(std::string_view reason) const {
    std::lock_guard lock(mutex_);
    const auto it = dropped_.find(reason);
    return it == dropped_.end() ? 0 : it->second;
  }

 private:
  std::size_t weigh(const Item& item) const { return weigh_ ? weigh_(item) : 0; }
  bool push_locked(Item item) {
    const std::size_t weight = weigh(item);
    if (stopping_) return drop_locked(item, kDropStopped);
    if (limits_.overflow == QueueLimits::Overflow::kDropNewest &&
        (items_.size() + 1 > limits_.max_items || bytes_ + weight > limits_.max_bytes)) {
      return drop_locked(item, kDropQueueFull);
    }
    items_.push_back(std::move(item));
    bytes_ += weight;
    while (items_.size() > 1 && (items_.size() > limits_.max_items || bytes_ > limits_.max_bytes)) {
      bytes_ -= weigh(items_.front());
      drop_locked(items_.front(), kDropQueueFull);
      items_.pop_front();
    }
    return true;
  }
  bool past_deadline_locked() const { return stopping_ && Clock::now() >= deadline_; }
  bool drop_locked(const Item& item, std::string_view reason) {
    auto it = dropped_.find(reason);
    if (it == dropped_.end()) it = dropped_.emplace(std::string(reason), 0).first;
    ++it->second;
    if (on_drop_) on_drop_(item, reason);
    return false;
  }
  QueueSize size_locked() const { return {items_.size(), bytes_, in_flight_items_, in_flight_}; }
  void size_changed_locked() {
    if (on_size_) on_size_(size_locked());
  }

  const QueueLimits limits_;
  const Weigh weigh_;
  const OnDrop on_drop_;
  const OnSize on_size_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // an item queued, or stop
  std::condition_variable idle_;  // the sender finished what it took
  std::deque<Item> items_;
  std::size_t bytes_ = 0;            // of items_
  std::size_t in_flight_ = 0;        // bytes the sender holds
  std::size_t in_flight_items_ = 0;  // items the sender holds
  std::map<std::string, uint64_t, std::less<>> dropped_;
  bool stopping_ = false;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::thread thread_;
};

}  // namespace vigie::delivery
