// The API's authorization (access.h): every route x every role, user:<uid>
// scoping, hashed token storage and the `api:`/`api_tokens:`/`tls:` config.
#include "vigie/collector/access.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "http/handler.h"
#include "storage/sqlite_store.h"
#include "support/footprint_fixture.h"
#include "support/sample_batch.h"
#include "vigie/collector/config.h"
#include "vigie/protocol/codec.h"

namespace vigie::collector {
namespace {

using nlohmann::json;
using testing::agent_batch;
using testing::job_energy;

constexpr const char* kAgentToken = "agent-token-node1";

// One token per role; user:0 is root's uid, resolved to "root" by NSS.
const std::map<std::string, std::string> kTokens = {
    {"admin", "tok-admin"},       {"csirt", "tok-csirt"},
    {"operator", "tok-operator"}, {"sustainability", "tok-sustainability"},
    {"user:alice", "tok-alice"},  {"user:0", "tok-root-uid"},
};

// A job's energy and end record, owned by `user`.
protocol::Batch job_batch(const std::string& host, uint64_t sequence, const std::string& job,
                          const std::string& user) {
  auto batch = agent_batch(host, sequence);
  auto energy = job_energy(job, 100, 1000, 5.0, false);
  energy.workload.user = user;
  batch.workload_energy = {energy};
  batch.workload_ends = {{100'000'000'000, 101'000'000'000, energy.workload}};
  return batch;
}

class CollectorAccessTest : public ::testing::Test {
 protected:
  CollectorAccessTest() : store_((dir_.path() / "collector.db").string()) {
    config_.agent_tokens = {{sha256(kAgentToken), "", "node1"}};
    for (const auto& [role, token] : kTokens) {
      auto principal = parse_role(role);
      EXPECT_TRUE(principal.has_value()) << role;
      principal->name = role + " holder";
      config_.api.tokens.push_back({sha256(token), *principal});
    }
    config_.dashboard_dir = (dir_.path() / "web").string();
    std::filesystem::create_directories(dir_.path() / "web");
    std::ofstream(dir_.path() / "web" / "index.html") << "<!doctype html><title>Vigie</title>";
    handler_ = std::make_unique<Handler>(config_, store_, metrics_);

    // Job 42 is alice's, 43 bob's, 44 root's under its name, 45 under its
    // uid (a node that could not resolve it).
    EXPECT_EQ(store_.store_batch(job_batch("node1", 1, "42", "alice"), 1).status,
              StoreOutcome::Status::kStored);
    EXPECT_EQ(store_.store_batch(job_batch("node1", 2, "43", "bob"), 2).status,
              StoreOutcome::Status::kStored);
    EXPECT_EQ(store_.store_batch(job_batch("node1", 3, "44", "root"), 3).status,
              StoreOutcome::Status::kStored);
    EXPECT_EQ(store_.store_batch(job_batch("node1", 4, "45", "0"), 4).status,
              StoreOutcome::Status::kStored);
  }

  Response get(const std::string& target, const std::string& authorization) {
    Request request;
    request.method = "GET";
    request.target = target;
    request.authorization = authorization;
    return handler_->handle(request);
  }
  Response get_as(const std::string& role, const std::string& target) {
    return get(target, "Bearer " + kTokens.at(role));
  }

  testing::TempDir dir_;
  Config config_;
  SqliteStore store_;
  Metrics metrics_;
  std::unique_ptr<Handler> handler_;
};

// Every read route x every role: 200 where the matrix allows, 403 elsewhere.
TEST_F(CollectorAccessTest, RoleMatrixOnEveryRoute) {
  const std::vector<std::string> routes = {
      "/api/v1/alerts",         "/api/v1/events", "/api/v1/agents",
      "/api/v1/energy?since=0", "/metrics",       "/api/v1/jobs/42/footprint",
      "/api/v1/no-such-route"};
  // Expected status per route, per role (columns in the order of `routes`).
  const std::map<std::string, std::vector<int>> expected = {
      {"admin", {200, 200, 200, 200, 200, 200, 404}},
      {"csirt", {200, 200, 200, 403, 403, 403, 403}},
      {"operator", {200, 200, 200, 200, 200, 403, 403}},
      {"sustainability", {403, 403, 403, 200, 403, 200, 403}},
      {"user:alice", {403, 403, 403, 200, 403, 200, 403}},  // job 42 is hers
      {"user:0", {403, 403, 403, 200, 403, 404, 403}},      // job 42 is not root's
  };
  for (const auto& [role, statuses] : expected) {
    for (std::size_t i = 0; i < routes.size(); ++i) {
      const auto response = get_as(role, routes[i]);
      EXPECT_EQ(response.status, statuses[i])
          << role << " GET " << routes[i] << ": " << response.body;
      if (response.status == 403) {
        EXPECT_NE(json::parse(response.body).value("error", "").find("may not read"),
                  std::string::npos);
      }
    }
  }
  // The matrix itself, for the resources no route above reaches.
  EXPECT_TRUE(allowed(Role::kCsirt, Resource::kFederation));
  EXPECT_TRUE(allowed(Role::kAdmin, Resource::kFederation));
  EXPECT_FALSE(allowed(Role::kOperator, Resource::kFederation));
  EXPECT_FALSE(allowed(Role::kSustainability, Resource::kFederation));
  EXPECT_FALSE(allowed(Role::kUser, Resource::kFederation));
  EXPECT_FALSE(allowed(Role::kUser, Resource::kAdmin));
}

TEST_F(CollectorAccessTest, NoMalformedOrUnknownTokenIs401AndStaticFilesArePublic) {
  for (const std::string route :
       {"/api/v1/alerts", "/api/v1/events", "/api/v1/agents", "/api/v1/energy", "/metrics",
        "/api/v1/jobs/42/footprint", "/api/v1/no-such-route"}) {
    for (const std::string& authorization : std::vector<std::string>{
             "", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer not-a-token",
             std::string("Bearer ") + kAgentToken}) {
      const auto response = get(route, authorization);
      EXPECT_EQ(response.status, 401) << route << " with '" << authorization << "'";
      ASSERT_FALSE(response.headers.empty());
      EXPECT_EQ(response.headers.front(),
                std::make_pair(std::string("WWW-Authenticate"), std::string("Bearer")));
    }
  }
  EXPECT_EQ(get("/", "").status, 200);
  EXPECT_EQ(get("/index.html", "").status, 200);
  EXPECT_EQ(get("/index.html", "Bearer nonsense").status, 200);
  // The scheme is case-insensitive (RFC 6750 uses "Bearer", clients vary).
  EXPECT_EQ(get("/api/v1/agents", "bearer tok-admin").status, 200);
  // A wrong method still needs a token first.
  Request post;
  post.method = "POST";
  post.target = "/api/v1/alerts";
  post.body = "{}";
  EXPECT_EQ(handler_->handle(post).status, 401);
  post.authorization = "Bearer tok-admin";
  EXPECT_EQ(handler_->handle(post).status, 405);

  const auto metrics = get_as("admin", "/metrics").body;
  EXPECT_NE(metrics.find("vigie_collector_rejections_total{reason=\"unauthorized\"} 43"),
            std::string::npos)
      << metrics;
}

TEST_F(CollectorAccessTest, IngestTakesAgentTokensOnly) {
  Request request;
  request.method = "POST";
  request.target = "/api/v1/ingest";
  request.authorization = "Bearer tok-admin";
  request.content_type = "application/x-protobuf";
  request.content_encoding = "zstd";
  request.body = protocol::encode_batch(agent_batch("node1", 9));
  EXPECT_EQ(handler_->handle(request).status, 401);
  EXPECT_TRUE(handler_->refuse_before_body(request).has_value());
  request.authorization = std::string("Bearer ") + kAgentToken;
  EXPECT_FALSE(handler_->refuse_before_body(request).has_value());
  EXPECT_EQ(handler_->handle(request).status, 200);
}

// The server asks before reading a body: an API request that would be
// refused is refused from its headers alone.
TEST_F(CollectorAccessTest, RefusedBeforeTheBody) {
  Request request;
  request.method = "POST";
  request.target = "/api/v1/events";
  auto refusal = handler_->refuse_before_body(request);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->status, 401);
  request.authorization = "Bearer tok-sustainability";
  refusal = handler_->refuse_before_body(request);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->status, 403);
  request.authorization = "Bearer tok-csirt";
  EXPECT_FALSE(handler_->refuse_before_body(request).has_value());  // then 405 from handle()
  EXPECT_FALSE(handler_->refuse_before_body({"GET", "/index.html", "", "", "", ""}).has_value());
}

TEST_F(CollectorAccessTest, UserSeesOnlyTheirOwnJobs) {
  // alice: her job; bob's and root's answer like jobs that do not exist.
  const auto own = get_as("user:alice", "/api/v1/jobs/42/footprint");
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(json::parse(own.body)["user"], "alice");
  const auto missing = get_as("user:alice", "/api/v1/jobs/999/footprint");
  EXPECT_EQ(missing.status, 404);
  for (const std::string job : {"43", "44", "45"}) {
    const auto other = get_as("user:alice", "/api/v1/jobs/" + job + "/footprint");
    EXPECT_EQ(other.status, 404) << job;
    EXPECT_EQ(json::parse(other.body)["error"], "no footprint for job " + job);
    EXPECT_EQ(other.body.find("bob"), std::string::npos);
  }
  // user:0 is root: by name (44) and by uid (45), never alice's or bob's.
  EXPECT_EQ(get_as("user:0", "/api/v1/jobs/44/footprint").status, 200);
  EXPECT_EQ(get_as("user:0", "/api/v1/jobs/45/footprint").status, 200);
  EXPECT_EQ(get_as("user:0", "/api/v1/jobs/43/footprint").status, 404);
  // sustainability and admin see every job.
  for (const std::string job : {"42", "43", "44", "45"}) {
    EXPECT_EQ(get_as("sustainability", "/api/v1/jobs/" + job + "/footprint").status, 200);
    EXPECT_EQ(get_as("admin", "/api/v1/jobs/" + job + "/footprint").status, 200);
  }
}

TEST_F(CollectorAccessTest, UserSeesOnlyTheirOwnWorkloadsInEnergy) {
  const std::string target = "/api/v1/energy?since=0&until=200000000000";
  const auto all = json::parse(get_as("sustainability", target).body);
  EXPECT_EQ(all["workloads"].size(), 4u) << all.dump();
  EXPECT_FALSE(all["nodes"].empty()) << all.dump();

  const auto alice = get_as("user:alice", target);
  ASSERT_EQ(alice.status, 200) << alice.body;
  const auto mine = json::parse(alice.body);
  ASSERT_EQ(mine["workloads"].size(), 1u) << mine.dump();
  EXPECT_EQ(mine["workloads"][0]["workload"]["user"], "alice");
  EXPECT_TRUE(mine["nodes"].empty());
  EXPECT_TRUE(mine.value("series", json::array()).empty());
  EXPECT_EQ(alice.body.find("bob"), std::string::npos);

  const auto root = json::parse(get_as("user:0", target).body);
  ASSERT_EQ(root["workloads"].size(), 2u) << root.dump();
  for (const auto& w : root["workloads"]) {
    const std::string user = w["workload"]["user"];
    EXPECT_TRUE(user == "root" || user == "0") << user;
  }
}

TEST(CollectorAccess, AnonymousRoleAppliesOnlyWithoutAHeader) {
  testing::TempDir dir;
  SqliteStore store((dir.path() / "collector.db").string());
  Config config;
  config.api.anonymous = parse_role("operator");
  config.api.anonymous->name = "anonymous";
  config.api.tokens = {{sha256("tok"), *parse_role("sustainability")}};
  Metrics metrics;
  Handler handler(config, store, metrics);
  EXPECT_EQ(handler.handle({"GET", "/api/v1/events", "", "", "", ""}).status, 200);
  EXPECT_EQ(handler.handle({"GET", "/api/v1/jobs/1/footprint", "", "", "", ""}).status, 403);
  // A token, even a wrong one, is never downgraded to the anonymous role.
  EXPECT_EQ(handler.handle({"GET", "/api/v1/events", "Bearer wrong", "", "", ""}).status, 401);
  EXPECT_EQ(handler.handle({"GET", "/api/v1/events", "Bearer tok", "", "", ""}).status, 403);
  EXPECT_TRUE(anonymous_access_warning(config.api, "127.0.0.1").empty());
  EXPECT_TRUE(anonymous_access_warning(config.api, "::1").empty());
  EXPECT_NE(anonymous_access_warning(config.api, "0.0.0.0").find("anyone on the network"),
            std::string::npos);
}

TEST(CollectorAccess, PublicMetricsSwitch) {
  testing::TempDir dir;
  SqliteStore store((dir.path() / "collector.db").string());
  Config config;
  Metrics metrics;
  {
    Handler handler(config, store, metrics);
    EXPECT_EQ(handler.handle({"GET", "/metrics", "", "", "", ""}).status, 401);
  }
  config.api.public_metrics = true;
  Handler handler(config, store, metrics);
  EXPECT_EQ(handler.handle({"GET", "/metrics", "", "", "", ""}).status, 200);
  EXPECT_EQ(handler.handle({"GET", "/api/v1/agents", "", "", "", ""}).status, 401);
}

TEST(CollectorAccess, ParsesRoles) {
  for (const char* role : {"admin", "csirt", "operator", "sustainability"}) {
    const auto principal = parse_role(role);
    ASSERT_TRUE(principal.has_value()) << role;
    EXPECT_EQ(to_string(principal->role), role);
    EXPECT_TRUE(principal->owns("anyone"));
  }
  const auto root = parse_role("user:0");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(root->role, Role::kUser);
  EXPECT_EQ(root->users, (std::vector<std::string>{"0", "root"}));
  EXPECT_EQ(root->describe(), "user:0");
  const auto by_name = parse_role("user:root");
  ASSERT_TRUE(by_name.has_value());
  EXPECT_EQ(by_name->users, (std::vector<std::string>{"root", "0"}));
  EXPECT_FALSE(by_name->owns(""));
  EXPECT_FALSE(by_name->owns("rootkit"));
  for (const char* bad : {"", "root", "Admin", "user:", "user:a b", "user:a:b", "users:1", "none"})
    EXPECT_FALSE(parse_role(bad).has_value()) << bad;
}

TEST(CollectorAccess, TokensAreStoredHashedAndLoadedFromYaml) {
  testing::TempDir dir;
  const auto path = (dir.path() / "collector.yaml").string();
  std::ofstream(path) << "api:\n  anonymous_role: none\n  public_metrics: true\n"
                      << "api_tokens:\n"
                      << "  - sha256: " << to_hex(sha256("s3cret-csirt")) << "\n"
                      << "    name: national csirt\n    role: csirt\n"
                      << "  - sha256: " << to_hex(sha256("s3cret-root")) << "\n"
                      << "    name: root's token\n    role: user:0\n";
  const Config config = load_config(path);
  EXPECT_FALSE(config.api.anonymous.has_value());
  EXPECT_TRUE(config.api.public_metrics);
  ASSERT_EQ(config.api.tokens.size(), 2u);
  // Only the digest is kept: the secret appears nowhere in the config.
  EXPECT_EQ(config.api.tokens[0].sha256, sha256("s3cret-csirt"));
  const Principal* csirt = find_api_token(config.api.tokens, "s3cret-csirt");
  ASSERT_NE(csirt, nullptr);
  EXPECT_EQ(csirt->role, Role::kCsirt);
  EXPECT_EQ(csirt->name, "national csirt");
  const Principal* root = find_api_token(config.api.tokens, "s3cret-root");
  ASSERT_NE(root, nullptr);
  EXPECT_TRUE(root->owns("root"));
  EXPECT_EQ(find_api_token(config.api.tokens, "s3cret"), nullptr);
  EXPECT_EQ(find_api_token(config.api.tokens, to_hex(sha256("s3cret-csirt"))), nullptr);

  const auto expect_error = [&](const std::string& yaml, const std::string& message) {
    std::ofstream(path) << yaml;
    try {
      load_config(path);
      ADD_FAILURE() << "accepted:\n" << yaml;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  const std::string digest = to_hex(sha256("x"));
  expect_error("api_tokens:\n  - sha256: " + digest + "\n    name: a\n    role: root\n",
               "api_tokens[].role must be");
  expect_error("api_tokens:\n  - sha256: abc\n    name: a\n    role: admin\n", "64 hex digits");
  expect_error("api_tokens:\n  - sha256: " + digest + "\n    role: admin\n", "need a name");
  expect_error("api_tokens:\n  - sha256: " + digest +
                   "\n    name: a\n    role: admin\n  - sha256: " + digest +
                   "\n    name: a\n    role: csirt\n",
               "unique");
  expect_error("api_tokens:\n  - sha256: " + digest + "\n    name: a\n    role: admin\n    x: 1\n",
               "unknown key 'api_tokens[].x'");
  expect_error("api:\n  anonymous_role: everyone\n", "api.anonymous_role must be");
  expect_error("api:\n  anonymus_role: admin\n", "unknown key 'api.anonymus_role'");
  expect_error("tls:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\n",
               "tls.cert_file': cannot read /nonexistent.pem");
  expect_error("tls:\n  key_file: /etc/hostname\n", "tls needs cert_file and key_file");
  expect_error("tls:\n  cert_file: /etc/hostname\n  key_file: /etc/hostname\n  min_version: 1.1\n",
               "tls.min_version must be");
}

}  // namespace
}  // namespace vigie::collector
