// The embedded Store backend: one SQLite file in WAL mode.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "vigie/collector/store.h"

struct sqlite3;

namespace vigie::collector {

// Opens (creating if needed) the database at `path` with journal_mode=WAL
// and synchronous=FULL, so an acknowledged batch survives power loss, and
// creates or migrates the schema (table schema_version). One connection;
// calls are serialised, so there is exactly one writer.
class SqliteStore final : public Store {
 public:
  // Throws StoreError when the file cannot be opened or migrated, or its
  // schema is newer than this binary knows.
  explicit SqliteStore(const std::string& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  StoreOutcome store_batch(const protocol::Batch& batch, uint64_t received_ns) override;
  std::vector<StoredAlert> alerts(const AlertQuery& query) override;
  std::vector<protocol::Event> events(const EventQuery& query) override;
  EnergyReport energy(const EnergyQuery& query) override;
  std::vector<AgentRecord> agents() override;
  std::optional<JobFootprint> job_footprint(const std::string& job_id) override;
  void store_alerts(const std::string& origin, const std::string& site, const std::string& host,
                    const std::vector<protocol::Alert>& alerts, uint64_t received_ns) override;
  RetentionOutcome apply_retention(const RetentionPolicy& policy, uint64_t now_ns) override;

  static constexpr int kSchemaVersion = 3;

 private:
  class Statements;
  void write_batch(const protocol::Batch& batch, uint64_t received_ns);
  void write_alerts(const std::string& agent_id, const std::vector<protocol::Alert>& alerts,
                    uint64_t received_ns);

  std::mutex mutex_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;
};

}  // namespace vigie::collector
