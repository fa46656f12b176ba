#include "vigie/rules/correlation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "field.h"
#include "yaml_util.h"

namespace vigie::rules {
namespace {

using Type = CorrelationRule::Type;

std::string join(const std::vector<std::string>& parts) {
  std::string key;
  for (const std::string& part : parts) {
    key += part;
    key.push_back('\x1f');  // unit separator: cannot occur in the parts that matter
  }
  return key;
}

// The text of `field` on the alert's event; "" when absent.
std::string field_text(const protocol::Event& event, const std::string& field) {
  const FieldDef def = resolve_field(event.kind(), field);
  if (def.get == nullptr) return {};
  FieldScratch scratch;
  const auto value = def.get(event, scratch);
  return value ? std::string(*value) : std::string();
}

}  // namespace

std::string event_field_text(const protocol::Event& event, const std::string& field) {
  return field_text(event, field);
}

bool parse_duration(std::string_view text, uint64_t& ns) {
  if (text.size() < 2) return false;
  uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, number);
  if (ec != std::errc() || end != text.data() + text.size() - 1) return false;
  uint64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1'000'000'000ull;
      break;
    case 'm':
      unit = 60'000'000'000ull;
      break;
    case 'h':
      unit = 3'600'000'000'000ull;
      break;
    case 'd':
      unit = 86'400'000'000'000ull;
      break;
    default:
      return false;
  }
  if (number > std::numeric_limits<uint64_t>::max() / unit) return false;
  ns = number * unit;
  return true;
}

bool CountBound::holds(uint64_t count) const {
  switch (op) {
    case Op::kGt:
      return count > value;
    case Op::kGte:
      return count >= value;
    case Op::kLt:
      return count < value;
    case Op::kLte:
      return count <= value;
    case Op::kEq:
      return count == value;
    case Op::kNeq:
      return count != value;
  }
  return false;
}

std::shared_ptr<const CorrelationRule> parse_correlation(const YAML::Node& doc,
                                                         const RuleInfo& info, int line) {
  const YAML::Node section = doc["correlation"];
  if (!section.IsMap()) refuse(section, line, "'correlation' must be a map");
  const int at = line_of(section, line);
  auto rule = std::make_shared<CorrelationRule>();
  rule->id = info.id;
  rule->name = info.name;
  rule->title = info.title;
  rule->level = info.level;
  rule->tags = info.tags;
  rule->file = info.file;
  rule->line = info.line;
  const std::string type = scalar(section, "type", true, at);
  if (type == "event_count")
    rule->type = Type::kEventCount;
  else if (type == "value_count")
    rule->type = Type::kValueCount;
  else if (type == "temporal")
    rule->type = Type::kTemporal;
  else if (type == "temporal_ordered")
    rule->type = Type::kTemporalOrdered;
  else
    refuse(section["type"], at,
           "unsupported correlation type '" + type +
               "' (supported: event_count, value_count, temporal, temporal_ordered)");
  auto strings = [&](const char* key, std::vector<std::string>& out, bool required) {
    const YAML::Node node = section[key];
    if (!node.IsDefined() || node.IsNull()) {
      if (required) refuse(section, at, std::string("correlation needs '") + key + "'");
      return;
    }
    if (node.IsScalar()) {
      out.push_back(node.Scalar());
      return;
    }
    if (!node.IsSequence())
      refuse(node, at, std::string("'") + key + "' must be a list of strings");
    for (const YAML::Node& item : node) {
      if (!item.IsScalar())
        refuse(item, at, std::string("'") + key + "' must be a list of strings");
      out.push_back(item.Scalar());
    }
  };
  strings("rules", rule->rules, true);
  strings("group-by", rule->group_by, false);
  if (section["aliases"].IsDefined())
    refuse(section["aliases"], at, "correlation 'aliases' are not supported");
  const std::string timespan = scalar(section, "timespan", true, at);
  if (!parse_duration(timespan, rule->timespan_ns) || rule->timespan_ns == 0) {
    refuse(section["timespan"], at,
           "timespan '" + timespan + "' is not a number followed by s, m, h or d");
  }
  const YAML::Node condition = section["condition"];
  const bool temporal = rule->type == Type::kTemporal || rule->type == Type::kTemporalOrdered;
  if (!condition.IsDefined() || condition.IsNull()) {
    if (!temporal) refuse(section, at, "correlation needs a 'condition'");
    rule->condition = {{CountBound::Op::kGte, rule->rules.size()}};
  } else {
    if (!condition.IsMap()) refuse(condition, at, "correlation condition must be a map");
    for (const auto& entry : condition) {
      const std::string key = entry.first.Scalar();
      if (key == "field") {
        if (!entry.second.IsScalar())
          refuse(entry.second, at, "condition 'field' must be a string");
        rule->value_field = entry.second.Scalar();
        continue;
      }
      CountBound bound{};
      if (key == "gt")
        bound.op = CountBound::Op::kGt;
      else if (key == "gte")
        bound.op = CountBound::Op::kGte;
      else if (key == "lt")
        bound.op = CountBound::Op::kLt;
      else if (key == "lte")
        bound.op = CountBound::Op::kLte;
      else if (key == "eq")
        bound.op = CountBound::Op::kEq;
      else if (key == "neq")
        bound.op = CountBound::Op::kNeq;
      else
        refuse(entry.first, at, "unknown condition criterion '" + key + "'");
      const std::string text = entry.second.IsScalar() ? entry.second.Scalar() : "";
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bound.value);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        refuse(entry.second, at, "condition '" + key + "' needs a non-negative integer");
      }
      rule->condition.push_back(bound);
    }
    if (rule->condition.empty()) refuse(condition, at, "correlation condition has no criterion");
  }
  if (rule->type == Type::kValueCount && rule->value_field.empty()) {
    refuse(condition, at, "value_count needs 'field' in its condition");
  }
  if (const YAML::Node generate =
          doc["generate"].IsDefined() ? doc["generate"] : section["generate"];
      generate.IsDefined()) {
    if (!generate.IsScalar() || (generate.Scalar() != "true" && generate.Scalar() != "false")) {
      refuse(generate, at, "'generate' must be true or false");
    }
    rule->generate = generate.Scalar() == "true";
  }
  return rule;
}

namespace {
// Rule references (ids or Sigma names) of each correlation, resolved to ids.
std::vector<std::vector<std::string>> resolve_references(
    std::span<const std::shared_ptr<const CorrelationRule>> rules, const Engine& engine) {
  std::map<std::string, std::string, std::less<>> by_name;
  for (const RuleInfo& info : engine.rules()) {
    if (!info.name.empty()) by_name[info.name] = info.id;
  }
  for (const auto& rule : rules) {
    if (!rule->name.empty()) by_name[rule->name] = rule->id;
  }
  std::vector<std::vector<std::string>> ids(rules.size());
  for (std::size_t r = 0; r < rules.size(); ++r) {
    for (const std::string& ref : rules[r]->rules) {
      const auto it = by_name.find(ref);
      ids[r].push_back(it == by_name.end() ? ref : it->second);
    }
  }
  return ids;
}
}  // namespace

std::set<std::string, std::less<>> correlation_only_rules(
    std::span<const std::shared_ptr<const CorrelationRule>> rules, const Engine& engine) {
  std::set<std::string, std::less<>> only;
  const auto ids = resolve_references(rules, engine);
  for (std::size_t r = 0; r < rules.size(); ++r) {
    if (!rules[r]->generate) only.insert(ids[r].begin(), ids[r].end());
  }
  return only;
}

Correlator::Correlator(std::vector<std::shared_ptr<const CorrelationRule>> rules,
                       const Engine& engine, std::size_t max_groups)
    : correlation_only_(correlation_only_rules(rules, engine)), max_groups_(max_groups) {
  auto ids = resolve_references(rules, engine);
  for (std::size_t r = 0; r < rules.size(); ++r) {
    states_.push_back(State{std::move(rules[r]), std::move(ids[r]), {}});
  }
}

bool Correlator::correlation_only(std::string_view rule_id) const {
  return correlation_only_.contains(rule_id);
}

void Correlator::evict_oldest() {
  State* oldest_state = nullptr;
  std::map<std::string, Window>::iterator oldest;
  for (State& state : states_) {
    for (auto it = state.windows.begin(); it != state.windows.end(); ++it) {
      if (!oldest_state || it->second.last_ns < oldest->second.last_ns) {
        oldest_state = &state;
        oldest = it;
      }
    }
  }
  if (!oldest_state) return;
  stats_.entries -= oldest->second.hits.size() + oldest->second.values.size();
  oldest_state->windows.erase(oldest);
  --stats_.groups;
  ++stats_.evicted_total;
}

void Correlator::feed(const protocol::Alert& alert, std::vector<protocol::Alert>& out) {
  const uint64_t now = alert.event.time_ns;
  std::vector<protocol::Alert> raised;
  for (State& state : states_) {
    const CorrelationRule& rule = *state.rule;
    const auto ref = std::find(state.rule_ids.begin(), state.rule_ids.end(), alert.rule_id);
    if (ref == state.rule_ids.end()) continue;
    const auto rule_index = static_cast<uint32_t>(ref - state.rule_ids.begin());
    std::vector<std::string> key_parts;
    for (const std::string& field : rule.group_by)
      key_parts.push_back(field_text(alert.event, field));
    const std::string key = join(key_parts);
    auto it = state.windows.find(key);
    if (it == state.windows.end()) {
      while (stats_.groups >= max_groups_ && stats_.groups > 0) evict_oldest();
      it = state.windows.emplace(key, Window{}).first;
      ++stats_.groups;
    }
    Window& window = it->second;
    window.last_ns = now;
    // Expire what fell out of the timespan.
    const uint64_t horizon = now > rule.timespan_ns ? now - rule.timespan_ns : 0;
    while (!window.hits.empty() && window.hits.front().first < horizon) {
      window.hits.pop_front();
      --stats_.entries;
    }
    while (!window.values.empty() && window.values.front().first < horizon) {
      window.values.pop_front();
      --stats_.entries;
    }
    uint64_t count = 0;
    switch (rule.type) {
      case Type::kEventCount:
        window.hits.emplace_back(now, rule_index);
        ++stats_.entries;
        count = window.hits.size();
        break;
      case Type::kValueCount: {
        const std::string value = field_text(alert.event, rule.value_field);
        if (value.empty()) break;
        auto same = std::find_if(window.values.begin(), window.values.end(),
                                 [&](const auto& v) { return v.second == value; });
        if (same != window.values.end()) {
          window.values.erase(same);  // refreshed: keep the latest time of each value
          --stats_.entries;
        }
        window.values.emplace_back(now, value);
        ++stats_.entries;
        count = window.values.size();
        break;
      }
      case Type::kTemporal:
      case Type::kTemporalOrdered: {
        window.hits.emplace_back(now, rule_index);
        ++stats_.entries;
        std::vector<bool> seen(state.rule_ids.size(), false);
        if (rule.type == Type::kTemporal) {
          for (const auto& hit : window.hits) seen[hit.second] = true;
        } else {
          // In order: the longest prefix of `rules` found as a subsequence.
          uint32_t next = 0;
          for (const auto& hit : window.hits) {
            if (next < seen.size() && hit.second == next) seen[next++] = true;
          }
        }
        count = static_cast<uint64_t>(std::count(seen.begin(), seen.end(), true));
        break;
      }
    }
    const bool fired =
        count > 0 && std::all_of(rule.condition.begin(), rule.condition.end(),
                                 [&](const CountBound& b) { return b.holds(count); });
    if (!fired) continue;
    protocol::Alert correlated{rule.id, rule.title, rule.level, rule.tags, alert.event};
    if (correlated.level.empty()) correlated.level = alert.level;
    raised.push_back(std::move(correlated));
    ++stats_.fired_total;
    // A window fires once: start afresh so a burst raises one alert per timespan.
    stats_.entries -= window.hits.size() + window.values.size();
    window.hits.clear();
    window.values.clear();
  }
  for (const protocol::Alert& correlated : raised) {
    out.push_back(correlated);
    feed(correlated, out);  // chained correlations
  }
}

// ---- threshold / absence rules ---------------------------------------------

std::vector<ThresholdRule> load_threshold_rules(std::string_view yaml, const std::string& file_name,
                                                std::vector<Diagnostic>& diagnostics) {
  std::vector<ThresholdRule> rules;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    diagnostics.push_back(
        {file_name, e.mark.is_null() ? 0 : e.mark.line + 1, "invalid YAML: " + e.msg});
    return rules;
  }
  const YAML::Node list = root.IsMap() ? root["threshold_rules"] : YAML::Node();
  if (!list.IsDefined() || !list.IsSequence()) {
    diagnostics.push_back({file_name, 1, "expected 'threshold_rules:' with a list of rules"});
    return rules;
  }
  for (const YAML::Node& node : list) {
    const int line = line_of(node, 1);
    try {
      if (!node.IsMap()) refuse(node, line, "a threshold rule must be a map");
      ThresholdRule rule;
      rule.name = scalar(node, "alert", true, line);
      rule.metric = scalar(node, "metric", true, line);
      const int kinds =
          node["above"].IsDefined() + node["below"].IsDefined() + node["absent"].IsDefined();
      if (kinds != 1)
        refuse(node, line, "rule '" + rule.name + "' needs exactly one of above, below, absent");
      auto number = [&](const char* key) {
        const std::string text = scalar(node, key, true, line);
        double value = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || end != text.data() + text.size())
          refuse(node[key], line, std::string("'") + key + "' must be a number");
        return value;
      };
      auto duration = [&](const char* key, uint64_t& out) {
        const std::string text = scalar(node, key, false, line);
        if (!text.empty() && !parse_duration(text, out))
          refuse(node[key], line, std::string("'") + key + "' must be a duration like 30s, 5m, 1h");
      };
      if (node["above"].IsDefined()) {
        rule.kind = ThresholdRule::Kind::kAbove;
        rule.threshold = number("above");
      } else if (node["below"].IsDefined()) {
        rule.kind = ThresholdRule::Kind::kBelow;
        rule.threshold = number("below");
      } else {
        rule.kind = ThresholdRule::Kind::kAbsent;
        duration("absent", rule.absent_ns);
        if (rule.absent_ns == 0)
          refuse(node["absent"], line, "'absent' must be a positive duration");
      }
      duration("for", rule.for_ns);
      for (const char* key : {"labels", "annotations"}) {
        const YAML::Node map = node[key];
        if (!map.IsDefined()) continue;
        if (!map.IsMap()) refuse(map, line, std::string("'") + key + "' must be a map");
        auto& out = std::string_view(key) == "labels" ? rule.labels : rule.annotations;
        for (const auto& entry : map) out[entry.first.Scalar()] = entry.second.Scalar();
      }
      rules.push_back(std::move(rule));
    } catch (const RuleError& e) {
      diagnostics.push_back({file_name, e.line, e.message});
    } catch (const YAML::Exception& e) {
      diagnostics.push_back({file_name, line, std::string("bad threshold rule: ") + e.what()});
    }
  }
  return rules;
}

namespace {

std::string series_key(std::string_view metric, const std::map<std::string, std::string>& labels) {
  std::string key(metric);
  for (const auto& [name, value] : labels) key += '\x1f' + name + '=' + value;
  return key;
}

// Prometheus' {{ $labels.x }} and {{ $value }} (text/template subset).
std::string render(const std::string& text, const std::map<std::string, std::string>& labels,
                   double value) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t open = text.find("{{", pos);
    if (open == std::string::npos) break;
    const std::size_t close = text.find("}}", open);
    if (close == std::string::npos) break;
    out.append(text, pos, open - pos);
    std::string expr = text.substr(open + 2, close - open - 2);
    expr.erase(0, expr.find_first_not_of(' '));
    expr.erase(expr.find_last_not_of(' ') + 1);
    if (expr == "$value") {
      char buffer[32];
      const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
      out.append(buffer, end);
    } else if (expr.rfind("$labels.", 0) == 0) {
      const auto it = labels.find(expr.substr(8));
      if (it != labels.end()) out += it->second;
    } else {
      out.append(text, open, close + 2 - open);  // unknown: left as written
    }
    pos = close + 2;
  }
  out.append(text, pos);
  return out;
}

}  // namespace

ThresholdEvaluator::ThresholdEvaluator(std::vector<ThresholdRule> rules, std::size_t max_series)
    : rules_(std::move(rules)), max_series_(max_series) {}

void ThresholdEvaluator::observe(std::string_view metric,
                                 const std::map<std::string, std::string>& labels, double value,
                                 uint64_t time_ns) {
  const std::string key = series_key(metric, labels);
  auto it = series_.find(key);
  if (it == series_.end()) {
    if (series_.size() >= max_series_) {
      auto oldest = std::min_element(
          series_.begin(), series_.end(),
          [](const auto& a, const auto& b) { return a.second.last_ns < b.second.last_ns; });
      if (oldest != series_.end()) {
        series_.erase(oldest);
        ++evicted_total_;
      }
    }
    it = series_.emplace(key, Series{std::string(metric), labels, value, time_ns}).first;
  }
  it->second.value = value;
  it->second.last_ns = std::max(it->second.last_ns, time_ns);
}

std::vector<ThresholdAlert> ThresholdEvaluator::evaluate(uint64_t now_ns) {
  std::vector<ThresholdAlert> changes;
  std::set<std::string> holding;
  for (const ThresholdRule& rule : rules_) {
    for (const auto& [key, series] : series_) {
      if (series.metric != rule.metric) continue;
      bool holds = false;
      switch (rule.kind) {
        case ThresholdRule::Kind::kAbove:
          holds = series.value > rule.threshold;
          break;
        case ThresholdRule::Kind::kBelow:
          holds = series.value < rule.threshold;
          break;
        case ThresholdRule::Kind::kAbsent:
          holds = now_ns >= series.last_ns + rule.absent_ns;
          break;
      }
      if (!holds) continue;
      const std::string id = rule.name + '\x1e' + key;
      holding.insert(id);
      auto [it, inserted] = active_.try_emplace(id);
      Active& active = it->second;
      if (inserted) {
        active.alert.name = rule.name;
        active.alert.labels = series.labels;
        for (const auto& [name, value] : rule.labels) active.alert.labels[name] = value;
        active.alert.labels["alertname"] = rule.name;
        active.alert.active_since_ns = now_ns;
        active.alert.state = ThresholdAlert::State::kPending;
      }
      active.alert.value = series.value;
      for (const auto& [name, text] : rule.annotations) {
        active.alert.annotations[name] = render(text, active.alert.labels, series.value);
      }
      const bool firing = now_ns >= active.alert.active_since_ns + rule.for_ns;
      if (inserted || firing != active.firing) {
        active.firing = firing;
        active.alert.state =
            firing ? ThresholdAlert::State::kFiring : ThresholdAlert::State::kPending;
        changes.push_back(active.alert);
      }
    }
  }
  for (auto it = active_.begin(); it != active_.end();) {
    if (holding.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second.firing) {  // a pending alert that stops holding just goes (Prometheus)
      ThresholdAlert resolved = it->second.alert;
      resolved.state = ThresholdAlert::State::kResolved;
      changes.push_back(std::move(resolved));
    }
    it = active_.erase(it);
  }
  return changes;
}

std::vector<ThresholdAlert> ThresholdEvaluator::active() const {
  std::vector<ThresholdAlert> out;
  for (const auto& [id, active] : active_) out.push_back(active.alert);
  return out;
}

}  // namespace vigie::rules
