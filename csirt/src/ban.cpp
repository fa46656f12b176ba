#include "vigie/csirt/ban.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "vigie/csirt/indicator.h"
#include "vigie/csirt/json.h"

namespace vigie::csirt {

using nlohmann::json;
using protocol::fail;

namespace {

constexpr std::size_t kMaxEntries = 100'000;

constexpr std::pair<SubjectType, std::string_view> kSubjectNames[] = {
    {SubjectType::kUser, "user"},          {SubjectType::kX509Dn, "x509-dn"},
    {SubjectType::kVomsFqan, "voms-fqan"}, {SubjectType::kOidc, "oidc"},
    {SubjectType::kSshKey, "ssh-key"},     {SubjectType::kIp, "ip"},
};
constexpr std::pair<BanAction, std::string_view> kActionNames[] = {
    {kDenyLogin, "deny-login"},
    {kDenySubmit, "deny-submit"},
    {kDenyNetwork, "deny-network"},
    {kDetect, "detect"},
};
constexpr std::pair<RenderFormat, std::string_view> kFormatNames[] = {
    {RenderFormat::kArgus, "argus"},       {RenderFormat::kLcmaps, "lcmaps"},
    {RenderFormat::kSlurm, "slurm"},       {RenderFormat::kSshd, "sshd"},
    {RenderFormat::kNftables, "nftables"},
};

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// The strict reader of one JSON object (json.h's rules: every key known,
// each of its type).
class Reader {
 public:
  Reader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  std::optional<std::string> unknown_keys(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : object_.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end())
        return where_ + "unknown key '" + key + "'";
    }
    return std::nullopt;
  }
  std::optional<std::string> text(const char* key, std::string& out, std::size_t max,
                                  bool required) const {
    const auto it = object_.find(key);
    if (it == object_.end()) {
      return required ? std::optional<std::string>(where_ + "'" + key + "' is required")
                      : std::nullopt;
    }
    if (!it->is_string()) return where_ + "'" + key + "' must be a string";
    out = it->get<std::string>();
    if (out.size() > max) return where_ + "'" + key + "' exceeds " + std::to_string(max) + " bytes";
    if (has_control(out) && key != std::string_view("reason") &&
        key != std::string_view("lift_reason"))
      return where_ + "'" + key + "' holds a control character";
    return std::nullopt;
  }
  std::optional<std::string> number(const char* key, uint64_t& out) const {
    const auto it = object_.find(key);
    if (it == object_.end()) return std::nullopt;
    if (!it->is_number_unsigned()) return where_ + "'" + key + "' must be a non-negative integer";
    out = it->get<uint64_t>();
    return std::nullopt;
  }
  std::optional<std::string> list(const char* key, std::vector<std::string>& out) const {
    const auto it = object_.find(key);
    if (it == object_.end()) return std::nullopt;
    if (!it->is_array() || it->size() > kMaxListItems)
      return where_ + "'" + key + "' must be a list of at most " + std::to_string(kMaxListItems);
    for (const json& item : *it) {
      if (!item.is_string() || item.get_ref<const std::string&>().empty() ||
          item.get_ref<const std::string&>().size() > kMaxShortBytes)
        return where_ + "'" + key + "' must hold strings of 1 to " +
               std::to_string(kMaxShortBytes) + " bytes";
      out.push_back(item.get<std::string>());
    }
    return std::nullopt;
  }

 private:
  const json& object_;
  std::string where_;
};

// The fields an entry shares between a draft (POST /bans) and the stored list.
std::optional<std::string> read_subject(const Reader& r, BanEntry& e, const std::string& where) {
  std::string type, tlp;
  std::vector<std::string> actions;
  if (auto problem = r.text("type", type, kMaxShortBytes, true)) return problem;
  const auto parsed_type = parse_subject_type(type);
  if (!parsed_type) return where + "'type' is not a subject type: '" + type + "'";
  e.type = *parsed_type;
  std::string value;
  if (auto problem = r.text("value", value, 1024, true)) return problem;
  auto normalised = normalise_subject(e.type, value);
  if (!normalised) return where + "'value': " + normalised.error();
  e.value = std::move(*normalised);
  if (auto problem = r.text("issuer", e.issuer, kMaxShortBytes, e.type == SubjectType::kOidc))
    return problem;
  if (e.type == SubjectType::kOidc && e.issuer.rfind("https://", 0) != 0)
    return where + "'issuer' must be an https URL (OpenID Connect Core 1.0 §2)";
  if (e.type != SubjectType::kOidc && !e.issuer.empty())
    return where + "'issuer' is for oidc subjects only";
  if (auto problem = r.list("actions", actions)) return problem;
  if (!actions.empty()) {
    e.actions = 0;
    for (const auto& name : actions) {
      const auto action = parse_action(name);
      if (!action) return where + "'actions': not an action: '" + name + "'";
      e.actions |= *action;
    }
  }
  if (auto problem = r.list("sites", e.sites)) return problem;
  if (auto problem = r.text("incident", e.incident, kMaxShortBytes, false)) return problem;
  if (auto problem = r.text("reason", e.reason, kMaxTextBytes, true)) return problem;
  if (e.reason.empty()) return where + "'reason' must not be empty";
  if (auto problem = r.text("tlp", tlp, kMaxShortBytes, false)) return problem;
  if (!tlp.empty()) {
    const auto parsed = parse_tlp(tlp);
    if (!parsed) return where + "'tlp' is not a TLP 2.0 level: '" + tlp + "'";
    e.tlp = *parsed;
  }
  if (auto problem = r.number("expires_ns", e.expires_ns)) return problem;
  return std::nullopt;
}

bool portable_user(std::string_view name) {
  if (name.empty() || name.size() > 256 || name.front() == '-') return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '.' && c != '_' && c != '-' &&
        !(c == '$' && i + 1 == name.size()))
      return false;
  }
  return true;
}

// A double-quoted string for Argus SPL and LCMAPS files: '"' and '\' escaped.
std::string dquoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string_view to_string(SubjectType type) {
  for (const auto& [t, name] : kSubjectNames)
    if (t == type) return name;
  return "user";
}

std::optional<SubjectType> parse_subject_type(std::string_view text) {
  for (const auto& [t, name] : kSubjectNames)
    if (name == text) return t;
  return std::nullopt;
}

std::vector<std::string> action_names(uint8_t actions) {
  std::vector<std::string> out;
  for (const auto& [action, name] : kActionNames)
    if ((actions & action) != 0) out.emplace_back(name);
  return out;
}

std::optional<BanAction> parse_action(std::string_view text) {
  for (const auto& [action, name] : kActionNames)
    if (name == text) return action;
  return std::nullopt;
}

std::optional<RenderFormat> parse_render_format(std::string_view text) {
  for (const auto& [format, name] : kFormatNames)
    if (name == text) return format;
  return std::nullopt;
}

protocol::Result<std::string> normalise_subject(SubjectType type, std::string_view value) {
  switch (type) {
    case SubjectType::kUser:
      if (!portable_user(value))
        return fail("a user name is 1 to 256 of [A-Za-z0-9._-] (not starting with '-')");
      return std::string(value);
    case SubjectType::kX509Dn: {
      const std::string_view dn = trimmed(value);
      if (dn.empty() || dn.front() != '/' || dn.size() > 1024 || has_control(dn))
        return fail("an X.509 DN is in OpenSSL's one-line form, '/DC=org/.../CN=Name'");
      return std::string(dn);
    }
    case SubjectType::kVomsFqan:
      if (value.empty() || value.front() != '/' || value.size() > 512 || has_control(value) ||
          value.find(' ') != std::string_view::npos)
        return fail("a VOMS FQAN starts with '/' and holds no space, '/vo/Role=NULL'");
      return std::string(value);
    case SubjectType::kOidc:
      if (value.empty() || value.size() > 255 || has_control(value))
        return fail("an OIDC subject is 1 to 255 bytes");
      return std::string(value);
    case SubjectType::kSshKey: {
      constexpr std::string_view kPrefix = "SHA256:";
      std::string_view digest = value;
      if (!digest.starts_with(kPrefix)) return fail("an SSH key fingerprint is 'SHA256:<base64>'");
      digest.remove_prefix(kPrefix.size());
      while (!digest.empty() && digest.back() == '=') digest.remove_suffix(1);
      const bool base64 = std::all_of(digest.begin(), digest.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '+' || c == '/';
      });
      if (digest.size() != 43 || !base64)
        return fail("an SSH key fingerprint is 'SHA256:' and 43 base64 characters");
      return std::string(kPrefix) + std::string(digest);
    }
    case SubjectType::kIp:
      return normalise(ObservableType::kIp, value);
  }
  return fail("unknown subject type");
}

bool ban_active(const BanEntry& entry, std::string_view site, uint64_t now_ns) {
  if (entry.lifted_ns != 0 && entry.lifted_ns <= now_ns) return false;
  if (entry.expires_ns != 0 && entry.expires_ns <= now_ns) return false;
  return entry.sites.empty() ||
         std::find(entry.sites.begin(), entry.sites.end(), site) != entry.sites.end();
}

protocol::Result<BanEntry> parse_ban_draft(std::string_view body) {
  if (body.size() > kMaxBodyBytes)
    return fail("the body exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return fail("the body must be a JSON object");
  const Reader r(parsed, "");
  if (auto problem = r.unknown_keys({"type", "value", "issuer", "actions", "sites", "incident",
                                     "reason", "tlp", "expires_ns"}))
    return fail(*problem);
  BanEntry e;
  if (auto problem = read_subject(r, e, "")) return fail(*problem);
  return e;
}

json to_json(const BanEntry& e) {
  return {{"id", e.id},
          {"type", to_string(e.type)},
          {"value", e.value},
          {"issuer", e.issuer},
          {"actions", action_names(e.actions)},
          {"sites", e.sites},
          {"incident", e.incident},
          {"reason", e.reason},
          {"tlp", to_string(e.tlp)},
          {"origin", e.origin},
          {"created_by", e.created_by},
          {"created_ns", e.created_ns},
          {"expires_ns", e.expires_ns},
          {"lifted_ns", e.lifted_ns},
          {"lifted_by", e.lifted_by},
          {"lift_reason", e.lift_reason}};
}

json to_json(const BanList& list) {
  json entries = json::array();
  for (const auto& e : list.entries) entries.push_back(to_json(e));
  return {{"serial", list.serial},
          {"origin", list.origin},
          {"updated_ns", list.updated_ns},
          {"entries", std::move(entries)}};
}

protocol::Result<BanList> parse_ban_list(std::string_view text) {
  if (text.size() > 64u << 20) return fail("a ban list exceeds 64 MiB");
  const json parsed = json::parse(text, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return fail("a ban list is a JSON object");
  const Reader r(parsed, "");
  if (auto problem = r.unknown_keys({"serial", "origin", "updated_ns", "entries"}))
    return fail(*problem);
  BanList list;
  if (!parsed.contains("serial")) return fail("'serial' is required");
  if (auto problem = r.number("serial", list.serial)) return fail(*problem);
  if (auto problem = r.text("origin", list.origin, kMaxShortBytes, true)) return fail(*problem);
  if (auto problem = r.number("updated_ns", list.updated_ns)) return fail(*problem);
  const auto entries = parsed.find("entries");
  if (entries == parsed.end() || !entries->is_array()) return fail("'entries' must be a list");
  if (entries->size() > kMaxEntries)
    return fail("more than " + std::to_string(kMaxEntries) + " entries");
  std::set<std::string> ids;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const json& item = (*entries)[i];
    const std::string where = "entries[" + std::to_string(i) + "]: ";
    if (!item.is_object()) return fail(where + "must be an object");
    const Reader e(item, where);
    if (auto problem =
            e.unknown_keys({"id", "type", "value", "issuer", "actions", "sites", "incident",
                            "reason", "tlp", "origin", "created_by", "created_ns", "expires_ns",
                            "lifted_ns", "lifted_by", "lift_reason"}))
      return fail(*problem);
    BanEntry entry;
    if (auto problem = e.text("id", entry.id, 64, true)) return fail(*problem);
    if (entry.id.empty() || !ids.insert(entry.id).second)
      return fail(where + "'id' is empty or not unique");
    if (auto problem = read_subject(e, entry, where)) return fail(*problem);
    for (auto [key, out] :
         {std::pair{"origin", &entry.origin}, std::pair{"created_by", &entry.created_by},
          std::pair{"lifted_by", &entry.lifted_by}}) {
      if (auto problem = e.text(key, *out, kMaxShortBytes, false)) return fail(*problem);
    }
    if (auto problem = e.text("lift_reason", entry.lift_reason, kMaxTextBytes, false))
      return fail(*problem);
    if (auto problem = e.number("created_ns", entry.created_ns)) return fail(*problem);
    if (auto problem = e.number("lifted_ns", entry.lifted_ns)) return fail(*problem);
    list.entries.push_back(std::move(entry));
  }
  return list;
}

BanList shareable(BanList list) {
  std::erase_if(list.entries,
                [](const BanEntry& e) { return e.tlp == Tlp::kRed || e.tlp == Tlp::kAmberStrict; });
  return list;
}

bool takes(const BanList& incoming, uint64_t held_serial) { return incoming.serial > held_serial; }

std::vector<std::string> IdentityMap::local_users(const BanEntry& entry) const {
  if (entry.type == SubjectType::kUser) return {entry.value};
  const std::string key =
      entry.type == SubjectType::kOidc ? entry.issuer + "|" + entry.value : entry.value;
  const auto it = users.find({entry.type, key});
  return it == users.end() ? std::vector<std::string>{} : it->second;
}

protocol::Result<IdentityMap> parse_identity_map(std::string_view text) {
  IdentityMap map;
  std::size_t number = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = trimmed(text.substr(0, newline));
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = "line " + std::to_string(number) + ": ";
    const auto first = line.find(' ');
    const auto second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos)
      return fail(where + "expected '<type> <local user> <subject>'");
    const auto type = parse_subject_type(line.substr(0, first));
    if (!type || *type == SubjectType::kUser || *type == SubjectType::kIp ||
        *type == SubjectType::kSshKey)
      return fail(where + "the type is x509-dn, voms-fqan or oidc");
    const std::string_view user = line.substr(first + 1, second - first - 1);
    if (!portable_user(user)) return fail(where + "'" + std::string(user) + "' is not a user name");
    std::string_view subject = trimmed(line.substr(second + 1));
    std::string key;
    if (*type == SubjectType::kOidc) {
      const auto bar = subject.rfind('|');
      if (bar == std::string_view::npos) return fail(where + "an oidc subject is '<issuer>|<sub>'");
      auto sub = normalise_subject(*type, subject.substr(bar + 1));
      if (!sub) return fail(where + sub.error());
      key = std::string(subject.substr(0, bar)) + "|" + *sub;
    } else {
      auto normalised = normalise_subject(*type, subject);
      if (!normalised) return fail(where + normalised.error());
      key = std::move(*normalised);
    }
    auto& users = map.users[{*type, key}];
    if (std::find(users.begin(), users.end(), user) == users.end()) users.emplace_back(user);
  }
  return map;
}

std::vector<std::pair<std::string, std::string>> ban_ioc_lists(const BanList& list,
                                                               std::string_view site,
                                                               const IdentityMap& identities,
                                                               uint64_t now_ns) {
  std::set<std::string> users, ips, keys;
  for (const auto& entry : list.entries) {
    if ((entry.actions & kDetect) == 0 || !ban_active(entry, site, now_ns)) continue;
    if (entry.type == SubjectType::kIp) {
      ips.insert((entry.value.find('/') == std::string::npos ? "ip," : "cidr,") + entry.value);
    } else if (entry.type == SubjectType::kSshKey) {
      keys.insert("sshkey," + entry.value);
    } else {
      for (const auto& user : identities.local_users(entry)) users.insert("user," + user);
    }
  }
  auto csv = [](const std::set<std::string>& lines) {
    std::string out = "type,value\n";
    for (const auto& line : lines) out += line + "\n";
    return out;
  };
  return {{std::string(kBanUsers), csv(users)},
          {std::string(kBanIps), csv(ips)},
          {std::string(kBanSshKeys), csv(keys)}};
}

Rendered render_bans(const BanList& list, RenderFormat format, std::string_view site,
                     const IdentityMap& identities, uint64_t now_ns) {
  Rendered out;
  const std::string header = "# Vigie ban list serial " + std::to_string(list.serial) + " from " +
                             list.origin + ", for site " + std::string(site) +
                             ". Generated: do not edit (vigie ban render).\n";
  std::set<std::string> users, dns, fqans;
  std::set<std::string> v4, v6;
  const uint8_t wanted = format == RenderFormat::kSlurm      ? kDenySubmit
                         : format == RenderFormat::kNftables ? kDenyNetwork
                                                             : kDenyLogin;
  std::set<std::string> released;  // Slurm: local users of lifted or expired entries
  for (const auto& entry : list.entries) {
    if ((entry.actions & wanted) == 0) continue;
    if (!ban_active(entry, site, now_ns)) {
      const bool here = entry.sites.empty() || std::find(entry.sites.begin(), entry.sites.end(),
                                                         site) != entry.sites.end();
      if (format == RenderFormat::kSlurm && here) {
        for (const auto& user : identities.local_users(entry)) released.insert(user);
      }
      continue;
    }
    const std::string subject = std::string(to_string(entry.type)) + " " + entry.value;
    if (format == RenderFormat::kArgus || format == RenderFormat::kLcmaps) {
      if (entry.type == SubjectType::kX509Dn) {
        dns.insert(entry.value);
      } else if (entry.type == SubjectType::kVomsFqan) {
        fqans.insert(entry.value);
      } else {
        out.notes.push_back(subject + ": not an X.509 DN or FQAN, not expressible here");
        continue;
      }
    } else if (format == RenderFormat::kNftables) {
      if (entry.type != SubjectType::kIp) {
        out.notes.push_back(subject + ": not an address, not expressible here");
        continue;
      }
      (entry.value.find(':') == std::string::npos ? v4 : v6).insert(entry.value);
    } else if (format == RenderFormat::kSshd && entry.type == SubjectType::kIp) {
      users.insert("*@" + entry.value);
    } else if (entry.type == SubjectType::kSshKey || entry.type == SubjectType::kIp) {
      out.notes.push_back(subject + ": not expressible here");
      continue;
    } else {
      const auto local = identities.local_users(entry);
      if (local.empty()) {
        ++out.unmapped;
        out.notes.push_back(subject + ": no local user in the identity map");
        continue;
      }
      users.insert(local.begin(), local.end());
    }
    ++out.entries;
  }

  switch (format) {
    case RenderFormat::kArgus: {
      // Argus PAP simplified policy language: deny rules come first in the
      // action, so they win over any permit loaded after them.
      out.text = header + "resource \".*\" {\n    action \".*\" {\n";
      for (const auto& dn : dns)
        out.text += "        rule deny { subject = " + dquoted(dn) + " }\n";
      for (const auto& fqan : fqans)
        out.text += "        rule deny { fqan = " + dquoted(fqan) + " }\n";
      out.text += "    }\n}\n";
      break;
    }
    case RenderFormat::kLcmaps:
      out.text = header;
      for (const auto& dn : dns) out.text += dquoted(dn) + "\n";
      for (const auto& fqan : fqans) out.text += dquoted(fqan) + "\n";
      break;
    case RenderFormat::kSlurm: {
      out.text = "#!/bin/sh\n" + header + "set -e\n";
      for (const auto& user : users)
        out.text += "sacctmgr -i modify user where name=" + user + " set MaxSubmitJobs=0\n";
      out.undo = "#!/bin/sh\n" + header + "set -e\n";
      for (const auto& user : released) {
        if (users.count(user) == 0)
          out.undo += "sacctmgr -i modify user where name=" + user + " set MaxSubmitJobs=-1\n";
      }
      break;
    }
    case RenderFormat::kSshd:
      out.text = header;
      // sshd_config(5): DenyUsers takes several patterns per line; one per
      // line keeps diffs readable and stays under sshd's line length.
      for (const auto& user : users) out.text += "DenyUsers " + user + "\n";
      break;
    case RenderFormat::kNftables: {
      out.text = header +
                 "table inet vigie_bans\ndelete table inet vigie_bans\n"
                 "table inet vigie_bans {\n";
      auto set = [&out](const char* name, const char* type, const std::set<std::string>& items) {
        out.text += std::string("    set ") + name + " {\n        type " + type +
                    "\n        flags interval\n";
        if (!items.empty()) {
          out.text += "        elements = {";
          bool first = true;
          for (const auto& item : items) {
            out.text += (first ? " " : ", ") + item;
            first = false;
          }
          out.text += " }\n";
        }
        out.text += "    }\n";
      };
      set("banned_ipv4", "ipv4_addr", v4);
      set("banned_ipv6", "ipv6_addr", v6);
      out.text +=
          "    chain input {\n        type filter hook input priority filter - 10; policy accept;\n"
          "        ip saddr @banned_ipv4 drop\n        ip6 saddr @banned_ipv6 drop\n    }\n}\n";
      break;
    }
  }
  return out;
}

protocol::Result<BanAck> parse_ban_ack(std::string_view body) {
  if (body.size() > kMaxBodyBytes)
    return fail("the body exceeds " + std::to_string(kMaxBodyBytes) + " bytes");
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) return fail("the body must be a JSON object");
  const Reader r(parsed, "");
  if (auto problem =
          r.unknown_keys({"site", "reached_serial", "applied_serial", "applied_ns", "failures"}))
    return fail(*problem);
  BanAck ack;
  if (auto problem = r.text("site", ack.site, kMaxShortBytes, true)) return fail(*problem);
  if (ack.site.empty()) return fail("'site' must not be empty");
  for (auto [key, out] : {std::pair{"reached_serial", &ack.reached_serial},
                          std::pair{"applied_serial", &ack.applied_serial},
                          std::pair{"applied_ns", &ack.applied_ns}}) {
    if (auto problem = r.number(key, *out)) return fail(*problem);
  }
  if (auto problem = r.list("failures", ack.failures)) return fail(*problem);
  return ack;
}

json to_json(const BanAck& ack) {
  return {{"site", ack.site},
          {"reached_serial", ack.reached_serial},
          {"applied_serial", ack.applied_serial},
          {"applied_ns", ack.applied_ns},
          {"failures", ack.failures},
          {"received_ns", ack.received_ns}};
}

std::vector<SiteBanState> ban_states(uint64_t current_serial, const std::vector<std::string>& sites,
                                     const std::vector<BanAck>& acks) {
  std::set<std::string> names(sites.begin(), sites.end());
  for (const auto& ack : acks) names.insert(ack.site);
  std::vector<SiteBanState> out;
  for (const auto& site : names) {
    SiteBanState state;
    state.site = site;
    state.state = "unknown";
    state.lag = current_serial;
    const auto ack =
        std::find_if(acks.begin(), acks.end(), [&](const BanAck& a) { return a.site == site; });
    if (ack != acks.end()) {
      state.reached_serial = ack->reached_serial;
      state.applied_serial = ack->applied_serial;
      state.applied_ns = ack->applied_ns;
      state.received_ns = ack->received_ns;
      state.failures = ack->failures;
      state.lag = current_serial > ack->applied_serial ? current_serial - ack->applied_serial : 0;
      if (ack->reached_serial < current_serial) {
        state.state = "stale";
      } else if (ack->applied_serial < current_serial) {
        state.state = "reached";
      } else {
        state.state = ack->failures.empty() ? "applied" : "failed";
      }
    }
    out.push_back(std::move(state));
  }
  return out;
}

json to_json(const SiteBanState& s) {
  return {{"site", s.site},
          {"state", s.state},
          {"reached_serial", s.reached_serial},
          {"applied_serial", s.applied_serial},
          {"lag", s.lag},
          {"applied_ns", s.applied_ns},
          {"received_ns", s.received_ns},
          {"failures", s.failures}};
}

}  // namespace vigie::csirt
