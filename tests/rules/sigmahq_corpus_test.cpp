// Robustness over SigmaHQ's Linux rules (shared/corpus/sigmahq/linux, Detection
// Rule License 1.1): every rule is loaded or refused with a file:line
// diagnostic, and nothing crashes. The count is printed, not asserted: a later
// issue raises the bar.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "vigie/rules/engine.h"

namespace vigie::rules {
namespace {

namespace fs = std::filesystem;

TEST(RulesSigmaHq, EveryLinuxRuleLoadsOrIsRefusedWithADiagnostic) {
  const fs::path corpus =
      fs::path(VIGIE_SOURCE_DIR) / ".." / "shared" / "corpus" / "sigmahq" / "linux";
  ASSERT_TRUE(fs::is_directory(corpus))
      << "no SigmaHQ corpus at " << corpus << " (shared/ must sit beside the checkout)";

  std::map<std::string, int> files;  // rule file -> diagnostics about it
  for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yml") files[entry.path().string()];
  }
  const LoadResult result = load_rules(corpus);
  EXPECT_EQ(result.rules_total, static_cast<int>(files.size()));
  for (const Diagnostic& d : result.diagnostics) {
    ASSERT_TRUE(files.contains(d.file)) << "diagnostic names no corpus file: " << to_string(d);
    EXPECT_GT(d.line, 0) << to_string(d);
    EXPECT_FALSE(d.message.empty());
    ++files[d.file];
  }
  std::set<std::string> loaded_files;
  for (const RuleInfo& rule : result.engine->rules()) loaded_files.insert(rule.file);
  for (const auto& [file, diagnostics] : files) {
    EXPECT_EQ(loaded_files.contains(file) ? 1 : 0, 1 - diagnostics)
        << file << " must be either loaded or refused with exactly one diagnostic";
  }

  std::map<std::string, int> reasons;
  for (const Diagnostic& d : result.diagnostics) {
    ++reasons[d.message.substr(0, d.message.find('\''))];
  }
  std::cout << "SigmaHQ linux: " << result.summary() << "\n";
  for (const auto& [reason, count] : reasons) std::cout << "  " << count << "x " << reason << "\n";
}

}  // namespace
}  // namespace vigie::rules
