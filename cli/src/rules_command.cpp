#include "rules_command.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "vigie/rules/correlation.h"
#include "vigie/rules/engine.h"
#include "vigie/rules/fixture.h"
#include "vigie/rules/ioc.h"

namespace vigie::cli {
namespace {

namespace fs = std::filesystem;
using rules::Diagnostic;

struct RulesOptions {
  std::vector<std::string> paths;
  std::vector<std::string> ioc_csv;   // NAME=FILE
  std::vector<std::string> ioc_misp;  // NAME=FILE
  std::string event_file;
  std::string rule_id;
  bool all = false;
};

// The IOC sets named on the command line; diagnostics printed; false when one is unusable.
bool load_iocs(const RulesOptions& options, rules::LoadOptions& load) {
  auto store = std::make_shared<rules::IocStore>();
  std::vector<Diagnostic> diagnostics;
  bool ok = true;
  auto each = [&](const std::vector<std::string>& specs, bool misp) {
    for (const std::string& spec : specs) {
      const auto eq = spec.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::cerr << "vigie rules: --ioc-" << (misp ? "misp" : "csv") << " wants NAME=FILE, got '"
                  << spec << "'\n";
        ok = false;
        continue;
      }
      const std::string name = spec.substr(0, eq), file = spec.substr(eq + 1);
      if (misp) {
        store->load_misp_json(name, file, diagnostics);
      } else {
        store->load_csv(name, file, diagnostics);
      }
    }
  };
  each(options.ioc_csv, false);
  each(options.ioc_misp, true);
  for (const Diagnostic& d : diagnostics) std::cout << rules::to_string(d) << '\n';
  load.iocs = std::move(store);
  return ok;
}

rules::LoadResult load(const RulesOptions& options, int& exit_code) {
  rules::LoadOptions load_options;
  if (!load_iocs(options, load_options)) exit_code = 2;
  std::vector<fs::path> paths(options.paths.begin(), options.paths.end());
  return rules::load_rules(paths, load_options);
}

int lint(const RulesOptions& options) {
  int exit_code = 0;
  const rules::LoadResult result = load(options, exit_code);
  for (const Diagnostic& d : result.diagnostics) std::cout << rules::to_string(d) << '\n';
  std::cout << result.summary() << '\n';
  if (exit_code == 0 && !result.diagnostics.empty()) exit_code = 1;
  return exit_code;
}

// Fixture files of each directory given: <dir>/fixtures/*.yml, and of
// subdirectories that are packs (hold a fixtures/ of their own).
std::vector<fs::path> fixture_files(const std::vector<std::string>& paths) {
  std::vector<fs::path> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) continue;
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file() && it->path().parent_path().filename() == "fixtures" &&
          (it->path().extension() == ".yml" || it->path().extension() == ".yaml")) {
        files.push_back(it->path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

int test(const RulesOptions& options) {
  int exit_code = 0;
  const rules::LoadResult result = load(options, exit_code);
  for (const Diagnostic& d : result.diagnostics) std::cout << rules::to_string(d) << '\n';
  std::size_t passed = 0, failed = 0, events = 0;
  for (const fs::path& file : fixture_files(options.paths)) {
    std::vector<Diagnostic> diagnostics;
    const auto fixture = rules::load_fixture(file, diagnostics);
    if (fixture) {
      events += fixture->match.size() + fixture->no_match.size();
      diagnostics = rules::check_fixture(*result.engine, *fixture);
    }
    for (const Diagnostic& d : diagnostics) std::cout << "FAIL " << rules::to_string(d) << '\n';
    (diagnostics.empty() ? passed : failed) += 1;
  }
  std::cout << result.summary() << "; fixtures: " << passed << " passed, " << failed << " failed, "
            << events << " events\n";
  if (exit_code == 0 && (failed > 0 || !result.diagnostics.empty())) exit_code = 1;
  if (exit_code == 0 && passed == 0) {
    std::cout << "no fixture found under the given directories\n";
    exit_code = 1;
  }
  return exit_code;
}

int explain(const RulesOptions& options) {
  int exit_code = 0;
  const rules::LoadResult result = load(options, exit_code);
  for (const Diagnostic& d : result.diagnostics) std::cout << rules::to_string(d) << '\n';
  protocol::Event event;
  try {
    const YAML::Node node = YAML::LoadFile(options.event_file);
    if (auto error = rules::parse_event(node, event)) {
      std::cerr << options.event_file << ':' << error->line << ": " << error->message << '\n';
      return 2;
    }
  } catch (const YAML::Exception& e) {
    std::cerr << options.event_file << ": " << e.what() << '\n';
    return 2;
  }
  const auto infos = result.engine->rules();
  std::size_t matched = 0;
  for (const rules::Explanation& e : result.engine->explain(event)) {
    const rules::RuleInfo& info = infos[e.rule_index];
    matched += e.matched;
    if (!options.rule_id.empty() ? info.id != options.rule_id : !(e.matched || options.all))
      continue;
    std::cout << (e.matched ? "MATCH    " : "no match ") << info.id << "  " << info.title << "  ["
              << info.level << "]  " << info.file << ':' << info.line << '\n';
    if (e.guard_failed)
      std::cout << "  logsource " << info.category << ": implied condition not met\n";
    if (e.prefilter_skipped)
      std::cout << "  (the literal prefilter skips this rule for this event)\n";
    for (const auto& s : e.selections) {
      std::cout << "  " << s.name << ": " << (s.matched ? "true" : "false");
      if (!s.matched) {
        std::cout << "  (";
        for (std::size_t g = 0; g < s.failed_fields.size(); ++g) {
          std::cout << (g ? "; " : "") << "failed on " << s.failed_fields[g];
        }
        std::cout << ')';
      }
      std::cout << '\n';
    }
  }
  std::cout << matched << " rule(s) match this " << protocol::to_string(event.kind()) << " event\n";
  return exit_code;
}

}  // namespace

CLI::App* add_rules_command(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<RulesOptions>();
  auto* rules_cmd = app.add_subcommand("rules", "check Sigma rule packs offline");
  rules_cmd->require_subcommand(1);
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("paths", options->paths, "rule files or pack directories")->required();
    cmd->add_option("--ioc-csv", options->ioc_csv, "IOC list NAME=FILE.csv for the ioc modifier");
    cmd->add_option("--ioc-misp", options->ioc_misp, "IOC list NAME=FILE.json (MISP attributes)");
  };
  auto* lint_cmd = rules_cmd->add_subcommand("lint", "load rules and print every diagnostic");
  common(lint_cmd);
  lint_cmd->callback([options, &exit_code] { exit_code = lint(*options); });
  auto* test_cmd = rules_cmd->add_subcommand("test", "run each pack's fixtures/*.yml");
  common(test_cmd);
  test_cmd->callback([options, &exit_code] { exit_code = test(*options); });
  auto* explain_cmd =
      rules_cmd->add_subcommand("explain", "why an event matches, selection by selection");
  common(explain_cmd);
  explain_cmd->add_option("--event", options->event_file, "YAML event in the fixture format")
      ->required();
  explain_cmd->add_option("--rule", options->rule_id, "explain this rule id, matched or not");
  explain_cmd->add_flag("--all", options->all, "explain every rule of the event's kind");
  explain_cmd->callback([options, &exit_code] { exit_code = explain(*options); });
  return rules_cmd;
}

}  // namespace vigie::cli
