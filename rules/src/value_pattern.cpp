#include "value_pattern.h"

namespace vigie::rules {
namespace {

bool equal_lower(std::string_view value, std::string_view lower_pattern) {
  if (value.size() != lower_pattern.size()) return false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (ascii_lower(value[i]) != lower_pattern[i]) return false;
  }
  return true;
}

bool contains_lower(std::string_view value, std::string_view lower_pattern) {
  if (lower_pattern.empty()) return true;
  if (value.size() < lower_pattern.size()) return false;
  const std::size_t last = value.size() - lower_pattern.size();
  for (std::size_t i = 0; i <= last; ++i) {
    if (ascii_lower(value[i]) == lower_pattern[0] &&
        equal_lower(value.substr(i, lower_pattern.size()), lower_pattern)) {
      return true;
    }
  }
  return false;
}

// Wildcard match with single-star backtracking: O(|value| * |pattern|) worst case,
// linear for the usual patterns.
bool glob_lower(std::string_view value, std::string_view text, std::string_view wild) {
  std::size_t p = 0, v = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (v < value.size()) {
    if (p < text.size() && wild[p] == '*') {
      star = p++;
      resume = v;
    } else if (p < text.size() &&
               (wild[p] == '?' || (wild[p] == '\0' && text[p] == ascii_lower(value[v])))) {
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

ValuePattern::ValuePattern(std::string_view raw, bool leading_star, bool trailing_star) {
  std::string text, wild;
  auto push = [&](char c, char w) {
    if (w == '*' && !wild.empty() && wild.back() == '*') return;  // "**" is "*"
    text.push_back(w == '\0' ? ascii_lower(c) : c);
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

bool ValuePattern::matches(std::string_view value) const {
  switch (kind_) {
    case Kind::kExact:
      return equal_lower(value, text_);
    case Kind::kPrefix:
      return value.size() >= text_.size() && equal_lower(value.substr(0, text_.size()), text_);
    case Kind::kSuffix:
      return value.size() >= text_.size() &&
             equal_lower(value.substr(value.size() - text_.size()), text_);
    case Kind::kContains:
      return contains_lower(value, text_);
    case Kind::kGlob:
      return glob_lower(value, text_, wild_);
  }
  return false;
}

}  // namespace vigie::rules
