// The HTTP API of the real `tally serve`, endpoint by endpoint: each success
// path, each failure mode with its status, error code and field, the quota
// headers, the audit trail, and who may call what. Every test starts its own
// server in a fresh data dir and ends it with SIGTERM, expecting exit 0.
//
// Quotas the tests count against use period "never", so no month boundary
// can reset them mid-test; monthly quotas appear only where their reset time
// is the point (Retry-After, the w= and t= of the RateLimit headers), with
// limits that cannot be reached (or 0, which is always exhausted).
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "http_client.h"
#include "server_process.h"
#include "test_support.h"

namespace tally::http_test {
namespace {

constexpr char kConfig[] = R"toml(
default_tier = "test"

[tiers.test]
quotas.requests = { limit = 5, period = "never" }
quotas.chars = { limit = 1000, period = "never" }
quotas.tokens = { limit = 1_000_000_000 }   # monthly, never reached: gives the headers w= and t=

[tiers.zero]
quotas.requests = { limit = 0 }             # monthly and always exhausted: 429 with Retry-After

[tiers.throttled]
quotas.requests = { limit = 1000, period = "never" }
rate_limits = [{ meter = "requests", rate = 1, per = "1h", burst = 1 }]

[orgs.acme]
tier = "test"

[subjects.alice]
tier = "test"

[subjects.bob]
tier = "test"
)toml";

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(ServerSetup{.config = kConfig}); }

  void StartServer(ServerSetup setup) {
    server_ = std::make_unique<ServerProcess>(std::move(setup));
    ASSERT_TRUE(server_->Start());
    admin_ = std::make_unique<HttpClient>(server_->Client());
    service_key_ = CreateKey(*admin_, "service", json::object{{"name", "backend"}});
    ASSERT_FALSE(service_key_.empty());
    service_ = std::make_unique<HttpClient>(server_->Client(service_key_));
  }

  void TearDown() override {
    if (server_ == nullptr || !server_->running()) return;
    admin_.reset();
    service_.reset();
    int signal = 0;
    const std::optional<int> code = server_->Stop(std::chrono::seconds(40), &signal);
    EXPECT_EQ(code, std::optional<int>(0)) << "signal " << signal << "; log:\n" << server_->Log();
  }

  Response Consume(const json::object& event) {
    return service_->Post("/api/quota/consume", json::value(event));
  }

  // The audit entries (newest first) through the admin key.
  json::array Audit(const std::string& query = "") {
    const Response r = admin_->Get("/api/admin/audit" + query);
    EXPECT_EQ(r.status, 200) << r.Describe();
    const json::value body = r.Json();
    const json::value entries = At(body, "entries");
    return entries.is_array() ? entries.as_array() : json::array();
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> admin_;
  std::unique_ptr<HttpClient> service_;
  std::string service_key_;
};

// --- System endpoints -------------------------------------------------------

TEST_F(HttpApiTest, HealthReadinessAndMetricsArePublic) {
  HttpClient anyone(server_->address());
  Response r = anyone.Get("/healthz");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "status")), "ok");

  r = anyone.Request("HEAD", "/healthz");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_TRUE(r.body.empty());

  r = anyone.Get("/readyz");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "status")), "ready");

  ASSERT_EQ(Consume(EventBody("m1", "alice")).status, 200);
  ASSERT_EQ(service_->Post("/api/quota/check", json::value(EventBody("m2", "alice"))).status, 200);

  r = anyone.Get("/metrics");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.Header("Content-Type").rfind("text/plain", 0), 0u) << r.Header("Content-Type");
  EXPECT_NE(r.body.find("# TYPE tally_http_requests_total counter"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("# TYPE tally_decisions_total counter"), std::string::npos) << r.body;
  EXPECT_EQ(
      MetricValue(r.body,
                  "tally_http_requests_total{route=\"POST /api/quota/consume\",status=\"200\"}"),
      1)
      << r.body;
  EXPECT_EQ(MetricValue(r.body, "tally_http_requests_total{route=\"GET /healthz\",status=\"200\"}"),
            2)
      << r.body;
  EXPECT_EQ(MetricValue(r.body, "tally_decisions_total{op=\"consume\",outcome=\"allowed\"}"), 1)
      << r.body;
  EXPECT_EQ(MetricValue(r.body, "tally_decisions_total{op=\"check\",outcome=\"allowed\"}"), 1)
      << r.body;
  // Every sample line is "name{labels} number" or "name number".
  std::istringstream lines(r.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    ASSERT_NE(space, std::string::npos) << line;
    size_t used = 0;
    EXPECT_NO_THROW((void)std::stod(line.substr(space + 1), &used)) << line;
    EXPECT_EQ(used, line.size() - space - 1) << line;
  }
}

// The openapi document lists every route the server answers, and the server
// answers every route it lists. A route's existence is probed with PATCH,
// which no route takes: the router answers 405 with Allow for a known path,
// 404 for an unknown one, and no handler runs (so /api/stream cannot hang).
TEST_F(HttpApiTest, OpenApiListsEveryRouteTheServerAnswers) {
  HttpClient anyone(server_->address());
  Response r = anyone.Get("/openapi.json");
  ASSERT_EQ(r.status, 200) << r.Describe();
  bool ok = false;
  const json::value doc = r.Json(&ok);
  ASSERT_TRUE(ok) << "openapi.json is not JSON: " << r.body.substr(0, 300);
  EXPECT_EQ(Str(At(doc, "openapi")).rfind("3.", 0), 0u);
  EXPECT_FALSE(Str(At(At(doc, "info"), "version")).empty());
  ASSERT_TRUE(At(doc, "paths").is_object());
  const json::object& paths = At(doc, "paths").as_object();

  auto segments = [](std::string_view p) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
      const size_t slash = p.find('/', start);
      out.emplace_back(p.substr(
          start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
      if (slash == std::string_view::npos) return out;
      start = slash + 1;
    }
  };
  // The documented pattern that `path` falls under, or "".
  auto pattern_of = [&](const std::string& path) -> std::string {
    const std::vector<std::string> got = segments(path);
    for (const auto& kv : paths) {
      const std::vector<std::string> want = segments(kv.key());
      if (want.size() != got.size()) continue;
      bool match = true;
      for (size_t i = 0; i < want.size() && match; ++i) {
        match = (!want[i].empty() && want[i].front() == '{') || want[i] == got[i];
      }
      if (match) return std::string(kv.key());
    }
    return "";
  };
  auto to_lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  };
  auto split_allow = [](const std::string& allow) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : allow + ",") {
      if (c == ',') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else if (c != ' ') {
        cur += c;
      }
    }
    return out;
  };

  // Every path of DESIGN.md's endpoint table, with ids filled in.
  const std::vector<std::string> candidates = {"/api/quota/consume",
                                               "/api/quota/check",
                                               "/api/quota/reservations",
                                               "/api/quota/reservations/x/commit",
                                               "/api/quota/reservations/x",
                                               "/api/usage/track",
                                               "/api/usage/current",
                                               "/api/usage/history",
                                               "/api/usage/analytics",
                                               "/api/usage/export",
                                               "/api/quota/status",
                                               "/api/quota/history",
                                               "/api/quota/update",
                                               "/api/quota/reset",
                                               "/api/admin/usage/system",
                                               "/api/admin/usage/users",
                                               "/api/admin/quota/user/x",
                                               "/api/admin/quota/bulk",
                                               "/api/admin/analytics",
                                               "/api/admin/users",
                                               "/api/admin/users/x",
                                               "/api/admin/tiers",
                                               "/api/admin/tiers/x",
                                               "/api/admin/audit",
                                               "/api/admin/keys",
                                               "/api/admin/keys/x",
                                               "/api/stream",
                                               "/healthz",
                                               "/readyz",
                                               "/metrics",
                                               "/openapi.json"};
  // Routes that must exist today.
  const std::set<std::string> required = {"POST /api/quota/consume",
                                          "POST /api/quota/check",
                                          "POST /api/quota/reservations",
                                          "POST /api/quota/reservations/{id}/commit",
                                          "DELETE /api/quota/reservations/{id}",
                                          "POST /api/usage/track",
                                          "GET /api/usage/current",
                                          "GET /api/quota/status",
                                          "GET /api/quota/history",
                                          "PUT /api/quota/update",
                                          "POST /api/quota/reset",
                                          "GET /api/admin/users",
                                          "GET /api/admin/users/{id}",
                                          "PUT /api/admin/users/{id}",
                                          "PUT /api/admin/quota/user/{id}",
                                          "POST /api/admin/quota/bulk",
                                          "GET /api/admin/tiers",
                                          "GET /api/admin/tiers/{name}",
                                          "PUT /api/admin/tiers/{name}",
                                          "GET /api/admin/audit",
                                          "POST /api/admin/keys",
                                          "GET /api/admin/keys",
                                          "DELETE /api/admin/keys/{id}",
                                          "GET /healthz",
                                          "GET /readyz",
                                          "GET /metrics",
                                          "GET /openapi.json"};

  std::set<std::string> answered;  // "METHOD pattern"
  auto probe = [&](const std::string& path) {
    const Response p = anyone.Request("PATCH", path);
    if (p.status == 404) {
      EXPECT_TRUE(IsError(p, 404, "not_found"));
      return;
    }
    ASSERT_TRUE(IsError(p, 405, "method_not_allowed")) << path;
    const std::string pattern = pattern_of(path);
    EXPECT_FALSE(pattern.empty()) << "the server answers " << path
                                  << " (Allow: " << p.Header("Allow")
                                  << ") but openapi.json has no path for it";
    for (const std::string& method : split_allow(p.Header("Allow"))) {
      answered.insert(method + " " + pattern);
      if (pattern.empty()) continue;
      const json::value& ops = paths.at(pattern);
      EXPECT_TRUE(ops.is_object() && ops.as_object().contains(to_lower(method)))
          << method << " " << path << " is answered but openapi.json's " << pattern << " lacks "
          << to_lower(method);
    }
  };
  for (const std::string& path : candidates) probe(path);

  // The other way: everything documented is answered.
  for (const auto& kv : paths) {
    std::string concrete;
    for (const std::string& seg : segments(kv.key())) {
      if (!concrete.empty() || !seg.empty()) concrete += "/";
      concrete += !seg.empty() && seg.front() == '{' ? "x" : seg;
    }
    if (concrete.empty()) concrete = "/";
    const Response p = anyone.Request("PATCH", concrete);
    EXPECT_EQ(p.status, 405) << "openapi.json lists " << kv.key()
                             << " but the server does not route it: " << p.Describe();
    ASSERT_TRUE(kv.value().is_object());
    for (const auto& op : kv.value().as_object()) {
      std::string upper(op.key());
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      EXPECT_NE(p.Header("Allow").find(upper), std::string::npos)
          << "openapi.json lists " << upper << " " << kv.key() << "; Allow: " << p.Header("Allow");
      EXPECT_TRUE(op.value().is_object() && op.value().as_object().contains("responses"))
          << kv.key();
    }
  }
  for (const std::string& route : required) {
    EXPECT_TRUE(answered.count(route)) << route << " is not answered";
  }
}

// --- Consume and check ------------------------------------------------------

TEST_F(HttpApiTest, ConsumeAnswersWithDecisionAndQuotaHeaders) {
  Response r = Consume(EventBody("c1", "alice", json::object{{"chars", 100}, {"tokens", 10}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  const json::value body = r.Json();
  EXPECT_EQ(At(body, "allowed"), json::value(true));
  EXPECT_EQ(At(body, "replayed"), json::value(false));
  EXPECT_TRUE(At(body, "thresholds").is_array());
  const json::value quotas = At(body, "quotas");
  ASSERT_TRUE(quotas.is_array()) << r.body;
  const json::object* requests = FindQuota(quotas, "requests");
  ASSERT_NE(requests, nullptr) << r.body;
  for (const char* key : {"meter", "limit", "used", "reserved", "remaining", "percent", "status",
                          "period", "reset_at", "scope"}) {
    EXPECT_TRUE(requests->contains(key)) << key << " missing in " << r.body;
  }
  EXPECT_EQ(Int(requests->at("limit")), 5);
  EXPECT_EQ(Int(requests->at("used")), 1);
  EXPECT_EQ(Int(requests->at("remaining")), 4);
  EXPECT_EQ(Int(requests->at("reserved")), 0);
  EXPECT_EQ(Str(requests->at("status")), "ok");
  EXPECT_EQ(UsedOf(quotas, "chars"), 100);
  EXPECT_EQ(UsedOf(quotas, "tokens"), 10);

  // The tightest quota is requests: 4 of 5 left.
  EXPECT_EQ(r.Header("X-Usage-Current"), "1");
  EXPECT_EQ(r.Header("X-Usage-Limit"), "5");
  EXPECT_EQ(r.Header("X-Usage-Remaining"), "4");

  // RateLimit-Policy and RateLimit are structured-field lists (RFC 8941) of
  // named policies, one per limited quota (draft-ietf-httpapi-ratelimit-headers).
  ASSERT_TRUE(r.HasHeader("RateLimit-Policy"));
  ASSERT_TRUE(r.HasHeader("RateLimit"));
  std::string error;
  const auto policies = ParseSfList(r.Header("RateLimit-Policy"), &error);
  ASSERT_TRUE(policies.has_value()) << "RateLimit-Policy: " << error;
  const auto states = ParseSfList(r.Header("RateLimit"), &error);
  ASSERT_TRUE(states.has_value()) << "RateLimit: " << error;
  std::map<std::string, SfItem> policy_by_name, state_by_name;
  for (const SfItem& p : *policies) {
    EXPECT_EQ(p.kind, SfItem::Kind::kString)
        << "a policy is named by a string: " << r.Header("RateLimit-Policy");
    ASSERT_TRUE(p.params.count("q")) << r.Header("RateLimit-Policy");
    EXPECT_EQ(p.params.at("q").kind, SfItem::Kind::kInteger);
    if (p.params.count("w")) {
      EXPECT_EQ(p.params.at("w").kind, SfItem::Kind::kInteger);
      EXPECT_GT(std::stoll(p.params.at("w").value), 0);
    }
    if (p.params.count("qu")) {
      EXPECT_EQ(p.params.at("qu").kind, SfItem::Kind::kString);
    }
    EXPECT_TRUE(policy_by_name.emplace(p.value, p).second) << "policy " << p.value << " twice";
  }
  for (const SfItem& s : *states) {
    EXPECT_EQ(s.kind, SfItem::Kind::kString) << r.Header("RateLimit");
    ASSERT_TRUE(s.params.count("r")) << r.Header("RateLimit");
    EXPECT_EQ(s.params.at("r").kind, SfItem::Kind::kInteger);
    EXPECT_GE(std::stoll(s.params.at("r").value), 0);
    if (s.params.count("t")) {
      EXPECT_EQ(s.params.at("t").kind, SfItem::Kind::kInteger);
      EXPECT_GE(std::stoll(s.params.at("t").value), 0);
    }
    EXPECT_TRUE(policy_by_name.count(s.value))
        << "RateLimit names " << s.value << ", which no policy defines";
    state_by_name.emplace(s.value, s);
  }
  EXPECT_EQ(policy_by_name.size(), state_by_name.size());
  ASSERT_TRUE(policy_by_name.count("requests")) << r.Header("RateLimit-Policy");
  EXPECT_EQ(policy_by_name["requests"].params["q"].value, "5");
  EXPECT_EQ(state_by_name["requests"].params["r"].value, "4");
  EXPECT_EQ(state_by_name["chars"].params["r"].value, "900");
  // A monthly quota has a window (w) and a reset (t) of at most a month.
  ASSERT_TRUE(policy_by_name.count("tokens")) << r.Header("RateLimit-Policy");
  ASSERT_TRUE(policy_by_name["tokens"].params.count("w")) << r.Header("RateLimit-Policy");
  const int64_t w = std::stoll(policy_by_name["tokens"].params["w"].value);
  EXPECT_GE(w, 28 * 86400);
  EXPECT_LE(w, 31 * 86400 + 3600);
  ASSERT_TRUE(state_by_name["tokens"].params.count("t")) << r.Header("RateLimit");
  EXPECT_LE(std::stoll(state_by_name["tokens"].params["t"].value), w);
}

TEST_F(HttpApiTest, ConsumeBeyondTheLimitIs429WithTheQuotas) {
  for (int i = 0; i < 5; ++i) {
    Response r = Consume(EventBody("q" + std::to_string(i), "alice"));
    ASSERT_EQ(r.status, 200) << i << ": " << r.Describe();
  }
  Response r = Consume(EventBody("q5", "alice"));
  ASSERT_TRUE(IsError(r, 429, "quota_exceeded", std::nullopt, /*only_error=*/false));
  json::value body = r.Json();
  EXPECT_EQ(At(body, "allowed"), json::value(false));
  EXPECT_EQ(Str(At(At(body, "error"), "meter")), "requests");
  EXPECT_EQ(Str(At(At(body, "error"), "scope")), "subject");
  const json::object* requests = FindQuota(At(body, "quotas"), "requests");
  ASSERT_NE(requests, nullptr) << r.body;
  EXPECT_EQ(Int(requests->at("used")), 5);
  EXPECT_EQ(Int(requests->at("remaining")), 0);
  EXPECT_EQ(Str(requests->at("status")), "exceeded");
  EXPECT_EQ(r.Header("X-Usage-Remaining"), "0");
  EXPECT_NE(Str(At(At(body, "error"), "message")).find("requests"), std::string::npos) << r.body;
  // A denial records nothing.
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 5);

  // A monthly quota of 0 is exhausted whatever the date; retry when it resets.
  ASSERT_EQ(admin_->Put("/api/admin/users/zed", json::value(json::object{{"tier", "zero"}})).status,
            200);
  r = Consume(EventBody("z1", "zed"));
  ASSERT_TRUE(IsError(r, 429, "quota_exceeded", std::nullopt, /*only_error=*/false));
  ASSERT_TRUE(r.HasHeader("Retry-After")) << "a 429 carries Retry-After";
  const int64_t retry = std::stoll(r.Header("Retry-After"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 31 * 86400 + 3600);
  body = r.Json();
  const json::object* zero = FindQuota(At(body, "quotas"), "requests");
  ASSERT_NE(zero, nullptr) << r.body;
  EXPECT_EQ(Int(zero->at("limit")), 0);
  EXPECT_EQ(Int(zero->at("used")), 0);
  EXPECT_FALSE(Str(At(body, "retry_at")).empty()) << r.body;
  EXPECT_FALSE(Str(zero->at("reset_at")).empty()) << r.body;
}

// Regression (found by this test, since fixed): the 429 message of a quota with period "never" ends in
// "...; it resets at " and nothing (decision_result.cc DenyMessage formats
// period.end, which is the end of time), e.g. "the requests quota of alice
// would be exceeded: 5 used of 5, 0 remaining; it resets at ".
TEST_F(HttpApiTest, TheDenialOfAQuotaThatNeverResetsNamesNoResetTime) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(Consume(EventBody("n" + std::to_string(i), "alice")).status, 200);
  const Response r = Consume(EventBody("n5", "alice"));
  ASSERT_TRUE(IsError(r, 429, "quota_exceeded", std::nullopt, false));
  const std::string message = Str(At(At(r.Json(), "error"), "message"));
  EXPECT_FALSE(message.ends_with("resets at "))
      << "a quota that never resets is said to reset at \"\": " << message;
  EXPECT_TRUE(At(r.Json(), "retry_at").is_null()) << r.body;
  if (r.HasHeader("Retry-After")) {
    EXPECT_GT(std::stoll(r.Header("Retry-After")), 0);
  }
}

TEST_F(HttpApiTest, CheckIsADryRunThatAlwaysAnswers200) {
  Response r = service_->Post("/api/quota/check",
                              json::value(EventBody("k1", "alice", json::object{{"chars", 10}})));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "allowed"), json::value(true));
  // Would not fit: still 200, with allowed false.
  r = service_->Post("/api/quota/check",
                     json::value(EventBody("k2", "alice", json::object{{"chars", 5000}})));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "allowed"), json::value(false));
  // No side effect: nothing used, and the ids stay free.
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 0);
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "chars"), 0);
  r = Consume(EventBody("k1", "alice", json::object{{"chars", 20}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "replayed"), json::value(false));
  // Bad input is still an error.
  EXPECT_TRUE(IsError(service_->Post("/api/quota/check", std::string("{\"id\":\"k3\"}")), 422,
                      "invalid_request", "subject"));
}

// --- Reservations -----------------------------------------------------------

TEST_F(HttpApiTest, ReservationsHoldCommitAndRelease) {
  json::object hold = EventBody("r1", "alice", json::object{{"chars", 500}}, "llm");
  hold["ttl_s"] = 600;
  Response r = service_->Post("/api/quota/reservations", json::value(hold));
  ASSERT_EQ(r.status, 201) << r.Describe();
  json::value body = r.Json();
  EXPECT_EQ(Str(At(body, "reservation_id")), "r1");
  EXPECT_FALSE(Str(At(body, "expires_at")).empty()) << r.body;
  const json::object* chars = FindQuota(At(body, "quotas"), "chars");
  ASSERT_NE(chars, nullptr) << r.body;
  EXPECT_EQ(Int(chars->at("reserved")), 500);
  EXPECT_EQ(Int(chars->at("used")), 0);
  EXPECT_EQ(Int(chars->at("remaining")), 500);

  // The hold counts against the quota: 600 more chars do not fit.
  r = service_->Post("/api/quota/reservations",
                     json::value(EventBody("r-big", "alice", json::object{{"chars", 600}})));
  EXPECT_TRUE(IsError(r, 429, "quota_exceeded", std::nullopt, false));

  // Commit the actual amount.
  r = service_->Post("/api/quota/reservations/r1/commit", std::string(R"({"data":{"chars":300}})"));
  ASSERT_EQ(r.status, 200) << r.Describe();
  body = r.Json();
  EXPECT_EQ(At(body, "committed"), json::value(true));
  EXPECT_EQ(Str(At(body, "reservation_id")), "r1");
  EXPECT_EQ(At(body, "replayed"), json::value(false));
  r = admin_->Get("/api/usage/current?user_id=alice");
  ASSERT_EQ(r.status, 200);
  chars = FindQuota(At(r.Json(), "quotas"), "chars");
  ASSERT_NE(chars, nullptr);
  EXPECT_EQ(Int(chars->at("used")), 300);
  EXPECT_EQ(Int(chars->at("reserved")), 0);

  // The same commit again is a replay; another body is a conflict.
  r = service_->Post("/api/quota/reservations/r1/commit", std::string(R"({"data":{"chars":300}})"));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "replayed"), json::value(true));
  EXPECT_TRUE(IsError(
      service_->Post("/api/quota/reservations/r1/commit", std::string(R"({"data":{"chars":301}})")),
      409, "conflict"));
  // Released after commit: conflict.
  EXPECT_TRUE(IsError(service_->Delete("/api/quota/reservations/r1"), 409, "conflict"));
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "chars"), 300);

  // Hold and release.
  r = service_->Post("/api/quota/reservations",
                     json::value(EventBody("r2", "alice", json::object{{"chars", 200}})));
  ASSERT_EQ(r.status, 201) << r.Describe();
  r = service_->Delete("/api/quota/reservations/r2");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "released"), json::value(true));
  r = admin_->Get("/api/usage/current?user_id=alice");
  chars = FindQuota(At(r.Json(), "quotas"), "chars");
  ASSERT_NE(chars, nullptr);
  EXPECT_EQ(Int(chars->at("reserved")), 0);
  EXPECT_EQ(Int(chars->at("used")), 300);
  EXPECT_TRUE(IsError(service_->Delete("/api/quota/reservations/r2"), 409, "conflict"));
  EXPECT_TRUE(IsError(
      service_->Post("/api/quota/reservations/r2/commit", std::string(R"({"data":{"chars":1}})")),
      409, "conflict"));

  // Unknown reservations.
  EXPECT_TRUE(IsError(service_->Delete("/api/quota/reservations/nope"), 404, "not_found"));
  EXPECT_TRUE(IsError(
      service_->Post("/api/quota/reservations/nope/commit", std::string(R"({"data":{"chars":1}})")),
      404, "not_found"));
  // A bad TTL.
  json::object bad_ttl = EventBody("r3", "alice");
  bad_ttl["ttl_s"] = 0;
  EXPECT_TRUE(IsError(service_->Post("/api/quota/reservations", json::value(bad_ttl)), 422,
                      "invalid_request", "ttl_s"));
  bad_ttl["ttl_s"] = "60";
  EXPECT_TRUE(IsError(service_->Post("/api/quota/reservations", json::value(bad_ttl)), 422,
                      "invalid_request", "ttl_s"));
  // A commit for another subject.
  ASSERT_EQ(service_->Post("/api/quota/reservations", json::value(EventBody("r4", "alice"))).status,
            201);
  EXPECT_TRUE(IsError(
      service_->Post("/api/quota/reservations/r4/commit", std::string(R"({"subject":"bob"})")), 422,
      "invalid_request", "subject"));
}

// The brief and DESIGN.md ("ledger: every change to a window's balance is an
// entry — usage, reservation hold/release...") want GET /api/quota/history to
// show reservation holds and releases.
// SPEC CONFLICT (fails): since a concurrent change, SqliteStore::ReadLedger
// returns only kind >= 3 (grants, resets, rollovers) and docs/api.md now says
// so; usage_handlers.cc still documents holds, releases and expiries.
// quota/history lists adjustments (grants, resets, rollovers) and audited
// changes; reservation holds and releases show in the windows' "reserved",
// not as entries (indexing every hold halved reservation ingest; storage.md).
TEST_F(HttpApiTest, QuotaHistoryShowsAdjustmentsNotReservations) {
  json::object hold = EventBody("r1", "alice", json::object{{"chars", 500}}, "llm");
  ASSERT_EQ(service_->Post("/api/quota/reservations", json::value(hold)).status, 201);
  ASSERT_EQ(
      service_->Post("/api/quota/reservations/r1/commit", std::string(R"({"data":{"chars":300}})"))
          .status,
      200);
  ASSERT_EQ(service_->Post("/api/quota/reservations", json::value(EventBody("r2", "alice"))).status,
            201);
  ASSERT_EQ(service_->Delete("/api/quota/reservations/r2").status, 200);
  ASSERT_EQ(admin_->Post("/api/quota/reset",
                         std::string(R"({"user_id":"alice","quota_type":"chars","reason":"goodwill"})"))
                .status,
            200);
  const Response r = admin_->Get("/api/quota/history?user_id=alice");
  ASSERT_EQ(r.status, 200) << r.Describe();
  const json::value& body = r.Json();
  ASSERT_TRUE(At(body, "ledger").is_array()) << r.body;
  std::multiset<std::string> kinds;
  for (const json::value& e : At(body, "ledger").as_array()) kinds.insert(Str(At(e, "kind")));
  EXPECT_EQ(kinds.count("reset"), 1u) << r.body;
  EXPECT_EQ(kinds.count("hold"), 0u) << r.body;
  EXPECT_EQ(kinds.count("release"), 0u) << r.body;
  ASSERT_TRUE(At(body, "changes").is_array()) << r.body;
  bool audited = false;
  for (const json::value& e : At(body, "changes").as_array()) {
    audited = audited || (Str(At(e, "action")) == "quota.reset" && Str(At(e, "reason")) == "goodwill");
  }
  EXPECT_TRUE(audited) << r.body;
  EXPECT_TRUE(At(body, "windows").is_array());
}

TEST_F(HttpApiTest, AnExpiredReservationCannotBeReleasedButItsCommitIsCounted) {
  json::object hold = EventBody("short", "alice", json::object{{"chars", 400}});
  hold["ttl_s"] = 1;
  Response r = service_->Post("/api/quota/reservations", json::value(hold));
  ASSERT_EQ(r.status, 201) << r.Describe();
  EXPECT_EQ(Int(FindQuota(At(r.Json(), "quotas"), "chars")->at("reserved")), 400);
  // Longer than reservation_max_ttl (24 h): refused.
  json::object too_long = EventBody("long", "alice");
  too_long["ttl_s"] = 86'401;
  EXPECT_TRUE(IsError(service_->Post("/api/quota/reservations", json::value(too_long)), 422,
                      "invalid_request", "ttl_s"));
  // Poll (at most 5 s) until the hold lapses.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int64_t reserved = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    r = admin_->Get("/api/usage/current?user_id=alice");
    reserved = Int(FindQuota(At(r.Json(), "quotas"), "chars")->at("reserved"));
    if (reserved == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(reserved, 0) << "the hold outlived its TTL";
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "chars"), 0);
  // Released after it lapsed: conflict.
  EXPECT_TRUE(IsError(service_->Delete("/api/quota/reservations/short"), 409, "conflict"));
  // Committed after it lapsed: accepted and counted, unenforced — the work the
  // hold guarded was done, and its usage must not be lost (engine.h).
  r = service_->Post("/api/quota/reservations/short/commit",
                     std::string(R"({"data":{"chars":1}})"));
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "chars"), 1);
}

// Idempotency across operations: an id is one event, whatever the endpoint.
// Regression (found by this test, since fixed): the dedup index knows an id and a body fingerprint but
// not the operation, so (1) POST /api/quota/reservations with the id and body
// of an earlier consume answers 201 "replayed": true with no reservation_id
// (nothing is held, nothing can be committed); (2) POST /api/quota/consume
// with the id and body of an open hold answers 200 "replayed": true and counts
// nothing: the usage is lost once the hold is released or expires.
TEST_F(HttpApiTest, ReplaysAcrossEndpointsKeepTheirPromises) {
  // A reservation retried: the same hold, answered again.
  const json::object hold = EventBody("h1", "alice", json::object{{"chars", 100}});
  Response r = service_->Post("/api/quota/reservations", json::value(hold));
  ASSERT_EQ(r.status, 201) << r.Describe();
  r = service_->Post("/api/quota/reservations", json::value(hold));
  ASSERT_EQ(r.status, 201) << r.Describe();
  EXPECT_EQ(At(r.Json(), "replayed"), json::value(true));
  EXPECT_EQ(Str(At(r.Json(), "reservation_id")), "h1") << r.body;
  r = admin_->Get("/api/usage/current?user_id=alice");
  EXPECT_EQ(Int(FindQuota(At(r.Json(), "quotas"), "chars")->at("reserved")), 100)
      << "a retried hold held twice";

  // An id first used by a consume, then sent to /reservations with the same
  // body: either the first answer (200) or a conflict, never a 201 that
  // holds nothing and names no reservation.
  const json::object event = EventBody("x1", "alice", json::object{{"chars", 10}});
  ASSERT_EQ(Consume(event).status, 200);
  r = service_->Post("/api/quota/reservations", json::value(event));
  if (r.status == 201) {
    EXPECT_FALSE(Str(At(r.Json(), "reservation_id")).empty())
        << "server bug: 201 Created for a reservation that does not exist: " << r.body;
  } else {
    EXPECT_TRUE(r.status == 200 || r.status == 409) << r.Describe();
  }
  // The other way: a consume with the id (and body) of an open hold must not
  // be acknowledged as if it had been counted.
  const json::object held = EventBody("h2", "bob", json::object{{"chars", 50}});
  ASSERT_EQ(service_->Post("/api/quota/reservations", json::value(held)).status, 201);
  r = Consume(held);
  if (r.status == 200) {
    EXPECT_EQ(CurrentUsed(*admin_, "bob", "chars"), 50)
        << "server bug: a consume was acknowledged (" << r.body << ") but nothing was counted";
  } else {
    EXPECT_TRUE(IsError(r, 409, "conflict"));
  }
  ASSERT_EQ(service_->Delete("/api/quota/reservations/h2").status, 200);
  // A batch holding one id twice with one body counts it once.
  json::array twice{EventBody("b1", "bob", json::object{{"chars", 1}}),
                    EventBody("b1", "bob", json::object{{"chars", 1}})};
  r = service_->Post("/api/usage/track", json::value(json::object{{"events", twice}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  const int64_t consumed =
      CurrentUsed(*admin_, "bob", "chars") == 51 ? 1 : 0;  // (if the consume above counted)
  EXPECT_EQ(CurrentUsed(*admin_, "bob", "chars"), 1 + 50 * consumed) << r.body;
  EXPECT_EQ(CurrentUsed(*admin_, "bob", "requests"), 1 + consumed) << r.body;
  // check never creates a subject, nor records its id.
  ASSERT_EQ(service_->Post("/api/quota/check", json::value(EventBody("c1", "newbie"))).status, 200);
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/users/newbie"), 404, "not_found"));
}

// --- Track ------------------------------------------------------------------

TEST_F(HttpApiTest, TrackOneEventOrAnAllOrNothingBatch) {
  Response r = service_->Post("/api/usage/track",
                              json::value(EventBody("t1", "bob", json::object{{"chars", 10}})));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "allowed"), json::value(true));

  json::array events{EventBody("t2", "bob", json::object{{"chars", 20}}),
                     EventBody("t3", "bob", json::object{{"chars", 30}})};
  r = service_->Post("/api/usage/track", json::value(json::object{{"events", events}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  json::value body = r.Json();
  EXPECT_EQ(Int(At(body, "accepted")), 2);
  EXPECT_EQ(Int(At(body, "replayed")), 0);
  EXPECT_EQ(Int(At(body, "count")), 2);
  EXPECT_EQ(CurrentUsed(*admin_, "bob", "chars"), 60);
  EXPECT_EQ(CurrentUsed(*admin_, "bob", "requests"), 3);

  // One bad event rejects the whole batch, naming it.
  json::array bad{EventBody("t4", "bob", json::object{{"chars", 1}}),
                  EventBody("t5", "bob", json::object{{"chars", -1}})};
  EXPECT_TRUE(
      IsError(service_->Post("/api/usage/track", json::value(json::object{{"events", bad}})), 422,
              "invalid_request", "events[1].data.chars"));
  // A batch reusing a recorded id with another body is a conflict, whole.
  json::array conflicting{EventBody("t6", "bob", json::object{{"chars", 1}}),
                          EventBody("t2", "bob", json::object{{"chars", 21}})};
  EXPECT_TRUE(IsError(
      service_->Post("/api/usage/track", json::value(json::object{{"events", conflicting}})), 409,
      "conflict"));
  // A batch naming an unknown subject in its second event (a new subject is
  // fine: auto-created) and one too far in the future: rejected whole.
  json::object future = EventBody("t7", "bob", json::object{{"chars", 1}});
  future["time"] = "2999-01-01T00:00:00Z";
  json::array late{EventBody("t8", "bob", json::object{{"chars", 1}}), future};
  EXPECT_TRUE(
      IsError(service_->Post("/api/usage/track", json::value(json::object{{"events", late}})), 422,
              "invalid_request", "events[1].time"));
  EXPECT_EQ(CurrentUsed(*admin_, "bob", "chars"), 60) << "a rejected batch changed usage";
  EXPECT_EQ(CurrentUsed(*admin_, "bob", "requests"), 3);
  // And none of its ids were recorded.
  r = service_->Post("/api/usage/track",
                     json::value(EventBody("t6", "bob", json::object{{"chars", 1}})));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "replayed"), json::value(false)) << "t6 of a rejected batch was recorded";

  // A batch with a replay and a new event.
  json::array mixed{EventBody("t2", "bob", json::object{{"chars", 20}}),
                    EventBody("t9", "bob", json::object{{"chars", 9}})};
  r = service_->Post("/api/usage/track", json::value(json::object{{"events", mixed}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  body = r.Json();
  EXPECT_EQ(Int(At(body, "accepted")), 1);
  EXPECT_EQ(Int(At(body, "replayed")), 1);
  EXPECT_EQ(CurrentUsed(*admin_, "bob", "chars"), 70);

  // Track is never denied: past the limit it still counts.
  for (int i = 0; i < 7; ++i) {
    r = service_->Post("/api/usage/track",
                       json::value(EventBody("over" + std::to_string(i), "carol")));
    ASSERT_EQ(r.status, 200) << r.Describe();
  }
  EXPECT_EQ(CurrentUsed(*admin_, "carol", "requests"), 7);
  EXPECT_TRUE(
      IsError(Consume(EventBody("over-c", "carol")), 429, "quota_exceeded", std::nullopt, false));

  // Batch shape errors.
  EXPECT_TRUE(IsError(service_->Post("/api/usage/track", std::string(R"({"events":[]})")), 422,
                      "invalid_request", "events"));
  EXPECT_TRUE(IsError(service_->Post("/api/usage/track", std::string(R"({"events":{}})")), 422,
                      "invalid_request", "events"));
  EXPECT_TRUE(IsError(service_->Post("/api/usage/track", std::string(R"({"events":[{}]})")), 422,
                      "invalid_request", "events[0].id"));
  EXPECT_TRUE(IsError(
      service_->Post("/api/usage/track",
                     std::string(R"({"events":[{"id":"a","subject":"b","type":"c"}],"more":1})")),
      422, "invalid_request", "more"));
}

TEST_F(HttpApiTest, TheSameEventIdCountsOnceAndAnotherBodyConflicts) {
  const json::object event = EventBody("same", "alice", json::object{{"chars", 7}});
  Response r = Consume(event);
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "replayed"), json::value(false));
  r = Consume(event);
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "replayed"), json::value(true));
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 1);
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "chars"), 7);

  EXPECT_TRUE(IsError(Consume(EventBody("same", "alice", json::object{{"chars", 8}})), 409,
                      "conflict", "id"));
  EXPECT_TRUE(IsError(Consume(EventBody("same", "bob", json::object{{"chars", 7}})), 409,
                      "conflict", "id"));
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "chars"), 7);
}

// --- Reads --------------------------------------------------------------------

TEST_F(HttpApiTest, UsageCurrentAndQuotaStatus) {
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(Consume(EventBody("u" + std::to_string(i), "alice")).status, 200);
  Response r = service_->Get("/api/usage/current?user_id=alice");
  ASSERT_EQ(r.status, 200) << r.Describe();
  json::value body = r.Json();
  EXPECT_EQ(Str(At(body, "user_id")), "alice");
  EXPECT_EQ(Str(At(body, "tier")), "test");
  EXPECT_EQ(Str(At(body, "timezone")), "UTC");
  EXPECT_EQ(Int(At(body, "anchor_day")), 1);
  EXPECT_EQ(Str(At(body, "status")), "warning") << "4 of 5 is 80 %";
  const json::object* requests = FindQuota(At(body, "quotas"), "requests");
  ASSERT_NE(requests, nullptr) << r.body;
  EXPECT_EQ(Int(requests->at("used")), 4);
  EXPECT_EQ(Str(requests->at("status")), "warning");
  EXPECT_DOUBLE_EQ(requests->at("percent").to_number<double>(), 80.0);
  // A quota that never resets has no period end.
  EXPECT_TRUE(requests->at("reset_at").is_null()) << r.body;
  EXPECT_EQ(r.Header("X-Usage-Current"), "4");
  EXPECT_EQ(r.Header("X-Usage-Remaining"), "1");

  r = service_->Get("/api/quota/status?user_id=alice");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "status")), "warning");
  EXPECT_EQ(At(r.Json(), "quotas").as_array().size(), 3u) << r.body;
  r = service_->Get("/api/quota/status?user_id=alice&quota_type=requests");
  ASSERT_EQ(r.status, 200) << r.Describe();
  ASSERT_EQ(At(r.Json(), "quotas").as_array().size(), 1u) << r.body;
  EXPECT_EQ(UsedOf(At(r.Json(), "quotas"), "requests"), 4);

  ASSERT_EQ(Consume(EventBody("u4", "alice")).status, 200);
  r = service_->Get("/api/quota/status?user_id=alice&quota_type=requests");
  EXPECT_EQ(Str(At(r.Json(), "status")), "exceeded") << r.body;

  EXPECT_TRUE(IsError(service_->Get("/api/usage/current"), 422, "invalid_request", "user_id"));
  EXPECT_TRUE(
      IsError(service_->Get("/api/usage/current?user_id="), 422, "invalid_request", "user_id"));
  EXPECT_TRUE(IsError(service_->Get("/api/usage/current?user_id=alice&colour=red"), 422,
                      "invalid_request", "colour"));
  EXPECT_TRUE(IsError(service_->Get("/api/quota/status?user_id=alice&quota_type=bogus"), 422,
                      "invalid_request", "quota_type"));
  EXPECT_TRUE(IsError(service_->Get("/api/usage/current?user_id=nobody"), 404, "not_found"));
  EXPECT_TRUE(IsError(service_->Get("/api/quota/history?user_id=alice&from=yesterday"), 422,
                      "invalid_request", "from"));
  EXPECT_TRUE(IsError(service_->Get("/api/quota/history?user_id=alice&limit=0"), 422,
                      "invalid_request", "limit"));
}

// --- Admin: limits, resets, the audit trail -------------------------------------

TEST_F(HttpApiTest, QuotaUpdateAndResetAreAuditedAndInTheHistory) {
  Response r =
      admin_->Put("/api/quota/update", json::value(json::object{{"user_id", "alice"},
                                                                {"quota_type", "requests"},
                                                                {"limit", 7},
                                                                {"reason", "support ticket 42"}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  const json::object* requests = FindQuota(At(r.Json(), "quotas"), "requests");
  ASSERT_NE(requests, nullptr) << r.body;
  EXPECT_EQ(Int(requests->at("limit")), 7);
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(Consume(EventBody("a" + std::to_string(i), "alice")).status, 200) << i;

  r = admin_->Post("/api/quota/reset",
                   json::value(json::object{
                       {"user_id", "alice"}, {"quota_type", "requests"}, {"reason", "goodwill"}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(At(r.Json(), "reset"), json::value(true));
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 0);
  ASSERT_EQ(Consume(EventBody("a6", "alice")).status, 200);
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 1);

  // The audit trail: actor, address, before, after, reason.
  const json::array entries = Audit("?target=subject:alice");
  const json::object* update = nullptr;
  const json::object* reset = nullptr;
  for (const json::value& e : entries) {
    if (Str(At(e, "action")) == "quota.update" && update == nullptr) update = &e.as_object();
    if (Str(At(e, "action")) == "quota.reset" && reset == nullptr) reset = &e.as_object();
  }
  ASSERT_NE(update, nullptr) << json::serialize(entries);
  EXPECT_EQ(Str(update->at("target")), "subject:alice");
  EXPECT_NE(Str(update->at("actor")), "") << json::serialize(*update);
  EXPECT_NE(Str(update->at("actor")).find("TALLY_ADMIN_KEY"), std::string::npos)
      << json::serialize(*update);
  EXPECT_EQ(Str(update->at("address")), "127.0.0.1");
  EXPECT_EQ(Str(update->at("reason")), "support ticket 42");
  EXPECT_FALSE(Str(update->at("time")).empty());
  EXPECT_TRUE(At(At(update->at("before"), "overrides"), "requests").is_null())
      << json::serialize(*update);
  EXPECT_EQ(Int(At(At(update->at("after"), "overrides"), "requests")), 7)
      << json::serialize(*update);
  ASSERT_NE(reset, nullptr) << json::serialize(entries);
  EXPECT_EQ(Str(reset->at("reason")), "goodwill");
  EXPECT_EQ(Str(reset->at("address")), "127.0.0.1");
  EXPECT_EQ(Int(At(At(reset->at("before"), "requests"), "used")), 6) << json::serialize(*reset);
  EXPECT_EQ(Int(At(At(reset->at("after"), "requests"), "used")), 0) << json::serialize(*reset);

  // The history shows the reset in the ledger and the limit change.
  r = admin_->Get("/api/quota/history?user_id=alice");
  ASSERT_EQ(r.status, 200) << r.Describe();
  const json::value history = r.Json();
  bool reset_entry = false;
  for (const json::value& e : At(history, "ledger").as_array()) {
    if (Str(At(e, "kind")) == "reset") {
      reset_entry = true;
      EXPECT_EQ(Str(At(e, "reason")), "goodwill");
      EXPECT_FALSE(Str(At(e, "actor")).empty());
    }
  }
  EXPECT_TRUE(reset_entry) << r.body;
  bool change = false;
  for (const json::value& e : At(history, "changes").as_array()) {
    change = change || (Str(At(e, "action")) == "quota.update" &&
                        Str(At(e, "reason")) == "support ticket 42");
  }
  EXPECT_TRUE(change) << r.body;

  // Failure modes.
  auto update_with = [&](json::object body) {
    return admin_->Put("/api/quota/update", json::value(body));
  };
  EXPECT_TRUE(IsError(update_with({{"user_id", "alice"}, {"quota_type", "requests"}}), 422,
                      "invalid_request", "limit"));
  EXPECT_TRUE(
      IsError(update_with({{"user_id", "alice"}, {"quota_type", "requests"}, {"limit", -5}}), 422,
              "invalid_request", "limit"));
  EXPECT_TRUE(
      IsError(update_with({{"user_id", "alice"}, {"quota_type", "requests"}, {"limit", "lots"}}),
              422, "invalid_request", "limit"));
  EXPECT_TRUE(IsError(update_with({{"user_id", "alice"}, {"quota_type", "bogus"}, {"limit", 1}}),
                      422, "invalid_request", "quota_type"));
  EXPECT_TRUE(IsError(update_with({{"quota_type", "requests"}, {"limit", 1}}), 422,
                      "invalid_request", "user_id"));
  EXPECT_TRUE(IsError(
      update_with({{"user_id", "alice"}, {"quota_type", "requests"}, {"limit", 1}, {"why", "x"}}),
      422, "invalid_request", "why"));
  EXPECT_TRUE(IsError(update_with({{"user_id", "ghost"}, {"quota_type", "requests"}, {"limit", 1}}),
                      404, "not_found"));
  EXPECT_TRUE(
      IsError(admin_->Post("/api/quota/reset", json::value(json::object{{"user_id", "ghost"}})),
              404, "not_found"));
  EXPECT_TRUE(IsError(
      admin_->Post("/api/quota/reset",
                   json::value(json::object{{"user_id", "alice"}, {"quota_type", "bogus"}})),
      422, "invalid_request", "quota_type"));
  // An unlimited limit.
  r = update_with({{"user_id", "alice"}, {"quota_type", "requests"}, {"limit", "unlimited"}});
  ASSERT_EQ(r.status, 200) << r.Describe();
  requests = FindQuota(At(r.Json(), "quotas"), "requests");
  ASSERT_NE(requests, nullptr) << r.body;
  EXPECT_TRUE(requests->at("limit").is_null());
  EXPECT_TRUE(requests->at("remaining").is_null());
  // The audit query's own validation.
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/audit?limit=5000"), 422, "invalid_request", "limit"));
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/audit?from=noon"), 422, "invalid_request", "from"));
}

TEST_F(HttpApiTest, AdminUsersPutGetAndList) {
  Response r = admin_->Put("/api/admin/users/dave",
                           json::value(json::object{{"tier", "premium"},
                                                    {"email", "dave@example.com"},
                                                    {"timezone", "Europe/Berlin"},
                                                    {"anchor_day", 15},
                                                    {"org", "acme"},
                                                    {"overrides", json::object{{"requests", 50}}},
                                                    {"notify", json::object{{"email", false}}},
                                                    {"reason", "onboarding"}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  json::value body = r.Json();
  EXPECT_EQ(Str(At(body, "id")), "dave");
  EXPECT_EQ(Str(At(body, "tier")), "premium");
  EXPECT_EQ(Str(At(body, "org")), "acme");
  EXPECT_EQ(Str(At(body, "email")), "dave@example.com");
  EXPECT_EQ(Str(At(body, "timezone")), "Europe/Berlin");
  EXPECT_EQ(Int(At(body, "anchor_day")), 15);
  EXPECT_EQ(Int(At(At(body, "overrides"), "requests")), 50);
  EXPECT_EQ(At(At(body, "notify"), "email"), json::value(false));
  EXPECT_TRUE(At(body, "quotas").is_array());

  r = admin_->Get("/api/admin/users/dave");
  ASSERT_EQ(r.status, 200) << r.Describe();
  body = r.Json();
  EXPECT_EQ(Str(At(body, "tier")), "premium");
  EXPECT_EQ(Str(At(body, "org")), "acme");
  // The org's pooled quota applies on top.
  EXPECT_NE(FindQuota(At(body, "quotas"), "requests", "org"), nullptr) << r.body;

  // A patch changes only what it names.
  r = admin_->Put("/api/admin/users/dave",
                  json::value(json::object{{"email", "d@example.org"}, {"org", nullptr}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  body = r.Json();
  EXPECT_EQ(Str(At(body, "email")), "d@example.org");
  EXPECT_EQ(Str(At(body, "tier")), "premium");
  EXPECT_TRUE(At(body, "org").is_null()) << r.body;

  r = admin_->Get("/api/admin/users");
  ASSERT_EQ(r.status, 200) << r.Describe();
  std::vector<std::string> ids;
  for (const json::value& u : At(r.Json(), "users").as_array()) ids.push_back(Str(At(u, "id")));
  EXPECT_EQ(ids, (std::vector<std::string>{"alice", "bob", "dave"}));
  r = admin_->Get("/api/admin/users?prefix=da");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(At(r.Json(), "users").as_array().size(), 1u) << r.body;
  r = admin_->Get("/api/admin/users?limit=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(At(r.Json(), "users").as_array().size(), 1u);
  EXPECT_EQ(Str(At(r.Json(), "next_after")), "alice") << r.body;
  r = admin_->Get("/api/admin/users?limit=2&after=alice");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(At(r.Json(), "users").as_array().size(), 2u) << r.body;
  EXPECT_EQ(Str(At(At(r.Json(), "users").as_array()[0], "id")), "bob");

  EXPECT_TRUE(IsError(admin_->Get("/api/admin/users/ghost"), 404, "not_found"));
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/users?limit=0"), 422, "invalid_request", "limit"));
  auto put = [&](json::object b) { return admin_->Put("/api/admin/users/erin", json::value(b)); };
  EXPECT_TRUE(IsError(put({{"tier", "nope"}}), 422, "invalid_request", "tier"));
  EXPECT_TRUE(IsError(put({{"anchor_day", 32}}), 422, "invalid_request", "anchor_day"));
  EXPECT_TRUE(IsError(put({{"timezone", "Mars/Olympus"}}), 422, "invalid_request", "timezone"));
  EXPECT_TRUE(IsError(put({{"org", "no-such-org"}}), 422, "invalid_request", "org"));
  EXPECT_TRUE(IsError(put({{"email", 5}}), 422, "invalid_request", "email"));
  EXPECT_TRUE(IsError(put({{"overrides", json::object{{"bogus", 1}}}}), 422, "invalid_request",
                      "overrides.bogus"));
  EXPECT_TRUE(IsError(put({{"overrides", json::object{{"requests", -1}}}}), 422, "invalid_request",
                      "overrides.requests"));
  EXPECT_TRUE(IsError(put({{"colour", "red"}}), 422, "invalid_request", "colour"));
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/users/erin"), 404, "not_found"))
      << "a rejected PUT created erin";

  // Audited.
  bool put_audited = false;
  for (const json::value& e : Audit("?target=subject:dave")) {
    put_audited = put_audited ||
                  (Str(At(e, "action")) == "subject.put" && Str(At(e, "reason")) == "onboarding" &&
                   At(e, "before").is_null() && Str(At(At(e, "after"), "tier")) == "premium");
  }
  EXPECT_TRUE(put_audited);

  // Service keys cannot administer.
  EXPECT_TRUE(IsError(service_->Get("/api/admin/users"), 403, "forbidden"));
  EXPECT_TRUE(IsError(service_->Put("/api/admin/users/x", std::string("{}")), 403, "forbidden"));
}

TEST_F(HttpApiTest, AdminQuotaOfOneUserAndAllOrNothingBulk) {
  Response r = admin_->Put(
      "/api/admin/quota/user/alice",
      json::value(json::object{
          {"tier", "premium"}, {"overrides", json::object{{"chars", 5}}}, {"reason", "upgrade"}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "tier")), "premium");
  EXPECT_EQ(Int(At(At(r.Json(), "overrides"), "chars")), 5);
  const json::object* chars = FindQuota(At(r.Json(), "quotas"), "chars");
  ASSERT_NE(chars, nullptr) << r.body;
  EXPECT_EQ(Int(chars->at("limit")), 5);
  // Only tier, overrides and reason here.
  EXPECT_TRUE(IsError(
      admin_->Put("/api/admin/quota/user/alice", json::value(json::object{{"email", "a@b.c"}})),
      422, "invalid_request", "email"));

  r = admin_->Post(
      "/api/admin/quota/bulk",
      json::value(json::object{
          {"updates",
           json::array{json::object{{"user_id", "alice"}, {"tier", "enterprise"}},
                       json::object{{"user_id", "bob"}, {"quota_type", "requests"}, {"limit", 9}}}},
          {"reason", "migration"}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Int(At(r.Json(), "updated")), 2);
  r = admin_->Get("/api/admin/users/alice");
  EXPECT_EQ(Str(At(r.Json(), "tier")), "enterprise");
  r = admin_->Get("/api/admin/users/bob");
  EXPECT_EQ(Int(At(At(r.Json(), "overrides"), "requests")), 9);

  // One bad update: nothing changes.
  const std::string before_alice = admin_->Get("/api/admin/users/alice").body;
  const std::string before_bob = admin_->Get("/api/admin/users/bob").body;
  auto bulk = [&](json::array updates) {
    return admin_->Post("/api/admin/quota/bulk", json::value(json::object{{"updates", updates}}));
  };
  EXPECT_TRUE(IsError(bulk({json::object{{"user_id", "alice"}, {"tier", "free"}},
                            json::object{{"user_id", "bob"}, {"tier", "nope"}}}),
                      422, "invalid_request", "updates[1].tier"));
  EXPECT_TRUE(IsError(bulk({json::object{{"user_id", "alice"}, {"tier", "free"}},
                            json::object{{"user_id", "ghost"}, {"tier", "free"}}}),
                      404, "not_found"));
  EXPECT_TRUE(IsError(bulk({json::object{{"user_id", "alice"}, {"tier", "free"}},
                            json::object{{"user_id", "bob"}, {"quota_type", "requests"}}}),
                      422, "invalid_request", "updates[1].limit"));
  EXPECT_TRUE(
      IsError(bulk({json::object{{"user_id", "alice"}, {"tier", "free"}},
                    json::object{{"user_id", "bob"}, {"quota_type", "requests"}, {"limit", -1}}}),
              422, "invalid_request", "updates[1].limit"));
  EXPECT_TRUE(IsError(bulk({json::object{{"user_id", "alice"}, {"tier", "free"}}, json::value(5)}),
                      422, "invalid_request"));
  EXPECT_TRUE(IsError(bulk({}), 422, "invalid_request", "updates"));
  EXPECT_EQ(admin_->Get("/api/admin/users/alice").body, before_alice)
      << "a rejected bulk changed alice";
  EXPECT_EQ(admin_->Get("/api/admin/users/bob").body, before_bob) << "a rejected bulk changed bob";

  int bulk_audits = 0;
  for (const json::value& e : Audit()) bulk_audits += Str(At(e, "action")) == "bulk";
  EXPECT_EQ(bulk_audits, 2) << "one audit entry per subject of the one accepted bulk";
}

TEST_F(HttpApiTest, TiersGetAndPut) {
  Response r = admin_->Get("/api/admin/tiers");
  ASSERT_EQ(r.status, 200) << r.Describe();
  std::set<std::string> names;
  for (const json::value& t : At(r.Json(), "tiers").as_array()) names.insert(Str(At(t, "name")));
  for (const char* n : {"test", "zero", "throttled", "free", "premium", "enterprise"}) {
    EXPECT_TRUE(names.count(n)) << n << " in " << r.body;
  }
  r = admin_->Get("/api/admin/tiers/test");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Int(At(At(At(r.Json(), "quotas"), "requests"), "limit")), 5);
  EXPECT_EQ(Str(At(At(At(r.Json(), "quotas"), "requests"), "period")), "never");
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/tiers/nope"), 404, "not_found"));

  r = admin_->Put(
      "/api/admin/tiers/gold",
      json::value(json::object{
          {"inherits", "test"},
          {"quotas", json::object{{"requests", json::object{{"limit", 50}, {"period", "never"}}}}},
          {"reason", "new plan"}}));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "name")), "gold");
  EXPECT_EQ(Int(At(At(At(r.Json(), "quotas"), "requests"), "limit")), 50);
  // Inherited from test.
  EXPECT_EQ(Int(At(At(At(r.Json(), "quotas"), "chars"), "limit")), 1000) << r.body;
  r = admin_->Get("/api/admin/tiers/gold");
  ASSERT_EQ(r.status, 200) << r.Describe();

  // A subject on the new tier gets its limits.
  ASSERT_EQ(
      admin_->Put("/api/admin/users/alice", json::value(json::object{{"tier", "gold"}})).status,
      200);
  for (int i = 0; i < 6; ++i)
    ASSERT_EQ(Consume(EventBody("g" + std::to_string(i), "alice")).status, 200) << i;
  r = admin_->Get("/api/usage/current?user_id=alice");
  EXPECT_EQ(Int(FindQuota(At(r.Json(), "quotas"), "requests")->at("limit")), 50);

  bool audited = false;
  for (const json::value& e : Audit()) {
    audited = audited || (Str(At(e, "reason")) == "new plan" &&
                          Str(At(e, "target")).find("gold") != std::string::npos);
  }
  EXPECT_TRUE(audited);

  auto put = [&](json::object b) { return admin_->Put("/api/admin/tiers/bad", json::value(b)); };
  EXPECT_TRUE(IsError(put({{"quotas", json::object{{"requests", json::object{{"limit", -1}}}}}}),
                      422, "invalid_request", "quotas.requests.limit"));
  EXPECT_TRUE(IsError(
      put({{"quotas",
            json::object{{"requests", json::object{{"limit", 1}, {"period", "fortnight"}}}}}}),
      422, "invalid_request", "quotas.requests.period"));
  EXPECT_TRUE(
      IsError(put({{"quotas", json::object{{"requests", json::object{{"period", "day"}}}}}}), 422,
              "invalid_request", "quotas.requests.limit"));
  EXPECT_TRUE(IsError(put({{"rate_limits", json::array{json::object{{"meter", "requests"}}}}}), 422,
                      "invalid_request", "rate_limits[0].rate"));
  EXPECT_TRUE(IsError(put({{"name", "other"}}), 422, "invalid_request", "name"));
  EXPECT_TRUE(IsError(put({{"colour", "red"}}), 422, "invalid_request", "colour"));
  const Response unknown_parent = put({{"inherits", "nope"}});
  EXPECT_TRUE(unknown_parent.status == 422 || unknown_parent.status == 404)
      << unknown_parent.Describe();
  const Response unknown_meter =
      put({{"quotas", json::object{{"bogus", json::object{{"limit", 1}}}}}});
  EXPECT_EQ(unknown_meter.status, 422) << unknown_meter.Describe();
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/tiers/bad"), 404, "not_found"))
      << "a rejected PUT created the tier";
  EXPECT_TRUE(IsError(service_->Get("/api/admin/tiers"), 403, "forbidden"));
}

// DESIGN.md/docs/configuration.md rules for names and emails hold for the
// admin API as they do for the config file (`tally check-config`).
// Regression (found by this test, since fixed): PUT /api/admin/users/{id} accepts an email without '@'
// (the config requires one); PUT /api/admin/tiers/{name} accepts a name
// outside [A-Za-z0-9_.-]{1,64} (e.g. "x y", 100 characters), which the config
// rejects; an unknown or cyclic "inherits" is a 422 without field "inherits".
TEST_F(HttpApiTest, AdminChangesFollowTheConfigFileRules) {
  EXPECT_TRUE(IsError(
      admin_->Put("/api/admin/users/alice", json::value(json::object{{"email", "not-an-email"}})),
      422, "invalid_request", "email"));
  EXPECT_TRUE(
      IsError(admin_->Put("/api/admin/tiers/x%20y", std::string("{}")), 422, "invalid_request"));
  EXPECT_TRUE(IsError(admin_->Put("/api/admin/tiers/" + std::string(100, 't'), std::string("{}")),
                      422, "invalid_request"));
  EXPECT_TRUE(
      IsError(admin_->Put("/api/admin/tiers/loop", json::value(json::object{{"inherits", "loop"}})),
              422, "invalid_request", "inherits"));
  EXPECT_TRUE(IsError(
      admin_->Put("/api/admin/tiers/orphan", json::value(json::object{{"inherits", "nope"}})), 422,
      "invalid_request", "inherits"));
  // Nothing was stored by the refused ones.
  EXPECT_EQ(Str(At(admin_->Get("/api/admin/users/alice").Json(), "email")), "");
  EXPECT_EQ(admin_->Get("/api/admin/tiers/x%20y").status, 404);
}

// --- Keys and authentication --------------------------------------------------

TEST_F(HttpApiTest, KeysCreateListAndRevoke) {
  Response r = admin_->Post("/api/admin/keys",
                            json::value(json::object{{"role", "service"}, {"name", "worker"}}));
  ASSERT_EQ(r.status, 201) << r.Describe();
  json::value created = r.Json();
  const std::string secret = Str(At(created, "key"));
  const std::string id = Str(At(created, "id"));
  EXPECT_EQ(secret.rfind("tly_service_", 0), 0u) << r.body;
  EXPECT_EQ(Str(At(created, "role")), "service");
  EXPECT_EQ(Str(At(created, "name")), "worker");
  EXPECT_TRUE(At(created, "revoked").is_null());
  EXPECT_FALSE(At(created, "hash").is_string()) << "the hash is never shown";

  HttpClient worker(server_->address(), secret);
  ASSERT_EQ(worker.Post("/api/quota/consume", json::value(EventBody("w1", "alice"))).status, 200);

  r = admin_->Get("/api/admin/keys");
  ASSERT_EQ(r.status, 200) << r.Describe();
  std::string admin_id;
  bool listed = false;
  for (const json::value& k : At(r.Json(), "keys").as_array()) {
    EXPECT_FALSE(k.as_object().contains("key")) << "a listed key shows its secret: " << r.body;
    EXPECT_FALSE(k.as_object().contains("hash")) << r.body;
    if (Str(At(k, "id")) == id) listed = true;
    if (Str(At(k, "role")) == "admin") admin_id = Str(At(k, "id"));
  }
  EXPECT_TRUE(listed) << r.body;
  EXPECT_EQ(r.body.find(secret), std::string::npos);
  EXPECT_EQ(r.body.find(kAdminKey), std::string::npos);
  ASSERT_FALSE(admin_id.empty()) << r.body;

  r = admin_->Delete("/api/admin/keys/" + id);
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_FALSE(Str(At(r.Json(), "revoked")).empty()) << r.body;
  EXPECT_TRUE(IsError(worker.Post("/api/quota/consume", json::value(EventBody("w2", "alice"))), 401,
                      "unauthorized"));
  EXPECT_TRUE(IsError(worker.Get("/api/usage/current?user_id=alice"), 401, "unauthorized"));
  EXPECT_EQ(admin_->Delete("/api/admin/keys/" + id).status, 200) << "revoking twice is harmless";
  EXPECT_TRUE(IsError(admin_->Delete("/api/admin/keys/key_00000000"), 404, "not_found"));

  // Bad requests.
  auto create = [&](json::object b) { return admin_->Post("/api/admin/keys", json::value(b)); };
  EXPECT_TRUE(IsError(create({{"role", "user"}}), 422, "invalid_request", "role"));
  EXPECT_TRUE(IsError(create({{"role", "root"}}), 422, "invalid_request", "role"));
  EXPECT_TRUE(IsError(create({{"name", "x"}}), 422, "invalid_request", "role"));
  EXPECT_TRUE(IsError(create({{"role", "service"}, {"write_rate_per_s", -1}}), 422,
                      "invalid_request", "write_rate_per_s"));
  EXPECT_TRUE(
      IsError(create({{"role", "service"}, {"scopes", "all"}}), 422, "invalid_request", "scopes"));

  // The last admin key cannot be revoked; with a second one it can.
  EXPECT_TRUE(IsError(admin_->Delete("/api/admin/keys/" + admin_id), 409, "conflict"));
  const std::string second = CreateKey(*admin_, "admin", json::object{{"name", "second admin"}});
  ASSERT_FALSE(second.empty());
  HttpClient admin2(server_->address(), second);
  r = admin2.Delete("/api/admin/keys/" + admin_id);
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/keys"), 401, "unauthorized"));
  ASSERT_EQ(admin2.Get("/api/admin/keys").status, 200);
  // Revocation is durable: it holds after a restart. (Clients hang up first:
  // see SigtermWithAResponseInFlightExitsPromptly in http_concurrency_test.)
  for (HttpClient* c : {admin_.get(), service_.get(), &worker, &admin2}) c->Close();
  ASSERT_EQ(server_->Stop(), std::optional<int>(0)) << server_->Log();
  ASSERT_TRUE(server_->Start());
  HttpClient old_admin(server_->address(), kAdminKey);
  EXPECT_TRUE(IsError(old_admin.Get("/api/admin/keys"), 401, "unauthorized"));
  HttpClient admin3(server_->address(), second);
  EXPECT_EQ(admin3.Get("/api/admin/keys").status, 200);
  HttpClient worker2(server_->address(), secret);
  EXPECT_TRUE(IsError(worker2.Get("/api/usage/current?user_id=alice"), 401, "unauthorized"));
  // Keys are audited.
  r = admin3.Get("/api/admin/audit");
  ASSERT_EQ(r.status, 200);
  int creates = 0, revokes = 0;
  for (const json::value& e : At(r.Json(), "entries").as_array()) {
    creates += Str(At(e, "action")) == "key.create";
    revokes += Str(At(e, "action")) == "key.revoke";
    EXPECT_EQ(json::serialize(e).find("\"hash\""), std::string::npos)
        << "an audit entry shows a key hash";
  }
  EXPECT_GE(creates, 4);  // bootstrap, backend, worker, second admin
  EXPECT_EQ(revokes, 2);
}

TEST_F(HttpApiTest, Unauthorized401) {
  const std::string target = "/api/usage/current?user_id=alice";
  HttpClient nobody(server_->address());
  Response r = nobody.Get(target);
  EXPECT_TRUE(IsError(r, 401, "unauthorized"));
  EXPECT_EQ(r.Header("WWW-Authenticate").rfind("Bearer", 0), 0u) << r.Header("WWW-Authenticate");
  EXPECT_TRUE(IsError(nobody.Post("/api/quota/consume", json::value(EventBody("x", "alice"))), 401,
                      "unauthorized"));

  auto with = [&](const std::string& authorization) {
    return nobody.Request("GET", target, "", {{"Authorization", authorization}});
  };
  EXPECT_TRUE(IsError(with("Bearer tly_service_0000000000000000000000000000000000000000000"), 401,
                      "unauthorized"));
  EXPECT_TRUE(IsError(with("Bearer definitely-not-a-key"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(with("Basic dXNlcjpwYXNz"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(with("Bearer"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(with(std::string("Bearer ") + kAdminKey + "x"), 401, "unauthorized"));
  EXPECT_TRUE(IsError(with(std::string("Bearer ") + kAdminKey + " extra"), 401, "unauthorized"));
  // User tokens: expired, wrongly signed, unsigned, without a subject.
  EXPECT_TRUE(IsError(with("Bearer " + UserToken("alice", -3600)), 401, "unauthorized"));
  const int64_t now = NowSeconds();
  EXPECT_TRUE(IsError(with("Bearer " + SignJwt(json::object{{"sub", "alice"}, {"exp", now + 3600}},
                                               "another-secret-of-at-least-32-bytes!!")),
                      401, "unauthorized"));
  const std::string unsigned_token =
      UserToken("alice").substr(0, UserToken("alice").rfind('.') + 1);
  EXPECT_TRUE(IsError(with("Bearer " + unsigned_token), 401, "unauthorized"));
  EXPECT_TRUE(
      IsError(with("Bearer " + SignJwt(json::object{{"exp", now + 3600}})), 401, "unauthorized"));
  EXPECT_TRUE(
      IsError(with("Bearer " + SignJwt(json::object{{"sub", "alice"}})), 401, "unauthorized"))
      << "a token without exp";
  // A token that is valid except for its time window.
  EXPECT_TRUE(IsError(
      with("Bearer " +
           SignJwt(json::object{{"sub", "alice"}, {"exp", now + 7200}, {"nbf", now + 3600}})),
      401, "unauthorized"));
  // The good ones pass.
  EXPECT_EQ(with(std::string("Bearer ") + kAdminKey).status, 200);
  EXPECT_EQ(with(std::string("bearer ") + kAdminKey).status, 200)
      << "the scheme is case-insensitive";
  EXPECT_EQ(with("Bearer " + UserToken("alice")).status, 200);
}

TEST_F(HttpApiTest, Forbidden403) {
  // A service key on admin routes.
  EXPECT_TRUE(
      IsError(service_->Put("/api/quota/update",
                            json::value(json::object{
                                {"user_id", "alice"}, {"quota_type", "requests"}, {"limit", 9}})),
              403, "forbidden"));
  EXPECT_TRUE(
      IsError(service_->Post("/api/quota/reset", json::value(json::object{{"user_id", "alice"}})),
              403, "forbidden"));
  EXPECT_TRUE(
      IsError(service_->Post("/api/admin/keys", json::value(json::object{{"role", "admin"}})), 403,
              "forbidden"));
  EXPECT_TRUE(IsError(service_->Get("/api/admin/audit"), 403, "forbidden"));
  EXPECT_TRUE(IsError(service_->Put("/api/admin/tiers/x", std::string("{}")), 403, "forbidden"));
  EXPECT_TRUE(
      IsError(service_->Post("/api/admin/quota/bulk", std::string("{}")), 403, "forbidden"));
  // Nothing changed.
  Response r = admin_->Get("/api/usage/current?user_id=alice");
  EXPECT_EQ(Int(FindQuota(At(r.Json(), "quotas"), "requests")->at("limit")), 5);

  // A user token: no writes, no admin, no other subject.
  HttpClient alice(server_->address(), UserToken("alice"));
  EXPECT_TRUE(IsError(alice.Post("/api/quota/consume", json::value(EventBody("j1", "alice"))), 403,
                      "forbidden"));
  EXPECT_TRUE(IsError(alice.Post("/api/usage/track", json::value(EventBody("j2", "alice"))), 403,
                      "forbidden"));
  EXPECT_TRUE(IsError(alice.Post("/api/quota/check", json::value(EventBody("j3", "alice"))), 403,
                      "forbidden"));
  EXPECT_TRUE(IsError(alice.Post("/api/quota/reservations", json::value(EventBody("j4", "alice"))),
                      403, "forbidden"));
  EXPECT_TRUE(IsError(alice.Delete("/api/quota/reservations/j4"), 403, "forbidden"));
  EXPECT_TRUE(IsError(alice.Get("/api/admin/users/alice"), 403, "forbidden"));
  EXPECT_TRUE(IsError(
      alice.Put("/api/admin/users/alice", json::value(json::object{{"tier", "enterprise"}})), 403,
      "forbidden"));
  EXPECT_TRUE(IsError(alice.Get("/api/usage/current?user_id=bob"), 403, "forbidden"));
  EXPECT_TRUE(IsError(alice.Get("/api/quota/status?user_id=bob"), 403, "forbidden"));
  EXPECT_TRUE(IsError(alice.Get("/api/quota/history?user_id=bob"), 403, "forbidden"));
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 0);
  r = admin_->Get("/api/admin/users/alice");
  EXPECT_EQ(Str(At(r.Json(), "tier")), "test");
}

TEST_F(HttpApiTest, AUserTokenReadsItsOwnSubject) {
  ASSERT_EQ(Consume(EventBody("o1", "alice", json::object{{"chars", 12}})).status, 200);
  HttpClient alice(server_->address(), UserToken("alice"));
  Response r = alice.Get("/api/usage/current");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "user_id")), "alice");
  EXPECT_EQ(UsedOf(At(r.Json(), "quotas"), "chars"), 12);
  r = alice.Get("/api/usage/current?user_id=alice");
  EXPECT_EQ(r.status, 200) << r.Describe();
  r = alice.Get("/api/quota/status");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "user_id")), "alice");
  r = alice.Get("/api/quota/history");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "user_id")), "alice");
  EXPECT_TRUE(IsError(alice.Get("/api/usage/current?user_id=bob"), 403, "forbidden"));
  // A token for a subject that does not exist (yet).
  HttpClient ghost(server_->address(), UserToken("ghost"));
  EXPECT_TRUE(IsError(ghost.Get("/api/usage/current"), 404, "not_found"));
}

// --- Routing ------------------------------------------------------------------

TEST_F(HttpApiTest, NotFound404AndMethodNotAllowed405) {
  EXPECT_TRUE(IsError(admin_->Get("/api/nope"), 404, "not_found"));
  EXPECT_TRUE(IsError(admin_->Get("/"), 404, "not_found"));
  EXPECT_TRUE(IsError(admin_->Get("/api/quota/consume/extra"), 404, "not_found"));
  EXPECT_TRUE(IsError(admin_->Post("/api/quota/reservations//commit", std::string("{}")), 404,
                      "not_found"));

  Response r = admin_->Get("/api/quota/consume");
  EXPECT_TRUE(IsError(r, 405, "method_not_allowed"));
  EXPECT_EQ(r.Header("Allow"), "POST");
  r = admin_->Post("/healthz", std::string("{}"));
  EXPECT_TRUE(IsError(r, 405, "method_not_allowed"));
  EXPECT_EQ(r.Header("Allow"), "GET");
  r = admin_->Delete("/api/admin/users/alice");
  EXPECT_TRUE(IsError(r, 405, "method_not_allowed"));
  EXPECT_NE(r.Header("Allow").find("GET"), std::string::npos) << r.Header("Allow");
  EXPECT_NE(r.Header("Allow").find("PUT"), std::string::npos) << r.Header("Allow");
  r = admin_->Request("PATCH", "/api/admin/tiers/test", "{}");
  EXPECT_TRUE(IsError(r, 405, "method_not_allowed"));
  r = admin_->Request("OPTIONS", "/api/quota/check");
  EXPECT_TRUE(IsError(r, 405, "method_not_allowed"));
  EXPECT_EQ(r.Header("Allow"), "POST");
  // 405 is decided before authentication: nobody learns more than the methods.
  HttpClient nobody(server_->address());
  EXPECT_EQ(nobody.Get("/api/quota/consume").status, 405);
  EXPECT_EQ(admin_->Get("/api/admin/users/alice").status, 200);
  // Unknown things behind known routes.
  EXPECT_TRUE(IsError(service_->Delete("/api/quota/reservations/unknown"), 404, "not_found"));
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/users/unknown"), 404, "not_found"));
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/tiers/unknown"), 404, "not_found"));
}

TEST_F(HttpApiTest, UnknownSubjectIs404WithoutAutoCreate) {
  // This test runs its own server (a top-level key goes first in the file).
  TearDown();
  StartServer(ServerSetup{.config = std::string("auto_create_subjects = false\n") + kConfig});
  ASSERT_FALSE(HasFatalFailure());

  EXPECT_TRUE(IsError(Consume(EventBody("g1", "ghost")), 404, "not_found", "subject"));
  EXPECT_TRUE(IsError(service_->Post("/api/usage/track", json::value(EventBody("g2", "ghost"))),
                      404, "not_found"));
  EXPECT_TRUE(IsError(service_->Post("/api/quota/check", json::value(EventBody("g3", "ghost"))),
                      404, "not_found"));
  EXPECT_TRUE(
      IsError(service_->Post("/api/quota/reservations", json::value(EventBody("g4", "ghost"))), 404,
              "not_found"));
  json::array batch{EventBody("g5", "alice"), EventBody("g6", "ghost")};
  EXPECT_TRUE(
      IsError(service_->Post("/api/usage/track", json::value(json::object{{"events", batch}})), 404,
              "not_found"));
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 0) << "the batch was half-applied";
  EXPECT_TRUE(IsError(admin_->Get("/api/admin/users/ghost"), 404, "not_found"))
      << "ghost was created";
  // Declared subjects work; a subject created through the admin API too.
  EXPECT_EQ(Consume(EventBody("g7", "alice")).status, 200);
  ASSERT_EQ(admin_->Put("/api/admin/users/ghost", std::string("{}")).status, 200);
  EXPECT_EQ(Consume(EventBody("g1", "ghost")).status, 200);
}

TEST_F(HttpApiTest, BodiesOverMaxBodyBytesAre413) {
  TearDown();
  StartServer(ServerSetup{.config = kConfig, .args = {"--max-body-bytes", "2048"}});
  ASSERT_FALSE(HasFatalFailure());
  json::object big = EventBody("big", "alice");
  big["context"] =
      json::object{{"user_agent", std::string(1000, 'a')}, {"endpoint", std::string(1000, 'b')}};
  Response r = Consume(big);
  EXPECT_TRUE(IsError(r, 413, "payload_too_large"));
  EXPECT_FALSE(r.keep_alive);
  // The same through Content-Length alone, body never sent: answered at once.
  HttpClient raw(server_->address());
  ASSERT_TRUE(raw.WriteRaw(
      "POST /api/quota/consume HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + service_key_ +
      "\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"));
  r = raw.ReadResponse();
  EXPECT_TRUE(IsError(r, 413, "payload_too_large"));
  // Just under the limit is fine, and the server still serves.
  json::object fits = EventBody("fits", "alice");
  fits["context"] =
      json::object{{"user_agent", std::string(900, 'a')}, {"endpoint", std::string(900, 'b')}};
  r = Consume(fits);
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 1);
}

TEST_F(HttpApiTest, RateLimitedByTierAndByKey) {
  // A tier's rate limit: 1 request an hour.
  ASSERT_EQ(
      admin_->Put("/api/admin/users/tim", json::value(json::object{{"tier", "throttled"}})).status,
      200);
  Response r = Consume(EventBody("tim1", "tim"));
  ASSERT_EQ(r.status, 200) << r.Describe();
  r = Consume(EventBody("tim2", "tim"));
  ASSERT_TRUE(IsError(r, 429, "rate_limited", std::nullopt, false));
  ASSERT_TRUE(r.HasHeader("Retry-After"));
  EXPECT_GE(std::stoll(r.Header("Retry-After")), 3000);
  EXPECT_LE(std::stoll(r.Header("Retry-After")), 3600);
  EXPECT_EQ(Str(At(At(r.Json(), "error"), "meter")), "requests");
  EXPECT_EQ(CurrentUsed(*admin_, "tim", "requests"), 1);

  // A key's own write rate: 1 a second. Requests sent back to back: the
  // second or third is refused (unless the machine stalls a whole second).
  const std::string slow_key = CreateKey(*admin_, "service", json::object{{"write_rate_per_s", 1}});
  ASSERT_FALSE(slow_key.empty());
  HttpClient slow(server_->address(), slow_key);
  int ok = 0;
  std::optional<Response> refused;
  for (int i = 0; i < 3 && !refused; ++i) {
    r = slow.Post("/api/usage/track", json::value(EventBody("s" + std::to_string(i), "bob")));
    if (r.status == 200) {
      ++ok;
    } else {
      refused = r;
    }
  }
  ASSERT_TRUE(refused.has_value())
      << "three writes in a row under a 1/s key limit were all admitted";
  EXPECT_TRUE(IsError(*refused, 429, "rate_limited"));
  ASSERT_TRUE(refused->HasHeader("Retry-After"));
  EXPECT_EQ(refused->Header("Retry-After"), "1");
  EXPECT_EQ(CurrentUsed(*admin_, "bob", "requests"), ok) << "a refused write was counted";
  // Reads are not limited; other keys are not affected.
  EXPECT_EQ(slow.Get("/api/usage/current?user_id=bob").status, 200);
  EXPECT_EQ(service_->Post("/api/usage/track", json::value(EventBody("other", "bob"))).status, 200);
}

// --- Request validation across endpoints ------------------------------------------

TEST_F(HttpApiTest, MalformedJsonIs400AndWrongShapesAre422WithTheField) {
  const std::vector<std::string> writes = {"/api/quota/consume", "/api/quota/check",
                                           "/api/quota/reservations", "/api/usage/track"};
  for (const std::string& target : writes) {
    for (const std::string& body :
         {std::string(""), std::string("{"), std::string("not json"),
          std::string("{\"id\":\"a\",}"), std::string("{\"id\":\"a\",\"id\":\"b\"}"),
          std::string("{} {}")}) {
      EXPECT_TRUE(IsError(service_->Post(target, body), 400, "invalid_json"))
          << target << " " << body;
    }
    EXPECT_TRUE(IsError(service_->Post(target, std::string("[]")), 422, "invalid_request", "body"))
        << target;
    EXPECT_TRUE(
        IsError(service_->Post(target, std::string("\"event\"")), 422, "invalid_request", "body"))
        << target;
  }
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({})", "id"},
      {R"({"id":"x"})", "subject"},
      {R"({"id":"x","subject":"alice"})", "type"},
      {R"({"id":"","subject":"alice","type":"t"})", "id"},
      {R"({"id":"x","subject":"","type":"t"})", "subject"},
      {R"({"id":5,"subject":"alice","type":"t"})", "id"},
      {R"({"id":"x","subject":["alice"],"type":"t"})", "subject"},
      {R"({"id":"x","subject":"alice","type":"t","data":"x"})", "data"},
      {R"({"id":"x","subject":"alice","type":"t","data":{"chars":-1}})", "data.chars"},
      {R"({"id":"x","subject":"alice","type":"t","data":{"chars":1.5}})", "data.chars"},
      {R"({"id":"x","subject":"alice","type":"t","data":{"chars":"7"}})", "data.chars"},
      {R"({"id":"x","subject":"alice","type":"t","data":{"chars":true}})", "data.chars"},
      {R"({"id":"x","subject":"alice","type":"t","data":{"chars":null}})", "data.chars"},
      {R"({"id":"x","subject":"alice","type":"t","time":"yesterday"})", "time"},
      {R"({"id":"x","subject":"alice","type":"t","time":12345})", "time"},
      {R"({"id":"x","subject":"alice","type":"t","context":{"ip":5}})", "context.ip"},
      {R"({"id":"x","subject":"alice","type":"t","context":{"colour":"red"}})", "context.colour"},
      {R"({"id":"x","subject":"alice","type":"t","context":"x"})", "context"},
      {R"({"id":"x","subjct":"alice","type":"t"})", "subjct"},
      {R"({"id":"x","subject":"alice","user_id":"bob","type":"t"})", "user_id"},
  };
  for (const std::string& target :
       {std::string("/api/quota/consume"), std::string("/api/quota/check"),
        std::string("/api/usage/track")}) {
    for (const Case& c : cases) {
      EXPECT_TRUE(IsError(service_->Post(target, c.body), 422, "invalid_request", c.field))
          << target << " " << c.body;
    }
  }
  // Nothing was recorded by any of it.
  EXPECT_EQ(CurrentUsed(*admin_, "alice", "requests"), 0);
  const Response metrics = HttpClient(server_->address()).Get("/metrics");
  EXPECT_EQ(MetricValue(metrics.body, "tally_events_total"), 0) << metrics.body;
}

}  // namespace
}  // namespace tally::http_test
