// A sysfs- or cgroupfs-like file tree built from a fuzz input, for targets
// that fuzz the agent's readers through their real file-reading code paths.
//
// Input format (text, so that seeds are readable and libFuzzer's mutations
// stay meaningful): a line "=<relative path>" starts a file whose content is
// every following line, newlines included, up to the next "=" line; a path
// ending in '/' is a directory. A path with the suffix
// "@2" is a second version of that file, written by write_second() between
// two reads (counters that move, wrap, vanish). Paths are relative, at most
// kMaxDepth components of [A-Za-z0-9_.:,@+-]; "." and ".." components and
// anything else are skipped, so the tree never leaves its root.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace vigie::fuzz {

struct TreeFile {
  std::string path;  // relative, validated
  std::string content;
  bool directory = false;
  bool second = false;  // the "@2" version
};

constexpr std::size_t kMaxDepth = 10;
constexpr std::size_t kMaxFiles = 128;

inline bool valid_tree_path(std::string_view path) {
  if (path.empty() || path.size() > 256 || path.front() == '/') return false;
  std::size_t depth = 0;
  std::size_t start = 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part.empty() || part == "." || part == ".." || ++depth > kMaxDepth) return false;
    for (char c : part) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '.' || c == ':' || c == ',' || c == '-' || c == '@' ||
                      c == '+';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

inline std::vector<TreeFile> parse_tree(std::string_view input) {
  std::vector<TreeFile> files;
  TreeFile* current = nullptr;
  std::size_t start = 0;
  while (start < input.size() && files.size() <= kMaxFiles) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(start, end - start);
    if (!line.empty() && line.front() == '=') {
      current = nullptr;
      std::string path(line.substr(1));
      TreeFile file;
      if (path.size() > 2 && path.ends_with("@2")) {
        file.second = true;
        path.resize(path.size() - 2);
      }
      if (!path.empty() && path.back() == '/') {
        file.directory = true;
        path.pop_back();
      }
      if (valid_tree_path(path)) {
        file.path = std::move(path);
        files.push_back(std::move(file));
        if (!files.back().directory) current = &files.back();
      }
    } else if (current != nullptr) {
      current->content.append(line);
      if (end < input.size()) current->content.push_back('\n');
    }
    start = end + 1;
  }
  if (files.size() > kMaxFiles) files.resize(kMaxFiles);
  return files;
}

// Writes `content` to `path` (created or truncated); false on failure.
inline bool write_tree_file(const std::filesystem::path& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = true;
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n <= 0) {
      ok = false;
      break;
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
  return ok;
}

// The content of `path`, or "" when it cannot be read.
inline std::string read_tree_file(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
    out.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

// Creates the first versions of `files` under `root` (which must exist).
// A file whose place is taken by a directory, or the reverse, is skipped.
inline void write_first(const std::filesystem::path& root, const std::vector<TreeFile>& files) {
  std::error_code ec;
  for (const auto& file : files) {
    if (file.second) continue;
    const auto path = root / file.path;
    if (file.directory) {
      std::filesystem::create_directories(path, ec);
      continue;
    }
    std::filesystem::create_directories(path.parent_path(), ec);
    (void)write_tree_file(path, file.content);
  }
}

// Writes the "@2" versions over the first ones (an empty one removes the file).
inline void write_second(const std::filesystem::path& root, const std::vector<TreeFile>& files) {
  std::error_code ec;
  for (const auto& file : files) {
    if (!file.second || file.directory) continue;
    const auto path = root / file.path;
    if (file.content.empty()) {
      if (!std::filesystem::is_directory(path, ec)) std::filesystem::remove(path, ec);
      continue;
    }
    std::filesystem::create_directories(path.parent_path(), ec);
    (void)write_tree_file(path, file.content);
  }
}

// Empties `root`, keeping the directory itself.
inline void clear_tree(const std::filesystem::path& root) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec))
    std::filesystem::remove_all(entry.path(), ec);
}

}  // namespace vigie::fuzz
