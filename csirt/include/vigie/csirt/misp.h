// Indicators of a MISP event (MISP core format, RFC draft
// draft-dulaunoy-misp-core-format; ../shared/corpus/csirt/misp/), for the
// IOC store: the attributes of a type Vigie observes, each keeping its TLP
// and whether it was revoked.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/csirt/indicator.h"
#include "vigie/protocol/result.h"

namespace vigie::csirt {

struct MispImport {
  std::vector<Indicator> indicators;  // uuid, times left empty: the store sets them
  std::size_t skipped = 0;            // attributes of a type Vigie does not observe (link, url…)
  std::vector<std::string> problems;  // attributes of a known type whose value is not valid
};

// `body`: {"Event": {...}}, a bare event, or a list of either. For each
// attribute of the event and of its objects whose type parse_observable_type
// knows (a "filename|sha256" gives both), an indicator:
//   value     normalise()d
//   to_ids    the attribute's (MISP's "for detection"), default true
//   deleted   the attribute's soft delete ("deleted": true): revoked, never matched
//   tlp       the attribute's own tlp:* tag, else the event's, else `fallback`
//             (TLP 1.0's tlp:white read as CLEAR)
//   source    "misp:<event uuid>"
//   tags      the other tag names of the attribute and the event
//   comment   the attribute's comment
// Bounded by csirt::kMaxBodyBytes (json.h) and 100,000 attributes; an error
// for a body that holds no MISP event.
protocol::Result<MispImport> indicators_from_misp(std::string_view body, Tlp fallback);

}  // namespace vigie::csirt
