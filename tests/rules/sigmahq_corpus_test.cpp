// SigmaHQ's Linux rules (shared/corpus/sigmahq/linux, Detection Rule License
// 1.1): every rule is loaded or refused with a file:line diagnostic; the
// loaded count is asserted; each loaded rule matches at least one event
// synthesized from its own selections; and the compiled, prefiltered
// evaluation agrees with naive rule-by-rule evaluation on all those events.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "vigie/rules/engine.h"

namespace vigie::rules {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus =
    fs::path(VIGIE_SOURCE_DIR) / ".." / "shared" / "corpus" / "sigmahq" / "linux";

// SigmaHQ's whole rules/linux folder: 210 rules. The 135 on process
// creation, network connection and file events load (DestinationHostname
// maps to NetworkFlow::destination_hostname, LogonId to Event::login_uid);
// the auditd rules, the keyword rules on the system log and the service
// rules (sshd, syslog, cron...) have no Vigie logsource yet and are refused,
// each with its diagnostic.
constexpr int kCorpusRules = 210;
constexpr int kCorpusLoaded = 135;

TEST(RulesSigmaHq, EveryLinuxRuleLoadsOrIsRefusedWithADiagnostic) {
  ASSERT_TRUE(fs::is_directory(kCorpus))
      << "no SigmaHQ corpus at " << kCorpus << " (shared/ must sit beside the checkout)";

  std::map<std::string, int> files;  // rule file -> diagnostics about it
  for (const auto& entry : fs::recursive_directory_iterator(kCorpus)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yml") files[entry.path().string()];
  }
  const LoadResult result = load_rules(kCorpus);
  EXPECT_EQ(result.rules_total, static_cast<int>(files.size()));
  EXPECT_EQ(result.rules_total, kCorpusRules);
  EXPECT_EQ(result.rules_loaded, kCorpusLoaded);
  for (const Diagnostic& d : result.diagnostics) {
    ASSERT_TRUE(files.contains(d.file)) << "diagnostic names no corpus file: " << to_string(d);
    EXPECT_GT(d.line, 0) << to_string(d);
    ++files[d.file];
  }
  std::set<std::string> loaded_files;
  for (const RuleInfo& rule : result.engine->rules()) loaded_files.insert(rule.file);
  for (const auto& [file, diagnostics] : files) {
    EXPECT_EQ(loaded_files.contains(file) ? 1 : 0, 1 - diagnostics)
        << file << " must be either loaded or refused with exactly one diagnostic";
  }
  std::cout << "SigmaHQ linux: " << result.summary() << "\n";
  for (const Diagnostic& d : result.diagnostics) std::cout << "  " << to_string(d) << "\n";
}

TEST(RulesSigmaHq, EachLoadedRuleMatchesAnEventBuiltFromItsSelections) {
  const LoadResult result = load_rules(kCorpus);
  const Engine& engine = *result.engine;
  ASSERT_EQ(result.rules_loaded, kCorpusLoaded);
  std::vector<protocol::Alert> fast, naive;
  std::size_t events = 0;
  for (std::size_t r = 0; r < engine.rules().size(); ++r) {
    const RuleInfo& info = engine.rules()[r];
    const std::vector<protocol::Event> examples = engine.examples(r);
    EXPECT_FALSE(examples.empty()) << info.file << ": no example could be built";
    bool matched = false;
    for (const protocol::Event& event : examples) {
      ++events;
      fast.clear();
      naive.clear();
      engine.evaluate(event, fast);
      engine.evaluate_naive(event, naive);
      // The prefilter never loses an alert nor invents one.
      ASSERT_EQ(fast, naive) << info.file;
      for (const protocol::Alert& alert : fast) matched |= alert.rule_id == info.id;
    }
    EXPECT_TRUE(matched) << info.file << " (" << info.title << ") matches none of its "
                         << examples.size() << " synthesized events";
  }
  EXPECT_GT(engine.prefilter_literals(), 100u);
  std::cout << events << " synthesized events; prefilter: " << engine.prefilter_literals()
            << " literals, " << engine.unfiltered_rules() << " rules always evaluated\n";
}

}  // namespace
}  // namespace vigie::rules
