// Traffic Light Protocol 2.0 (FIRST, https://www.first.org/tlp/; the
// definitions are in ../shared/corpus/csirt/tlp2/): how far a piece of
// information may be shared. The one TLP type of Vigie: alerts, incidents,
// timeline entries and indicators all carry it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vigie::csirt {

// Ordered from most to least restricted: RED < AMBER+STRICT < AMBER < GREEN < CLEAR.
enum class Tlp : uint8_t { kRed, kAmberStrict, kAmber, kGreen, kClear };

// "red", "amber+strict", "amber", "green", "clear" (TLP 2.0 label names, lower case).
std::string_view to_string(Tlp tlp);
// Parses those names in any case, also with a "tlp:" or "tlp." prefix
// ("TLP:AMBER+STRICT", "tlp.green"). Nothing for anything else, TLP 1.0's
// "white" included: where a 1.0 label is expected (MISP's taxonomy), the
// caller maps it (misp.h).
std::optional<Tlp> parse_tlp(std::string_view text);

// Whether `a` may be shared more widely than `b` (GREEN is looser than AMBER).
constexpr bool looser(Tlp a, Tlp b) { return static_cast<uint8_t>(a) > static_cast<uint8_t>(b); }

}  // namespace vigie::csirt
