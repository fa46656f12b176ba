// Fuzzes what the ban list travels as and what a site feeds it (csirt/ban.h):
// the input is read as a ban list (what a site pulls from upstream), a ban
// draft (POST /bans), an acknowledgement (POST /distribution/bans/ack) and an
// identity map (a site's file). Properties: never throws; an accepted list
// survives its JSON form unchanged and renders in every format; an accepted
// draft's value is normalised; an identity map's users are portable names.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "vigie/csirt/ban.h"

using vigie::fuzz::check;
using vigie::fuzz::finding;
namespace csirt = vigie::csirt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    if (auto list = csirt::parse_ban_list(input)) {
      const auto again = csirt::parse_ban_list(csirt::to_json(*list).dump());
      check(again.ok() && *again == *list, "a ban list survives its JSON form");
      for (const auto format : {"argus", "lcmaps", "slurm", "sshd", "nftables"}) {
        const auto rendered = csirt::render_bans(*list, *csirt::parse_render_format(format), "site",
                                                 {}, 1'800'000'000'000'000'000ull);
        check(rendered.entries + rendered.notes.size() >= rendered.unmapped,
              "a render accounts for what it left out");
      }
      csirt::ban_ioc_lists(*list, "site", {}, 1);
    }
    if (auto draft = csirt::parse_ban_draft(input)) {
      const auto again = csirt::normalise_subject(draft->type, draft->value);
      check(again.ok() && *again == draft->value, "an accepted subject is normalised");
      check(draft->actions != 0, "a ban does something");
    }
    if (auto ack = csirt::parse_ban_ack(input)) check(!ack->site.empty(), "an ack names its site");
    if (auto map = csirt::parse_identity_map(input)) {
      for (const auto& [subject, users] : map->users) check(!users.empty(), "a mapping has a user");
    }
  } catch (const std::exception& e) {
    finding(std::string("a ban list parser threw: ") + e.what());
  }
  return 0;
}
