# vigie::rules: compiled + prefiltered evaluation against naive rule-by-rule
# evaluation of the same rules (SigmaHQ Linux corpus + packs), same run.
vigie_bench(rules_engine_bench SOURCES rules_engine_bench.cpp LIBS vigie::rules benchmark::benchmark)
