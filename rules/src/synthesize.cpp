// Engine::examples: events built from a rule's own selections (see engine.h).
#include <algorithm>
#include <cmath>
#include <map>

#include "engine_impl.h"
#include "vigie/rules/engine.h"

namespace vigie::rules {
namespace {

// A shortest string the regular expression (Sigma's subset: . ^ $ * + ? {n,m}
// [...] | ( ) and \-escapes) matches; RE2 checks it afterwards.
class RegexExample {
 public:
  explicit RegexExample(std::string_view re) : re_(re) {}
  std::string run() { return alternation(); }

 private:
  std::string alternation() {
    std::string first = sequence();
    while (pos_ < re_.size() && re_[pos_] == '|') {
      ++pos_;
      sequence();  // the first branch is enough
    }
    return first;
  }
  std::string sequence() {
    std::string out;
    while (pos_ < re_.size() && re_[pos_] != '|' && re_[pos_] != ')') {
      std::string a = atom();
      const auto [min, max] = quantifier();
      (void)max;
      for (std::size_t i = 0; i < min; ++i) out += a;
    }
    return out;
  }
  std::pair<std::size_t, std::size_t> quantifier() {
    if (pos_ >= re_.size()) return {1, 1};
    const char c = re_[pos_];
    std::pair<std::size_t, std::size_t> q{1, 1};
    if (c == '*')
      q = {0, SIZE_MAX};
    else if (c == '+')
      q = {1, SIZE_MAX};
    else if (c == '?')
      q = {0, 1};
    else if (c == '{') {
      const std::size_t close = re_.find('}', pos_);
      if (close == std::string_view::npos) return q;
      q.first = static_cast<std::size_t>(std::atoi(std::string(re_.substr(pos_ + 1)).c_str()));
      pos_ = close;
    } else {
      return q;
    }
    ++pos_;
    if (pos_ < re_.size() && (re_[pos_] == '?' || re_[pos_] == '+')) ++pos_;  // lazy, possessive
    return q;
  }
  std::string atom() {
    const char c = re_[pos_++];
    switch (c) {
      case '(': {
        if (re_.substr(pos_, 2) == "?:") pos_ += 2;
        std::string inner = alternation();
        if (pos_ < re_.size()) ++pos_;  // ')'
        return inner;
      }
      case '[':
        return std::string(1, char_class());
      case '.':
        return "x";
      case '^':
      case '$':
        return "";
      case '\\':
        return escape(re_[pos_++]);
      default:
        return std::string(1, c);
    }
  }
  static std::string escape(char c) {
    switch (c) {
      case 's':
        return " ";
      case 'd':
        return "0";
      case 'w':
        return "a";
      case 'S':
      case 'W':
      case 'D':
        return "-";
      default:
        return std::string(1, c);
    }
  }
  char char_class() {
    const bool negated = pos_ < re_.size() && re_[pos_] == '^';
    if (negated) ++pos_;
    std::string members;
    bool first = true;
    while (pos_ < re_.size() && (re_[pos_] != ']' || first)) {
      first = false;
      char c = re_[pos_++];
      if (c == '\\' && pos_ < re_.size()) {
        const char e = re_[pos_++];
        members += e == 's' ? " \t\n" : e == 'd' ? "0123456789" : std::string(1, e);
        continue;
      }
      if (pos_ + 1 < re_.size() && re_[pos_] == '-' && re_[pos_ + 1] != ']') {
        const char last = re_[pos_ + 1];
        pos_ += 2;
        for (char x = c; x <= last && x != 127; ++x) members.push_back(x);
        continue;
      }
      members.push_back(c);
    }
    if (pos_ < re_.size()) ++pos_;  // ']'
    if (!negated) return members.empty() ? 'x' : members.front();
    for (const char candidate : std::string_view("xqz_0A.")) {
      if (members.find(candidate) == std::string::npos) return candidate;
    }
    return '~';
  }

  std::string_view re_;
  std::size_t pos_ = 0;
};

std::string format_number(double value) {
  return std::to_string(static_cast<long long>(std::llround(value)));
}

// Text fragments a field must hold for one predicate; empty when unknown.
struct Fragments {
  std::string exact, prefix, suffix;
  std::vector<std::string> inner;
  bool unknown = false;
};

void add_fragment(Fragments& f, const ValueMatcher& matcher, const protocol::Event& event,
                  std::string& fieldref_source) {
  if (const auto* p = std::get_if<ValuePattern>(&matcher)) {
    const std::string text = p->example();
    switch (p->position()) {
      case ValuePattern::Position::kExact:
        f.exact = text;
        break;
      case ValuePattern::Position::kPrefix:
        f.prefix = text;
        break;
      case ValuePattern::Position::kSuffix:
        f.suffix = text;
        break;
      case ValuePattern::Position::kInner:
        f.inner.push_back(text);
        break;
    }
  } else if (const auto* r = std::get_if<RegexMatcher>(&matcher)) {
    f.inner.push_back(RegexExample(r->regex->pattern()).run());
  } else if (const auto* c = std::get_if<CidrMatcher>(&matcher)) {
    char text[64];
    const auto& a = c->network.address;
    if (c->network.prefix_bits >= 96 && a[10] == 0xff && a[11] == 0xff &&
        std::all_of(a.begin(), a.begin() + 10, [](uint8_t b) { return b == 0; })) {
      std::snprintf(text, sizeof text, "%u.%u.%u.%u", a[12], a[13], a[14], a[15] | 1);
    } else {
      std::snprintf(text, sizeof text, "%x%02x:%x%02x::1", a[0], a[1], a[2], a[3]);
    }
    f.exact = text;
  } else if (const auto* n = std::get_if<NumericMatcher>(&matcher)) {
    double v = n->bound;
    if (n->op == NumericMatcher::Op::kLess) v -= 1;
    if (n->op == NumericMatcher::Op::kGreater) v += 1;
    f.exact = format_number(v);
  } else if (const auto* r = std::get_if<FieldRefMatcher>(&matcher)) {
    FieldScratch scratch;
    const auto other = r->other(event, scratch);
    f.exact = other ? std::string(*other) : "vigie";
    if (!other) fieldref_source = f.exact;
  } else {
    f.unknown = true;  // IOC sets: no example to draw
  }
}

using FieldFragments = std::map<FieldSetter, Fragments>;

// Adds what one selection group needs to `fields`; false when a value cannot be built.
bool collect(const std::vector<FieldPredicate>& group, protocol::Event& event,
             FieldFragments& fields) {
  for (const FieldPredicate& predicate : group) {
    if (predicate.setter == nullptr) {
      // Derived fields (Initiated) cannot be set; the kind may already satisfy them.
      if (!predicate.matches(event)) return false;
      continue;
    }
    if (predicate.presence == FieldPredicate::Presence::kAbsent || predicate.negate) continue;
    Fragments& f = fields[predicate.setter];
    if (predicate.presence == FieldPredicate::Presence::kPresent) {
      if (f.exact.empty()) f.exact = "1";
      continue;
    }
    const std::size_t n = predicate.match_all ? predicate.matchers.size() : 1;
    for (std::size_t i = 0; i < n; ++i) {
      std::string fieldref_source;
      add_fragment(f, predicate.matchers[i], event, fieldref_source);
      if (!fieldref_source.empty()) {
        const auto& ref = std::get<FieldRefMatcher>(predicate.matchers[i]);
        if (ref.other_setter == nullptr || !ref.other_setter(event, fieldref_source)) return false;
      }
    }
  }
  return true;
}

// Sets each field to its fragments: exact, or prefix, inner parts and suffix joined by spaces.
bool emit(const FieldFragments& fields, protocol::Event& event) {
  for (const auto& [setter, f] : fields) {
    if (f.unknown) return false;
    std::string value = f.exact;
    if (value.empty()) {
      value = f.prefix;
      for (const std::string& inner : f.inner) value += (value.empty() ? "" : " ") + inner;
      if (!f.suffix.empty()) value += (value.empty() ? "" : " ") + f.suffix;
    }
    if (!setter(event, value)) return false;
  }
  return true;
}

protocol::Event blank(protocol::EventKind kind) {
  protocol::Event event;
  event.site = "site-example";
  event.host = "node-example";
  event.pid = 4242;
  event.ppid = 1;
  event.user = "example";
  event.body = empty_body(kind);
  if (auto* open = std::get_if<protocol::FileOpen>(&event.body)) {
    open->write = open->create = true;  // satisfies file_event's implied condition
  }
  return event;
}

}  // namespace

std::vector<protocol::Event> Engine::examples(std::size_t rule_index) const {
  constexpr std::size_t kMaxSelections = 16, kMaxExamples = 64;
  std::vector<protocol::Event> out;
  for (const KindRules& kind : impl_->kinds) {
    for (const CompiledRule& rule : kind.rules) {
      if (rule.info_index != rule_index) continue;
      const std::size_t n = rule.selections.size();
      if (n > kMaxSelections) return out;
      // Every assignment of selections that satisfies the condition, fewest true first.
      std::vector<uint32_t> assignments;
      for (uint32_t mask = 0; mask < (1u << n); ++mask) {
        if (rule.condition.evaluate([&](uint32_t i) { return (mask >> i) & 1; })) {
          assignments.push_back(mask);
        }
      }
      std::stable_sort(assignments.begin(), assignments.end(), [](uint32_t a, uint32_t b) {
        return __builtin_popcount(a) < __builtin_popcount(b);
      });
      std::size_t max_groups = 1;
      for (const Selection& s : rule.selections) max_groups = std::max(max_groups, s.any_of.size());
      for (const uint32_t mask : assignments) {
        for (std::size_t g = 0; g < max_groups && out.size() < kMaxExamples; ++g) {
          protocol::Event event =
              blank(static_cast<protocol::EventKind>(&kind - impl_->kinds.data()));
          FieldFragments fields;
          bool ok = true;
          for (std::size_t i = 0; i < n && ok; ++i) {
            if (!((mask >> i) & 1)) continue;
            const auto& groups = rule.selections[i].any_of;
            ok = collect(groups[std::min(g, groups.size() - 1)], event, fields);
          }
          if (ok && emit(fields, event)) out.push_back(std::move(event));
        }
      }
      return out;
    }
  }
  return out;
}

}  // namespace vigie::rules
