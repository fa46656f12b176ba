# The soak's simulator: N real uplinks in one process (agent_swarm.cpp),
# driven by tests/integration/soak_test.cpp (60 s in the suite) and
# tests/bench/soak.sh (10 minutes, on demand).
vigie_bench(vigie_agent_swarm SOURCES ${CMAKE_CURRENT_LIST_DIR}/agent_swarm.cpp
  LIBS vigie::uplink vigie::protocol CLI11::CLI11 nlohmann_json::nlohmann_json spdlog::spdlog
  Threads::Threads)
