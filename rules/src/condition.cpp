#include "condition.h"

#include <cctype>

namespace vigie::rules {
namespace {

// Identifier patterns of `x of pattern` use `*` only (rules specification §Condition).
bool identifier_matches(std::string_view name, std::string_view pattern) {
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string_view> tokenize(std::string_view text) {
  std::vector<std::string_view> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '(' || c == ')' || c == '|') {
      tokens.push_back(text.substr(i++, 1));
    } else {
      const std::size_t start = i;
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i])) &&
             text[i] != '(' && text[i] != ')' && text[i] != '|') {
        ++i;
      }
      tokens.push_back(text.substr(start, i - start));
    }
  }
  return tokens;
}

bool is_keyword(std::string_view token) {
  return token == "and" || token == "or" || token == "not" || token == "of" || token == "them" ||
         token == "(" || token == ")" || token == "|";
}

}  // namespace

// Recursive descent over one condition text, appending to a Condition's nodes.
class ConditionParser {
 public:
  ConditionParser(Condition& out, std::span<const std::string> identifiers, std::string& error)
      : out_(out), identifiers_(identifiers), error_(error) {}

  std::optional<uint32_t> parse(std::string_view text) {
    tokens_ = tokenize(text);
    pos_ = 0;
    if (tokens_.empty()) return fail("condition is empty");
    auto root = parse_or();
    if (root && pos_ < tokens_.size() && tokens_[pos_] == "|") {
      return fail("aggregation expressions ('| count() ...') are not supported");
    }
    if (root && pos_ < tokens_.size()) return fail_at("unexpected");
    return root;
  }

  uint32_t add_list(Condition::Node::Op op, const std::vector<uint32_t>& children) {
    if (children.size() == 1) return children.front();
    const auto first = static_cast<uint32_t>(out_.children_.size());
    out_.children_.insert(out_.children_.end(), children.begin(), children.end());
    return add({op, first, static_cast<uint32_t>(children.size())});
  }

 private:
  using Op = Condition::Node::Op;

  std::optional<uint32_t> parse_or() { return parse_list(Op::kOr, "or"); }
  std::optional<uint32_t> parse_and() { return parse_list(Op::kAnd, "and"); }

  std::optional<uint32_t> parse_list(Op op, std::string_view keyword) {
    std::vector<uint32_t> children;
    do {
      auto child = op == Op::kOr ? parse_and() : parse_not();
      if (!child) return std::nullopt;
      children.push_back(*child);
    } while (accept(keyword));
    return add_list(op, children);
  }

  std::optional<uint32_t> parse_not() {
    if (accept("not")) {
      if (!enter()) return std::nullopt;
      auto child = parse_not();
      --depth_;
      if (!child) return std::nullopt;
      return add({Op::kNot, *child, 0});
    }
    return parse_primary();
  }

  std::optional<uint32_t> parse_primary() {
    if (pos_ >= tokens_.size()) return fail("condition ends unexpectedly");
    const std::string_view token = tokens_[pos_];
    if (token == "(") {
      ++pos_;
      if (!enter()) return std::nullopt;
      auto inner = parse_or();
      --depth_;
      if (!inner) return std::nullopt;
      if (!accept(")")) return fail_at("expected ')' but found");
      return inner;
    }
    if (pos_ + 1 < tokens_.size() && tokens_[pos_ + 1] == "of") return parse_quantifier();
    if (is_keyword(token)) return fail_at("unexpected");
    for (std::size_t i = 0; i < identifiers_.size(); ++i) {
      if (identifiers_[i] == token) {
        ++pos_;
        return add({Op::kSelection, static_cast<uint32_t>(i), 0});
      }
    }
    return fail("unknown search identifier '" + std::string(token) + "'");
  }

  // `1 of pattern`, `all of pattern`, `1 of them`, `all of them`.
  std::optional<uint32_t> parse_quantifier() {
    const std::string_view quantifier = tokens_[pos_];
    if (quantifier != "1" && quantifier != "all") {
      return fail("unsupported quantifier '" + std::string(quantifier) +
                  " of' (Sigma allows '1 of' and 'all of')");
    }
    pos_ += 2;
    if (pos_ >= tokens_.size() || tokens_[pos_] == "(" || tokens_[pos_] == ")" ||
        tokens_[pos_] == "|") {
      return fail("'" + std::string(quantifier) + " of' needs a pattern or 'them'");
    }
    const std::string_view pattern = tokens_[pos_++];
    std::vector<uint32_t> children;
    for (std::size_t i = 0; i < identifiers_.size(); ++i) {
      const bool matches = pattern == "them" ? !identifiers_[i].starts_with('_')
                                             : identifier_matches(identifiers_[i], pattern);
      if (matches) children.push_back(add({Op::kSelection, static_cast<uint32_t>(i), 0}));
    }
    if (children.empty()) {
      return fail("'" + std::string(quantifier) + " of " + std::string(pattern) +
                  "' matches no search identifier");
    }
    return add_list(quantifier == "1" ? Op::kOr : Op::kAnd, children);
  }

  bool accept(std::string_view token) {
    if (pos_ < tokens_.size() && tokens_[pos_] == token) {
      ++pos_;
      return true;
    }
    return false;
  }

  uint32_t add(Condition::Node node) {
    out_.nodes_.push_back(node);
    return static_cast<uint32_t>(out_.nodes_.size() - 1);
  }

  std::nullopt_t fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return std::nullopt;
  }
  std::nullopt_t fail_at(std::string_view what) {
    if (pos_ >= tokens_.size()) return fail("condition ends unexpectedly");
    return fail(std::string(what) + " '" + std::string(tokens_[pos_]) + "' at token " +
                std::to_string(pos_ + 1));
  }

  // Bounds recursion (parsing here, evaluation later) on hostile rule files.
  bool enter() {
    if (++depth_ <= kMaxDepth) return true;
    fail("condition nests deeper than " + std::to_string(kMaxDepth) + " levels");
    return false;
  }
  static constexpr int kMaxDepth = 64;
  int depth_ = 0;

  Condition& out_;
  std::span<const std::string> identifiers_;
  std::string& error_;
  std::vector<std::string_view> tokens_;
  std::size_t pos_ = 0;
};

protocol::Result<Condition> Condition::parse(std::span<const std::string> texts,
                                             std::span<const std::string> identifiers) {
  Condition condition;
  std::string error;
  ConditionParser parser(condition, identifiers, error);
  std::vector<uint32_t> roots;
  for (const std::string& text : texts) {
    auto root = parser.parse(text);
    if (!root) return protocol::fail(std::move(error));
    roots.push_back(*root);
  }
  if (roots.empty()) return protocol::fail("condition is empty");
  condition.root_ = parser.add_list(Node::Op::kOr, roots);
  return condition;
}

}  // namespace vigie::rules
