// uid -> user name, resolved with getpwuid_r (NSS: files, LDAP, sssd) and
// cached, since a lookup may cost a network round trip on HPC nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace vigie::workload {

// Bounded: the cache is emptied when it reaches max_entries. Not thread-safe.
class UserCache {
 public:
  explicit UserCache(size_t max_entries = 4096) : max_entries_(max_entries) {}

  // The user name of `uid`, or its decimal number when no user has it.
  const std::string& name(uint32_t uid);

 private:
  size_t max_entries_;
  std::unordered_map<uint32_t, std::string> names_;
};

}  // namespace vigie::workload
