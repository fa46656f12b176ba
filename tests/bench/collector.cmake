# vigie::collector ingest: samples/s and events/s durably stored with SQLite
# and PostgreSQL against VictoriaMetrics ingesting the same samples by
# remote_write, and p99 latency at 5,000 agents, same run.
find_package(PostgreSQL REQUIRED)
vigie_bench(collector_ingest_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/collector_ingest_bench.cpp
  LIBS vigie::collector_internals vigie::protocol SQLite::SQLite3 PostgreSQL::PostgreSQL)
