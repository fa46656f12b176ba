# Sensor benchmarks: the user-space pipeline (decode + enrich + starter rules)
# under Google Benchmark, and the storm driver of sensor_storm.sh (exec and
# connect storms timed with no agent, vigie-agent and libbpf-tools' execsnoop).
vigie_bench(sensor_pipeline_bench GBENCH
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sensor_pipeline_bench.cpp
  LIBS vigie::sensor vigie::workload vigie::rules)
target_include_directories(sensor_pipeline_bench PRIVATE
  ${PROJECT_SOURCE_DIR}/agents/sensor/bpf ${PROJECT_SOURCE_DIR}/tests/fuzz)
vigie_bench(sensor_storm
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/sensor_storm.cpp
  LIBS Threads::Threads)
