#include "http/handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "csirt/api.h"
#include "federation/federation.h"
#include "footprint.h"
#include "http/query.h"
#include "json.h"
#include "reports/reports.h"
#include "vigie/csirt/json.h"
#include "vigie/protocol/codec.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kMaxStaticFileBytes = 16u << 20;

constexpr uint64_t kMaxNs = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

std::string_view content_type_for(const fs::path& path) {
  static const std::map<std::string, std::string_view> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".woff2", "font/woff2"},
  };
  const auto it = kTypes.find(path.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

// Serves `relative` (URL path below the mount point) from `root`; 404 for
// anything that is not a plain file inside root once symlinks are resolved.
// `case_insensitive`: a file directly in root may match ignoring case.
Response serve_file(const std::string& root, std::string_view relative,
                    bool case_insensitive = false) {
  std::string decoded;
  if (root.empty() || !url_decode(relative, decoded, false)) return error(404, "not found");
  // Plain names only: no "..", no hidden files, no control characters.
  std::string_view rest = decoded;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    if (segment.empty() || segment.front() == '.' ||
        std::any_of(segment.begin(), segment.end(),
                    [](unsigned char c) { return c < 0x20 || c == '\\' || c == 0x7f; })) {
      return error(404, "not found");
    }
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec) return error(404, "not found");
  fs::path file = fs::canonical(base / decoded, ec);
  if (ec && case_insensitive && decoded.find('/') == std::string::npos) {
    // npm packages name files in mixed case (uPlot.iife.min.js); the URL
    // need not repeat it.
    for (const auto& entry : fs::directory_iterator(base, ec)) {
      const std::string name = entry.path().filename().string();
      if (std::equal(name.begin(), name.end(), decoded.begin(), decoded.end(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
          })) {
        file = fs::canonical(entry.path(), ec);
        break;
      }
    }
  }
  if (ec || !fs::is_regular_file(file, ec)) return error(404, "not found");
  const auto [mismatch, unused] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (mismatch != base.end()) return error(404, "not found");
  const auto size = fs::file_size(file, ec);
  if (ec || size > kMaxStaticFileBytes) return error(404, "not found");
  std::ifstream in(file, std::ios::binary);
  std::string body(size, '\0');
  if (!in.read(body.data(), static_cast<std::streamsize>(size)))
    return error(500, "cannot read " + file.filename().string());
  return {
      200, std::string(content_type_for(file)), std::move(body), {{"Cache-Control", "no-cache"}}};
}

// Media type without parameters, lower case.
std::string media_type(std::string_view value) {
  value = value.substr(0, value.find(';'));
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  std::string out(value);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

Rejection rejection_for(protocol::DecodeError error) {
  switch (error) {
    case protocol::DecodeError::kNotZstd:
      return Rejection::kNotZstd;
    case protocol::DecodeError::kTooLarge:
      return Rejection::kDecodedTooLarge;
    case protocol::DecodeError::kCorrupt:
      return Rejection::kCorrupt;
    case protocol::DecodeError::kBadProtobuf:
      return Rejection::kBadProtobuf;
    case protocol::DecodeError::kInvalid:
      break;
  }
  return Rejection::kInvalid;
}

int status_for(Rejection reason) {
  switch (reason) {
    case Rejection::kUnauthorized:
      return 401;
    case Rejection::kForbidden:
      return 403;
    case Rejection::kTooLarge:
    case Rejection::kDecodedTooLarge:
      return 413;
    case Rejection::kHeaderTooLarge:
      return 431;
    case Rejection::kUnsupportedMedia:
      return 415;
    case Rejection::kStorage:
      return 500;
    case Rejection::kTooManyConnections:
      return 503;
    case Rejection::kStorageBusy:
      return 429;
    case Rejection::kHeaderTimeout:
    case Rejection::kReadTimeout:
      return 408;  // counted only: the server closes without an answer
    case Rejection::kBadQuery:
    case Rejection::kMalformedHttp:
    case Rejection::kPlainHttpOnTls:
    case Rejection::kTlsHandshake:
    case Rejection::kNotZstd:
    case Rejection::kCorrupt:
    case Rejection::kBadProtobuf:
    case Rejection::kInvalid:
      break;
  }
  return 400;
}

// The bearer token of an Authorization header value; nothing when the value
// is not "Bearer <token>" (scheme case-insensitive, RFC 6750 section 2.1).
std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view kBearer = "bearer ";
  if (authorization.size() <= kBearer.size() ||
      !std::equal(kBearer.begin(), kBearer.end(), authorization.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return std::nullopt;
  }
  return authorization.substr(kBearer.size());
}

// The agent token an Authorization header value carries, or nullptr with
// `refusal` set.
const AgentToken* authenticate(const std::vector<AgentToken>& tokens,
                               std::string_view authorization, std::string& refusal) {
  const auto bearer = bearer_token(authorization);
  if (!bearer) {
    refusal = "missing bearer token (Authorization: Bearer <agent token>)";
    return nullptr;
  }
  const AgentToken* token = find_agent_token(tokens, *bearer);
  if (token == nullptr) refusal = "unknown agent token";
  return token;
}

// "process_exec, process_exit, ..." : every event kind the protocol knows,
// for the message of a bad `kind` parameter.
std::string event_kind_names() {
  std::string names;
  for (int k = 0; k < protocol::kEventKindCount; ++k) {
    names += (k == 0 ? "" : ", ") +
             std::string(protocol::to_string(static_cast<protocol::EventKind>(k)));
  }
  return names;
}

}  // namespace

Handler::Handler(const Config& config, Store& store, Metrics& metrics)
    : config_(config), store_(store), metrics_(metrics) {
  metrics_.set_limits({config_.max_connections, max_pending_batches(), config_.header_limit_bytes,
                       config_.body_limit_bytes, protocol::kMaxDecodedBatchBytes});
}

// The route table: every route once. Order matters only for the last two,
// which catch what no route above matched.
const std::vector<Handler::Route>& Handler::routes() {
  using A = Auth;
  using M = Match;
  using R = Resource;
  static const std::vector<Route> table = {
      // name                       path / prefix             match      suffix
      {"/api/v1/ingest", "/api/v1/ingest", M::kExact, "", "POST", A::kAgentToken, R::kAdmin,
       &Handler::ingest},
      {"/api/v1/alerts", "/api/v1/alerts", M::kExact, "", "GET", A::kApiToken, R::kAlerts,
       &Handler::alerts},
      {"/api/v1/events", "/api/v1/events", M::kExact, "", "GET", A::kApiToken, R::kEvents,
       &Handler::events},
      {"/api/v1/energy", "/api/v1/energy", M::kExact, "", "GET", A::kApiToken, R::kEnergy,
       &Handler::energy},
      {"/api/v1/agents", "/api/v1/agents", M::kExact, "", "GET", A::kApiToken, R::kAgents,
       &Handler::agents},
      {"/api/v1/jobs/footprint", "/api/v1/jobs/", M::kPrefix, "/footprint", "GET", A::kApiToken,
       R::kJobFootprints, &Handler::job_footprint},
      {"/api/v1/distribution", "/api/v1/distribution", M::kExact, "", "GET", A::kAgentToken,
       R::kAdmin, &Handler::distribution},
      {"/api/v1/distribution/bans/ack", "/api/v1/distribution/bans/ack", M::kExact, "", "POST",
       A::kAgentToken, R::kAdmin, &Handler::ban_ack},
      {"/api/v1/distribution/incidents", "/api/v1/distribution/incidents", M::kExact, "", "POST",
       A::kAgentToken, R::kAdmin, &Handler::site_incident},
      {"/api/v1/distribution/headsups/answer", "/api/v1/distribution/headsups/answer", M::kExact,
       "", "POST", A::kAgentToken, R::kAdmin, &Handler::headsup_answer},
      {"/api/v1/distribution/item", "/api/v1/distribution/", M::kPrefix, "", "GET", A::kAgentToken,
       R::kAdmin, &Handler::distribution},
      {"/api/v1/csirt/feeds/misp", "/api/v1/csirt/feeds/misp/", M::kPrefix, "", "GET", A::kFeed,
       R::kFederation, &Handler::misp_feed},
      // Every method; csirt/api.h answers 405 for the wrong one.
      {"/api/v1/csirt", "/api/v1/csirt/", M::kPrefix, "", "", A::kApiToken, R::kIncidents,
       &Handler::csirt},
      // Every method; reports/reports.h answers 405 for the wrong one.
      {"/api/v1/reports", "/api/v1/reports/", M::kPrefix, "", "", A::kApiToken, R::kReports,
       &Handler::reports},
      {"/api/v1/facilities", "/api/v1/facilities", M::kExact, "", "", A::kApiToken, R::kFacilities,
       &Handler::reports},
      {"/api/v1/facilities/item", "/api/v1/facilities/", M::kPrefix, "", "", A::kApiToken,
       R::kFacilities, &Handler::reports},
      {"/api/v1/grid", "/api/v1/grid/", M::kPrefix, "", "", A::kApiToken, R::kFacilities,
       &Handler::reports},
      {"/metrics", "/metrics", M::kExact, "", "GET", A::kMetrics, R::kMetrics,
       &Handler::exposition},
      // Any other API path: authenticated like every API route (401/403
      // before a 404 says anything about which paths exist), then 404 for
      // any method.
      {"other", "/api/", M::kPrefix, "", "", A::kApiToken, R::kAdmin, &Handler::not_found},
      {"static", "/", M::kPrefix, "", "GET", A::kPublic, R::kAdmin, &Handler::static_file},
  };
  return table;
}

bool Handler::Route::matches(std::string_view request_path) const {
  if (match == Match::kExact) return request_path == path;
  if (!request_path.starts_with(path) || !request_path.ends_with(suffix)) return false;
  // With a suffix, something must stand between prefix and suffix (the job id).
  return suffix.empty() || request_path.size() > path.size() + suffix.size();
}

const Handler::Route& Handler::route_of(std::string_view path) {
  for (const Route& route : routes()) {
    if (route.matches(path)) return route;
  }
  // Not even a path ("*", "x"): answered like an unknown API path.
  static const Route& other = *std::find_if(routes().begin(), routes().end(),
                                            [](const Route& r) { return r.name == "other"; });
  return other;
}

std::size_t Handler::max_pending_batches() const {
  return config_.max_pending_batches != 0 ? config_.max_pending_batches
                                          : std::max<std::size_t>(1, config_.threads);
}

void Handler::add_listener(BatchListener& listener) { listeners_.push_back(&listener); }

Response Handler::handle(const Request& request) {
  const auto start = std::chrono::steady_clock::now();
  const std::string_view target = request.target;
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const Route& route = route_of(path);
  Response response = dispatch(
      route, request, path,
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1));
  metrics_.request(route.name, response.status,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return response;
}

Response Handler::dispatch(const Route& route, const Request& request, std::string_view path,
                           std::string_view query) {
  const Principal* principal = nullptr;
  if (auto refusal = authorize(route, request, principal)) return std::move(*refusal);
  if (!route.method.empty() && request.method != route.method) {
    Response response = error(405, "method not allowed; use " + std::string(route.method));
    response.headers.emplace_back("Allow", std::string(route.method));
    return response;
  }
  try {
    return (this->*route.serve)({request, path, query, principal});
  } catch (const StoreError& e) {
    spdlog::error("{}: {}", path, e.what());
    return error(500, "storage error");
  }
}

Response Handler::reject(Rejection reason, std::string_view target, std::string_view detail) {
  std::string message;
  if (reason == Rejection::kTooLarge) {
    message =
        "request body exceeds the limit of " + std::to_string(config_.body_limit_bytes) + " bytes";
  } else if (reason == Rejection::kHeaderTooLarge) {
    message = "request headers exceed the limit of " + std::to_string(config_.header_limit_bytes) +
              " bytes";
  } else if (reason == Rejection::kTooManyConnections) {
    message = "too many connections; retry later";
  } else if (reason == Rejection::kPlainHttpOnTls) {
    message = "this port speaks TLS only; use https://";
  } else {
    message = "malformed HTTP request: " + std::string(detail);
  }
  Response response = rejection(reason, std::move(message));
  metrics_.request(route_of(target.substr(0, target.find('?'))).name, response.status, 0);
  return response;
}

void Handler::count_rejection(Rejection reason) { metrics_.rejected(reason); }

Response Handler::rejection(Rejection reason, std::string message) {
  metrics_.rejected(reason);
  Response response = error(status_for(reason), std::move(message));
  if (reason == Rejection::kUnauthorized)
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  if (reason == Rejection::kTooManyConnections || reason == Rejection::kStorageBusy)
    response.headers.emplace_back("Retry-After", "1");
  return response;
}

std::optional<Response> Handler::authorize(const Route& route, const Request& request,
                                           const Principal*& principal) {
  principal = nullptr;
  // Agent routes check their agent token themselves (ingest, distribution).
  if (route.auth == Auth::kPublic || route.auth == Auth::kAgentToken) return std::nullopt;
  if (route.auth == Auth::kMetrics && config_.api.public_metrics) return std::nullopt;
  if (request.authorization.empty()) {
    if (route.auth == Auth::kFeed) return std::nullopt;
    if (config_.api.anonymous) {
      principal = &*config_.api.anonymous;
    } else {
      return rejection(Rejection::kUnauthorized,
                       "missing bearer token (Authorization: Bearer <API token>)");
    }
  } else {
    const auto token = bearer_token(request.authorization);
    if (!token) {
      return rejection(Rejection::kUnauthorized,
                       "malformed Authorization header; expected Bearer <API token>");
    }
    principal = find_api_token(config_.api.tokens, *token);
    // The MISP feed also answers a site with its site token (misp_feed()).
    if (principal == nullptr && route.auth == Auth::kFeed &&
        find_agent_token(config_.agent_tokens, *token) != nullptr)
      return std::nullopt;
    if (principal == nullptr) return rejection(Rejection::kUnauthorized, "unknown API token");
  }
  if (!allowed(principal->role, route.resource)) {
    return rejection(Rejection::kForbidden, "role '" + std::string(to_string(principal->role)) +
                                                "' may not read " +
                                                std::string(to_string(route.resource)));
  }
  return std::nullopt;
}

std::optional<Response> Handler::refuse_before_body(const Request& request) {
  const std::string_view target = request.target;
  const Route& route = route_of(target.substr(0, target.find('?')));
  const Principal* principal = nullptr;
  if (auto refusal = authorize(route, request, principal)) {
    metrics_.request(route.name, refusal->status, 0);
    return refusal;
  }
  if (route.serve != &Handler::ingest || request.method != route.method) return std::nullopt;
  std::string refusal;
  if (authenticate(config_.agent_tokens, request.authorization, refusal) != nullptr)
    return std::nullopt;
  Response response = rejection(Rejection::kUnauthorized, std::move(refusal));
  metrics_.request(route.name, response.status, 0);
  return response;
}

Response Handler::not_found(const Call& call) {
  return error(404, "no such endpoint: " + std::string(call.path));
}

Response Handler::static_file(const Call& call) {
  if (call.path == "/") return serve_file(config_.dashboard_dir, "index.html");
  if (call.path.starts_with("/vendor/"))
    return serve_file(config_.vendor_dir, call.path.substr(8), true);
  return serve_file(config_.dashboard_dir, call.path.substr(1));
}

Response Handler::exposition(const Call&) {
  return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.exposition(), {}};
}

Response Handler::alerts(const Call& call) {
  Query query;
  AlertQuery alert_query;
  uint64_t limit = 0;
  if (auto e = query.parse(call.query, {"since", "host", "limit"}))
    return rejection(Rejection::kBadQuery, *e);
  if (auto e = query.number("since", alert_query.since_ns, 0, 0, kMaxNs))
    return rejection(Rejection::kBadQuery, *e);
  if (auto e = query.number("limit", limit, 100, 1, kMaxLimit))
    return rejection(Rejection::kBadQuery, *e);
  if (auto e = query.host(alert_query.host)) return rejection(Rejection::kBadQuery, *e);
  alert_query.limit = limit;
  json alerts = json::array();
  for (const auto& alert : store_.alerts(alert_query)) alerts.push_back(to_json(alert));
  return json_response(200, {{"alerts", std::move(alerts)}});
}

Response Handler::events(const Call& call) {
  Query query;
  EventQuery event_query;
  uint64_t limit = 0;
  if (auto e = query.parse(call.query, {"kind", "host", "since", "limit"}))
    return rejection(Rejection::kBadQuery, *e);
  if (auto e = query.number("since", event_query.since_ns, 0, 0, kMaxNs))
    return rejection(Rejection::kBadQuery, *e);
  if (auto e = query.number("limit", limit, 100, 1, kMaxLimit))
    return rejection(Rejection::kBadQuery, *e);
  if (auto e = query.host(event_query.host)) return rejection(Rejection::kBadQuery, *e);
  if (const auto* kind = query.get("kind")) {
    protocol::EventKind parsed{};
    if (!protocol::parse_event_kind(*kind, parsed)) {
      static const std::string kinds = event_kind_names();
      return rejection(Rejection::kBadQuery,
                       "query parameter 'kind' must be one of " + kinds + ", got '" + *kind + "'");
    }
    event_query.kind = parsed;
  }
  event_query.limit = limit;
  json events = json::array();
  for (const auto& event : store_.events(event_query)) events.push_back(to_json(event));
  return json_response(200, {{"events", std::move(events)}});
}

Response Handler::energy(const Call& call) {
  Query query;
  EnergyQuery energy_query;
  const uint64_t now = protocol::wall_clock_ns();
  const uint64_t window = std::chrono::nanoseconds(kDefaultEnergyWindow).count();
  if (auto e = query.parse(call.query, {"since", "until", "host"}))
    return rejection(Rejection::kBadQuery, *e);
  if (auto e = query.number("until", energy_query.end_ns, now, 0, kMaxNs))
    return rejection(Rejection::kBadQuery, *e);
  const uint64_t default_start = energy_query.end_ns > window ? energy_query.end_ns - window : 0;
  if (auto e = query.number("since", energy_query.start_ns, default_start, 0, energy_query.end_ns))
    return rejection(Rejection::kBadQuery, *e + " (since must not be after until)");
  if (auto e = query.host(energy_query.host)) return rejection(Rejection::kBadQuery, *e);
  EnergyReport report = store_.energy(energy_query);
  if (call.principal != nullptr && call.principal->role == Role::kUser) {
    // A researcher sees their own workloads only: node totals and power
    // series would show what others run on shared nodes.
    report.nodes.clear();
    report.series.clear();
    std::erase_if(report.workloads, [&call](const WorkloadSummary& w) {
      return !call.principal->owns(w.workload.user);
    });
  }
  return json_response(200, to_json(report));
}

Response Handler::agents(const Call& call) {
  if (auto e = Query().parse(call.query, {})) return rejection(Rejection::kBadQuery, *e);
  json agents = json::array();
  for (const auto& agent : store_.agents()) agents.push_back(to_json(agent));
  return json_response(200, {{"agents", std::move(agents)}});
}

Response Handler::job_footprint(const Call& call) {
  if (auto e = Query().parse(call.query, {})) return rejection(Rejection::kBadQuery, *e);
  constexpr std::string_view kPrefix = "/api/v1/jobs/", kSuffix = "/footprint";
  const std::string_view id =
      call.path.substr(kPrefix.size(), call.path.size() - kPrefix.size() - kSuffix.size());
  if (id.size() > 20 ||
      !std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return rejection(Rejection::kBadQuery, "a Slurm job id is 1 to 20 decimal digits");
  auto footprint = store_.job_footprint(std::string(id));
  // Another user's job answers exactly like a job that does not exist, so
  // that a user cannot even learn which job ids are taken.
  if (!footprint || (call.principal != nullptr && !call.principal->owns(footprint->user)))
    return error(404, "no footprint for job " + std::string(id));
  return json_response(200, footprint_json(*footprint));
}

Response Handler::csirt(const Call& call) {
  if (csirt_ == nullptr) return error(404, "this collector keeps no incidents");
  return csirt_->handle(call.request, call.path, call.query, *call.principal);
}

Response Handler::reports(const Call& call) {
  if (reports_ == nullptr) return error(404, "this collector keeps no facilities");
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return reports_->handle(
      call.request, call.path, call.query, *call.principal,
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
}

Response Handler::misp_feed(const Call& call) {
  if (csirt_ == nullptr) return error(404, "this collector keeps no incidents");
  std::string site;  // a site reading its federation's feed with its site token
  if (call.principal == nullptr && !call.request.authorization.empty()) {
    std::string refusal;
    const AgentToken* token =
        authenticate(config_.agent_tokens, call.request.authorization, refusal);
    if (token == nullptr || token->site.empty())
      return rejection(Rejection::kUnauthorized,
                       "only an API token or a site token reads the feed");
    site = token->site;
  }
  return csirt_->misp_feed(call.path, call.principal, site);
}

// Rule packs and IOC lists: any agent token may pull (an agent's at its site
// collector, a site's at the federation). The one place their access is decided.
Response Handler::distribution(const Call& call) {
  const Request& request = call.request;
  std::string refusal;
  if (authenticate(config_.agent_tokens, request.authorization, refusal) == nullptr)
    return rejection(Rejection::kUnauthorized, std::move(refusal));
  if (distribution_ == nullptr)
    return error(404, "this collector distributes no rule packs or IOC lists");
  return distribution_->handle(request, call.path);
}

std::optional<Response> Handler::site_token(const Call& call, std::string_view what,
                                            std::string& site) {
  std::string refusal;
  const AgentToken* token = authenticate(config_.agent_tokens, call.request.authorization, refusal);
  if (token == nullptr) return rejection(Rejection::kUnauthorized, std::move(refusal));
  if (token->site.empty())
    return rejection(Rejection::kForbidden, "only a site token " + std::string(what));
  if (csirt_ == nullptr) return error(404, "this collector keeps no incidents");
  site = token->site;
  return std::nullopt;
}

// A site's acknowledgement of the ban list (csirt/ban.h): the token names
// the site, whatever the body says.
Response Handler::ban_ack(const Call& call) {
  std::string site;
  if (auto refusal = site_token(call, "acknowledges a ban list", site)) return std::move(*refusal);
  return csirt_->ban_ack(site, call.request.body);
}

// An incident a site shares (csirt/api.h site_incident).
Response Handler::site_incident(const Call& call) {
  std::string site;
  if (auto refusal = site_token(call, "shares a site's incidents", site))
    return std::move(*refusal);
  if (call.request.body.size() > csirt::kMaxBodyBytes)
    return rejection(Rejection::kTooLarge, "an incident bundle exceeds " +
                                               std::to_string(csirt::kMaxBodyBytes) + " bytes");
  return csirt_->site_incident(site, call.request.body);
}

// A site's answer to a heads-up (csirt/api.h headsup_answer).
Response Handler::headsup_answer(const Call& call) {
  std::string site;
  if (auto refusal = site_token(call, "answers a heads-up", site)) return std::move(*refusal);
  return csirt_->headsup_answer(site, call.request.body);
}

Response Handler::ingest(const Call& call) {
  const Request& request = call.request;
  std::string refusal;
  const AgentToken* token = authenticate(config_.agent_tokens, request.authorization, refusal);
  if (token == nullptr) return rejection(Rejection::kUnauthorized, std::move(refusal));

  if (media_type(request.content_type) != protocol::kContentType ||
      media_type(request.content_encoding) != protocol::kContentEncoding) {
    return rejection(Rejection::kUnsupportedMedia,
                     "expected Content-Type: " + std::string(protocol::kContentType) +
                         " and Content-Encoding: " + std::string(protocol::kContentEncoding));
  }
  // The server's parser enforces this limit too; the handler is also driven without it.
  if (request.body.size() > config_.body_limit_bytes) {
    return rejection(Rejection::kTooLarge, "request body exceeds the limit of " +
                                               std::to_string(config_.body_limit_bytes) + " bytes");
  }

  // Admission before decoding: under overload a batch costs no more than this.
  const std::size_t max_pending = max_pending_batches();
  const std::size_t pending = pending_batches_.fetch_add(1) + 1;
  metrics_.pending_batches(+1);
  struct Admitted {
    Handler& handler;
    ~Admitted() {
      --handler.pending_batches_;
      handler.metrics_.pending_batches(-1);
    }
  } admitted{*this};
  if (pending > max_pending) {
    return rejection(Rejection::kStorageBusy, "storage is lagging (" + std::to_string(pending - 1) +
                                                  " batches waiting); retry later");
  }

  protocol::Batch batch;
  const auto decoded = protocol::decode_batch(request.body, batch);
  if (!decoded.ok())
    return rejection(rejection_for(decoded.error().code), "bad batch: " + decoded.error().message);
  // Held from here until answered: the decoded batch's size, as it was bounded.
  struct Decoded {
    Metrics& metrics;
    double bytes;
    ~Decoded() { metrics.decoded_batch_bytes(-bytes); }
  } held{metrics_, static_cast<double>(*decoded)};
  metrics_.decoded_batch_bytes(held.bytes);
  // The codec gives every event the batch's site and host, so checking the
  // batch's is enough to keep an agent to its own node.
  if ((!token->site.empty() && batch.site != token->site) ||
      (!token->any_host && batch.host != token->host)) {
    return rejection(Rejection::kForbidden, "this token may not write for site '" + batch.site +
                                                "' host '" + batch.host + "'");
  }
  const uint64_t received_ns = protocol::wall_clock_ns();
  const StoreOutcome outcome = store_.store_batch(batch, received_ns);
  switch (outcome.status) {
    case StoreOutcome::Status::kStored:
      metrics_.stored(batch.events.size(), batch.alerts.size());
      for (BatchListener* listener : listeners_) listener->on_stored(batch, received_ns);
      return json_response(200, {{"status", "stored"}});
    case StoreOutcome::Status::kDuplicate:
      metrics_.duplicate();
      return json_response(200, {{"status", "duplicate"}});
    case StoreOutcome::Status::kBusy:
      return rejection(Rejection::kStorageBusy, outcome.error + "; retry later");
    case StoreOutcome::Status::kFailed:
      break;
  }
  spdlog::error("storing batch {} of agent {} failed: {}", batch.sequence, batch.agent_id,
                outcome.error);
  return rejection(Rejection::kStorage, "storage failure; retry later");
}

}  // namespace vigie::collector
