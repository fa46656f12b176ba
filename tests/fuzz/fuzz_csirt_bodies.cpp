// Fuzzes the CSIRT API's body parsers (csirt/json.h): every body a client
// sends to /api/v1/csirt/. The first byte picks the parser, the rest is the
// body (case 5: a MISP event for the IOC store, csirt/misp.h). Properties: never throws; what is accepted respects the bounds and
// rules the routes rely on: a non-empty title, no entry of a kind the
// collector writes, indicator values already normalised (normalise() is
// idempotent on them) and surviving the stored form, 1..1000 uuids per
// retro-hunt.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "vigie/csirt/json.h"
#include "vigie/csirt/misp.h"

using vigie::fuzz::check;
using vigie::fuzz::finding;
namespace csirt = vigie::csirt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 6) {
      case 0:
        if (auto draft = csirt::parse_incident_draft(body)) {
          check(!draft->title.empty() && draft->title.size() <= csirt::kMaxShortBytes,
                "an accepted incident has a bounded title");
          check(draft->alerts.size() <= csirt::kMaxListItems, "alert ids are bounded");
        }
        break;
      case 1:
        if (auto patch = csirt::parse_incident_patch(body))
          check(patch->state || patch->reason.empty(), "a reason goes with a state");
        break;
      case 2:
        if (auto entry = csirt::parse_entry(body)) {
          const auto kind = entry->entry.kind;
          check(kind != csirt::EntryKind::kAlert && kind != csirt::EntryKind::kSighting &&
                    kind != csirt::EntryKind::kStateChange,
                "clients never write alert, sighting or state_change entries");
          check(!entry->entry.text.empty(), "an entry has text");
          check(csirt::entry_from_json(csirt::to_json(entry->entry)) == entry->entry,
                "an entry survives its stored form");
        }
        break;
      case 3:
        if (auto drafts = csirt::parse_indicators(body)) {
          check(!drafts->empty() && drafts->size() <= csirt::kMaxListItems,
                "1 to 1000 indicators");
          for (const auto& draft : *drafts) {
            const auto& i = draft.indicator;
            const auto again = csirt::normalise(i.type, i.value);
            check(again.ok() && *again == i.value, "an accepted value is normalised");
            check(!csirt::key_ranges(i.type, i.value).empty(), "an indicator has key ranges");
            check(csirt::indicator_from_json(csirt::to_json(i)) == i,
                  "an indicator survives its stored form");
          }
        }
        break;
      case 5:
        if (auto imported = csirt::import_misp(body, csirt::Tlp::kAmber)) {
          for (const auto& i : imported->indicators) {
            const auto again = csirt::normalise(i.type, i.value);
            check(again.ok() && *again == i.value, "an imported value is normalised");
            check(i.source.rfind("misp:", 0) == 0, "an imported indicator names its event");
          }
        }
        break;
      default:
        if (auto hunt = csirt::parse_retrohunt(body))
          check(!hunt->indicators.empty() && hunt->indicators.size() <= csirt::kMaxListItems,
                "1 to 1000 indicators per retro-hunt");
        break;
    }
  } catch (const std::exception& e) {
    finding(std::string("a parser threw: ") + e.what());
  }
  return 0;
}
