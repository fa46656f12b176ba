#include "vigie/protocol/distribution.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

namespace vigie::protocol::distribution {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kVersionsDir = ".versions";

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    return {};  // OpenSSL without SHA-256: no etag matches, every pull fails clearly
  return hex(digest, size);
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the bytes the padding stands for.
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

bool plain_segment(std::string_view segment) {
  return !segment.empty() && segment.front() != '.' &&
         std::none_of(segment.begin(), segment.end(), [](unsigned char c) {
           return c < 0x20 || c == 0x7f || c == '\\' || c == '/';
         });
}

bool valid_path(std::string_view path) {
  if (path.empty() || path.size() > kMaxPathBytes) return false;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (!plain_segment(path.substr(0, slash))) return false;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) return false;  // trailing slash
  }
  return true;
}

bool read_file(const fs::path& path, std::size_t max_bytes, std::string& out, std::string& error) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    error = path.string() + ": " + ec.message();
    return false;
  }
  if (size > max_bytes) {
    error = path.string() + ": larger than the " + std::to_string(kMaxItemBytes) +
            " bytes an item may hold";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  out.assign(size, '\0');
  if (!in.read(out.data(), static_cast<std::streamsize>(size))) {
    error = path.string() + ": cannot read";
    return false;
  }
  return true;
}

// Writes `content` to `path` and fsyncs it.
bool write_file(const fs::path& path, std::string_view content, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    error = path.string() + ": " + std::strerror(errno);
    return false;
  }
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = path.string() + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  if (!synced) error = path.string() + ": fsync: " + std::strerror(errno);
  ::close(fd);
  return synced;
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// A name no other writer (thread or process) picks at the same time.
std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  return std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1)) + "." +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

std::string quote_etag(std::string_view etag) { return "\"" + std::string(etag) + "\""; }

// What a failed exchange says, with at most 200 bytes of the server's answer.
std::string describe_failure(const HttpResponse& response) {
  if (response.status == 0) return response.error;
  return "HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 200);
}

}  // namespace

std::string_view to_string(Kind kind) {
  switch (kind) {
    case Kind::kRules:
      return "rules";
    case Kind::kIocs:
      return "iocs";
    case Kind::kBans:
      break;
  }
  return "bans";
}

bool parse_kind(std::string_view text, Kind& kind) {
  if (text == "rules") {
    kind = Kind::kRules;
  } else if (text == "iocs") {
    kind = Kind::kIocs;
  } else if (text == "bans") {
    kind = Kind::kBans;
  } else {
    return false;
  }
  return true;
}

bool valid_name(Kind kind, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || name.front() == '.') return false;
  if (!std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '_' || c == '-';
      }))
    return false;
  if (kind == Kind::kIocs)
    return (name.size() > 4 && name.ends_with(".csv")) ||
           (name.size() > 5 && name.ends_with(".json"));
  if (kind == Kind::kBans) return name.size() > 5 && name.ends_with(".json");
  return true;
}

std::string content_etag(const std::vector<File>& files) {
  std::vector<const File*> sorted;
  sorted.reserve(files.size());
  for (const File& file : files) sorted.push_back(&file);
  std::sort(sorted.begin(), sorted.end(),
            [](const File* a, const File* b) { return a->path < b->path; });
  std::string text;
  for (const File* file : sorted) {
    text += file->path;
    text += '\0';
    text += sha256_hex(file->content);
    text += '\n';
  }
  return sha256_hex(text);
}

bool if_none_match(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // weak comparison
    if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"' &&
        tag.substr(1, tag.size() - 2) == etag)
      return true;
  }
  return false;
}

Result<Item> read_item(const fs::path& root, Kind kind, const std::string& name) {
  std::string error;
  if (!valid_name(kind, name)) {
    return fail("invalid " + std::string(to_string(kind)) + " name '" + name + "'");
  }
  const fs::path base = root / to_string(kind) / name;
  Item item;
  item.kind = kind;
  item.name = name;
  std::error_code ec;
  std::size_t total = 0;
  if (single_file(kind)) {
    if (!fs::is_regular_file(base, ec)) {
      return fail("not found");
    }
    File file{name, {}};
    if (!read_file(base, kMaxItemBytes, file.content, error)) return fail(std::move(error));
    item.files.push_back(std::move(file));
  } else {
    if (!fs::is_directory(base, ec)) {
      return fail("not found");
    }
    fs::recursive_directory_iterator it(base, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string segment = it->path().filename().string();
      if (!plain_segment(segment)) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      File file{it->path().lexically_relative(base).generic_string(), {}};
      if (!valid_path(file.path)) continue;
      if (item.files.size() == kMaxFiles) {
        return fail(base.string() + ": more than " + std::to_string(kMaxFiles) + " files");
      }
      if (!read_file(it->path(), kMaxItemBytes - total, file.content, error)) {
        return fail(std::move(error));
      }
      total += file.content.size();
      item.files.push_back(std::move(file));
    }
    if (ec) {
      return fail(base.string() + ": " + ec.message());
    }
    std::sort(item.files.begin(), item.files.end(),
              [](const File& a, const File& b) { return a.path < b.path; });
  }
  item.etag = content_etag(item.files);
  return item;
}

std::vector<std::pair<Kind, std::string>> list_items(const fs::path& root) {
  std::vector<std::pair<Kind, std::string>> out;
  for (Kind kind : {Kind::kRules, Kind::kIocs, Kind::kBans}) {
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(root / to_string(kind), ec)) {
      const std::string name = entry.path().filename().string();
      const bool shape = kind == Kind::kRules ? entry.is_directory(ec) : entry.is_regular_file(ec);
      if (shape && valid_name(kind, name)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (auto& name : names) out.emplace_back(kind, std::move(name));
  }
  return out;
}

std::string to_json(const Item& item) {
  json files = json::array();
  for (const File& file : item.files) {
    files.push_back({{"path", file.path},
                     {"size", file.content.size()},
                     {"sha256", sha256_hex(file.content)},
                     {"content_base64", base64_encode(file.content)}});
  }
  return json{{"kind", to_string(item.kind)},
              {"name", item.name},
              {"etag", item.etag},
              {"files", std::move(files)}}
      .dump();
}

Result<Item> from_json(std::string_view text) {
  std::string error;
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail("manifest is not a JSON object");
  }
  auto string_field = [&](const json& object, const char* key, std::string& out) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) {
      error = std::string("manifest: '") + key + "' must be a string";
      return false;
    }
    out = it->get<std::string>();
    return true;
  };
  Item item;
  std::string kind;
  if (!string_field(doc, "kind", kind) || !string_field(doc, "name", item.name) ||
      !string_field(doc, "etag", item.etag))
    return fail(std::move(error));
  if (!parse_kind(kind, item.kind)) {
    return fail("manifest: unknown kind '" + kind + "'");
  }
  if (!valid_name(item.kind, item.name)) {
    return fail("manifest: invalid " + kind + " name '" + item.name + "'");
  }
  const auto files = doc.find("files");
  if (files == doc.end() || !files->is_array() || files->size() > kMaxFiles) {
    return fail("manifest: 'files' must be a list of at most " + std::to_string(kMaxFiles));
  }
  std::size_t total = 0;
  std::set<std::string> paths;
  for (const json& entry : *files) {
    if (!entry.is_object()) {
      return fail("manifest: every file must be an object");
    }
    File file;
    std::string digest, encoded;
    if (!string_field(entry, "path", file.path) || !string_field(entry, "sha256", digest) ||
        !string_field(entry, "content_base64", encoded))
      return fail(std::move(error));
    if (!valid_path(file.path) || !paths.insert(file.path).second) {
      return fail("manifest: invalid or repeated path '" + file.path + "'");
    }
    auto content = base64_decode(encoded);
    if (!content) {
      return fail("manifest: " + file.path + ": content_base64 is not base64");
    }
    total += content->size();
    if (total > kMaxItemBytes) {
      return fail("manifest: files exceed " + std::to_string(kMaxItemBytes) + " bytes");
    }
    file.content = std::move(*content);
    if (sha256_hex(file.content) != digest) {
      return fail("manifest: " + file.path + ": content does not match its sha256");
    }
    item.files.push_back(std::move(file));
  }
  if (single_file(item.kind) && (item.files.size() != 1 || item.files[0].path != item.name)) {
    return fail("manifest: an IOC list or ban list is one file named like the item");
  }
  std::sort(item.files.begin(), item.files.end(),
            [](const File& a, const File& b) { return a.path < b.path; });
  if (content_etag(item.files) != item.etag) {
    return fail("manifest: etag does not match the files");
  }
  return item;
}

std::string index_to_json(const std::vector<IndexEntry>& entries) {
  json items = json::array();
  for (const auto& e : entries)
    items.push_back({{"kind", to_string(e.kind)}, {"name", e.name}, {"etag", e.etag}});
  return json{{"items", std::move(items)}}.dump();
}

Result<std::vector<IndexEntry>> index_from_json(std::string_view text) {
  const json doc = json::parse(text, nullptr, false);
  const auto items = doc.is_object() ? doc.find("items") : doc.end();
  if (doc.is_discarded() || !doc.is_object() || items == doc.end() || !items->is_array()) {
    return fail("index: expected {\"items\": [...]}");
  }
  std::vector<IndexEntry> out;
  for (const json& entry : *items) {
    IndexEntry e;
    if (!entry.is_object() || !entry.contains("kind") || !entry["kind"].is_string() ||
        !entry.contains("name") || !entry["name"].is_string() || !entry.contains("etag") ||
        !entry["etag"].is_string() || !parse_kind(entry["kind"].get<std::string>(), e.kind)) {
      return fail("index: every item needs a kind (rules|iocs), a name and an etag");
    }
    e.name = entry["name"].get<std::string>();
    e.etag = entry["etag"].get<std::string>();
    if (!valid_name(e.kind, e.name)) {
      return fail("index: invalid name '" + e.name + "'");
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool install_item(const fs::path& root, const Item& item, std::string& error) {
  if (!valid_name(item.kind, item.name)) {
    error = "invalid name '" + item.name + "'";
    return false;
  }
  std::error_code ec;
  const fs::path kind_dir = root / to_string(item.kind);
  fs::create_directories(kind_dir, ec);
  if (ec) {
    error = kind_dir.string() + ": " + ec.message();
    return false;
  }
  const fs::path target = kind_dir / item.name;
  if (single_file(item.kind)) {
    const fs::path tmp = kind_dir / (".tmp." + item.name + "." + unique_suffix());
    if (!write_file(tmp, item.files.at(0).content, error)) {
      fs::remove(tmp, ec);
      return false;
    }
    fs::rename(tmp, target, ec);
    if (ec) {
      error = target.string() + ": " + ec.message();
      fs::remove(tmp, ec);
      return false;
    }
    fsync_dir(kind_dir);
    return true;
  }

  const fs::path versions = root / kVersionsDir;
  const std::string prefix = std::string(to_string(item.kind)) + "." + item.name + ".";
  const fs::path version = versions / (prefix + item.etag);
  const fs::path tmp = versions / (".tmp." + prefix + unique_suffix());
  fs::create_directories(tmp, ec);
  if (ec) {
    error = tmp.string() + ": " + ec.message();
    return false;
  }
  auto give_up = [&](std::string why) {
    error = std::move(why);
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return false;
  };
  std::set<fs::path> dirs{tmp};
  for (const File& file : item.files) {
    if (!valid_path(file.path)) return give_up("invalid path '" + file.path + "'");
    const fs::path path = tmp / file.path;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return give_up(path.parent_path().string() + ": " + ec.message());
    dirs.insert(path.parent_path());
    if (!write_file(path, file.content, error)) return give_up(error);
  }
  for (const fs::path& dir : dirs) fsync_dir(dir);
  // A version with this etag holds these very files (the name is their hash);
  // one left by an interrupted install is replaced all the same.
  fs::remove_all(version, ec);
  fs::rename(tmp, version, ec);
  if (ec) return give_up(version.string() + ": " + ec.message());
  fsync_dir(versions);

  // The previous version, if any, to keep for one round.
  std::string previous;
  if (fs::is_symlink(fs::symlink_status(target, ec)))
    previous = fs::read_symlink(target, ec).filename().string();
  else if (fs::exists(fs::symlink_status(target, ec))) {
    // A plain directory (first install over a hand-made copy): moved aside,
    // the one moment a reader may find nothing.
    fs::rename(target, versions / (prefix + "replaced." + unique_suffix()), ec);
    if (ec) {
      error = target.string() + ": " + ec.message();
      return false;
    }
  }
  const fs::path link = kind_dir / (".tmp." + item.name + "." + unique_suffix());
  fs::create_directory_symlink(fs::path("..") / kVersionsDir / version.filename(), link, ec);
  if (ec) {
    error = link.string() + ": " + ec.message();
    return false;
  }
  fs::rename(link, target, ec);
  if (ec) {
    error = target.string() + ": " + ec.message();
    fs::remove(link, ec);
    return false;
  }
  fsync_dir(kind_dir);

  // Older versions of this item go; the current and the previous one stay.
  for (const auto& entry : fs::directory_iterator(versions, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name != version.filename().string() && name != previous) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
  return true;
}

bool remove_item(const fs::path& root, Kind kind, const std::string& name, std::string& error) {
  if (!valid_name(kind, name)) {
    error = "invalid name '" + name + "'";
    return false;
  }
  std::error_code ec;
  const fs::path target = root / to_string(kind) / name;
  fs::remove_all(target, ec);  // a link: only the link goes
  if (ec) {
    error = target.string() + ": " + ec.message();
    return false;
  }
  const std::string prefix = std::string(to_string(kind)) + "." + name + ".";
  for (const auto& entry : fs::directory_iterator(root / kVersionsDir, ec)) {
    if (entry.path().filename().string().starts_with(prefix)) {
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
    }
  }
  return true;
}

PullResult pull_item(const PullOptions& options, const fs::path& root, Kind kind,
                     const std::string& name) {
  PullResult result;
  std::string error;
  if (!valid_name(kind, name)) {
    result.error = "invalid " + std::string(to_string(kind)) + " name '" + name + "'";
    return result;
  }
  const auto current = read_item(root, kind, name);
  HttpRequest request;
  request.target = "/api/v1/distribution/" + std::string(to_string(kind)) + "/" + name;
  request.headers.emplace_back("Authorization", "Bearer " + options.token);
  request.headers.emplace_back("Accept", "application/json");
  if (current) request.headers.emplace_back("If-None-Match", quote_etag(current->etag));
  const HttpResponse response =
      send(options.endpoint, request, options.timeout, 2 * kMaxItemBytes + (1u << 20));
  result.http_status = response.status;
  if (current) result.etag = current->etag;
  if (response.status == 304 && current) {
    result.status = PullResult::Status::kNotModified;
    return result;
  }
  if (response.status != 200) {
    result.error = describe_failure(response);
    return result;
  }
  const auto item = from_json(response.body);
  if (!item) {
    result.error = item.error();
    return result;
  }
  if (item->kind != kind || item->name != name) {
    result.error = "the server answered with another item (" + std::string(to_string(item->kind)) +
                   "/" + item->name + ")";
    return result;
  }
  if (current && current->etag == item->etag) {
    result.status = PullResult::Status::kNotModified;
    return result;
  }
  if (!install_item(root, *item, error)) {
    result.error = std::move(error);
    return result;
  }
  result.status = PullResult::Status::kUpdated;
  result.etag = item->etag;
  return result;
}

Result<std::vector<IndexEntry>> fetch_index(const PullOptions& options) {
  HttpRequest request;
  request.target = "/api/v1/distribution";
  request.headers.emplace_back("Authorization", "Bearer " + options.token);
  request.headers.emplace_back("Accept", "application/json");
  const HttpResponse response = send(options.endpoint, request, options.timeout, 4u << 20);
  if (response.status != 200) {
    return fail(describe_failure(response));
  }
  return index_from_json(response.body);
}

}  // namespace vigie::protocol::distribution
