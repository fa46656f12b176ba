// Sigma field names resolved at load time into accessors over protocol::Event.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/protocol/event.h"

namespace vigie::rules {

// Room for an accessor to format a field (a number, "SHA256=<64 hex>") without allocating.
struct FieldScratch {
  std::array<char, 80> data;
};

// Returns the field's text, or nullopt when the event does not carry it.
// The view points into the event, into static storage, or into `scratch`.
using FieldAccessor = std::optional<std::string_view> (*)(const protocol::Event& event,
                                                          FieldScratch& scratch);

// Sets the field from its text form (the inverse of the accessor); false when
// `text` does not parse (a number out of range, "maybe" for a boolean) or the
// event is of another kind. Used by fixtures and by synthesized examples.
using FieldSetter = bool (*)(protocol::Event& event, std::string_view text);

struct FieldDef {
  FieldAccessor get = nullptr;
  FieldSetter set = nullptr;  // nullptr for fields derived from others (Initiated)
  bool text = false;          // a free-text field, searched by Sigma keyword lists
};

// The field `name` on events of `kind`; get == nullptr when the kind has no such field.
// Names are case-sensitive, as in the Sigma taxonomy appendix.
FieldDef resolve_field(protocol::EventKind kind, std::string_view name);

// The text fields of `kind` (Image, CommandLine, ...), searched by keyword lists.
std::vector<std::string_view> text_fields(protocol::EventKind kind);

// An empty body of `kind` (the variant alternative with that index), for
// fixtures and synthesized examples.
decltype(protocol::Event::body) empty_body(protocol::EventKind kind);

// Every field name available on `kind`, for diagnostics and documentation.
std::vector<std::string_view> field_names(protocol::EventKind kind);

}  // namespace vigie::rules
