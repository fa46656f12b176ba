# vigie::csirt in the collector: a retro-hunt of 100 indicators over 10
# million stored events, through the observables index, against a full scan
# of the same events, same run.
vigie_bench(csirt_retrohunt_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/csirt_retrohunt_bench.cpp
  LIBS vigie::collector_internals SQLite::SQLite3)
