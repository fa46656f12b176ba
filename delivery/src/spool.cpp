#include "vigie/delivery/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vigie::delivery {
namespace {

constexpr char kMagic[8] = {'V', 'I', 'G', 'I', 'E', 'S', 'P', '1'};
constexpr std::string_view kBatchSuffix = ".batch";
constexpr std::string_view kTmpSuffix = ".tmp";
constexpr std::size_t kSequenceDigits = 20;  // UINT64_MAX has 20 decimal digits
// Header layout (spool.h): offsets of its fields.
constexpr std::size_t kSequenceAt = 8, kEventsAt = 16, kAlertsAt = 24, kEnergyAt = 32,
                      kBodySizeAt = 40, kBodyCrcAt = 48, kHeaderCrcAt = 52;

void put_u64(unsigned char* at, uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u32(unsigned char* at, uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint64_t get_u64(const unsigned char* at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | at[i];
  return v;
}
uint32_t get_u32(const unsigned char* at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | at[i];
  return v;
}

// zlib's crc32 takes a uInt length: feed large buffers in pieces.
uint32_t crc32_of(const void* data, std::size_t size) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (size > 0) {
    const auto n = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    crc = ::crc32(crc, p, n);
    p += n;
    size -= n;
  }
  return static_cast<uint32_t>(crc);
}

struct Header {
  uint64_t sequence = 0;
  BatchCounts counts;
  uint64_t body_size = 0;
  uint32_t body_crc32 = 0;
};

void encode_header(const Header& h, unsigned char (&out)[Spool::kHeaderBytes]) {
  std::memset(out, 0, sizeof out);
  std::memcpy(out, kMagic, sizeof kMagic);
  put_u64(out + kSequenceAt, h.sequence);
  put_u64(out + kEventsAt, h.counts.events);
  put_u64(out + kAlertsAt, h.counts.alerts);
  put_u64(out + kEnergyAt, h.counts.energy_records);
  put_u64(out + kBodySizeAt, h.body_size);
  put_u32(out + kBodyCrcAt, h.body_crc32);
  put_u32(out + kHeaderCrcAt, crc32_of(out, kHeaderCrcAt));
}

// nullptr when valid, else why not.
const char* decode_header(const unsigned char (&in)[Spool::kHeaderBytes], Header& h) {
  if (std::memcmp(in, kMagic, sizeof kMagic) != 0) return "bad magic";
  if (get_u32(in + kHeaderCrcAt) != crc32_of(in, kHeaderCrcAt)) return "header CRC mismatch";
  h.sequence = get_u64(in + kSequenceAt);
  h.counts.events = get_u64(in + kEventsAt);
  h.counts.alerts = get_u64(in + kAlertsAt);
  h.counts.energy_records = get_u64(in + kEnergyAt);
  h.body_size = get_u64(in + kBodySizeAt);
  h.body_crc32 = get_u32(in + kBodyCrcAt);
  return nullptr;
}

// write(2) of the whole buffer: retries short writes and EINTR; errno kept on failure.
bool write_all(int fd, const void* data, std::size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// read(2) of up to `size` bytes; the count read, or -1 with errno.
ssize_t read_all(int fd, void* data, std::size_t size) {
  auto* p = static_cast<char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, p + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

// fsync of a directory, so that a rename or unlink in it is durable. 0 or errno.
int fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno;
  const int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

// mkdir -p with mode 0700 for what it creates.
void make_directories(const std::string& dir) {
  std::string path;
  std::size_t from = 0;
  while (from <= dir.size()) {
    std::size_t slash = dir.find('/', from);
    if (slash == std::string::npos) slash = dir.size();
    path = dir.substr(0, slash);
    from = slash + 1;
    if (path.empty()) continue;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      throw std::runtime_error("spool directory " + dir + ": cannot create " + path + ": " +
                               std::strerror(errno));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    throw std::runtime_error("spool directory " + dir + " is not a directory");
  }
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    throw std::runtime_error("spool directory " + dir + ": " + std::strerror(errno));
  }
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The sequence of "<20 digits>.batch", or nullopt for any other name.
std::optional<uint64_t> sequence_of(std::string_view name) {
  if (name.size() != kSequenceDigits + kBatchSuffix.size() || !ends_with(name, kBatchSuffix)) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (std::size_t i = 0; i < kSequenceDigits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return v;
}

std::string error_message(const std::string& path, int error) {
  return path + ": " + std::strerror(error);
}

}  // namespace

Spool::Spool(SpoolOptions options) : options_(std::move(options)) {
  if (options_.directory.empty()) throw std::runtime_error("spool directory is empty");
  while (options_.directory.size() > 1 && options_.directory.back() == '/') {
    options_.directory.pop_back();
  }
  make_directories(options_.directory);
  DIR* dir = ::opendir(options_.directory.c_str());
  if (dir == nullptr) {
    throw std::runtime_error("spool directory " + options_.directory + ": " + std::strerror(errno));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) names.emplace_back(entry->d_name);
  const int read_error = errno;
  ::closedir(dir);
  if (read_error != 0) {
    throw std::runtime_error("spool directory " + options_.directory + ": " +
                             std::strerror(read_error));
  }
  bool removed_any = false;
  auto remove_corrupt = [&](const std::string& path, const std::string& why) {
    spdlog::error("spool: removing {} ({}): its batch cannot be replayed", path, why);
    ::unlink(path.c_str());
    ++corrupt_files_;
    removed_any = true;
  };
  for (const auto& name : names) {
    const std::string path = options_.directory + "/" + name;
    if (ends_with(name, kTmpSuffix)) {
      // A write that a crash interrupted before its rename: never acknowledged
      // as spooled, so nothing is lost by removing it.
      spdlog::info("spool: removing the unfinished write {}", path);
      ::unlink(path.c_str());
      removed_any = true;
      continue;
    }
    const auto sequence = sequence_of(name);
    if (!sequence) continue;  // not ours: left alone
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      remove_corrupt(path, std::strerror(errno));
      continue;
    }
    unsigned char raw[kHeaderBytes];
    const ssize_t got = read_all(fd, raw, sizeof raw);
    struct stat st {};
    const bool stat_ok = ::fstat(fd, &st) == 0;
    ::close(fd);
    Header header;
    const char* why = nullptr;
    if (got != static_cast<ssize_t>(kHeaderBytes) || !stat_ok) {
      why = "short header";
    } else if ((why = decode_header(raw, header)) != nullptr) {
    } else if (header.sequence != *sequence) {
      why = "sequence differs from its name";
    } else if (static_cast<uint64_t>(st.st_size) != kHeaderBytes + header.body_size) {
      why = "size differs from its header";
    }
    if (why != nullptr) {
      remove_corrupt(path, why);
      continue;
    }
    const uint64_t file_bytes = kHeaderBytes + header.body_size;
    recovered_.push_back({header.sequence, header.counts, file_bytes});
    sizes_[header.sequence] = file_bytes;
    bytes_ += file_bytes;
  }
  std::sort(recovered_.begin(), recovered_.end(),
            [](const SpoolEntry& a, const SpoolEntry& b) { return a.sequence < b.sequence; });
  if (removed_any && options_.sync) {
    if (const int e = fsync_dir(options_.directory); e != 0) {
      throw std::runtime_error("spool directory " + options_.directory + ": " + std::strerror(e));
    }
  }
  // Fail at start-up, not at the first batch, when the directory is not writable.
  const std::string probe = options_.directory + "/.probe" + std::string(kTmpSuffix);
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("spool directory " + options_.directory + ": " + std::strerror(errno));
  }
  ::close(fd);
  ::unlink(probe.c_str());
  if (!recovered_.empty()) {
    spdlog::info("spool: {} batches ({} bytes) to replay from {}", recovered_.size(), bytes_,
                 options_.directory);
  }
}

std::string Spool::path_of(uint64_t sequence) const {
  char name[kSequenceDigits + 1];
  std::snprintf(name, sizeof name, "%020llu", static_cast<unsigned long long>(sequence));
  return options_.directory + "/" + name + std::string(kBatchSuffix);
}

int Spool::sync_directory() { return options_.sync ? fsync_dir(options_.directory) : 0; }

SpoolWriteResult Spool::write(uint64_t sequence, const BatchCounts& counts, std::string_view body,
                              bool sync_directory) {
  const std::string path = path_of(sequence);
  const std::string tmp = path + std::string(kTmpSuffix);
  Header header{sequence, counts, body.size(), crc32_of(body.data(), body.size())};
  unsigned char raw[kHeaderBytes];
  encode_header(header, raw);
  auto failed = [&](const std::string& at, int error) {
    ::unlink(tmp.c_str());
    return SpoolWriteResult{error, error_message(at, error)};
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return failed(tmp, errno);
  if (!write_all(fd, raw, sizeof raw) || !write_all(fd, body.data(), body.size()) ||
      (options_.sync && ::fsync(fd) != 0)) {
    const int error = errno;
    ::close(fd);
    return failed(tmp, error);
  }
  if (::close(fd) != 0) return failed(tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed(path, errno);
  if (options_.sync && sync_directory) {
    if (const int error = fsync_dir(options_.directory); error != 0) {
      // The rename may not survive a crash: the batch stays in memory instead.
      ::unlink(path.c_str());
      return SpoolWriteResult{error, error_message(options_.directory, error)};
    }
  }
  const uint64_t file_bytes = kHeaderBytes + body.size();
  auto [it, added] = sizes_.try_emplace(sequence, file_bytes);
  if (!added) {
    bytes_ -= it->second;
    it->second = file_bytes;
  }
  bytes_ += file_bytes;
  return {};
}

std::optional<std::string> Spool::read(uint64_t sequence) {
  const std::string path = path_of(sequence);
  const char* why = nullptr;
  std::string body;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  int error = 0;
  if (fd < 0) {
    error = errno;
  } else {
    unsigned char raw[kHeaderBytes];
    Header header;
    const ssize_t got = read_all(fd, raw, sizeof raw);
    if (got < 0) {
      error = errno;
    } else if (got != static_cast<ssize_t>(kHeaderBytes)) {
      why = "short header";
    } else if ((why = decode_header(raw, header)) != nullptr) {
    } else if (header.sequence != sequence) {
      why = "sequence differs from its name";
    } else {
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        error = errno;
      } else if (static_cast<uint64_t>(st.st_size) != kHeaderBytes + header.body_size) {
        why = "size differs from its header";
      } else {
        body.resize(header.body_size);
        const ssize_t n = read_all(fd, body.data(), body.size());
        if (n < 0) {
          error = errno;
        } else if (static_cast<uint64_t>(n) != header.body_size) {
          why = "short body";
        } else if (crc32_of(body.data(), body.size()) != header.body_crc32) {
          why = "body CRC mismatch";
        }
      }
    }
    ::close(fd);
  }
  if (error == 0 && why == nullptr) return body;
  spdlog::error("spool: batch {} unreadable ({}): dropped", path,
                why != nullptr ? why : std::strerror(error));
  ::unlink(path.c_str());
  if (auto it = sizes_.find(sequence); it != sizes_.end()) {
    bytes_ -= it->second;
    sizes_.erase(it);
  }
  ++corrupt_files_;
  return std::nullopt;
}

void Spool::remove(uint64_t sequence) {
  const std::string path = path_of(sequence);
  // No directory fsync: a removal that a crash undoes brings the batch back,
  // and its replay is a duplicate the collector recognises by (agent id,
  // sequence). That saves one of the three fsyncs a batch would cost.
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("spool: cannot remove {}: {}", path, std::strerror(errno));
  if (auto it = sizes_.find(sequence); it != sizes_.end()) {
    bytes_ -= it->second;
    sizes_.erase(it);
  }
}

}  // namespace vigie::delivery
