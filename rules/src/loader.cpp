// Sigma YAML -> CompiledRule. Every yaml-cpp exception is caught here and
// turned into a Diagnostic: nothing escapes the load API.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "correlation_parse.h"
#include "engine_impl.h"
#include "vigie/rules/correlation.h"
#include "vigie/rules/engine.h"
#include "yaml_util.h"

namespace vigie::rules {
namespace {

namespace fs = std::filesystem;
using protocol::EventKind;

constexpr std::array<std::string_view, 5> kLevels = {"informational", "low", "medium", "high",
                                                     "critical"};
constexpr std::array<std::string_view, 5> kStatuses = {"stable", "test", "experimental",
                                                       "deprecated", "unsupported"};

template <std::size_t N>
bool one_of(const std::array<std::string_view, N>& names, std::string_view value) {
  return std::find(names.begin(), names.end(), value) != names.end();
}

// One YAML document of a file: its text and the line it starts on.
struct Document {
  std::string_view text;
  int first_line;
};

// Splits `text` at `---` markers. Documents are told apart here, not with
// YAML::LoadAll: Debian 12's yaml-cpp 0.7 loops forever in LoadAll on some
// inputs (a lone ","), growing memory (jbeder/yaml-cpp#1040, found by tests/fuzz).
// Documents without content (comments only) are dropped.
std::vector<Document> split_documents(std::string_view text) {
  std::vector<Document> documents;
  std::size_t doc_begin = 0;
  int doc_line = 1, line = 0;
  bool content = false;
  auto close = [&](std::size_t end) {
    if (content) documents.push_back({text.substr(doc_begin, end - doc_begin), doc_line});
  };
  for (std::size_t pos = 0; pos <= text.size();) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view l = text.substr(pos, end - pos);
    ++line;
    const bool marker = l.substr(0, 3) == "---" && (l.size() == 3 || l[3] == ' ' || l[3] == '\t' ||
                                                    l[3] == '\r' || l[3] == '#');
    if (marker) {
      close(pos);
      doc_begin = std::min(end + 1, text.size());
      doc_line = line + 1;
      content = false;
    } else {
      const std::size_t first = l.find_first_not_of(" \t\r");
      if (first != std::string_view::npos && l[first] != '#' && l.substr(first, 3) != "...") {
        content = true;
      }
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  close(text.size());
  return documents;
}

// file_event (Sysmon's FileCreate) is a file created or written.
bool writes_file(const protocol::Event& event) {
  const auto* open = std::get_if<protocol::FileOpen>(&event.body);
  return open && (open->write || open->create);
}

struct Logsource {
  std::string category;
  std::vector<EventKind> kinds;
  bool (*guard)(const protocol::Event&) = nullptr;
};

Logsource logsource_of(const YAML::Node& logsource, int rule_line) {
  if (!logsource.IsDefined() || !logsource.IsMap()) {
    refuse(logsource, rule_line, "missing or malformed 'logsource'");
  }
  const int line = line_of(logsource, rule_line);
  const std::string product = scalar(logsource, "product", false, line);
  const std::string category = scalar(logsource, "category", false, line);
  const std::string service = scalar(logsource, "service", false, line);
  if (product != "linux") {
    refuse(logsource, rule_line,
           "unsupported logsource: product '" + product + "' (only 'linux' maps to Vigie events)");
  }
  if (!service.empty()) {
    refuse(logsource["service"], line,
           "unsupported logsource: service '" + service + "' maps to no Vigie event");
  }
  struct Mapping {
    std::string_view category;
    std::vector<EventKind> kinds;
    bool (*guard)(const protocol::Event&);
  };
  const std::array<Mapping, 10> mappings = {{
      {"process_creation", {EventKind::kProcessExec}, nullptr},
      {"network_connection", {EventKind::kNetworkConnect, EventKind::kNetworkAccept}, nullptr},
      {"file_event", {EventKind::kFileOpen}, &writes_file},
      {"file_access", {EventKind::kFileOpen}, nullptr},
      {"process_exit", {EventKind::kProcessExit}, nullptr},
      {"process_fork", {EventKind::kProcessFork}, nullptr},
      {"network_listen", {EventKind::kNetworkListen}, nullptr},
      {"privilege_change", {EventKind::kPrivilegeChange}, nullptr},
      {"ptrace", {EventKind::kPtrace}, nullptr},
      {"fileless_exec", {EventKind::kFilelessExec}, nullptr},
  }};
  for (const Mapping& m : mappings) {
    if (m.category == category) return {category, m.kinds, m.guard};
  }
  refuse(logsource, rule_line,
         "unsupported logsource: category '" + category +
             "' (supported: process_creation, network_connection, file_event, file_access, "
             "process_exit, process_fork, network_listen, privilege_change, ptrace, "
             "fileless_exec)");
}

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(n >> s) & 63]);
  }
  if (i < in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) n |= uint8_t(in[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// pySigma's base64offset: the value at byte offsets 0, 1 and 2 of a base64
// stream, without the leading and trailing characters that depend on the
// neighbouring bytes.
std::vector<std::string> base64_offsets(std::string_view value) {
  static constexpr std::array<std::size_t, 3> kStart = {0, 2, 3};
  static constexpr std::array<std::size_t, 3> kEndTrim = {0, 3, 2};
  std::vector<std::string> out;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string encoded = base64(std::string(i, ' ') + std::string(value));
    const std::size_t trim = kEndTrim[(value.size() + i) % 3];
    if (encoded.size() < kStart[i] + trim) continue;
    out.push_back(encoded.substr(kStart[i], encoded.size() - kStart[i] - trim));
  }
  return out;
}

// windash: every `-` may also be `/`, en dash, em dash or horizontal bar.
std::vector<std::string> windash(std::string_view value) {
  static constexpr std::array<std::string_view, 5> kDashes = {"-", "/", "\u2013", "\u2014",
                                                              "\u2015"};
  std::vector<std::string> out = {""};
  for (const char c : value) {
    if (c != '-') {
      for (std::string& s : out) s.push_back(c);
      continue;
    }
    if (out.size() * kDashes.size() > 256) return {};  // the caller refuses the value
    std::vector<std::string> next;
    for (const std::string& s : out) {
      for (std::string_view dash : kDashes) next.push_back(s + std::string(dash));
    }
    out = std::move(next);
  }
  return out;
}

struct Modifiers {
  bool contains = false, startswith = false, endswith = false;
  bool all = false, exists = false, cased = false, neq = false, windash = false;
  bool re = false, re_i = false, re_m = false, re_s = false;
  bool base64 = false, base64offset = false, cidr = false, fieldref = false, ioc = false;
  std::optional<NumericMatcher::Op> numeric;
  int count = 0;
};

Modifiers parse_modifiers(const std::vector<std::string_view>& names, const std::string& field,
                          const YAML::Node& at, int line) {
  Modifiers m;
  auto bad = [&](const std::string& why) { refuse(at, line, "field '" + field + "': " + why); };
  for (const std::string_view name : names) {
    ++m.count;
    bool* flag = nullptr;
    if (name == "contains")
      flag = &m.contains;
    else if (name == "startswith")
      flag = &m.startswith;
    else if (name == "endswith")
      flag = &m.endswith;
    else if (name == "all")
      flag = &m.all;
    else if (name == "exists")
      flag = &m.exists;
    else if (name == "cased")
      flag = &m.cased;
    else if (name == "neq")
      flag = &m.neq;
    else if (name == "windash")
      flag = &m.windash;
    else if (name == "re")
      flag = &m.re;
    else if (name == "i" && m.re)
      flag = &m.re_i;
    else if (name == "m" && m.re)
      flag = &m.re_m;
    else if (name == "s" && m.re)
      flag = &m.re_s;
    else if (name == "base64")
      flag = &m.base64;
    else if (name == "base64offset")
      flag = &m.base64offset;
    else if (name == "cidr")
      flag = &m.cidr;
    else if (name == "fieldref")
      flag = &m.fieldref;
    else if (name == "ioc")
      flag = &m.ioc;
    else if (name == "lt")
      m.numeric = NumericMatcher::Op::kLess;
    else if (name == "lte")
      m.numeric = NumericMatcher::Op::kLessEqual;
    else if (name == "gt")
      m.numeric = NumericMatcher::Op::kGreater;
    else if (name == "gte")
      m.numeric = NumericMatcher::Op::kGreaterEqual;
    else if (name == "i" || name == "m" || name == "s")
      bad("modifier '" + std::string(name) + "' applies only after 're'");
    else if (name == "utf16le" || name == "utf16be" || name == "utf16" || name == "wide")
      bad("unsupported modifier '" + std::string(name) +
          "' (Vigie's Linux event fields are UTF-8 text)");
    else if (name == "expand")
      bad("unsupported modifier 'expand' (placeholders need a pipeline; use Vigie's 'ioc')");
    else if (name == "minute" || name == "hour" || name == "day" || name == "week" ||
             name == "month" || name == "year")
      bad("unsupported modifier '" + std::string(name) + "' (no date fields in Vigie events)");
    else
      bad("unsupported modifier '" + std::string(name) + "'");
    if (flag) *flag = true;
  }
  const int positions = m.contains + m.startswith + m.endswith;
  if (positions > 1) bad("combines contains/startswith/endswith");
  const int kinds = m.re + m.cidr + m.fieldref + m.ioc + m.numeric.has_value() + m.exists +
                    (m.base64 || m.base64offset);
  if (kinds > 1) bad("combines modifiers that give the value different meanings");
  if (m.base64 && m.base64offset) bad("combines base64 and base64offset");
  if ((m.re || m.cidr || m.ioc || m.numeric || m.fieldref) && (positions || m.windash))
    bad("re, cidr, ioc, fieldref and the numeric modifiers take no "
        "contains/startswith/endswith/windash");
  if (m.exists && m.count > 1) bad("'exists' takes no other modifier");
  if (m.all && (m.base64offset || m.windash))
    bad("'all' with base64offset or windash (values with variants) is not supported");
  return m;
}

class DetectionCompiler {
 public:
  DetectionCompiler(EventKind kind, const std::vector<std::shared_ptr<const IocStore>>& iocs)
      : kind_(kind), iocs_(iocs) {}

  CompiledRule compile(const YAML::Node& detection, int line) const {
    if (!detection.IsDefined() || !detection.IsMap()) {
      refuse(detection, line, "missing or malformed 'detection'");
    }
    CompiledRule rule;
    std::vector<std::string> names, conditions;
    int condition_line = line_of(detection, line);
    for (const auto& entry : detection) {
      const int entry_line = line_of(entry.first, line);
      if (!entry.first.IsScalar()) refuse(entry.first, line, "search identifier must be a string");
      const std::string& name = entry.first.Scalar();
      if (name == "condition") {
        condition_line = entry_line;
        if (entry.second.IsScalar()) {
          conditions.push_back(entry.second.Scalar());
        } else if (entry.second.IsSequence()) {
          for (const YAML::Node& item : entry.second) {
            if (!item.IsScalar()) refuse(item, entry_line, "condition list items must be strings");
            conditions.push_back(item.Scalar());
          }
        } else {
          refuse(entry.second, entry_line, "condition must be a string or a list of strings");
        }
      } else if (name == "timeframe") {
        refuse(entry.first, line,
               "'timeframe' (Sigma 1 aggregation) is not supported; use a correlation rule");
      } else {
        names.push_back(name);
        rule.selections.push_back(selection(name, entry.second, entry_line));
      }
    }
    if (conditions.empty()) refuse(detection, line, "detection has no 'condition'");
    auto condition = Condition::parse(conditions, names);
    if (!condition) throw RuleError{condition_line, "condition: " + condition.error()};
    rule.condition = std::move(*condition);
    return rule;
  }

 private:
  Selection selection(const std::string& name, const YAML::Node& node, int line) const {
    Selection selection;
    selection.name = name;
    if (node.IsMap()) {
      selection.any_of.push_back(group(node, line));
    } else if (node.IsSequence() && node.size() > 0) {
      const bool maps = node[0].IsMap();
      for (const YAML::Node& item : node) {
        if (item.IsMap() != maps) {
          refuse(item, line, "search identifier '" + name + "' mixes maps and keywords");
        }
        if (maps) selection.any_of.push_back(group(item, line_of(item, line)));
      }
      if (!maps) selection.any_of = keywords(name, node, line);
    } else if (node.IsScalar()) {
      selection.any_of = keywords(name, node, line);
    } else {
      refuse(node, line, "search identifier '" + name + "' must be a map, a list or a keyword");
    }
    return selection;
  }

  // Keyword (full-text) search: any text field of the kind contains a keyword.
  std::vector<std::vector<FieldPredicate>> keywords(const std::string& name, const YAML::Node& node,
                                                    int line) const {
    std::vector<std::vector<FieldPredicate>> groups;
    for (const std::string_view field : text_fields(kind_)) {
      const FieldDef def = resolve_field(kind_, field);
      FieldPredicate predicate;
      predicate.field = std::string(field) + "|contains (keyword '" + name + "')";
      predicate.accessor = def.get;
      predicate.setter = def.set;
      predicate.free_text = def.text;
      predicate.cost = 4;
      auto add = [&](const YAML::Node& item) {
        if (!item.IsScalar()) refuse(item, line, "keywords must be strings");
        predicate.matchers.emplace_back(ValuePattern(item.Scalar(), true, true));
      };
      if (node.IsSequence()) {
        for (const YAML::Node& item : node) add(item);
      } else {
        add(node);
      }
      groups.push_back({std::move(predicate)});
    }
    if (groups.empty()) refuse(node, line, "keyword search on an event kind without text fields");
    return groups;
  }

  std::vector<FieldPredicate> group(const YAML::Node& map, int line) const {
    std::vector<FieldPredicate> predicates;
    for (const auto& entry : map) {
      if (!entry.first.IsScalar()) refuse(entry.first, line, "field name must be a string");
      predicates.push_back(field(entry.first.Scalar(), entry.second, line_of(entry.first, line)));
    }
    if (predicates.empty()) refuse(map, line, "empty selection");
    std::stable_sort(
        predicates.begin(), predicates.end(),
        [](const FieldPredicate& a, const FieldPredicate& b) { return a.cost < b.cost; });
    return predicates;
  }

  FieldDef resolve(const std::string& name, const YAML::Node& at, int line) const {
    const FieldDef def = resolve_field(kind_, name);
    if (def.get == nullptr) {
      refuse(at, line,
             "unknown field '" + name + "' for Vigie " + std::string(protocol::to_string(kind_)) +
                 " events");
    }
    return def;
  }

  FieldPredicate field(const std::string& key, const YAML::Node& value, int line) const {
    std::vector<std::string_view> parts;
    std::string_view rest = key;
    for (std::size_t bar; (bar = rest.find('|')) != std::string_view::npos;) {
      parts.push_back(rest.substr(0, bar));
      rest.remove_prefix(bar + 1);
    }
    parts.push_back(rest);
    const std::string name(parts.front());
    if (name.empty()) refuse(value, line, "modifiers without a field name ('" + key + "')");
    parts.erase(parts.begin());
    const Modifiers m = parse_modifiers(parts, name, value, line);

    FieldPredicate predicate;
    predicate.field = key;
    const FieldDef def = resolve(name, value, line);
    predicate.accessor = def.get;
    predicate.setter = def.set;
    predicate.free_text = def.text;
    predicate.match_all = m.all;
    predicate.negate = m.neq;

    if (m.exists) {
      if (!value.IsScalar() || (value.Scalar() != "true" && value.Scalar() != "false")) {
        refuse(value, line, "field '" + name + "': 'exists' takes true or false");
      }
      predicate.presence = value.Scalar() == "true" ? FieldPredicate::Presence::kPresent
                                                    : FieldPredicate::Presence::kAbsent;
      return predicate;
    }
    if (value.IsNull()) {
      if (m.count > 0) refuse(value, line, "null value of field '" + name + "' takes no modifier");
      predicate.presence = FieldPredicate::Presence::kAbsent;
      return predicate;
    }
    std::vector<YAML::Node> items;
    if (value.IsSequence()) {
      if (value.size() == 0) refuse(value, line, "empty value list for field '" + name + "'");
      for (const YAML::Node& item : value) items.push_back(item);
    } else {
      items.push_back(value);
    }
    uint8_t cost = 0;
    for (const YAML::Node& item : items) {
      if (!item.IsScalar()) {
        refuse(item, line, "value of field '" + name + "' must be a scalar or a list of scalars");
      }
      cost = std::max(cost, add_value(predicate, m, name, item.Scalar(), item, line));
    }
    predicate.cost = cost;
    return predicate;
  }

  // Compiles one value into predicate.matchers; returns its evaluation cost.
  uint8_t add_value(FieldPredicate& predicate, const Modifiers& m, const std::string& name,
                    const std::string& text, const YAML::Node& at, int line) const {
    auto bad = [&](const std::string& why) { refuse(at, line, "field '" + name + "': " + why); };
    if (m.re) {
      std::string flags;
      if (m.re_i) flags += 'i';
      if (m.re_m) flags += 'm';
      if (m.re_s) flags += 's';
      re2::RE2::Options options;
      options.set_log_errors(false);
      auto regex =
          std::make_shared<re2::RE2>(flags.empty() ? text : "(?" + flags + ")" + text, options);
      if (!regex->ok()) bad("regular expression '" + text + "' rejected by RE2: " + regex->error());
      predicate.matchers.emplace_back(RegexMatcher{std::move(regex)});
      return 8;
    }
    if (m.cidr) {
      const auto network = IpNetwork::parse(text);
      if (!network || text.find('/') == std::string::npos)
        bad("'" + text + "' is not a CIDR range");
      predicate.matchers.emplace_back(CidrMatcher{*network});
      return 3;
    }
    if (m.numeric) {
      double bound = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), bound);
      if (ec != std::errc() || end != text.data() + text.size())
        bad("'" + text + "' is not a number");
      predicate.matchers.emplace_back(NumericMatcher{*m.numeric, bound});
      return 1;
    }
    if (m.fieldref) {
      const FieldDef other = resolve(text, at, line);
      predicate.matchers.emplace_back(FieldRefMatcher{other.get, other.set, m.cased});
      return 2;
    }
    if (m.ioc) {
      std::shared_ptr<const IocSet> set;
      for (const auto& store : iocs_) {
        if (!set && store) set = store->find(text);
      }
      if (!set) bad("no IOC list named '" + text + "' was loaded");
      predicate.matchers.emplace_back(IocMatcher{std::move(set)});
      return 6;
    }
    std::vector<std::string> variants = {text};
    bool cased = m.cased;
    if (m.base64) {
      variants = {base64(text)};
      cased = true;  // base64 text is case-sensitive by construction
    } else if (m.base64offset) {
      variants = base64_offsets(text);
      cased = true;
    }
    if (m.windash) {
      std::vector<std::string> dashed;
      for (const std::string& v : variants) {
        auto expanded = windash(v);
        if (expanded.empty()) bad("too many '-' for windash in '" + v + "'");
        dashed.insert(dashed.end(), expanded.begin(), expanded.end());
      }
      variants = std::move(dashed);
    }
    for (const std::string& v : variants) {
      predicate.matchers.emplace_back(
          ValuePattern(v, m.contains || m.endswith, m.contains || m.startswith, cased));
    }
    return m.contains ? 4 : 3;
  }

  EventKind kind_;
  const std::vector<std::shared_ptr<const IocStore>>& iocs_;
};

}  // namespace

// Accumulates rules from files and text into one Engine.
class EngineBuilder {
 public:
  explicit EngineBuilder(const LoadOptions& options)
      : engine_(std::make_shared<Engine>()), ioc_stores_{options.iocs} {}

  // IOC lists shipped in `<pack>/iocs/` (*.csv, and *.json as MISP), named by file stem.
  void add_pack_iocs(const fs::path& pack) {
    std::error_code ec;
    if (!fs::is_directory(pack / "iocs", ec)) return;
    auto store = std::make_shared<IocStore>();
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(pack / "iocs", ec))
      files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      if (file.extension() == ".csv") {
        store->load_csv(file.stem().string(), file, diagnostics_);
      } else if (file.extension() == ".json") {
        store->load_misp_json(file.stem().string(), file, diagnostics_);
      }
    }
    ioc_stores_.push_back(std::move(store));
  }

  void add_path(const fs::path& path) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      add_pack_iocs(path);
      add_directory(path);
    } else {
      add_file(path);
    }
  }

  void add_text(std::string_view text, const std::string& file) {
    const std::vector<Document> documents = split_documents(text);
    if (documents.empty()) {
      ++total_;
      diagnose(file, 0, "file holds no rule");
      return;
    }
    for (const Document& document : documents) {
      ++total_;
      YAML::Node node;
      try {
        node = YAML::Load(std::string(document.text));
      } catch (const YAML::Exception& e) {
        diagnose(file, document.first_line + (e.mark.is_null() ? 0 : e.mark.line),
                 "invalid YAML: " + e.msg);
        continue;
      }
      add_rule(node, file, document.first_line - 1);
    }
  }

  LoadResult finish() {
    engine_->impl_->build_prefilter();
    LoadResult result;
    result.rules_total = total_;
    result.rules_loaded = static_cast<int>(engine_->infos_.size() + correlations_.size());
    result.diagnostics = std::move(diagnostics_);
    result.correlations = std::move(correlations_);
    result.engine = std::move(engine_);
    return result;
  }

  void set_pack_version(std::string version) { engine_->pack_version_ = std::move(version); }

 private:
  void add_directory(const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, ec), end;
    if (ec) {
      diagnose(dir.string(), 0, "cannot read directory: " + ec.message());
      return;
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        diagnose(dir.string(), 0, "cannot read directory: " + ec.message());
        break;
      }
      if (it->is_directory() && it->path().filename() == "fixtures") {
        it.disable_recursion_pending();
        continue;
      }
      const auto ext = it->path().extension();
      if (it->is_regular_file() && (ext == ".yml" || ext == ".yaml")) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) add_file(file);
  }

  void add_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in || !text) {
      ++total_;
      diagnose(path.string(), 0, "cannot read rule file");
      return;
    }
    add_text(text.str(), path.string());
  }

  // `line_offset`: lines before the document in its file.
  void add_rule(const YAML::Node& doc, const std::string& file, int line_offset) {
    const int line = line_of(doc, 1);
    try {
      if (!doc.IsMap()) refuse(doc, line, "a rule must be a YAML map");
      if (const std::string action = scalar(doc, "action", false, line); !action.empty()) {
        refuse(doc["action"], line,
               "rule collection action '" + action + "' is not supported (write whole rules)");
      }
      RuleInfo info;
      info.file = file;
      info.line = line + line_offset;
      info.title = scalar(doc, "title", true, line);
      info.id = scalar(doc, "id", true, line);
      info.name = scalar(doc, "name", false, line);
      info.status = scalar(doc, "status", false, line);
      const bool correlation = doc["correlation"].IsDefined();
      info.level = scalar(doc, "level", !correlation, line);
      if (!info.level.empty() && !one_of(kLevels, info.level))
        refuse(doc["level"], line, "unknown level '" + info.level + "'");
      if (!info.status.empty() && !one_of(kStatuses, info.status)) {
        refuse(doc["status"], line, "unknown status '" + info.status + "'");
      }
      if (const YAML::Node tags = doc["tags"]; tags.IsDefined() && !tags.IsNull()) {
        if (!tags.IsSequence()) refuse(tags, line, "'tags' must be a list");
        for (const YAML::Node& tag : tags) {
          if (!tag.IsScalar()) refuse(tag, line, "each tag must be a string");
          info.tags.push_back(tag.Scalar());
        }
      }
      claim_id(info.id, doc["id"], file, line + line_offset, line);
      if (correlation) {
        correlations_.push_back(parse_correlation(doc, info, line));
        pending_id_.clear();
        return;
      }
      const Logsource logsource = logsource_of(doc["logsource"], line);
      info.category = logsource.category;
      info.event_kinds = logsource.kinds;
      std::vector<CompiledRule> compiled;
      for (const EventKind kind : logsource.kinds) {
        compiled.push_back(DetectionCompiler(kind, ioc_stores_).compile(doc["detection"], line));
        compiled.back().guard = logsource.guard;
      }
      const auto index = static_cast<uint32_t>(engine_->infos_.size());
      for (std::size_t i = 0; i < compiled.size(); ++i) {
        compiled[i].info_index = index;
        engine_->impl_->kinds[static_cast<std::size_t>(logsource.kinds[i])].rules.push_back(
            std::move(compiled[i]));
      }
      engine_->infos_.push_back(std::move(info));
    } catch (const RuleError& e) {
      if (!pending_id_.empty()) ids_.erase(pending_id_);
      diagnose(file, e.line + line_offset, e.message);
    } catch (const std::exception& e) {  // yaml-cpp conversions, allocation
      if (!pending_id_.empty()) ids_.erase(pending_id_);
      diagnose(file, line + line_offset, std::string("cannot load rule: ") + e.what());
    }
    pending_id_.clear();
  }

  // Records the rule's id, refusing one already loaded; released again if the rule is refused.
  void claim_id(const std::string& id, const YAML::Node& at, const std::string& file, int file_line,
                int line) {
    if (const auto [it, inserted] = ids_.try_emplace(id, file + ":" + std::to_string(file_line));
        !inserted) {
      refuse(at, line, "duplicate rule id '" + id + "', first loaded from " + it->second);
    }
    pending_id_ = id;
  }

  void diagnose(std::string file, int line, std::string message) {
    diagnostics_.push_back(Diagnostic{std::move(file), line, std::move(message)});
  }

  std::shared_ptr<Engine> engine_;
  std::vector<Diagnostic> diagnostics_;
  std::unordered_map<std::string, std::string> ids_;  // rule id -> "file:line" that loaded it
  std::string pending_id_;                            // id claimed by the rule being compiled
  std::vector<std::shared_ptr<const CorrelationRule>> correlations_;
  // The caller's IOC sets first, then those shipped in packs' iocs/ directories.
  std::vector<std::shared_ptr<const IocStore>> ioc_stores_;
  int total_ = 0;
};

LoadResult load_rules(std::span<const std::filesystem::path> paths, const LoadOptions& options) {
  try {
    EngineBuilder builder(options);
    for (const fs::path& path : paths) builder.add_path(path);
    std::error_code ec;
    if (!paths.empty() && fs::is_directory(paths.front(), ec)) {
      std::ifstream version(paths.front() / "VERSION");
      std::string line;
      if (version && std::getline(version, line)) {
        line.erase(line.find_last_not_of(" \t\r") + 1);
        builder.set_pack_version(std::move(line));
      }
    }
    return builder.finish();
  } catch (const std::exception& e) {  // allocation, filesystem or Hyperscan failure
    LoadResult result;
    result.engine = std::make_shared<Engine>();
    result.diagnostics.push_back({paths.empty() ? "" : paths.front().string(), 0,
                                  std::string("cannot load rules: ") + e.what()});
    return result;
  }
}

LoadResult load_rules(const std::filesystem::path& path, const LoadOptions& options) {
  return load_rules(std::span<const fs::path>(&path, 1), options);
}

LoadResult load_rules_yaml(std::string_view yaml, const std::string& file_name,
                           const LoadOptions& options) {
  try {
    EngineBuilder builder(options);
    builder.add_text(yaml, file_name);
    return builder.finish();
  } catch (const std::exception& e) {
    LoadResult result;
    result.engine = std::make_shared<Engine>();
    result.diagnostics.push_back({file_name, 0, std::string("cannot load rules: ") + e.what()});
    return result;
  }
}

std::string LoadResult::summary() const {
  return "loaded " + std::to_string(rules_loaded) + " of " + std::to_string(rules_total) + " rules";
}

std::string to_string(const Diagnostic& diagnostic) {
  return diagnostic.file + ":" + std::to_string(diagnostic.line) + ": " + diagnostic.message;
}

}  // namespace vigie::rules
