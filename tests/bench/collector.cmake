# vigie::collector ingest: samples/s and events/s durably stored with SQLite
# and PostgreSQL against VictoriaMetrics ingesting the same samples by
# remote_write, and p99 latency at 5,000 agents, same run.
find_package(PostgreSQL REQUIRED)
vigie_bench(collector_ingest_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/collector_ingest_bench.cpp
  LIBS vigie::collector_internals vigie::protocol SQLite::SQLite3 PostgreSQL::PostgreSQL)

# The sustainability reports on a large site: one facility of 2,000 nodes
# and a year of hourly energy rows on SQLite, against one scan of those rows.
vigie_bench(report_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/report_bench.cpp
  LIBS vigie::collector_internals SQLite::SQLite3)
