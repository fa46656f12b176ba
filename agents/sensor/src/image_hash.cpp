#include "vigie/sensor/image_hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <memory>

#include "vigie/workload/procfs.h"

namespace vigie::sensor {
namespace {

// SHA-256 of what remains to read from fd, as lowercase hex; "" on a read error.
std::string sha256_hex(int fd) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return {};
  std::array<unsigned char, 64 * 1024> buf;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) return {};
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * len, '\0');
  for (unsigned int i = 0; i < len; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace

ImageHasher::ImageHasher(size_t max_entries, uint64_t max_file_bytes)
    : max_entries_(max_entries > 0 ? max_entries : 1), max_file_bytes_(max_file_bytes) {}

std::string ImageHasher::hash(const std::string& path) {
  const workload::UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    ++stats_.failures;
    return {};
  }
  const Key key{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000ull +
                    static_cast<uint64_t>(st.st_mtim.tv_nsec),
                static_cast<uint64_t>(st.st_size)};
  if (auto it = cache_.find(key); it != cache_.end()) {
    ++stats_.cache_hits;
    order_.splice(order_.end(), order_, it->second.order);
    return it->second.hex;
  }
  if (static_cast<uint64_t>(st.st_size) > max_file_bytes_) {
    ++stats_.too_large;
    return {};
  }
  std::string hex = sha256_hex(file.get());
  if (hex.empty()) {
    ++stats_.failures;
    return {};
  }
  ++stats_.hashed;
  if (cache_.size() >= max_entries_) {
    cache_.erase(order_.front());
    order_.pop_front();
    ++stats_.evictions;
  }
  order_.push_back(key);
  cache_.emplace(key, Entry{hex, std::prev(order_.end())});
  return hex;
}

}  // namespace vigie::sensor
