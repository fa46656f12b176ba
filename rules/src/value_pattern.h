// One Sigma value compiled for case-insensitive matching against field text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vigie::rules {

// ASCII lower-casing: Sigma's case-insensitivity, without locale lookups.
constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

class ValuePattern {
 public:
  // Compiles a raw Sigma value per the rules specification §String Wildcard and
  // §Escape Character: `*` any run, `?` one byte, `\*` `\?` `\\` literal, a `\`
  // before anything else literal. `leading_star`/`trailing_star` come from the
  // contains/endswith/startswith modifiers. Literal text is lower-cased here, once.
  // `cased` (the modifier) keeps the literal's case and compares bytes exactly.
  ValuePattern(std::string_view raw, bool leading_star, bool trailing_star, bool cased = false);

  // Match of the whole of `value`, ASCII case-insensitive unless cased; does not allocate.
  bool matches(std::string_view value) const;

  // The longest run of literal bytes (lower-cased unless cased) that any
  // matching value contains: the key of the literal prefilter.
  std::string_view longest_literal() const;

  // A value this pattern matches: wildcards `*` dropped, `?` as 'x'. For examples and tests.
  std::string example() const;

  bool cased() const { return cased_; }

  // Where the pattern's text must sit in a matching value, for examples.
  enum class Position : uint8_t { kExact, kPrefix, kSuffix, kInner };
  Position position() const;

 private:
  // Patterns whose only wildcards are a leading and/or trailing `*` take a
  // direct comparison; the rest go through the glob matcher.
  enum class Kind : uint8_t { kExact, kPrefix, kSuffix, kContains, kGlob };
  template <bool kCased>
  bool matches_as(std::string_view value) const;

  Kind kind_ = Kind::kExact;
  bool cased_ = false;
  std::string text_;  // lower-cased literal; for kGlob, the pattern with wildcards in place
  std::string wild_;  // kGlob only: per byte of text_, '\0' literal, '*' or '?'
};

}  // namespace vigie::rules
