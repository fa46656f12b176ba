#include "vigie/workload/user_cache.h"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace vigie::workload {

const std::string& UserCache::name(uint32_t uid) {
  if (auto it = names_.find(uid); it != names_.end()) return it->second;
  if (names_.size() >= max_entries_) names_.clear();

  std::string name = std::to_string(uid);
  long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buffer(hint > 0 ? static_cast<size_t>(hint) : 4096);
  passwd entry{};
  passwd* result = nullptr;
  int rc;
  // Grow on ERANGE (large NSS entries), within a sane bound.
  while ((rc = getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &result)) == ERANGE &&
         buffer.size() < (1u << 20)) {
    buffer.resize(buffer.size() * 2);
  }
  if (rc == 0 && result != nullptr && result->pw_name != nullptr) name = result->pw_name;
  return names_.emplace(uid, std::move(name)).first->second;
}

}  // namespace vigie::workload
