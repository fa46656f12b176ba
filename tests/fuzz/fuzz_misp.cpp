// Fuzzes what a MISP peer or feed sends (csirt/misp.h): the whole input is
// read as an event (import_misp) and as a feed's manifest.json
// (parse_misp_manifest), and, when it is JSON, fed to the feed writers
// (misp_manifest, misp_hashes_csv). Seeds: the corpus's real events and feed
// (../shared/corpus/csirt/misp/) and an export of Vigie's. Properties: never
// throws; imported values are normalised and name their event; an accepted
// manifest is sorted with unique lower-case UUIDs, and events_to_fetch
// agrees with it; hashes.csv lines are "<32 hex>,<uuid>".
#include <cstddef>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "vigie/csirt/json.h"
#include "vigie/csirt/misp.h"

using vigie::fuzz::check;
using vigie::fuzz::finding;
namespace csirt = vigie::csirt;

namespace {

void import(std::string_view body) {
  const auto imported = csirt::import_misp(body, csirt::Tlp::kAmber);
  if (!imported) return;
  for (const auto& i : imported->indicators) {
    const auto again = csirt::normalise(i.type, i.value);
    check(again.ok() && *again == i.value, "an imported value is normalised");
    check(i.source.rfind("misp:", 0) == 0, "an imported indicator names its event");
  }
  for (const auto& s : imported->sightings)
    check(!s.indicator_uuid.empty(), "an imported sighting names its attribute");
}

void manifest(std::string_view body) {
  const auto entries = csirt::parse_misp_manifest(body);
  if (!entries) return;
  std::vector<csirt::EventStamp> stamps;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const auto& entry = (*entries)[i];
    check(entry.uuid.size() == 36 && entry.uuid.find_first_of("ABCDEF") == std::string::npos,
          "a manifest uuid is a lower-case UUID");
    check(i == 0 || (*entries)[i - 1].uuid < entry.uuid, "manifest entries sorted and unique");
    stamps.push_back({entry.uuid, entry.timestamp});
  }
  check(csirt::events_to_fetch(*entries, {}).size() == entries->size(),
        "with nothing known, every event is fetched");
  check(csirt::events_to_fetch(*entries, stamps).empty(),
        "with every event known at its timestamp, none is fetched");
}

void feed_writers(std::string_view body) {
  if (body.size() > csirt::kMaxBodyBytes) return;
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded()) return;
  const std::vector<nlohmann::json> events = {parsed};
  (void)csirt::misp_manifest(events).dump();
  const std::string csv = csirt::misp_hashes_csv(events);
  std::size_t start = 0;
  while (start < csv.size()) {
    const std::size_t end = csv.find('\n', start);
    check(end != std::string::npos && end - start == 32 + 1 + 36 && csv[start + 32] == ',',
          "a hashes.csv line is <md5 hex>,<event uuid>");
    start = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  try {
    import(body);
    manifest(body);
    feed_writers(body);
  } catch (const std::exception& e) {
    finding(std::string("a MISP reader or writer threw: ") + e.what());
  }
  return 0;
}
