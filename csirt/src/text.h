// Text helpers the exchange formats share (internal to vigie::csirt): UUIDs
// as documents write them, ASCII case, and UTF-8, which JSON requires while
// agents' strings (paths, command lines, user names) need not be.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vigie::csirt::text {

// 8-4-4-4-12 hex digits, either case (RFC 4122 §3's string form; MISP and
// STIX documents write upper case too).
bool is_uuid(std::string_view text);
// ASCII lower case.
std::string lower(std::string text);

// The length of the well-formed UTF-8 sequence at `text[i]` (Unicode 15
// Table 3-7), 0 when there is none.
std::size_t utf8_length(std::string_view text, std::size_t i);
bool valid_utf8(std::string_view text);
// Free text for JSON: each byte that starts no well-formed sequence becomes
// U+FFFD; with `one_line`, line breaks become spaces; at most `max_bytes`,
// cut at a character boundary.
std::string clean_text(std::string_view text, std::size_t max_bytes = std::string::npos,
                       bool one_line = false);
// `text` cut to at most `bytes`, on a UTF-8 character boundary.
void truncate_utf8(std::string& text, std::size_t bytes);

}  // namespace vigie::csirt::text
