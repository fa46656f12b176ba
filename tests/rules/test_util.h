// Helpers shared by the rules unit tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vigie/rules/engine.h"

namespace vigie::rules::test {

// A process_creation rule with `detection` (indented YAML lines under `detection:`).
inline std::string exec_rule(const std::string& detection, const std::string& id = "r1") {
  return "title: t\nid: " + id +
         "\nlevel: high\nlogsource:\n  product: linux\n  category: process_creation\n"
         "detection:\n" +
         detection;
}

// Loads `yaml`, expecting it to load cleanly.
inline std::shared_ptr<const Engine> load_ok(const std::string& yaml) {
  LoadResult result = load_rules_yaml(yaml, "test.yml");
  EXPECT_TRUE(result.diagnostics.empty())
      << (result.diagnostics.empty() ? "" : to_string(result.diagnostics.front()));
  EXPECT_EQ(result.rules_loaded, 1);
  return result.engine;
}

// The single diagnostic of loading `yaml`, which must be refused.
inline Diagnostic refused(const std::string& yaml) {
  LoadResult result = load_rules_yaml(yaml, "bad.yml");
  EXPECT_EQ(result.rules_loaded, 0);
  EXPECT_EQ(result.diagnostics.size(), 1u);
  return result.diagnostics.empty() ? Diagnostic{} : result.diagnostics.front();
}

inline protocol::Event exec_event(const std::string& image, const std::string& command_line) {
  protocol::ProcessExec exec;
  exec.image = image;
  exec.command_line = command_line;
  protocol::Event event;
  event.body = std::move(exec);
  return event;
}

inline bool fires(const Engine& engine, const protocol::Event& event) {
  std::vector<protocol::Alert> alerts;
  engine.evaluate(event, alerts);
  return !alerts.empty();
}

}  // namespace vigie::rules::test
