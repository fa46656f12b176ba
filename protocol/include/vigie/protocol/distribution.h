// Rule pack and IOC list distribution (DESIGN "Data flow": federation -> sites
// -> agents): the on-disk layout both ends share, the JSON manifest that
// carries an item over HTTP, its content hash (the strong ETag), the atomic
// install into a local directory, and the pull with If-None-Match.
//
// A distribution directory holds
//   <root>/rules/<pack>/...   a Sigma rule pack: any tree of files (rules,
//                             VERSION, iocs/, fixtures/), hidden names skipped
//   <root>/iocs/<list>        an IOC list: one file, "<name>.csv" or
//                             "<name>.json" (MISP), named with its extension
//   <root>/bans/<origin>.json a CSIRT ban list (csirt/ban.h): one file, the
//                             list its origin publishes, serial numbered
// The federation serves a directory an operator fills; a site collector
// mirrors the federation's into its own and serves that to its agents; an
// agent mirrors the items it runs. Routes (collector/src/federation/federation.h):
//   GET /api/v1/distribution                 index: every item and its ETag
//   GET /api/v1/distribution/<kind>/<name>   one item's manifest; 304 on If-None-Match
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigie/protocol/http_client.h"
#include "vigie/protocol/result.h"

namespace vigie::protocol::distribution {

enum class Kind : uint8_t { kRules, kIocs, kBans };
std::string_view to_string(Kind kind);  // "rules", "iocs", "bans"
bool parse_kind(std::string_view text, Kind& kind);
// IOC lists and ban lists are one file each; a rule pack a tree.
constexpr bool single_file(Kind kind) { return kind != Kind::kRules; }

// Bounds on what one item may hold; larger items are refused on both ends.
inline constexpr std::size_t kMaxFiles = 4096;
inline constexpr std::size_t kMaxItemBytes = 32u << 20;  // sum of file sizes
inline constexpr std::size_t kMaxPathBytes = 512;        // one relative path
inline constexpr std::size_t kMaxNameBytes = 128;        // an item name

struct File {
  std::string path;  // relative, '/'-separated, no "." / ".." / hidden segment
  std::string content;
};

struct Item {
  Kind kind = Kind::kRules;
  std::string name;
  std::vector<File> files;  // sorted by path; exactly one for single_file kinds, path == name
  std::string etag;         // content_etag(files)
};

// An item name: 1..kMaxNameBytes of [A-Za-z0-9._-], not starting with '.';
// for kIocs also ending in ".csv" or ".json", for kBans in ".json".
bool valid_name(Kind kind, std::string_view name);

// The item's strong entity tag (RFC 9110 section 8.8.3), without quotes: 64
// lower-case hex digits of SHA-256 over, for each file in path order,
// `path NUL sha256hex(content) LF`. Equal contents give equal tags wherever
// they are served (federation, site, agent), so a mirror can be compared.
std::string content_etag(const std::vector<File>& files);

// Whether an If-None-Match header value (a list of entity tags or "*")
// matches `etag` under the weak comparison RFC 9110 section 13.1.2 asks for.
bool if_none_match(std::string_view header, std::string_view etag);

// Reads item (kind, name) under `root`; fails when it does not exist ("not
// found"), is not valid or exceeds the limits. Symbolic links are followed (a
// mirror's packs are links to versions).
Result<Item> read_item(const std::filesystem::path& root, Kind kind, const std::string& name);

// Every valid item name under `root`, by kind then name.
std::vector<std::pair<Kind, std::string>> list_items(const std::filesystem::path& root);

// The manifest: {"kind","name","etag","files":[{"path","size","sha256","content_base64"}]}.
std::string to_json(const Item& item);
// Parses and checks a manifest: names, paths, limits, every file's sha256
// and the etag recomputed. Fails saying what is wrong.
Result<Item> from_json(std::string_view text);

struct IndexEntry {
  Kind kind = Kind::kRules;
  std::string name;
  std::string etag;
};
// {"items":[{"kind","name","etag"}]}
std::string index_to_json(const std::vector<IndexEntry>& entries);
Result<std::vector<IndexEntry>> index_from_json(std::string_view text);

// Writes `item` under `root` so that a reader never sees a mix of two
// versions: an IOC list is written aside and renamed over the old file; a
// pack is written into <root>/.versions/<kind>.<name>.<etag>/ and
// <root>/rules/<name> is a symbolic link swapped by rename(2) (the pattern
// of Kubernetes' AtomicWriter). Files and directories are fsync'd before the
// swap. The previous version is kept one round for readers still in it.
// Returns false with `error` (I/O) and leaves the old version in place.
bool install_item(const std::filesystem::path& root, const Item& item, std::string& error);
// Removes an installed item (withdrawn upstream). False with `error` on I/O failure.
bool remove_item(const std::filesystem::path& root, Kind kind, const std::string& name,
                 std::string& error);

// The outcome of one pull.
struct PullResult {
  enum class Status : uint8_t { kUpdated, kNotModified, kFailed };
  Status status = Status::kFailed;
  int http_status = 0;  // 0: no answer
  std::string etag;     // of the item now installed (empty when none)
  std::string error;    // when kFailed
};

struct PullOptions {
  Endpoint endpoint;
  std::string token;  // sent as "Authorization: Bearer <token>"
  std::chrono::milliseconds timeout{30000};
};

// GET <endpoint>/api/v1/distribution/<kind>/<name> with If-None-Match: the
// ETag of what is installed under `root`; on 200, checks the manifest and
// installs it. Never throws.
PullResult pull_item(const PullOptions& options, const std::filesystem::path& root, Kind kind,
                     const std::string& name);

// GET <endpoint>/api/v1/distribution; fails with the HTTP or transport error.
Result<std::vector<IndexEntry>> fetch_index(const PullOptions& options);

}  // namespace vigie::protocol::distribution
