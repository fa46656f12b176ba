#include "vigie/rules/engine.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "engine_impl.h"

namespace vigie::rules {
namespace {

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool equal_fold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// Per thread: the Hyperscan scratch (sized for the last engine used on this
// thread), the per-rule hit marks of the event being evaluated and the rules
// they mark (so that evaluation and clearing cost the candidates, not every rule).
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  uint64_t serial = 0;
  std::vector<uint8_t> hit;           // all zero between events
  std::vector<uint32_t> candidates;   // rules marked in `hit`
  std::string buffer;                 // the scanned fields, end to end
  std::vector<uint32_t> field_begin;  // per scan field: [begin, end) in buffer
  std::vector<uint32_t> field_end;
  ~ThreadScratch() { hs_free_scratch(scratch); }
};
thread_local ThreadScratch tls;

struct ScanContext {
  const KindRules* kind;
  ThreadScratch* scratch;
};

int on_literal(unsigned int id, unsigned long long, unsigned long long to, unsigned int,
               void* context) {
  const auto* ctx = static_cast<const ScanContext*>(context);
  const KindRules& kind = *ctx->kind;
  ThreadScratch& t = *ctx->scratch;
  const uint32_t field = kind.literal_field[id];
  if (to > t.field_end[field] || to < t.field_begin[field] + kind.literal_length[id]) return 0;
  for (const uint32_t rule : kind.literal_rules[id]) {
    if (!t.hit[rule]) {
      t.hit[rule] = 1;
      t.candidates.push_back(rule);
    }
  }
  return 0;
}

// The rules of `kind` the prefilter lets through: marks them in the thread's
// hit array and lists them, in rule order, in its candidates. Returns the
// thread's scratch, whose marks the caller clears with release(); nullptr when
// the Hyperscan scratch could not be allocated: the caller then evaluates every rule.
ThreadScratch* prefilter(const EngineImpl& impl, const KindRules& kind,
                         const protocol::Event& event) {
  ThreadScratch& tls = vigie::rules::tls;  // one TLS lookup per event
  if (tls.serial != impl.serial) {
    for (const KindRules& k : impl.kinds) {
      if (k.database && hs_alloc_scratch(k.database, &tls.scratch) != HS_SUCCESS) return nullptr;
    }
    tls.serial = impl.serial;
  }
  if (tls.hit.size() < kind.rules.size()) tls.hit.resize(kind.rules.size());
  tls.candidates.clear();
  for (const uint32_t r : kind.unfiltered) {
    tls.hit[r] = 1;
    tls.candidates.push_back(r);
  }
  tls.buffer.clear();
  tls.field_begin.resize(kind.scan_fields.size());
  tls.field_end.resize(kind.scan_fields.size());
  for (std::size_t f = 0; f < kind.scan_fields.size(); ++f) {
    FieldScratch scratch;
    const auto value = kind.scan_fields[f](event, scratch);
    tls.field_begin[f] = static_cast<uint32_t>(tls.buffer.size());
    if (value) tls.buffer.append(*value);
    tls.field_end[f] = static_cast<uint32_t>(tls.buffer.size());
  }
  ScanContext context{&kind, &tls};
  if (!tls.buffer.empty() &&
      hs_scan(kind.database, tls.buffer.data(), static_cast<unsigned>(tls.buffer.size()), 0,
              tls.scratch, on_literal, &context) != HS_SUCCESS) {
    for (uint32_t r = 0; r < kind.rules.size(); ++r) {
      if (!tls.hit[r]) tls.candidates.push_back(r);
      tls.hit[r] = 1;
    }
  }
  std::sort(tls.candidates.begin(), tls.candidates.end());
  return &tls;
}

void release(ThreadScratch& tls) {
  for (const uint32_t r : tls.candidates) tls.hit[r] = 0;
}

void raise(const RuleInfo& info, const protocol::Event& event, std::vector<protocol::Alert>& out) {
  out.push_back(protocol::Alert{info.id, info.title, info.level, info.tags, event});
}

}  // namespace

bool matches(const ValueMatcher& matcher, std::string_view value, const protocol::Event& event) {
  struct Visitor {
    std::string_view value;
    const protocol::Event& event;
    bool operator()(const ValuePattern& p) const { return p.matches(value); }
    bool operator()(const RegexMatcher& m) const {
      return re2::RE2::PartialMatch(re2::StringPiece(value.data(), value.size()), *m.regex);
    }
    bool operator()(const CidrMatcher& m) const {
      const auto address = parse_ip(value);
      return address && m.network.contains(*address);
    }
    bool operator()(const NumericMatcher& m) const {
      const auto number = parse_number(value);
      if (!number) return false;
      switch (m.op) {
        case NumericMatcher::Op::kLess:
          return *number < m.bound;
        case NumericMatcher::Op::kLessEqual:
          return *number <= m.bound;
        case NumericMatcher::Op::kGreater:
          return *number > m.bound;
        case NumericMatcher::Op::kGreaterEqual:
          return *number >= m.bound;
      }
      return false;
    }
    bool operator()(const FieldRefMatcher& m) const {
      FieldScratch scratch;
      const auto other = m.other(event, scratch);
      return other && (m.cased ? *other == value : equal_fold(*other, value));
    }
    bool operator()(const IocMatcher& m) const { return m.set->matches(value); }
  };
  return std::visit(Visitor{value, event}, matcher);
}

Engine::Engine() : impl_(std::make_unique<EngineImpl>()) {}
Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

void Engine::evaluate(const protocol::Event& event, std::vector<protocol::Alert>& out) const {
  const KindRules& kind = impl_->kinds[static_cast<std::size_t>(event.kind())];
  if (kind.rules.empty()) return;
  ThreadScratch* passed = kind.database ? prefilter(*impl_, kind, event) : nullptr;
  if (passed == nullptr) {
    evaluate_naive(event, out);
    return;
  }
  // Marks are cleared even if raise() throws (std::bad_alloc): a stale mark
  // would keep a rule out of the next event's candidates.
  const struct Release {
    ThreadScratch& scratch;
    ~Release() { release(scratch); }
  } guard{*passed};
  for (const uint32_t r : passed->candidates) {
    if (kind.rules[r].matches(event)) raise(infos_[kind.rules[r].info_index], event, out);
  }
}

void Engine::evaluate_naive(const protocol::Event& event, std::vector<protocol::Alert>& out) const {
  for (const CompiledRule& rule : impl_->kinds[static_cast<std::size_t>(event.kind())].rules) {
    if (rule.matches(event)) raise(infos_[rule.info_index], event, out);
  }
}

std::vector<Explanation> Engine::explain(const protocol::Event& event) const {
  const KindRules& kind = impl_->kinds[static_cast<std::size_t>(event.kind())];
  ThreadScratch* passed = kind.database ? prefilter(*impl_, kind, event) : nullptr;
  std::vector<uint8_t> hit;
  if (passed) {
    hit.assign(passed->hit.begin(), passed->hit.begin() + kind.rules.size());
    release(*passed);
  }
  std::vector<Explanation> out;
  for (std::size_t r = 0; r < kind.rules.size(); ++r) {
    const CompiledRule& rule = kind.rules[r];
    Explanation explanation;
    explanation.rule_index = rule.info_index;
    explanation.matched = rule.matches(event);
    explanation.guard_failed = rule.guard != nullptr && !rule.guard(event);
    explanation.prefilter_skipped = passed != nullptr && !hit[r];
    for (const Selection& selection : rule.selections) {
      Explanation::Selection traced{selection.name, selection.matches(event), {}};
      for (const auto& group : selection.any_of) {
        std::string failed;
        for (const FieldPredicate& predicate : group) {
          if (!predicate.matches(event)) {
            failed = predicate.field;
            break;
          }
        }
        traced.failed_fields.push_back(std::move(failed));
      }
      explanation.selections.push_back(std::move(traced));
    }
    out.push_back(std::move(explanation));
  }
  return out;
}

std::size_t Engine::prefilter_literals() const {
  std::size_t n = 0;
  for (const KindRules& kind : impl_->kinds) n += kind.literal_count;
  return n;
}

std::size_t Engine::unfiltered_rules() const {
  std::size_t n = 0;
  for (const KindRules& kind : impl_->kinds) {
    for (const uint8_t f : kind.filtered) n += f ^ 1;
  }
  return n;
}

}  // namespace vigie::rules
