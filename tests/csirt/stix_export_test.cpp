#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "vigie/csirt/stix.h"

namespace vigie::csirt {
namespace {

using nlohmann::json;

constexpr uint64_t kSecond = 1000000000ULL;
constexpr uint64_t kOpenedNs = 1796637600ULL * kSecond;  // 2026-12-07T10:00:00Z
constexpr uint64_t kNowNs = kOpenedNs + 86400 * kSecond + 123456789;
constexpr const char* kSha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const std::filesystem::path kCorpus =
    std::filesystem::path(VIGIE_SOURCE_DIR) / ".." / "shared" / "corpus" / "csirt";

LinkedIndicator linked(std::string uuid, ObservableType type, std::string value, Tlp tlp) {
  LinkedIndicator out;
  out.indicator.uuid = std::move(uuid);
  out.indicator.type = type;
  out.indicator.value = std::move(value);
  out.indicator.tlp = tlp;
  out.indicator.source = "site";
  out.indicator.created_ns = kOpenedNs - 3600 * kSecond;
  out.indicator.updated_ns = out.indicator.created_ns;
  out.linked_ns = kOpenedNs + 60 * kSecond;
  return out;
}

Sighting sighting(std::string indicator_uuid, std::string site, std::string host, std::string user,
                  std::string job, uint64_t first_ns, uint64_t count) {
  return {std::move(indicator_uuid),
          std::move(site),
          std::move(host),
          "slurm_job",
          std::move(job),
          std::move(user),
          first_ns,
          first_ns + 600 * kSecond,
          count,
          "alert",
          42};
}

// An AMBER incident of GRIF's, with an indicator of every observable type
// under every TLP (one RED, one AMBER+STRICT user, one deleted), sighted at
// GRIF and LAPP on named hosts, by named users, in named Slurm jobs.
ExportRequest realistic_request() {
  ExportRequest request;
  Incident& incident = request.incident;
  incident.id = "grif-2026-0007";
  incident.uuid = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
  incident.title = "Cryptominer on worker nodes";
  incident.summary = "xmrig started from Slurm jobs of two compromised accounts.";
  incident.state = State::kContained;
  incident.severity = Severity::kHigh;
  incident.tlp = Tlp::kAmber;
  incident.sites = {"grif", "lapp"};
  incident.created_ns = kOpenedNs;
  incident.updated_ns = kOpenedNs + 7200 * kSecond;

  request.indicators = {
      linked("11111111-1111-4111-8111-111111111111", ObservableType::kIp, "198.51.100.7",
             Tlp::kGreen),
      linked("22222222-2222-4222-8222-222222222222", ObservableType::kIp, "2001:db8::7",
             Tlp::kAmber),
      linked("33333333-3333-4333-8333-333333333333", ObservableType::kIp, "203.0.113.0/24",
             Tlp::kClear),
      linked("44444444-4444-4444-8444-444444444444", ObservableType::kDomain, "pool.example",
             Tlp::kAmber),
      linked("55555555-5555-4555-8555-555555555555", ObservableType::kSha256, kSha256, Tlp::kGreen),
      linked("66666666-6666-4666-8666-666666666666", ObservableType::kFileName, R"(xmr'ig\1)",
             Tlp::kAmber),
      linked("77777777-7777-4777-8777-777777777777", ObservableType::kUser, "svc-miner",
             Tlp::kAmberStrict),
      linked("88888888-8888-4888-8888-888888888888", ObservableType::kIp, "192.0.2.66", Tlp::kRed),
      linked("99999999-9999-4999-8999-999999999999", ObservableType::kDomain, "gone.example",
             Tlp::kClear),
  };
  request.indicators[0].indicator.first_seen_ns = kOpenedNs - 1800 * kSecond;
  request.indicators[0].indicator.comment = "mining pool";
  request.indicators[0].indicator.tags = {"miner"};
  request.indicators[4].indicator.valid_until_ns = kOpenedNs + 30 * 86400 * kSecond;
  request.indicators[3].role = LinkRole::kSuspected;
  request.indicators[8].indicator.deleted = true;

  const uint64_t t = kOpenedNs - 1800 * kSecond;
  request.sightings = {
      sighting("11111111-1111-4111-8111-111111111111", "grif", "wn-042.grif.fr", "alice",
               "31415926", t, 12),
      sighting("11111111-1111-4111-8111-111111111111", "grif", "wn-043.grif.fr", "alice",
               "31415927", t + 60 * kSecond, 3),
      sighting("11111111-1111-4111-8111-111111111111", "lapp", "lapp-wn7", "bob", "27182818",
               t + 120 * kSecond, 5),
      sighting("44444444-4444-4444-8444-444444444444", "grif", "wn-044.grif.fr", "carol",
               "16180339", t, 1),
      sighting("55555555-5555-4555-8555-555555555555", "lapp", "lapp-wn8", "frank", "14142135", t,
               2),
      sighting("77777777-7777-4777-8777-777777777777", "grif", "ui-01.grif.fr", "svc-miner",
               "17320508", t, 4),
      sighting("88888888-8888-4888-8888-888888888888", "grif", "wn-099.grif.fr", "dave", "22360679",
               t, 1),
      sighting("99999999-9999-4999-8999-999999999999", "lapp", "lapp-wn9", "erin", "26457513", t,
               1),
  };
  request.site = "grif";
  request.clearance = Tlp::kAmber;
  request.now_ns = kNowNs;
  return request;
}

// The host, user and job names of the request's sightings.
std::vector<std::string> names_of(const ExportRequest& request) {
  std::vector<std::string> out;
  for (const Sighting& s : request.sightings) {
    out.insert(out.end(), {s.host, s.user, s.workload_id});
  }
  return out;
}

json exported(const ExportRequest& request) {
  auto bundle = export_stix(request);
  EXPECT_TRUE(bundle) << bundle.error();
  return bundle ? *bundle : json::object();
}

std::vector<json> of_type(const json& bundle, std::string_view type) {
  std::vector<json> out;
  for (const json& object : bundle.at("objects")) {
    if (object.at("type") == type) out.push_back(object);
  }
  return out;
}

const json* find_id(const json& bundle, const std::string& id) {
  for (const json& object : bundle.at("objects")) {
    if (object.at("id") == id) return &object;
  }
  return nullptr;
}

std::set<std::string> indicator_uuids(const json& bundle) {
  std::set<std::string> out;
  for (const json& indicator : of_type(bundle, "indicator")) {
    out.insert(indicator.at("id").get<std::string>().substr(std::string("indicator--").size()));
  }
  return out;
}

std::set<std::string> uuids(std::initializer_list<char> digits) {
  std::set<std::string> out;
  for (const char d : digits) {
    const std::string four(4, d);
    out.insert(four + four + "-" + four + "-4" + std::string(3, d) + "-8" + std::string(3, d) +
               "-" + four + four + four);
  }
  return out;
}

// Checks what every export must hold: sightings, observed-data and
// relationships only of exported indicators, every marking within the
// clearance, every object but the marking-definitions marked.
void expect_consistent(const json& bundle, Tlp clearance) {
  std::set<std::string> ids;
  for (const json& object : bundle.at("objects")) {
    EXPECT_TRUE(ids.insert(object.at("id").get<std::string>()).second) << object.at("id");
    if (object.at("type") == "marking-definition") continue;
    ASSERT_TRUE(object.contains("object_marking_refs")) << object.dump();
    ASSERT_EQ(object.at("object_marking_refs").size(), 1u) << object.dump();
    const auto tlp = tlp_of_marking(object.at("object_marking_refs")[0].get<std::string>());
    ASSERT_TRUE(tlp) << object.dump();
    EXPECT_TRUE(may_receive(*tlp, clearance)) << object.dump();
  }
  for (const json& s : of_type(bundle, "sighting")) {
    EXPECT_TRUE(ids.contains(s.at("sighting_of_ref").get<std::string>())) << s.dump();
    for (const json& ref : s.value("observed_data_refs", json::array())) {
      EXPECT_TRUE(ids.contains(ref.get<std::string>())) << s.dump();
    }
    for (const json& ref : s.at("where_sighted_refs")) {
      EXPECT_TRUE(ids.contains(ref.get<std::string>())) << s.dump();
    }
  }
  for (const json& r : of_type(bundle, "relationship")) {
    EXPECT_TRUE(ids.contains(r.at("source_ref").get<std::string>())) << r.dump();
    EXPECT_TRUE(ids.contains(r.at("target_ref").get<std::string>())) << r.dump();
  }
  for (const json& o : of_type(bundle, "observed-data")) {
    for (const json& ref : o.at("object_refs")) {
      EXPECT_TRUE(ids.contains(ref.get<std::string>())) << o.dump();
    }
  }
}

TEST(StixExportFilter, GreenPeerGetsTheClearAndGreenIndicatorsOfAGreenIncident) {
  ExportRequest request = realistic_request();
  request.incident.tlp = Tlp::kGreen;
  request.clearance = Tlp::kGreen;
  const json bundle = exported(request);
  EXPECT_EQ(indicator_uuids(bundle), uuids({'1', '3', '5'}));
  expect_consistent(bundle, Tlp::kGreen);
  EXPECT_EQ(of_type(bundle, "sighting").size(), 3u);  // 1 at grif and lapp, 5 at lapp
  EXPECT_EQ(of_type(bundle, "relationship").size(), 3u);
}

TEST(StixExportFilter, AmberPeerGetsNeitherAmberStrictNorRedNorDeleted) {
  const json bundle = exported(realistic_request());
  EXPECT_EQ(indicator_uuids(bundle), uuids({'1', '2', '3', '4', '5', '6'}));
  expect_consistent(bundle, Tlp::kAmber);
  EXPECT_EQ(of_type(bundle, "sighting").size(), 4u);
  EXPECT_TRUE(of_type(bundle, "user-account").empty());
}

TEST(StixExportFilter, LocalRedExportHasAllButTheDeleted) {
  ExportRequest request = realistic_request();
  request.clearance = Tlp::kRed;
  request.local = true;
  const json bundle = exported(request);
  EXPECT_EQ(indicator_uuids(bundle), uuids({'1', '2', '3', '4', '5', '6', '7', '8'}));
  expect_consistent(bundle, Tlp::kRed);
  EXPECT_EQ(of_type(bundle, "sighting").size(), 6u);
  // An AMBER incident: no names, hence no user-account observable either.
  EXPECT_FALSE(names_allowed(request));
  EXPECT_TRUE(of_type(bundle, "user-account").empty());
}

TEST(StixExportRefusal, IncidentStricterThanTheClearance) {
  ExportRequest request = realistic_request();
  request.incident.tlp = Tlp::kRed;
  const auto refused = export_stix(request);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("grif-2026-0007"), std::string::npos) << refused.error();
  EXPECT_NE(refused.error().find("red"), std::string::npos) << refused.error();
  request.incident.tlp = Tlp::kAmberStrict;
  EXPECT_FALSE(export_stix(request));
  request.incident.tlp = Tlp::kAmber;
  request.clearance = Tlp::kGreen;
  EXPECT_FALSE(export_stix(request));
}

TEST(StixExportNames, NeverWrittenUnlessAllowed) {
  ExportRequest request = realistic_request();
  const std::vector<std::string> names = names_of(request);
  const auto expect_no_names = [&names](const json& bundle, const std::string& except) {
    const std::string text = bundle.dump();
    for (const auto& name : names) {
      if (name == except) continue;
      EXPECT_EQ(text.find(name), std::string::npos) << name << " in " << text;
    }
  };
  expect_no_names(exported(request), "");  // AMBER peer
  request.clearance = Tlp::kRed;
  request.local = true;
  // The compromised account is itself an AMBER+STRICT indicator: its value
  // is the pattern's, never that of a sighting.
  expect_no_names(exported(request), "svc-miner");
  request.incident.tlp = Tlp::kRed;
  request.local = false;  // a RED peer: still no names
  expect_no_names(exported(request), "svc-miner");
}

TEST(StixExportNames, LocalExportOfARedIncidentNamesHostsUsersAndJobs) {
  ExportRequest request = realistic_request();
  request.incident.tlp = Tlp::kRed;
  request.clearance = Tlp::kRed;
  request.local = true;
  ASSERT_TRUE(names_allowed(request));
  const json bundle = exported(request);
  const std::string text = bundle.dump();
  for (const auto& name : names_of(request)) {
    if (name == "lapp-wn9" || name == "erin" || name == "26457513") {
      EXPECT_EQ(text.find(name), std::string::npos) << name;  // the deleted indicator's
    } else {
      EXPECT_NE(text.find(name), std::string::npos) << name;
    }
  }
  const std::string sighting_id = "sighting--" + uuid_v5(request.incident.uuid,
                                                         "sighting:11111111-1111-4111-8111-"
                                                         "111111111111:grif");
  const json* sighting = find_id(bundle, sighting_id);
  ASSERT_NE(sighting, nullptr);
  EXPECT_EQ(sighting->at("description"),
            "hosts: wn-042.grif.fr, wn-043.grif.fr; users: alice; workloads: slurm_job "
            "31415926, slurm_job 31415927");
  const auto accounts = of_type(bundle, "user-account");
  ASSERT_EQ(accounts.size(), 1u);
  EXPECT_EQ(accounts[0].at("account_login"), "svc-miner");
  expect_consistent(bundle, Tlp::kRed);
}

TEST(StixExportObjects, IdentityIncidentIndicatorsAndSightings) {
  const ExportRequest request = realistic_request();
  const json bundle = exported(request);
  EXPECT_EQ(bundle.at("type"), "bundle");
  // Vigie's namespace 47d4a3e9-8bbf-4d20-8c2c-5fd71c74e8a1 and "grif"
  // (Python: uuid.uuid5(UUID('47d4a3e9-…'), 'grif')).
  const std::string identity = "identity--7868516d-d7f2-5334-bd6f-9f45397f34ec";
  const auto identities = of_type(bundle, "identity");
  ASSERT_EQ(identities.size(), 2u);  // grif, lapp (where sighted)
  EXPECT_EQ(identities[0].at("id"), identity);
  EXPECT_EQ(identities[0].at("name"), "grif");
  EXPECT_EQ(identities[0].at("identity_class"), "organization");
  EXPECT_EQ(identities[1].at("name"), "lapp");

  const json* incident = find_id(bundle, "incident--6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b");
  ASSERT_NE(incident, nullptr);
  EXPECT_EQ(incident->at("name"), "grif-2026-0007: Cryptominer on worker nodes");
  EXPECT_EQ(incident->at("description"), request.incident.summary);
  EXPECT_EQ(incident->at("created"), "2026-12-07T10:00:00.000Z");
  EXPECT_EQ(incident->at("modified"), "2026-12-08T10:00:00.123Z");
  EXPECT_EQ(incident->at("created_by_ref"), identity);
  EXPECT_EQ(incident->at("object_marking_refs"), json::array({tlp_marking_id(Tlp::kAmber)}));

  const std::map<std::string, std::string> patterns = {
      {"1", "[ipv4-addr:value = '198.51.100.7']"},
      {"2", "[ipv6-addr:value = '2001:db8::7']"},
      {"3", "[ipv4-addr:value = '203.0.113.0/24']"},
      {"4", "[domain-name:value = 'pool.example']"},
      {"5", std::string("[file:hashes.'SHA-256' = '") + kSha256 + "']"},
      {"6", R"([file:name = 'xmr\'ig\\1'])"},
  };
  for (const auto& [digit, pattern] : patterns) {
    const std::string id = "indicator--" + *uuids({digit[0]}).begin();
    const json* indicator = find_id(bundle, id);
    ASSERT_NE(indicator, nullptr) << id;
    EXPECT_EQ(indicator->at("pattern"), pattern);
    EXPECT_EQ(indicator->at("pattern_type"), "stix");
    EXPECT_EQ(indicator->at("created_by_ref"), identity);
    const auto parsed = parse_stix_pattern(pattern);
    ASSERT_TRUE(parsed) << parsed.error();  // the import reads back what the export writes
  }
  const json& green = *find_id(bundle, "indicator--" + *uuids({'1'}).begin());
  EXPECT_EQ(green.at("object_marking_refs"), json::array({tlp_marking_id(Tlp::kGreen)}));
  EXPECT_EQ(green.at("valid_from"), "2026-12-07T09:30:00.000Z");  // first seen
  EXPECT_EQ(green.at("description"), "mining pool");
  EXPECT_EQ(green.at("labels"), json::array({"miner"}));
  const json& hash = *find_id(bundle, "indicator--" + *uuids({'5'}).begin());
  EXPECT_EQ(hash.at("valid_from"), "2026-12-07T09:00:00.000Z");  // never seen: created
  EXPECT_EQ(hash.at("valid_until"), "2027-01-06T10:00:00.000Z");

  // Deterministic SCO ids, STIX 2.1 §2.9 (Python: uuid.uuid5(UUID('00abedb4-…'),
  // '{"value":"198.51.100.7"}')).
  const json* ip = find_id(bundle, "ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db");
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->at("value"), "198.51.100.7");
  EXPECT_NE(find_id(bundle, "file--22f8ff52-8f62-5f03-a53a-6f50f54fd74c"), nullptr);

  const std::string sighting_id =
      "sighting--" +
      uuid_v5(request.incident.uuid, "sighting:11111111-1111-4111-8111-111111111111:grif");
  const json* sighting = find_id(bundle, sighting_id);
  ASSERT_NE(sighting, nullptr);
  EXPECT_EQ(sighting->at("sighting_of_ref"), green.at("id"));
  EXPECT_EQ(sighting->at("count"), 15);
  EXPECT_EQ(sighting->at("first_seen"), "2026-12-07T09:30:00.000Z");
  EXPECT_EQ(sighting->at("last_seen"), "2026-12-07T09:41:00.000Z");
  EXPECT_EQ(sighting->at("where_sighted_refs"), json::array({identity}));
  EXPECT_FALSE(sighting->contains("description"));
  // The sighting tells of the AMBER incident: the stricter TLP.
  EXPECT_EQ(sighting->at("object_marking_refs"), json::array({tlp_marking_id(Tlp::kAmber)}));
  ASSERT_EQ(sighting->at("observed_data_refs").size(), 1u);
  const json* observed = find_id(bundle, sighting->at("observed_data_refs")[0]);
  ASSERT_NE(observed, nullptr);
  EXPECT_EQ(observed->at("number_observed"), 15);
  EXPECT_EQ(observed->at("object_refs"), json::array({ip->at("id")}));

  const auto relationships = of_type(bundle, "relationship");
  ASSERT_EQ(relationships.size(), 6u);
  EXPECT_EQ(relationships[0].at("relationship_type"), "related-to");
  EXPECT_EQ(relationships[0].at("source_ref"), incident->at("id"));
}

TEST(StixExportIds, DeterministicAcrossExports) {
  ExportRequest request = realistic_request();
  const json first = exported(request);
  request.now_ns += 3600 * kSecond;
  const json second = exported(request);
  ASSERT_EQ(first.at("objects").size(), second.at("objects").size());
  EXPECT_NE(first.at("id"), second.at("id"));  // the bundle: one per export
  for (std::size_t i = 0; i < first.at("objects").size(); ++i) {
    const json& a = first.at("objects")[i];
    const json& b = second.at("objects")[i];
    EXPECT_EQ(a.at("id"), b.at("id"));
    if (a.contains("modified")) {
      EXPECT_EQ(a.at("created"), b.at("created")) << a.at("id");
      EXPECT_NE(a.at("modified"), b.at("modified")) << a.at("id");
      EXPECT_LT(a.at("modified").get<std::string>(), b.at("modified").get<std::string>());
    } else {
      EXPECT_EQ(a, b);  // SCOs and marking-definitions have no versions
    }
  }
}

TEST(StixExportMarkings, EveryReferencedDefinitionIsInTheBundleAsPublished) {
  ExportRequest request = realistic_request();
  request.clearance = Tlp::kRed;
  const json bundle = exported(request);
  std::set<std::string> referenced;
  for (const json& object : bundle.at("objects")) {
    for (const json& ref : object.value("object_marking_refs", json::array())) {
      referenced.insert(ref.get<std::string>());
    }
  }
  std::set<std::string> included;
  for (const json& definition : of_type(bundle, "marking-definition")) {
    const std::string id = definition.at("id").get<std::string>();
    included.insert(id);
    const auto tlp = tlp_of_marking(id);
    ASSERT_TRUE(tlp) << id;
    EXPECT_EQ(definition, tlp_marking_definition(*tlp));
  }
  EXPECT_EQ(referenced, included);
  // Each TLP of the request is used: CLEAR, GREEN, AMBER, AMBER+STRICT, RED.
  EXPECT_EQ(included.size(), 5u);
  // And they are the published objects (tlp2/examples/tlp-amber.json).
  std::ifstream published(kCorpus / "tlp2" / "examples" / "tlp-amber.json");
  ASSERT_TRUE(published) << kCorpus;
  EXPECT_EQ(json::parse(published).at("objects")[0], tlp_marking_definition(Tlp::kAmber));
}

// Runs the schema validator on `files`: its exit status and output.
std::pair<int, std::string> validate(const std::vector<std::filesystem::path>& files) {
  std::string command =
      "/usr/bin/python3 '" +
      (std::filesystem::path(VIGIE_SOURCE_DIR) / "tests" / "csirt" / "validate_stix.py").string() +
      "' '" + (kCorpus / "stix2" / "schemas").string() + "'";
  for (const auto& file : files) command += " '" + file.string() + "'";
  command += " 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed: " + command};
  std::array<char, 4096> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, command + "\n" + output};
}

class StixExportSchema : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("vigie-stix-export-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const json& document) {
    const auto path = dir_ / name;
    std::ofstream(path) << document.dump(2);
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(StixExportSchema, ExportsValidateObjectByObject) {
  std::vector<std::filesystem::path> files;
  ExportRequest request = realistic_request();
  request.incident.tlp = Tlp::kGreen;
  request.clearance = Tlp::kGreen;
  files.push_back(write("green-peer.json", exported(request)));
  request = realistic_request();
  files.push_back(write("amber-peer.json", exported(request)));
  request.incident.tlp = Tlp::kRed;
  request.clearance = Tlp::kRed;
  request.local = true;
  files.push_back(write("local-red-names.json", exported(request)));
  request = realistic_request();
  request.indicators.clear();
  request.sightings.clear();
  request.incident.summary.clear();
  files.push_back(write("no-indicators.json", exported(request)));
  const auto [status, output] = validate(files);
  EXPECT_EQ(status, 0) << output;
}

TEST_F(StixExportSchema, CorpusExampleValidates) {
  const auto [status, output] =
      validate({kCorpus / "stix2" / "examples" / "indicators-for-C2-with-COA.json"});
  EXPECT_EQ(status, 0) << output;
}

TEST_F(StixExportSchema, BrokenObjectsFail) {
  json bundle = exported(realistic_request());
  for (json& object : bundle.at("objects")) {
    if (object.at("type") == "indicator") {
      object.erase("pattern");
      break;
    }
  }
  auto [status, output] = validate({write("no-pattern.json", bundle)});
  EXPECT_EQ(status, 1) << output;
  EXPECT_NE(output.find("'pattern' is a required property"), std::string::npos) << output;

  // A type without a schema is refused, not waved through.
  const json custom = {{"type", "x-vigie-note"},
                       {"id", "x-vigie-note--6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"}};
  std::tie(status, output) = validate({write("custom.json", custom)});
  EXPECT_EQ(status, 1) << output;
  EXPECT_NE(output.find("no schema for type"), std::string::npos) << output;

  // A TLP 2.0 marking-definition that is not one of the five official ones.
  json forged = tlp_marking_definition(Tlp::kRed);
  forged["name"] = "TLP:AMBER";
  std::tie(status, output) = validate({write("forged.json", forged)});
  EXPECT_EQ(status, 1) << output;
}

}  // namespace
}  // namespace vigie::csirt
