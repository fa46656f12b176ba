# Power sampling cost with many workloads: agent CPU per 1 Hz sample and RSS.
vigie_bench(power_sampler_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/power_sampler_bench.cpp
  LIBS vigie::power)
