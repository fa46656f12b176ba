// Sigma field names resolved at load time into accessors over protocol::Event.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "vigie/protocol/event.h"

namespace vigie::rules {

// Room for an accessor to format a numeric field without allocating.
struct FieldScratch {
  std::array<char, 24> data;
};

// Returns the field's text, or nullopt when the event does not carry it.
// The view points into the event, into static storage, or into `scratch`.
using FieldAccessor = std::optional<std::string_view> (*)(const protocol::Event& event,
                                                          FieldScratch& scratch);

// The accessor for Sigma field `name` on events of `kind`; nullptr if unknown.
// Names are case-sensitive, as in the Sigma taxonomy appendix.
FieldAccessor resolve_field(protocol::EventKind kind, std::string_view name);

}  // namespace vigie::rules
