// The Store backend for several collectors and HA: PostgreSQL through libpq.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vigie/collector/store.h"

namespace vigie::collector {

// Stores batches in a PostgreSQL database shared by any number of
// collectors. Same results as SqliteStore; what differs:
// - Duplicates are detected by the primary key (host, agent_id, sequence) of
//   table `batches` with INSERT ... ON CONFLICT DO NOTHING inside the batch's
//   transaction, so when two collectors store one batch at once exactly one
//   gets kStored and the other waits for it and gets kDuplicate.
// - Every string from agents is a bytea column, so text that is not UTF-8 is
//   kept byte for byte and sorts bytewise, as in SQLite.
// - Queries are prepared statements with binary parameters and results;
//   a batch's rows go in by COPY ... (FORMAT binary).
// - A pool of up to `pool_size` connections, one per concurrent call, made on
//   demand. A connection found broken (server restarted) is reopened on the
//   next call; a call that fails before writing anything on a connection
//   that turns out to be broken is retried once on a new one.
// Durability is PostgreSQL's commit (synchronous_commit as the server says;
// its default, on, flushes the WAL before the commit returns).
class PostgresStore final : public Store {
 public:
  // `conninfo` is a libpq connection string or URI
  // ("postgresql://user@host:5432/vigie", "host=/run/postgresql dbname=vigie").
  // Connects, then creates or migrates the schema in one transaction under
  // pg_advisory_xact_lock, so collectors starting together do not race.
  // Throws StoreError when the server cannot be reached, the migration
  // fails, or the schema is newer than this binary knows.
  explicit PostgresStore(const std::string& conninfo, std::size_t pool_size = 8);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  StoreOutcome store_batch(const protocol::Batch& batch, uint64_t received_ns) override;
  std::vector<StoredAlert> alerts(const AlertQuery& query) override;
  std::vector<protocol::Event> events(const EventQuery& query) override;
  EnergyReport energy(const EnergyQuery& query) override;
  std::vector<AgentRecord> agents() override;
  std::optional<JobFootprint> job_footprint(const std::string& job_id) override;
  void store_alerts(const std::string& origin, const std::string& site, const std::string& host,
                    const std::vector<protocol::Alert>& alerts, uint64_t received_ns) override;
  RetentionOutcome apply_retention(const RetentionPolicy& policy, uint64_t now_ns) override;

  // The pool now: connections open (leased + idle, at most pool_size()),
  // leased to a call, and calls waiting for one because all are leased.
  struct PoolStats {
    std::size_t open = 0;
    std::size_t in_use = 0;
    std::size_t waiting = 0;
  };
  PoolStats pool_stats() const;
  std::size_t pool_size() const { return pool_size_; }

  static constexpr int kSchemaVersion = 1;
  // The pg_advisory_xact_lock key that serialises migrations ("vigiemig").
  static constexpr long long kMigrationLockKey = 0x76696769656d6967;

 private:
  class Connection;
  // A connection of the pool, returned to it at scope exit.
  class Lease {
   public:
    Lease(PostgresStore& store, std::unique_ptr<Connection> connection);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    PostgresStore& store_;
    std::unique_ptr<Connection> connection_;
  };
  Lease acquire();
  // Runs `work(Connection&)` on a pooled connection; once more on a new one
  // when it throws StoreError and the pooled connection turns out broken
  // (the server restarted while it sat idle), provided the work is
  // `idempotent` or failed at its first round trip.
  template <typename Work>
  auto with_connection(Work&& work, bool idempotent = true);

  std::string conninfo_;
  std::size_t pool_size_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;     // leased + idle
  std::size_t waiting_ = 0;  // calls in acquire() waiting for a connection
};

}  // namespace vigie::collector
