#include "vigie/csirt/exchange.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>

namespace vigie::csirt {

namespace {

std::optional<std::array<unsigned char, 16>> uuid_bytes(std::string_view text) {
  std::array<unsigned char, 16> out{};
  std::size_t n = 0;
  int high = -1;
  for (const char c : text) {
    if (c == '-') continue;
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0 || n == out.size()) return std::nullopt;
    if (high < 0) {
      high = digit;
    } else {
      out[n++] = static_cast<unsigned char>(high << 4 | digit);
      high = -1;
    }
  }
  if (n != out.size() || high >= 0 || text.size() != 36) return std::nullopt;
  return out;
}

}  // namespace

uint64_t changed_ns(const ExportRequest& request) {
  uint64_t out = std::max(request.incident.updated_ns, request.incident.created_ns);
  for (const auto& linked : request.indicators)
    out = std::max({out, linked.linked_ns, linked.indicator.updated_ns});
  for (const auto& sighting : request.sightings) out = std::max(out, sighting.last_ns);
  return out;
}

bool names_allowed(const ExportRequest& request) {
  return request.local && request.clearance == Tlp::kRed &&
         (request.incident.tlp == Tlp::kRed || request.incident.tlp == Tlp::kAmberStrict);
}

std::string uuid_v5(std::string_view namespace_uuid, std::string_view name) {
  const auto ns = uuid_bytes(namespace_uuid);
  if (!ns) return {};
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  const bool ok = context != nullptr && EVP_DigestInit_ex(context, EVP_sha1(), nullptr) == 1 &&
                  EVP_DigestUpdate(context, ns->data(), ns->size()) == 1 &&
                  EVP_DigestUpdate(context, name.data(), name.size()) == 1 &&
                  EVP_DigestFinal_ex(context, digest.data(), &size) == 1;
  EVP_MD_CTX_free(context);
  if (!ok || size < 16) return {};
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string out;
  out.reserve(36);
  char hex[3];
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    std::snprintf(hex, sizeof hex, "%02x", digest[i]);
    out += hex;
  }
  return out;
}

}  // namespace vigie::csirt
