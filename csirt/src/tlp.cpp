#include "vigie/csirt/tlp.h"

#include <algorithm>
#include <string>

namespace vigie::csirt {

std::string_view to_string(Tlp tlp) {
  switch (tlp) {
    case Tlp::kRed:
      return "red";
    case Tlp::kAmberStrict:
      return "amber+strict";
    case Tlp::kAmber:
      return "amber";
    case Tlp::kGreen:
      return "green";
    case Tlp::kClear:
      break;
  }
  return "clear";
}

std::optional<Tlp> parse_tlp(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view name = lower;
  if (name.starts_with("tlp:") || name.starts_with("tlp.")) name.remove_prefix(4);
  for (Tlp tlp : {Tlp::kRed, Tlp::kAmberStrict, Tlp::kAmber, Tlp::kGreen, Tlp::kClear}) {
    if (name == to_string(tlp)) return tlp;
  }
  return std::nullopt;
}

}  // namespace vigie::csirt
