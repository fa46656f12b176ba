// Fuzzes the STIX 2.1 import (csirt/stix.h): the input is both a body for
// import_stix and a pattern for parse_stix_pattern (seeds: the OASIS
// example bundles and the TLP 2.0 ones, ../shared/corpus/csirt/).
// Properties: never throws; an accepted pattern has terms, each normalised;
// what an import keeps respects the bounds the IOC store relies on:
// indicator values normalised with key ranges, uuids of 36 characters, a
// "stix:" source, bounded comments and tags, and everything it writes
// surviving the stored form and JSON serialisation (valid UTF-8).
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "vigie/csirt/json.h"
#include "vigie/csirt/stix.h"

using vigie::fuzz::check;
using vigie::fuzz::finding;
namespace csirt = vigie::csirt;

namespace {

void check_pattern(std::string_view pattern) {
  const auto terms = csirt::parse_stix_pattern(pattern);
  if (!terms) {
    check(!terms.error().empty(), "a refused pattern says why");
    return;
  }
  check(!terms->empty(), "an accepted pattern has terms");
  for (const auto& term : *terms) {
    const auto again = csirt::normalise(term.type, term.value);
    check(again.ok() && *again == term.value, "a pattern's literal is normalised");
  }
}

void check_import(std::string_view body) {
  const auto imported = csirt::import_stix(body);
  if (!imported) {
    check(!imported.error().empty(), "a refused body says why");
    return;
  }
  check(imported->format == "stix", "the format is stix");
  for (const auto& i : imported->indicators) {
    const auto again = csirt::normalise(i.type, i.value);
    check(again.ok() && *again == i.value, "an imported value is normalised");
    check(!csirt::key_ranges(i.type, i.value).empty(), "an indicator has key ranges");
    check(i.uuid.size() == 36, "an indicator has a uuid");
    check(i.source.rfind("stix:", 0) == 0, "an imported indicator names its bundle");
    check(i.comment.size() <= csirt::kMaxTextBytes, "a comment is bounded");
    check(i.tags.size() <= csirt::kMaxListItems, "tags are bounded");
    for (const auto& tag : i.tags) check(tag.size() <= csirt::kMaxShortBytes, "a tag is bounded");
    check(csirt::indicator_from_json(csirt::to_json(i)) == i,
          "an indicator survives its stored form");
    (void)csirt::to_json(i).dump();  // throws on invalid UTF-8
  }
  for (const auto& c : imported->context) {
    check(c.type == "stix-pattern" && !c.value.empty(), "context is a pattern");
    check(c.comment.size() <= csirt::kMaxTextBytes, "a context comment is bounded");
    (void)nlohmann::json({c.value, c.comment, c.source}).dump();
  }
  for (const auto& reason : imported->invalid) {
    check(!reason.empty(), "an invalid item says why");
    (void)nlohmann::json(reason).dump();
  }
  for (const auto& s : imported->sightings)
    check(s.indicator_uuid.size() == 36, "a sighting names an indicator uuid");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    check_import(input);
    check_pattern(input);
  } catch (const std::exception& e) {
    finding(std::string("the STIX import threw: ") + e.what());
  }
  return 0;
}
