// Fuzzes the collector's request handler (collector::Handler) with requests
// an attacker controls entirely: method, target, headers and body, against a
// real SQLite store. The ingest decoder has its own target
// (fuzz_ingest_decode); this one covers routing, query parsing,
// authentication, media types and the storage path around it.
//
// Input: four fields separated by '\n' (missing ones are empty):
//   1. method and target, e.g. "GET /api/v1/events?kind=x"
//   2. Authorization header ('T' alone: the valid agent token's header)
//   3. Content-Type;Content-Encoding ('P' alone: the ingest media types)
//   4. the body; a body starting with 'P' is zstd-compressed first, so
//      mutations reach the protobuf and validation layers.
// Properties: never crashes; never a 5xx (the store works, so any failure is
// the client's and must be a 4xx); every error is JSON with a non-empty
// "error"; and the collector keeps serving: every 512 inputs a valid batch
// is still stored.
#include <google/protobuf/stubs/logging.h>
#include <unistd.h>
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "http/handler.h"
#include "storage/sqlite_store.h"
#include "vigie/protocol/codec.h"

using vigie::fuzz::check;
namespace collector = vigie::collector;
namespace protocol = vigie::protocol;

namespace {

constexpr std::string_view kToken = "fuzz-agent-token";

struct World {
  std::filesystem::path dir;
  collector::Config config;
  std::unique_ptr<collector::SqliteStore> store;
  collector::Metrics metrics;
  std::unique_ptr<collector::Handler> handler;
  uint64_t sequence = 0;

  World() {
    dir = std::filesystem::temp_directory_path() /
          ("vigie-fuzz-request-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "web");
    config = collector::default_config();
    config.dashboard_dir = (dir / "web").string();
    config.vendor_dir = (dir / "vendor").string();
    config.body_limit_bytes = 1 << 20;
    config.agent_tokens = {{collector::sha256(kToken), "", "", true}};
    // Every route reachable without a token; roles are tested in handler_test.
    config.api.anonymous = collector::Principal{collector::Role::kAdmin, "anonymous", {}};
    store = std::make_unique<collector::SqliteStore>((dir / "collector.db").string());
    handler = std::make_unique<collector::Handler>(config, *store, metrics);
  }
  ~World() { std::filesystem::remove_all(dir); }

  collector::Request valid_batch() {
    protocol::Batch batch;
    batch.agent_id = "fuzz-keepalive";
    batch.site = "site-a";
    batch.host = "node1";
    batch.sequence = ++sequence;
    batch.sent_ns = 1'700'000'000'000'000'000ull;
    collector::Request request;
    request.method = "POST";
    request.target = "/api/v1/ingest";
    request.authorization = "Bearer " + std::string(kToken);
    request.content_type = std::string(protocol::kContentType);
    request.content_encoding = std::string(protocol::kContentEncoding);
    request.body = protocol::encode_batch(batch, 1);
    return request;
  }
};

std::string_view next_field(std::string_view& input) {
  const auto newline = input.find('\n');
  const std::string_view field = input.substr(0, newline);
  input = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  return field;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);  // one line per invalid UTF-8 string otherwise
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  static uint64_t runs = 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  collector::Request request;
  const std::string_view line = next_field(input);
  const auto space = line.find(' ');
  request.method = std::string(line.substr(0, space));
  request.target = space == std::string_view::npos ? "/" : std::string(line.substr(space + 1));
  const std::string_view authorization = next_field(input);
  request.authorization =
      authorization == "T" ? "Bearer " + std::string(kToken) : std::string(authorization);
  const std::string_view media = next_field(input);
  if (media == "P") {
    request.content_type = std::string(protocol::kContentType);
    request.content_encoding = std::string(protocol::kContentEncoding);
  } else {
    const auto semicolon = media.find(';');
    request.content_type = std::string(media.substr(0, semicolon));
    if (semicolon != std::string_view::npos)
      request.content_encoding = std::string(media.substr(semicolon + 1));
  }
  if (!input.empty() && input[0] == 'P') {
    const std::string_view payload = input.substr(1);
    request.body.resize(ZSTD_compressBound(payload.size()));
    const size_t n =
        ZSTD_compress(request.body.data(), request.body.size(), payload.data(), payload.size(), 1);
    check(!ZSTD_isError(n), "ZSTD_compress failed");
    request.body.resize(n);
  } else {
    request.body.assign(input);
  }

  const collector::Response response = world.handler->handle(request);
  check(response.status >= 200 && response.status < 500,
        "status " + std::to_string(response.status) + " for " + request.method + " " +
            request.target + ": " + response.body.substr(0, 200));
  if (response.status >= 400) {
    const auto body = nlohmann::json::parse(response.body, nullptr, false);
    check(!body.is_discarded() && body.is_object() && body.contains("error") &&
              body["error"].is_string() && !body["error"].get<std::string>().empty(),
          "error response without a JSON error message: " + response.body.substr(0, 200));
  }

  if (++runs % 512 == 0) {
    const collector::Response stored = world.handler->handle(world.valid_batch());
    // "duplicate" is right too, should a fuzzed batch have taken that sequence.
    check(stored.status == 200,
          "a valid batch was not stored after fuzzed requests: " + stored.body);
  }
  return 0;
}
