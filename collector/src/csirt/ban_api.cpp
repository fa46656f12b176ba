// The CSIRT API's ban list routes (api.h).
#include "csirt/api.h"
#include "csirt/csirt_service.h"
#include "http/query.h"
#include "vigie/csirt/ban.h"
#include "vigie/csirt/json.h"

namespace vigie::collector {

using nlohmann::json;

Response CsirtApi::list_bans(const Call& call) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  json lists = json::array();
  for (const auto& list : service_.bans().lists()) lists.push_back(csirt::to_json(list));
  return json_response(200, {{"site", service_.site()}, {"lists", std::move(lists)}});
}

Response CsirtApi::add_ban(const Call& call) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  auto draft = csirt::parse_ban_draft(call.request.body);
  if (!draft) return error(400, draft.error());
  if (draft->expires_ns != 0 && draft->expires_ns <= call.now_ns)
    return error(400, "'expires_ns' is in the past");
  if (!draft->incident.empty() && !service_.csirt().incident(draft->incident))
    return error(400, "no incident " + draft->incident);
  return json_response(201, csirt::to_json(service_.bans().add(std::move(*draft),
                                                               call.principal.name, call.now_ns)));
}

Response CsirtApi::lift_ban(const Call& call, const std::string& id) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  const json body = json::parse(call.request.body, nullptr, false);
  if (!body.is_object() || body.size() != 1 || !body.contains("reason") ||
      !body["reason"].is_string() || body["reason"].get_ref<const std::string&>().empty() ||
      body["reason"].get_ref<const std::string&>().size() > csirt::kMaxTextBytes)
    return error(400, "the body must be {\"reason\": \"<why the ban is lifted>\"}");
  const auto own = service_.bans().own();
  const auto entry = std::find_if(own.entries.begin(), own.entries.end(),
                                  [&](const csirt::BanEntry& e) { return e.id == id; });
  if (entry == own.entries.end()) return error(404, "no ban " + id + " in this collector's list");
  const auto lifted = service_.bans().lift(id, call.principal.name, body["reason"], call.now_ns);
  if (!lifted) return error(409, "ban " + id + " is lifted already");
  return json_response(200, csirt::to_json(*lifted));
}

Response CsirtApi::ban_status(const Call& call) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  json sites = json::array();
  for (const auto& state : service_.bans().states()) sites.push_back(csirt::to_json(state));
  return json_response(200,
                       {{"serial", service_.bans().own().serial}, {"sites", std::move(sites)}});
}

Response CsirtApi::bans_applied(const Call& call) {
  if (auto e = Query().parse(call.query, {})) return error(400, *e);
  const json body = json::parse(call.request.body, nullptr, false);
  if (!body.is_object() || !body.contains("serials") || !body["serials"].is_object())
    return error(400,
                 "the body must be {\"serials\": {\"<origin>\": <serial>}, \"failures\": [...]}");
  for (const auto& [key, value] : body.items()) {
    if (key != "serials" && key != "failures") return error(400, "unknown key '" + key + "'");
  }
  std::map<std::string, uint64_t> serials;
  for (const auto& [origin, serial] : body["serials"].items()) {
    if (!serial.is_number_unsigned() || origin.empty() || origin.size() > csirt::kMaxShortBytes)
      return error(400, "'serials' maps origins to serial numbers");
    serials[origin] = serial.get<uint64_t>();
  }
  std::vector<std::string> failures;
  if (body.contains("failures")) {
    if (!body["failures"].is_array() || body["failures"].size() > csirt::kMaxListItems)
      return error(400, "'failures' must be a list of strings");
    for (const auto& failure : body["failures"]) {
      if (!failure.is_string() ||
          failure.get_ref<const std::string&>().size() > csirt::kMaxTextBytes)
        return error(400, "'failures' must be a list of strings");
      failures.push_back(failure.get<std::string>());
    }
  }
  service_.bans().applied(serials, failures, call.now_ns);
  return json_response(200, {{"serials", serials}, {"failures", failures}});
}

Response CsirtApi::ban_ack(const std::string& site, std::string_view body) {
  auto ack = csirt::parse_ban_ack(body);
  if (!ack) return error(400, ack.error());
  ack->site = site;
  service_.bans().record_ack(std::move(*ack), protocol::wall_clock_ns());
  return json_response(200, {{"site", site}});
}

}  // namespace vigie::collector
