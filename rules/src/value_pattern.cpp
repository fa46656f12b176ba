#include "value_pattern.h"

namespace vigie::rules {
namespace {

// `cased` patterns are compared byte for byte; `fold` is then the identity.
template <bool kCased>
char fold(char c) {
  return kCased ? c : ascii_lower(c);
}

template <bool kCased>
bool equal_lower(std::string_view value, std::string_view lower_pattern) {
  if (value.size() != lower_pattern.size()) return false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (fold<kCased>(value[i]) != lower_pattern[i]) return false;
  }
  return true;
}

template <bool kCased>
bool contains_lower(std::string_view value, std::string_view lower_pattern) {
  if (lower_pattern.empty()) return true;
  if (value.size() < lower_pattern.size()) return false;
  const std::size_t last = value.size() - lower_pattern.size();
  for (std::size_t i = 0; i <= last; ++i) {
    if (fold<kCased>(value[i]) == lower_pattern[0] &&
        equal_lower<kCased>(value.substr(i, lower_pattern.size()), lower_pattern)) {
      return true;
    }
  }
  return false;
}

// Wildcard match with single-star backtracking: O(|value| * |pattern|) worst case,
// linear for the usual patterns.
template <bool kCased>
bool glob_lower(std::string_view value, std::string_view text, std::string_view wild) {
  std::size_t p = 0, v = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (v < value.size()) {
    if (p < text.size() && wild[p] == '*') {
      star = p++;
      resume = v;
    } else if (p < text.size() &&
               (wild[p] == '?' || (wild[p] == '\0' && text[p] == fold<kCased>(value[v])))) {
      ++p;
      ++v;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < text.size() && wild[p] == '*') ++p;
  return p == text.size();
}

}  // namespace

ValuePattern::ValuePattern(std::string_view raw, bool leading_star, bool trailing_star, bool cased)
    : cased_(cased) {
  std::string text, wild;
  auto push = [&](char c, char w) {
    if (w == '*' && !wild.empty() && wild.back() == '*') return;  // "**" is "*"
    text.push_back(w == '\0' && !cased ? ascii_lower(c) : c);
    wild.push_back(w);
  };
  if (leading_star) push('*', '*');
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\' && i + 1 < raw.size() &&
        (raw[i + 1] == '*' || raw[i + 1] == '?' || raw[i + 1] == '\\')) {
      push(raw[++i], '\0');
    } else if (c == '*' || c == '?') {
      push(c, c);
    } else {
      push(c, '\0');
    }
  }
  if (trailing_star) push('*', '*');

  const bool lead = !wild.empty() && wild.front() == '*';
  const bool trail = wild.size() > (lead ? 1u : 0u) && wild.back() == '*';
  const std::size_t begin = lead ? 1 : 0;
  const std::size_t end = wild.size() - (trail ? 1 : 0);
  const bool inner_wildcard =
      wild.substr(begin, end - begin).find_first_not_of('\0') != std::string::npos;
  if (inner_wildcard) {
    kind_ = Kind::kGlob;
    text_ = std::move(text);
    wild_ = std::move(wild);
    return;
  }
  text_ = text.substr(begin, end - begin);
  kind_ = lead ? (trail ? Kind::kContains : Kind::kSuffix) : (trail ? Kind::kPrefix : Kind::kExact);
}

template <bool kCased>
bool ValuePattern::matches_as(std::string_view value) const {
  switch (kind_) {
    case Kind::kExact:
      return equal_lower<kCased>(value, text_);
    case Kind::kPrefix:
      return value.size() >= text_.size() &&
             equal_lower<kCased>(value.substr(0, text_.size()), text_);
    case Kind::kSuffix:
      return value.size() >= text_.size() &&
             equal_lower<kCased>(value.substr(value.size() - text_.size()), text_);
    case Kind::kContains:
      return contains_lower<kCased>(value, text_);
    case Kind::kGlob:
      return glob_lower<kCased>(value, text_, wild_);
  }
  return false;
}

bool ValuePattern::matches(std::string_view value) const {
  return cased_ ? matches_as<true>(value) : matches_as<false>(value);
}

std::string_view ValuePattern::longest_literal() const {
  if (kind_ != Kind::kGlob) return text_;
  std::string_view best;
  for (std::size_t i = 0; i < wild_.size();) {
    std::size_t j = i;
    while (j < wild_.size() && wild_[j] == '\0') ++j;
    if (j - i > best.size()) best = std::string_view(text_).substr(i, j - i);
    i = j + 1;
  }
  return best;
}

ValuePattern::Position ValuePattern::position() const {
  switch (kind_) {
    case Kind::kExact:
      return Position::kExact;
    case Kind::kPrefix:
      return Position::kPrefix;
    case Kind::kSuffix:
      return Position::kSuffix;
    case Kind::kContains:
      return Position::kInner;
    case Kind::kGlob:
      break;
  }
  const bool lead = wild_.front() == '*', trail = wild_.back() == '*';
  return lead ? (trail ? Position::kInner : Position::kSuffix)
              : (trail ? Position::kPrefix : Position::kExact);
}

std::string ValuePattern::example() const {
  if (kind_ != Kind::kGlob) return text_;
  std::string out;
  for (std::size_t i = 0; i < wild_.size(); ++i) {
    if (wild_[i] == '\0')
      out.push_back(text_[i]);
    else if (wild_[i] == '?')
      out.push_back('x');
  }
  return out;
}

}  // namespace vigie::rules
