#include "vigie/csirt/indicator.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <unordered_set>

#include "vigie/rules/ioc.h"

namespace vigie::csirt {

using protocol::fail;

namespace {

constexpr std::array<std::pair<std::string_view, ObservableType>, 14> kTypeNames = {{
    {"ip", ObservableType::kIp},
    {"ip-dst", ObservableType::kIp},
    {"ip-src", ObservableType::kIp},
    {"ip-dst|port", ObservableType::kIp},
    {"ip-src|port", ObservableType::kIp},
    {"cidr", ObservableType::kIp},
    {"domain", ObservableType::kDomain},
    {"hostname", ObservableType::kDomain},
    {"sha256", ObservableType::kSha256},
    {"filename", ObservableType::kFileName},
    {"user", ObservableType::kUser},
    {"target-user", ObservableType::kUser},
    {"file-name", ObservableType::kFileName},
    {"domain-name", ObservableType::kDomain},
}};

constexpr char kHex[] = "0123456789abcdef";

std::string hex(const std::array<uint8_t, 16>& bytes) {
  std::string out;
  out.reserve(32);
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

bool is_v4_mapped(const std::array<uint8_t, 16>& a) {
  return std::all_of(a.begin(), a.begin() + 10, [](uint8_t b) { return b == 0; }) && a[10] == 0xff &&
         a[11] == 0xff;
}

std::string ip_text(const std::array<uint8_t, 16>& a) {
  char text[INET6_ADDRSTRLEN] = {};
  if (is_v4_mapped(a)) {
    inet_ntop(AF_INET, a.data() + 12, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, a.data(), text, sizeof text);
  }
  return text;
}

// The network's first and last address.
std::pair<std::array<uint8_t, 16>, std::array<uint8_t, 16>> bounds(const rules::IpNetwork& net) {
  auto low = net.address, high = net.address;
  for (int bit = net.prefix_bits; bit < 128; ++bit) {
    const auto mask = static_cast<uint8_t>(0x80u >> (bit % 8));
    low[bit / 8] = static_cast<uint8_t>(low[bit / 8] & ~mask);
    high[bit / 8] = static_cast<uint8_t>(high[bit / 8] | mask);
  }
  return {low, high};
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

protocol::Result<std::string> normalise_domain(std::string_view value) {
  std::string name = lower(value);
  if (!name.empty() && name.back() == '.') name.pop_back();
  if (name.empty() || name.size() > 253) return fail("a domain is 1 to 253 bytes");
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return fail("a domain has no empty label: '" + name + "'");
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      if (++label > 63) return fail("a domain label is 63 bytes at most");
    } else {
      return fail("a domain is labels of letters, digits, '-' and '_', got '" + name + "'");
    }
  }
  if (label == 0) return fail("a domain has no empty label: '" + name + "'");
  return name;
}

std::string reversed_labels(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  while (!name.empty()) {
    const auto dot = name.rfind('.');
    const auto label = dot == std::string_view::npos ? name : name.substr(dot + 1);
    if (!out.empty()) out += '.';
    out += label;
    name = dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
  }
  return out;
}

std::string_view last_component(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string_view to_string(ObservableType type) {
  switch (type) {
    case ObservableType::kIp:
      return "ip";
    case ObservableType::kDomain:
      return "domain";
    case ObservableType::kSha256:
      return "sha256";
    case ObservableType::kFileName:
      return "filename";
    case ObservableType::kUser:
      break;
  }
  return "user";
}

std::optional<ObservableType> parse_observable_type(std::string_view text) {
  const std::string name = lower(text);
  for (const auto& [known, type] : kTypeNames) {
    if (known == name) return type;
  }
  return std::nullopt;
}

protocol::Result<std::string> normalise(ObservableType type, std::string_view value) {
  switch (type) {
    case ObservableType::kIp: {
      std::string_view text = value.substr(0, value.find('|'));  // ip-dst|port
      const auto net = rules::IpNetwork::parse(text);
      if (!net) return fail("not an IP address or CIDR network: '" + std::string(value) + "'");
      const auto [low, high] = bounds(*net);
      const bool v4 = is_v4_mapped(low) && net->prefix_bits >= 96;
      std::string out = ip_text(low);
      if (net->prefix_bits < 128)
        out += "/" + std::to_string(v4 ? net->prefix_bits - 96 : net->prefix_bits);
      return out;
    }
    case ObservableType::kDomain:
      return normalise_domain(value);
    case ObservableType::kSha256: {
      std::string digest = lower(value);
      if (digest.size() != 64 || digest.find_first_not_of(kHex) != std::string::npos)
        return fail("a SHA-256 is 64 hex digits, got '" + std::string(value) + "'");
      return digest;
    }
    case ObservableType::kFileName: {
      const std::string_view name = last_component(value);
      if (name.empty() || name.size() > 255 || name == "." || name == "..")
        return fail("a file name is a non-empty last path component of 255 bytes at most");
      return std::string(name);
    }
    case ObservableType::kUser:
      break;
  }
  if (value.empty() || value.size() > 256 ||
      std::any_of(value.begin(), value.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    return fail("a user name is 1 to 256 bytes without control characters");
  return std::string(value);
}

std::optional<std::string> observable_key(ObservableType type, std::string_view value) {
  switch (type) {
    case ObservableType::kIp: {
      const auto address = rules::parse_ip(value);
      if (!address) return std::nullopt;
      return hex(*address);
    }
    case ObservableType::kDomain: {
      auto name = normalise_domain(value);
      if (!name) return std::nullopt;
      return reversed_labels(*name);
    }
    default:
      break;
  }
  auto normalised = normalise(type, value);
  if (!normalised) return std::nullopt;
  return std::move(*normalised);
}

std::vector<KeyRange> key_ranges(ObservableType type, std::string_view normalised) {
  if (type == ObservableType::kIp) {
    const auto net = rules::IpNetwork::parse(normalised);
    if (!net) return {};
    const auto [low, high] = bounds(*net);
    return {{hex(low), hex(high)}};
  }
  if (type == ObservableType::kDomain) {
    const std::string key = reversed_labels(normalised);
    // Subdomains: every key that starts with "<key>." sorts in ["<key>.", "<key>/"].
    return {{key, key}, {key + ".", key + "/"}};
  }
  return {{std::string(normalised), std::string(normalised)}};
}

std::vector<Observable> observables_of(const protocol::Event& event) {
  std::vector<Observable> out;
  auto add = [&out](ObservableType type, std::string_view value) {
    if (value.empty()) return;
    if (auto key = observable_key(type, value)) out.push_back({type, std::move(*key)});
  };
  if (const auto* connect = std::get_if<protocol::NetworkConnect>(&event.body)) {
    add(ObservableType::kIp, connect->destination_ip);
    add(ObservableType::kDomain, connect->destination_hostname);
  } else if (const auto* accept = std::get_if<protocol::NetworkAccept>(&event.body)) {
    add(ObservableType::kIp, accept->source_ip);  // the peer (Sysmon's source)
  } else if (const auto* exec = std::get_if<protocol::ProcessExec>(&event.body)) {
    add(ObservableType::kFileName, last_component(exec->image));
    add(ObservableType::kSha256, exec->sha256);
    add(ObservableType::kUser, event.user);
  } else if (const auto* fileless = std::get_if<protocol::FilelessExec>(&event.body)) {
    add(ObservableType::kUser, event.user);
    (void)fileless;
  }
  return out;
}

bool active(const Indicator& indicator, uint64_t now_ns) {
  return indicator.to_ids && !indicator.deleted &&
         (indicator.valid_until_ns == 0 || now_ns < indicator.valid_until_ns);
}

std::string ioc_list_csv(const std::vector<Indicator>& indicators, uint64_t now_ns) {
  std::vector<std::string> lines;
  for (const Indicator& i : indicators) {
    if (!active(i, now_ns) || i.type == ObservableType::kUser) continue;
    const bool cidr = i.type == ObservableType::kIp && i.value.find('/') != std::string::npos;
    lines.push_back(std::string(cidr ? "cidr" : to_string(i.type)) + "," + i.value);
  }
  std::sort(lines.begin(), lines.end());
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  std::string out = "type,value\n";
  for (const auto& line : lines) out += line + "\n";
  return out;
}

std::string_view to_string(LinkRole role) {
  switch (role) {
    case LinkRole::kObserved:
      return "observed";
    case LinkRole::kSuspected:
      return "suspected";
    case LinkRole::kRelated:
      break;
  }
  return "related";
}

std::optional<LinkRole> parse_link_role(std::string_view text) {
  for (LinkRole role : {LinkRole::kObserved, LinkRole::kSuspected, LinkRole::kRelated}) {
    if (to_string(role) == text) return role;
  }
  return std::nullopt;
}

namespace {
std::string matcher_key(ObservableType type, std::string_view key) {
  std::string out(1, static_cast<char>('0' + static_cast<int>(type)));
  out += key;
  return out;
}
}  // namespace

IndicatorMatcher::IndicatorMatcher(const std::vector<Indicator>& indicators, uint64_t now_ns) {
  std::unordered_set<int> prefixes;
  for (const Indicator& indicator : indicators) {
    if (!active(indicator, now_ns)) continue;
    std::string key;
    if (indicator.type == ObservableType::kIp) {
      const auto net = rules::IpNetwork::parse(indicator.value);
      if (!net) continue;
      key = matcher_key(indicator.type, hex(bounds(*net).first) + "/" +
                                            std::to_string(net->prefix_bits));
      prefixes.insert(net->prefix_bits);
    } else if (indicator.type == ObservableType::kDomain) {
      key = matcher_key(indicator.type, reversed_labels(indicator.value));
    } else {
      key = matcher_key(indicator.type, indicator.value);
    }
    by_key_[key].push_back(indicator.uuid);
    ++size_;
  }
  ip_prefixes_.assign(prefixes.begin(), prefixes.end());
  std::sort(ip_prefixes_.rbegin(), ip_prefixes_.rend());
}

std::vector<std::string> IndicatorMatcher::match(const Observable& observable) const {
  std::vector<std::string> out;
  auto collect = [&](const std::string& key) {
    if (const auto it = by_key_.find(key); it != by_key_.end())
      out.insert(out.end(), it->second.begin(), it->second.end());
  };
  if (observable.type == ObservableType::kIp) {
    if (observable.key.size() != 32) return out;
    std::array<uint8_t, 16> address{};
    for (std::size_t i = 0; i < 16; ++i) {
      const auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
      address[i] = static_cast<uint8_t>(digit(observable.key[2 * i]) << 4 |
                                        digit(observable.key[2 * i + 1]));
    }
    for (int prefix : ip_prefixes_) {
      const auto low = bounds(rules::IpNetwork{address, prefix}).first;
      collect(matcher_key(observable.type, hex(low) + "/" + std::to_string(prefix)));
    }
  } else if (observable.type == ObservableType::kDomain) {
    // The name itself, then each parent: "example.pool.a" → "example.pool" → "example".
    std::string_view key = observable.key;
    while (!key.empty()) {
      collect(matcher_key(observable.type, key));
      const auto dot = key.rfind('.');
      key = dot == std::string_view::npos ? std::string_view() : key.substr(0, dot);
    }
  } else {
    collect(matcher_key(observable.type, observable.key));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace vigie::csirt
