#include "vigie/rules/ioc.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "value_pattern.h"

namespace vigie::rules {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\"");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\"");
  return text.substr(first, last - first + 1);
}

bool is_sha256(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// A type name of the CSV or MISP vocabulary, with composite MISP types
// ("ip-dst|port", "filename|sha256") split into the parts Vigie can match.
struct TypedValue {
  IocType type;
  std::string_view value;
};
std::vector<TypedValue> split_typed(std::string_view type, std::string_view value) {
  auto one = [](std::string_view t) -> std::optional<IocType> {
    if (t == "ip" || t == "cidr" || t == "ip-dst" || t == "ip-src") return IocType::kIp;
    if (t == "domain" || t == "hostname") return IocType::kDomain;
    if (t == "sha256") return IocType::kSha256;
    if (t == "filename") return IocType::kFileName;
    if (t == "user" || t == "target-user" || t == "sshkey") return IocType::kExact;
    return std::nullopt;
  };
  std::vector<TypedValue> parts;
  if (const auto bar = type.find('|'); bar != std::string_view::npos) {
    const auto vbar = value.find('|');
    if (vbar == std::string_view::npos) return {};
    const auto first = one(type.substr(0, bar));
    const auto second = one(type.substr(bar + 1));
    if (first) parts.push_back({*first, value.substr(0, vbar)});
    if (second) parts.push_back({*second, value.substr(vbar + 1)});
    if (!first && !second) return {};
    return parts;
  }
  if (const auto t = one(type)) parts.push_back({*t, value});
  return parts;
}

}  // namespace

std::optional<std::array<uint8_t, 16>> parse_ip(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buffer[INET6_ADDRSTRLEN];
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::array<uint8_t, 16> address{};
  if (inet_pton(AF_INET6, buffer, address.data()) == 1) return address;
  in_addr v4;
  if (inet_pton(AF_INET, buffer, &v4) != 1) return std::nullopt;
  address[10] = address[11] = 0xff;
  std::memcpy(address.data() + 12, &v4, 4);
  return address;
}

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = parse_ip(text.substr(0, slash));
  if (!address) return std::nullopt;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  IpNetwork network{*address, 128};
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    int prefix = -1;
    const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
    if (ec != std::errc() || end != bits.data() + bits.size() || prefix < 0 ||
        prefix > (v4 ? 32 : 128)) {
      return std::nullopt;
    }
    network.prefix_bits = v4 ? prefix + 96 : prefix;
  }
  return network;
}

bool IpNetwork::contains(const std::array<uint8_t, 16>& other) const {
  const int full = prefix_bits / 8, rest = prefix_bits % 8;
  if (std::memcmp(address.data(), other.data(), static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (address[full] & mask) == (other[full] & mask);
}

bool IocSet::add(IocType type, std::string_view raw) {
  const std::string_view value = trim(raw);
  if (value.empty()) return false;
  switch (type) {
    case IocType::kIp: {
      const auto network = IpNetwork::parse(value);
      if (!network) return false;
      if (network->prefix_bits == 128) {
        addresses_.emplace(reinterpret_cast<const char*>(network->address.data()), 16);
      } else {
        networks_.push_back(*network);
      }
      return true;
    }
    case IocType::kDomain: {
      std::string domain = lower(value);
      if (domain.back() == '.') domain.pop_back();
      if (domain.empty() || domain.find_first_of(" /:") != std::string::npos) return false;
      domains_.insert(std::move(domain));
      return true;
    }
    case IocType::kSha256:
      if (!is_sha256(value)) return false;
      sha256_.insert(lower(value));
      return true;
    case IocType::kFileName:
      if (value.find('/') != std::string_view::npos) return false;
      file_names_.emplace(value);
      return true;
    case IocType::kExact:
      exact_.emplace(value);
      return true;
  }
  return false;
}

bool IocSet::matches(std::string_view value) const {
  if (value.empty()) return false;
  if (!exact_.empty() && exact_.contains(std::string(value))) return true;
  if (!addresses_.empty() || !networks_.empty()) {
    if (const auto address = parse_ip(value)) {
      if (addresses_.contains(std::string(reinterpret_cast<const char*>(address->data()), 16))) {
        return true;
      }
      for (const IpNetwork& network : networks_) {
        if (network.contains(*address)) return true;
      }
      return false;
    }
  }
  if (!sha256_.empty()) {
    std::string_view hex = value;
    if (hex.substr(0, 7) == "SHA256=") hex.remove_prefix(7);
    if (is_sha256(hex) && sha256_.contains(lower(hex))) return true;
  }
  if (!domains_.empty()) {
    std::string domain = lower(value);
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    for (std::string_view rest = domain; !rest.empty();) {
      if (domains_.contains(std::string(rest))) return true;
      const auto dot = rest.find('.');
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
  }
  if (!file_names_.empty()) {
    const auto slash = value.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? value : value.substr(slash + 1);
    if (file_names_.contains(std::string(name))) return true;
  }
  return false;
}

std::size_t IocSet::size() const {
  return addresses_.size() + networks_.size() + domains_.size() + sha256_.size() +
         file_names_.size() + exact_.size();
}

bool IocStore::add(const std::string& name, std::string_view type, std::string_view value) {
  const std::vector<TypedValue> parts = split_typed(lower(trim(type)), trim(value));
  if (parts.empty()) return false;
  auto& set = sets_[name];
  if (!set) set = std::make_shared<IocSet>();
  bool added = false;
  for (const TypedValue& part : parts) added |= set->add(part.type, part.value);
  return added;
}

std::size_t IocStore::load_csv(const std::string& name, const std::filesystem::path& path,
                               std::vector<Diagnostic>& diagnostics) {
  std::ifstream in(path);
  if (!in) {
    diagnostics.push_back({path.string(), 0, "cannot read IOC list"});
    return 0;
  }
  if (!sets_.contains(name)) sets_[name] = std::make_shared<IocSet>();
  std::size_t added = 0;
  std::string line;
  bool first = true;  // the first content line may be a `type,value` header
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string_view text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    const auto comma = text.find(',');
    const std::string_view type = trim(text.substr(0, comma));
    const std::string_view rest =
        comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const std::string_view value = trim(rest.substr(0, rest.find(',')));
    if (std::exchange(first, false) && lower(type) == "type") continue;
    if (add(name, type, value)) {
      ++added;
    } else {
      diagnostics.push_back({path.string(), number,
                             "bad IOC line: '" + std::string(text) +
                                 "' (expected type,value with type ip, cidr, domain, hostname, "
                                 "sha256, filename or a MISP attribute type)"});
    }
  }
  return added;
}

std::size_t IocStore::load_misp_json(const std::string& name, const std::filesystem::path& path,
                                     std::vector<Diagnostic>& diagnostics, std::size_t* skipped) {
  std::ifstream in(path);
  if (!in) {
    diagnostics.push_back({path.string(), 0, "cannot read MISP JSON"});
    return 0;
  }
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    diagnostics.push_back({path.string(), 0, std::string("invalid JSON: ") + e.what()});
    return 0;
  }
  if (!sets_.contains(name)) sets_[name] = std::make_shared<IocSet>();
  std::size_t added = 0;
  auto attributes = [&](const nlohmann::json& list) {
    if (!list.is_array()) return;
    for (const nlohmann::json& attribute : list) {
      if (!attribute.is_object()) continue;
      const auto type = attribute.find("type");
      const auto value = attribute.find("value");
      if (type == attribute.end() || value == attribute.end() || !type->is_string() ||
          !value->is_string()) {
        diagnostics.push_back({path.string(), 0, "MISP attribute without string type and value"});
        continue;
      }
      // Not for detection (to_ids false), or revoked (deleted true, which
      // MISP keeps in exports as a soft delete): never matched.
      const auto flag = [&attribute](const char* key, bool value) {
        const auto it = attribute.find(key);
        return it != attribute.end() && it->is_boolean() && it->get<bool>() == value;
      };
      if (flag("to_ids", false) || flag("deleted", true)) {
        if (skipped) ++*skipped;
        continue;
      }
      if (add(name, type->get<std::string>(), value->get<std::string>())) {
        ++added;
      } else {
        diagnostics.push_back({path.string(), 0,
                               "MISP attribute not usable: type '" + type->get<std::string>() +
                                   "', value '" + value->get<std::string>() + "'"});
      }
    }
  };
  auto event = [&](const nlohmann::json& e) {
    if (!e.is_object()) return;
    const nlohmann::json& body = e.contains("Event") ? e["Event"] : e;
    if (!body.is_object()) return;
    if (body.contains("Attribute")) attributes(body["Attribute"]);
    if (body.contains("Object") && body["Object"].is_array()) {
      for (const nlohmann::json& object : body["Object"]) {
        if (object.is_object() && object.contains("Attribute")) attributes(object["Attribute"]);
      }
    }
  };
  if (root.is_array()) {
    for (const nlohmann::json& e : root) event(e);
  } else if (root.is_object() && root.contains("response")) {
    const nlohmann::json& response = root["response"];
    if (response.is_object() && response.contains("Attribute")) attributes(response["Attribute"]);
    if (response.is_array()) {
      for (const nlohmann::json& e : response) event(e);
    }
  } else {
    event(root);
  }
  return added;
}

std::shared_ptr<const IocSet> IocStore::find(std::string_view name) const {
  const auto it = sets_.find(name);
  return it == sets_.end() ? nullptr : it->second;
}

}  // namespace vigie::rules
