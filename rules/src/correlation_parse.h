// Parses the `correlation` section of a rule document (loader use only).
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>

#include "vigie/rules/correlation.h"
#include "vigie/rules/engine.h"

namespace vigie::rules {

// `info` holds the attributes the loader already read (id, name, title,
// level, tags, file, line). Throws RuleError on any problem.
std::shared_ptr<const CorrelationRule> parse_correlation(const YAML::Node& doc,
                                                         const RuleInfo& info, int line);

}  // namespace vigie::rules
