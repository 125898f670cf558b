// Hostile input against the real `tally serve`: malformed JSON, wrong types,
// out-of-range and overflowing numbers, huge strings, deep nesting, invalid
// UTF-8, unknown subjects and meters, bad dates, replays with another body,
// bytes that are not HTTP, oversized headers, slow clients and a long
// keep-alive connection.
//
// Each kind of attack is a routine; each test runs one (and the last runs all
// of them against one server). After every test the server must still serve:
// /healthz answers 200, a consume is accepted, and nothing was half-applied:
// the subject every attack aims at ("victim") shows exactly the usage of the
// writes that were accepted, its registry entry is unchanged, and the server
// counted exactly the accepted events.
#include <time.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "http_client.h"
#include "server_process.h"
#include "test_support.h"

namespace tally::http_test {
namespace {

using std::chrono::milliseconds;

constexpr char kConfig[] = R"toml(
default_tier = "test"

[tiers.test]
quotas.requests = { limit = 1_000_000, period = "never" }
quotas.chars = { limit = "unlimited", period = "never" }
quotas.tokens = { limit = 1_000_000_000, period = "never" }
)toml";

constexpr char kVictim[] = "victim";

// RFC 3339 in UTC ("Z"), or with a +HH:MM offset, of `unix_s`.
std::string Rfc3339(int64_t unix_s, int offset_minutes = 0) {
  const time_t local = static_cast<time_t>(unix_s + offset_minutes * 60);
  struct tm tm {};
  gmtime_r(&local, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (offset_minutes == 0) return out + "Z";
  char zone[16];
  snprintf(zone, sizeof(zone), "%c%02d:%02d", offset_minutes < 0 ? '-' : '+',
           std::abs(offset_minutes) / 60, std::abs(offset_minutes) % 60);
  return out + zone;
}

// A complete request in raw bytes.
std::string RawRequest(const std::string& method, const std::string& target,
                       const std::string& token, const std::string& body = "",
                       const std::string& extra_headers = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: tally\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  req += extra_headers;
  if (!body.empty() || method == "POST" || method == "PUT") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return req + "\r\n" + body;
}

class HttpHostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(ServerSetup{.config = kConfig});
    ASSERT_TRUE(server_->Start());
    admin_ = std::make_unique<HttpClient>(server_->Client());
    service_key_ = CreateKey(*admin_, "service");
    ASSERT_FALSE(service_key_.empty());
    service_ = std::make_unique<HttpClient>(server_->Client(service_key_));
    // The victim exists from the start, with one event and a registry entry.
    ASSERT_EQ(admin_
                  ->Put(std::string("/api/admin/users/") + kVictim,
                        json::value(json::object{{"email", "victim@example.com"},
                                                 {"overrides", json::object{{"tokens", 5000}}}}))
                  .status,
              200);
    Accepted(Post("/api/quota/consume", EventBody("seed", kVictim, json::object{{"chars", 1}})), 1);
    registry_ = Registry();
  }

  void TearDown() override {
    if (server_ == nullptr || !server_->running()) return;
    if (!HasFatalFailure()) ExpectIntact();
    admin_.reset();
    service_.reset();
    EXPECT_EQ(server_->Stop(), std::optional<int>(0)) << server_->Log();
  }

  Response Post(const std::string& target, const json::value& body) {
    return service_->Post(target, body);
  }
  Response Post(const std::string& target, const std::string& body) {
    return service_->Post(target, body);
  }
  Response Post(const std::string& target, const char* body) {
    return service_->Post(target, body);
  }

  // `r` is a 2xx write of the victim adding `chars`; counted as expected.
  void Accepted(const Response& r, int64_t chars, bool victim = true) {
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.Describe();
    if (At(r.Json(), "replayed") == json::value(true)) return;
    ++events_;
    if (victim) {
      ++requests_;
      chars_ += chars;
    }
  }

  // The victim's registry entry without its (changing) quotas.
  std::string Registry() {
    const Response r = admin_->Get(std::string("/api/admin/users/") + kVictim);
    EXPECT_EQ(r.status, 200) << r.Describe();
    json::value v = r.Json();
    if (v.is_object()) v.as_object().erase("quotas");
    return json::serialize(v);
  }

  // The server serves, accepts a consume, and holds exactly the accepted writes.
  void ExpectIntact() {
    HttpClient fresh(server_->address(), service_key_);
    const Response health = fresh.Get("/healthz");
    EXPECT_EQ(health.status, 200) << health.Describe();
    const Response canary =
        fresh.Post("/api/quota/consume",
                   json::value(EventBody("canary-" + std::to_string(++canaries_), "canary")));
    EXPECT_EQ(canary.status, 200) << canary.Describe();
    if (canary.status == 200) ++events_;
    EXPECT_EQ(CurrentUsed(fresh, kVictim, "requests"), requests_) << "a rejected write was counted";
    EXPECT_EQ(CurrentUsed(fresh, kVictim, "chars"), chars_) << "a rejected write was counted";
    EXPECT_EQ(Registry(), registry_) << "a rejected change altered the victim's registry entry";
    const Response metrics = fresh.Get("/metrics");
    EXPECT_EQ(MetricValue(metrics.body, "tally_events_total"), static_cast<double>(events_))
        << "the server accepted events no request was acknowledged for";
  }

  // Sends raw bytes on a fresh connection and reads until the server closes
  // it (at most `wait`). The server must answer a 4xx or just close; never
  // hang, never 5xx. Returns the parsed response (status 0 when none).
  Response RawExchange(const std::string& bytes, milliseconds wait = milliseconds(5000)) {
    HttpClient raw(server_->address());
    EXPECT_TRUE(raw.WriteRaw(bytes)) << Printable(bytes);
    bool closed = false;
    const std::string got = raw.ReadUntilClose(wait, &closed);
    EXPECT_TRUE(closed) << "the server kept a connection open after: " << Printable(bytes)
                        << "\ngot: " << got;
    Response r = ParseRawResponse(got);
    if (r.status != 0) {
      EXPECT_GE(r.status, 400) << Printable(bytes);
      EXPECT_LT(r.status, 500) << Printable(bytes) << "\n" << got;
      EXPECT_TRUE(IsError(r, r.status,
                          std::string(At(At(r.Json(), "error"), "code").is_string()
                                          ? At(At(r.Json(), "error"), "code").as_string()
                                          : "")))
          << got;
    }
    return r;
  }

  static std::string Printable(const std::string& bytes) {
    std::string out;
    for (char c : bytes.substr(0, 200)) {
      if (c == '\r') {
        out += "\\r";
      } else if (c == '\n') {
        out += "\\n";
      } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
        char hex[8];
        snprintf(hex, sizeof(hex), "\\x%02x", static_cast<unsigned char>(c));
        out += hex;
      } else {
        out += c;
      }
    }
    return bytes.size() > 200 ? out + "..." : out;
  }

  // --- The attacks ---------------------------------------------------------------

  void MalformedJson() {
    const std::vector<std::string> bodies = {
        "",
        " \r\n\t",
        "{",
        "}",
        "{\"id\":",
        "[1,2",
        "nul",
        "tru",
        "{\"id\":\"a\"}x",
        "{\"id\":\"a\"}{\"id\":\"b\"}",
        "{'id':'a'}",
        "{\"id\":\"a\",}",
        "{\"id\" \"a\"}",
        "{id:\"a\"}",
        "\xEF\xBB\xBF{\"id\":\"a\"}",
        "{\"id\":\"a\"/* comment */}",
        "{\"id\":\"a\"} // comment",
        "NaN",
        "{\"data\":{\"chars\":NaN}}",
        "{\"data\":{\"chars\":Infinity}}",
        "{\"data\":{\"chars\":-Infinity}}",
        "{\"data\":{\"chars\":01}}",
        "{\"data\":{\"chars\":1.}}",
        "{\"data\":{\"chars\":.5}}",
        "{\"data\":{\"chars\":+1}}",
        "{\"data\":{\"chars\":0x10}}",
        "{\"data\":{\"chars\":1e400}}",
        "{\"data\":{\"chars\":" + std::string(400, '9') + "}}",
        "{\"id\":\"a\x01\"}",
        "{\"id\":\"line\nbreak\"}",
        std::string("{\"id\":\"a\0b\"}", 12),
        "{\"id\":\"\\x41\"}",
        "{\"id\":\"\\u12\"}",
        "{\"id\":\"\\\"}",
        "{\"id\":\"a\",\"id\":\"a\"}",
        "{\"id\":\"a\",\"subject\":\"victim\",\"type\":\"t\",\"data\":{\"chars\":1,\"chars\":2}}",
        "\"unterminated",
        std::string(1000, '{'),
    };
    const std::vector<std::pair<std::string, std::string>> targets = {
        {"POST", "/api/quota/consume"},
        {"POST", "/api/usage/track"},
        {"POST", "/api/quota/check"},
        {"POST", "/api/quota/reservations"},
        {"POST", "/api/quota/reservations/seed/commit"},
        {"PUT", "/api/quota/update"},
        {"POST", "/api/quota/reset"},
        {"PUT", "/api/admin/users/victim"},
        {"PUT", "/api/admin/quota/user/victim"},
        {"POST", "/api/admin/quota/bulk"},
        {"PUT", "/api/admin/tiers/test"},
        {"POST", "/api/admin/keys"},
    };
    for (const auto& [method, target] : targets) {
      HttpClient& client = target.rfind("/api/admin", 0) == 0 || target == "/api/quota/update" ||
                                   target == "/api/quota/reset"
                               ? *admin_
                               : *service_;
      for (const std::string& body : bodies) {
        const Response r = client.Request(method, target, body);
        EXPECT_TRUE(IsError(r, 400, "invalid_json"))
            << method << " " << target << " " << Printable(body);
      }
    }
  }

  void WrongTypesAndMissingFields() {
    const std::vector<std::pair<std::string, std::string>> wrong = {
        {"5", "number"}, {"true", "bool"}, {"[]", "array"}, {"{}", "object"}, {"1.5", "fraction"}};
    auto event_with = [](const std::string& key, const std::string& raw_value) {
      std::string body = "{";
      for (const char* k : {"id", "subject", "type"}) {
        if (key == k) continue;
        body += std::string("\"") + k + "\":\"" + (std::string(k) == "subject" ? kVictim : "x1") +
                "\",";
      }
      return body + "\"" + key + "\":" + raw_value + "}";
    };
    for (const std::string target :
         {"/api/quota/consume", "/api/usage/track", "/api/quota/check"}) {
      for (const auto& [value, what] : wrong) {
        for (const std::string key : {"id", "subject", "type", "time"}) {
          EXPECT_TRUE(IsError(Post(target, event_with(key, value)), 422, "invalid_request", key))
              << target << " " << key << " as " << what;
        }
        if (what != "object") {
          EXPECT_TRUE(
              IsError(Post(target, event_with("data", value)), 422, "invalid_request", "data"))
              << what;
          EXPECT_TRUE(IsError(Post(target, event_with("context", value)), 422, "invalid_request",
                              "context"))
              << what;
        }
        if (what != "number") {
          EXPECT_TRUE(IsError(Post(target, event_with("data", "{\"chars\":" + value + "}")), 422,
                              "invalid_request", "data.chars"))
              << what;
        }
        EXPECT_TRUE(IsError(Post(target, event_with("context", "{\"session_id\":" + value + "}")),
                            422, "invalid_request", "context.session_id"))
            << what;
      }
      for (const std::string bad : {"\"5\"", "-1", "null", "\"\""}) {
        EXPECT_TRUE(IsError(Post(target, event_with("data", "{\"chars\":" + bad + "}")), 422,
                            "invalid_request", "data.chars"))
            << bad;
      }
      EXPECT_TRUE(IsError(Post(target, event_with("context", "{\"processing_ms\":-1}")), 422,
                          "invalid_request", "context.processing_ms"));
      EXPECT_TRUE(IsError(Post(target, event_with("context", "{\"processing_ms\":\"5\"}")), 422,
                          "invalid_request", "context.processing_ms"));
      // Missing and empty.
      EXPECT_TRUE(IsError(Post(target, std::string("{}")), 422, "invalid_request", "id"));
      EXPECT_TRUE(
          IsError(Post(target, R"({"id":"x1","type":"t"})"), 422, "invalid_request", "subject"));
      EXPECT_TRUE(IsError(Post(target, R"({"id":"x1","subject":"victim"})"), 422, "invalid_request",
                          "type"));
      EXPECT_TRUE(IsError(Post(target, R"({"id":null,"subject":"victim","type":"t"})"), 422,
                          "invalid_request", "id"));
      EXPECT_TRUE(IsError(Post(target, R"({"id":"","subject":"victim","type":"t"})"), 422,
                          "invalid_request", "id"));
      EXPECT_TRUE(IsError(Post(target, R"({"id":"x1","subject":"victim","type":""})"), 422,
                          "invalid_request", "type"));
      EXPECT_TRUE(IsError(Post(target, R"({"id":"x1","subject":"victim","type":"t","extra":1})"),
                          422, "invalid_request", "extra"));
    }
    // Admin bodies.
    auto put_victim = [&](const std::string& body) {
      return admin_->Put("/api/admin/users/victim", body);
    };
    EXPECT_TRUE(IsError(put_victim(R"({"tier":5})"), 422, "invalid_request", "tier"));
    EXPECT_TRUE(
        IsError(put_victim(R"({"anchor_day":"15"})"), 422, "invalid_request", "anchor_day"));
    EXPECT_TRUE(IsError(put_victim(R"({"anchor_day":0})"), 422, "invalid_request", "anchor_day"));
    EXPECT_TRUE(IsError(put_victim(R"({"notify":"yes"})"), 422, "invalid_request", "notify"));
    EXPECT_TRUE(IsError(put_victim(R"({"notify":{"email":"yes"}})"), 422, "invalid_request",
                        "notify.email"));
    EXPECT_TRUE(IsError(put_victim(R"({"overrides":[]})"), 422, "invalid_request", "overrides"));
    EXPECT_TRUE(IsError(put_victim(R"({"overrides":{"chars":true}})"), 422, "invalid_request",
                        "overrides.chars"));
    EXPECT_TRUE(IsError(put_victim(R"({"email":"new@example.com","tier":[]})"), 422,
                        "invalid_request", "tier"));
    EXPECT_TRUE(IsError(admin_->Put("/api/quota/update",
                                    R"({"user_id":"victim","quota_type":"chars","limit":true})"),
                        422, "invalid_request", "limit"));
    EXPECT_TRUE(
        IsError(admin_->Put("/api/quota/update", R"({"user_id":5,"quota_type":"chars","limit":1})"),
                422, "invalid_request", "user_id"));
    EXPECT_TRUE(IsError(admin_->Post("/api/quota/reset", R"({"user_id":"victim","reason":5})"), 422,
                        "invalid_request", "reason"));
    EXPECT_TRUE(
        IsError(admin_->Post("/api/admin/keys", R"({"role":5})"), 422, "invalid_request", "role"));
    EXPECT_TRUE(IsError(admin_->Post("/api/admin/quota/bulk", R"({"updates":"x"})"), 422,
                        "invalid_request", "updates"));
    EXPECT_TRUE(IsError(admin_->Post("/api/admin/quota/bulk",
                                     R"({"updates":[{"user_id":"victim","tier":"free"},5]})"),
                        422, "invalid_request"));
    EXPECT_TRUE(IsError(admin_->Post("/api/admin/quota/bulk",
                                     R"({"updates":[{"user_id":"victim","tier":"free"},{}]})"),
                        422, "invalid_request", "updates[1].user_id"));
  }

  void BadNumbers() {
    auto chars = [](const std::string& raw) {
      return R"({"id":"n1","subject":"victim","type":"t","data":{"chars":)" + raw + "}}";
    };
    for (const std::string target :
         {"/api/quota/consume", "/api/usage/track", "/api/quota/check"}) {
      for (const std::string raw :
           {"-1", "-9223372036854775808", "9223372036854775808", "18446744073709551615",
            "18446744073709551616", "1.0", "1.5", "1e2", "1E2", "-0.0", "0.1e1",
            "100000000000000000000000000000"}) {
        EXPECT_TRUE(IsError(Post(target, chars(raw)), 422, "invalid_request", "data.chars"))
            << target << " " << raw;
      }
    }
    // The largest count is accepted; one more does not wrap around (on a
    // subject of its own, so that the victim can still count chars).
    Accepted(Post("/api/usage/track",
                  R"({"id":"n1","subject":"big","type":"t","data":{"chars":9223372036854775807}})"),
             0, /*victim=*/false);
    for (const std::string target :
         {"/api/usage/track", "/api/quota/consume", "/api/usage/track"}) {
      const Response r =
          Post(target, R"({"id":"n2","subject":"big","type":"t","data":{"chars":1}})");
      EXPECT_GE(r.status, 400) << target << ": " << r.Describe();
      EXPECT_LT(r.status, 500) << target << ": " << r.Describe();
    }
    json::array batch{EventBody("n3", "big", json::object{{"tokens", 1}}),
                      EventBody("n4", "big", json::object{{"chars", 1}})};
    const Response b = Post("/api/usage/track", json::value(json::object{{"events", batch}}));
    EXPECT_TRUE(b.status >= 400 && b.status < 500) << b.Describe();
    EXPECT_EQ(CurrentUsed(*admin_, "big", "chars"), INT64_MAX) << "the chars total wrapped around";
    EXPECT_EQ(CurrentUsed(*admin_, "big", "requests"), 1) << "a refused event was counted";
    EXPECT_EQ(CurrentUsed(*admin_, "big", "tokens"), 0) << "half of a refused batch was applied";

    // Other numbers: TTLs, limits, days, rates, query integers.
    for (const std::string raw : {"9223372036854775808", "-1", "1.5", "1e3", "0", "\"60\""}) {
      EXPECT_TRUE(IsError(Post("/api/quota/reservations",
                               R"({"id":"n5","subject":"victim","type":"t","ttl_s":)" + raw + "}"),
                          422, "invalid_request", "ttl_s"))
          << raw;
      if (raw != "0") {  // a limit of 0 is a limit
        EXPECT_TRUE(
            IsError(admin_->Put("/api/quota/update",
                                R"({"user_id":"victim","quota_type":"chars","limit":)" + raw + "}"),
                    422, "invalid_request", "limit"))
            << raw;
      }
      EXPECT_TRUE(IsError(admin_->Put("/api/admin/users/victim", R"({"anchor_day":)" + raw + "}"),
                          422, "invalid_request", "anchor_day"))
          << raw;
      EXPECT_TRUE(IsError(
          admin_->Post("/api/admin/keys", R"({"role":"service","write_rate_per_s":)" +
                                              (raw == "0" ? std::string("1e300") : raw) + "}"),
          422, "invalid_request", "write_rate_per_s"))
          << raw;
    }
    for (const std::string q : {"99999999999999999999", "-1", "1.5", "0x10", "", "1e2", "%2B5"}) {
      EXPECT_TRUE(
          IsError(admin_->Get("/api/admin/users?limit=" + q), 422, "invalid_request", "limit"))
          << q;
      EXPECT_TRUE(IsError(admin_->Get("/api/quota/history?user_id=victim&before=" + q), 422,
                          "invalid_request", "before"))
          << q;
    }
  }

  void HugeStrings() {
    const std::string mb(1 << 20, 'x');
    EXPECT_TRUE(IsError(Post("/api/quota/consume", json::value(EventBody(mb, kVictim))), 422,
                        "invalid_request", "id"));
    EXPECT_TRUE(IsError(Post("/api/quota/consume", json::value(EventBody("h1", mb))), 422,
                        "invalid_request", "subject"));
    EXPECT_TRUE(IsError(Post("/api/quota/consume", json::value(EventBody("h1", kVictim, {}, mb))),
                        422, "invalid_request", "type"));
    EXPECT_TRUE(IsError(
        Post("/api/usage/track", json::value(EventBody("h1", kVictim, json::object{{mb, 1}}))), 422,
        "invalid_request"));
    json::object context = EventBody("h1", kVictim);
    context["context"] = json::object{{"user_agent", mb}};
    EXPECT_TRUE(IsError(Post("/api/quota/consume", json::value(context)), 422, "invalid_request",
                        "context.user_agent"));
    json::object unknown = EventBody("h1", kVictim);
    unknown["comment"] = mb;
    EXPECT_TRUE(IsError(Post("/api/quota/consume", json::value(unknown)), 422, "invalid_request",
                        "comment"));
    // 257 characters: one past the id limit.
    EXPECT_TRUE(
        IsError(Post("/api/quota/consume", json::value(EventBody(std::string(257, 'i'), kVictim))),
                422, "invalid_request", "id"));
    EXPECT_TRUE(IsError(
        admin_->Put(
            "/api/quota/update",
            json::value(json::object{
                {"user_id", kVictim}, {"quota_type", "chars"}, {"limit", 1}, {"reason", mb}})),
        422, "invalid_request", "reason"));
    EXPECT_TRUE(
        IsError(admin_->Put("/api/admin/users/victim", json::value(json::object{{"tier", mb}})),
                422, "invalid_request", "tier"));
    EXPECT_TRUE(
        IsError(admin_->Put("/api/admin/users/victim", json::value(json::object{{"email", mb}})),
                422, "invalid_request", "email"));
    // Many fields, many events, much whitespace.
    json::object data;
    for (int i = 0; i < 10'000; ++i) data["f" + std::to_string(i)] = 1;
    EXPECT_TRUE(IsError(Post("/api/usage/track", json::value(EventBody("h2", kVictim, data))), 422,
                        "invalid_request", "data"));
    json::array events;
    for (int i = 0; i < 10'001; ++i) events.push_back(EventBody("b" + std::to_string(i), kVictim));
    EXPECT_TRUE(IsError(Post("/api/usage/track", json::value(json::object{{"events", events}})),
                        422, "invalid_request", "events"));
    json::object keys;
    for (int i = 0; i < 100'000; ++i) keys["k" + std::to_string(i)] = i;
    EXPECT_TRUE(IsError(Post("/api/quota/consume", json::value(keys)), 422, "invalid_request"));
    EXPECT_TRUE(IsError(Post("/api/quota/consume", std::string(7 << 20, ' ') + "{}"), 422,
                        "invalid_request", "id"));
    const Response too_big = Post("/api/quota/consume", std::string(9 << 20, ' ') + "{}");
    EXPECT_TRUE(IsError(too_big, 413, "payload_too_large"));
    // Long ids in query strings and paths (below the header limit).
    const std::string long_id(10'000, 'u');
    Response r = admin_->Get("/api/usage/current?user_id=" + long_id);
    EXPECT_TRUE(r.status == 404 || r.status == 422) << r.Describe();
    r = service_->Delete("/api/quota/reservations/" + long_id);
    EXPECT_TRUE(r.status == 404 || r.status == 422) << r.Describe();
    r = service_->Post("/api/quota/reservations/" + long_id + "/commit", std::string("{}"));
    EXPECT_TRUE(r.status == 404 || r.status == 422) << r.Describe();
    r = admin_->Put("/api/admin/users/" + long_id, std::string("{}"));
    EXPECT_TRUE(IsError(r, 422, "invalid_request")) << "a 10,000-character subject id was accepted";
    r = admin_->Put("/api/admin/users/" + std::string(200, 'u'), std::string("{}"));
    EXPECT_TRUE(IsError(r, 422, "invalid_request", "id"))
        << "a 200-character subject id was accepted";
  }

  void DeepNesting() {
    const std::vector<std::string> bodies = {
        std::string(1000, '[') + std::string(1000, ']'),
        [] {
          std::string s;
          for (int i = 0; i < 1000; ++i) s += "{\"a\":";
          return s + "1" + std::string(1000, '}');
        }(),
        R"({"id":"d1","subject":"victim","type":"t","data":{"chars":)" + std::string(40, '[') +
            "1" + std::string(40, ']') + "}}",
        R"({"id":"d1","subject":"victim","type":"t","context":)" +
            [] {
              std::string s;
              for (int i = 0; i < 100; ++i) s += "{\"a\":";
              return s + "1" + std::string(100, '}');
            }() +
            "}",
        std::string(100'000, '['),
        std::string(1'000'000, '[') + std::string(1'000'000, ']'),
    };
    for (const std::string target :
         {"/api/quota/consume", "/api/usage/track", "/api/quota/reservations"}) {
      for (const std::string& body : bodies) {
        EXPECT_TRUE(IsError(Post(target, body), 400, "invalid_json"))
            << target << " " << Printable(body);
      }
    }
    EXPECT_TRUE(IsError(admin_->Post("/api/admin/quota/bulk", bodies[0]), 400, "invalid_json"));
  }

  void InvalidUtf8() {
    const std::vector<std::string> bad = {"\xff",
                                          "\xfe\xff",
                                          "\xc0\xaf",
                                          "\xed\xa0\x80",
                                          "\xf4\x90\x80\x80",
                                          "\xe2\x82",
                                          "a\x80z",
                                          "\xf8\x88\x80\x80\x80"};
    for (const std::string& b : bad) {
      for (const std::string& body :
           {R"({"id":"u1","subject":")" + b + R"(","type":"t"})",
            R"({"id":")" + b + R"(","subject":"victim","type":"t"})",
            R"({"id":"u1","subject":"victim","type":"t","data":{")" + b + R"(":1}})",
            R"({")" + b + R"(":1})",
            R"({"id":"u1","subject":"victim","type":"t","context":{"user_agent":")" + b +
                R"("}})"}) {
        for (const std::string target : {"/api/quota/consume", "/api/usage/track"}) {
          const Response r = Post(target, body);
          EXPECT_TRUE(IsError(r, 400, "invalid_json")) << target << " " << Printable(body);
          bool ok = false;
          r.Json(&ok);
          EXPECT_TRUE(ok) << "the error body is not valid JSON: " << Printable(r.body);
        }
      }
      // In admin bodies too.
      EXPECT_TRUE(IsError(admin_->Put("/api/admin/users/victim", R"({"email":")" + b + R"("})"),
                          400, "invalid_json"));
    }
    // Escapes that are not characters.
    for (const std::string esc : {"\\ud800", "\\udc00", "\\ud800\\u0041", "\\udbff"}) {
      const Response r =
          Post("/api/quota/consume", R"({"id":"u2","subject":"victim","type":")" + esc + R"("})");
      EXPECT_TRUE(IsError(r, 400, "invalid_json")) << esc;
    }
    // Valid JSON with characters an id or name must not hold.
    EXPECT_TRUE(
        IsError(Post("/api/quota/consume", R"({"id":"a\u0000b","subject":"victim","type":"t"})"),
                422, "invalid_request", "id"));
    EXPECT_TRUE(
        IsError(Post("/api/quota/consume", R"({"id":"caf\u00e9","subject":"victim","type":"t"})"),
                422, "invalid_request", "id"));
    EXPECT_TRUE(
        IsError(Post("/api/quota/consume", R"({"id":"u3","subject":"vic\u0007tim","type":"t"})"),
                422, "invalid_request", "subject"));
    EXPECT_TRUE(
        IsError(Post("/api/quota/consume", R"({"id":"u3","subject":"victim","type":"a\nb"})"), 422,
                "invalid_request", "type"));
    // UTF-8 is fine in names.
    Accepted(
        Post("/api/quota/consume", R"({"id":"u4","subject":"victim","type":"caf\u00e9 \u2615"})"),
        0);
    // In the URL and headers: answered with valid JSON.
    for (const std::string target :
         {"/api/usage/current?user_id=%FF%FE", "/api/usage/current?user_id=%C0%AF",
          "/api/admin/users/%ED%A0%80", "/api/quota/reservations/%FF"}) {
      const Response r = target.find("reservations") != std::string::npos ? service_->Delete(target)
                                                                          : admin_->Get(target);
      EXPECT_TRUE(r.status == 404 || r.status == 422) << target << ": " << r.Describe();
      EXPECT_TRUE(IsError(r, r.status, r.status == 404 ? "not_found" : "invalid_request"))
          << target;
    }
    HttpClient raw(server_->address());
    ASSERT_TRUE(raw.WriteRaw(RawRequest("GET", "/api/\xff\xfe", "")));
    Response r = raw.ReadResponse();
    EXPECT_TRUE(r.status == 404 || r.status == 422 || r.status == 400) << r.Describe();
    EXPECT_TRUE(IsError(r, r.status,
                        std::string(At(At(r.Json(), "error"), "code").is_string()
                                        ? At(At(r.Json(), "error"), "code").as_string()
                                        : "?")));
    r = raw.Request("GET", "/api/usage/current?user_id=victim", "",
                    {{"Authorization", "Bearer \xff\xfe\x80"}});
    EXPECT_TRUE(IsError(r, 401, "unauthorized"));
  }

  void UnknownSubjectsAndMeters() {
    for (const std::string target :
         {"/api/usage/current?user_id=nobody", "/api/quota/status?user_id=nobody",
          "/api/quota/history?user_id=nobody", "/api/admin/users/nobody"}) {
      EXPECT_TRUE(IsError(admin_->Get(target), 404, "not_found")) << target;
    }
    EXPECT_TRUE(
        IsError(admin_->Put("/api/quota/update",
                            json::value(json::object{
                                {"user_id", "nobody"}, {"quota_type", "chars"}, {"limit", 1}})),
                404, "not_found"));
    EXPECT_TRUE(
        IsError(admin_->Post("/api/quota/reset", json::value(json::object{{"user_id", "nobody"}})),
                404, "not_found"));
    // Unknown meters.
    EXPECT_TRUE(IsError(admin_->Get("/api/quota/status?user_id=victim&quota_type=bogus"), 422,
                        "invalid_request", "quota_type"));
    EXPECT_TRUE(IsError(admin_->Get("/api/quota/status?user_id=victim&quota_type="), 422,
                        "invalid_request", "quota_type"));
    EXPECT_TRUE(IsError(
        admin_->Put(
            "/api/quota/update",
            json::value(json::object{{"user_id", kVictim}, {"quota_type", "bogus"}, {"limit", 1}})),
        422, "invalid_request", "quota_type"));
    EXPECT_TRUE(IsError(
        admin_->Post("/api/quota/reset",
                     json::value(json::object{{"user_id", kVictim}, {"quota_type", "bogus"}})),
        422, "invalid_request", "quota_type"));
    EXPECT_TRUE(
        IsError(admin_->Put("/api/admin/users/victim",
                            json::value(json::object{{"overrides", json::object{{"bogus", 1}}}})),
                422, "invalid_request", "overrides.bogus"));
    EXPECT_TRUE(
        IsError(admin_->Put("/api/admin/tiers/test",
                            json::value(json::object{
                                {"quotas", json::object{{"bogus", json::object{{"limit", 1}}}}}})),
                422, "invalid_request"));
    EXPECT_TRUE(IsError(
        admin_->Put(
            "/api/admin/tiers/test",
            json::value(json::object{
                {"rate_limits", json::array{json::object{{"meter", "bogus"}, {"rate", 1}}}}})),
        422, "invalid_request"));
    // Fields no meter reads are carried, not counted.
    Accepted(Post("/api/quota/consume",
                  json::value(EventBody("m1", kVictim, json::object{{"bogus", 5}}))),
             0);
    // Unknown subjects on writes are created (auto_create_subjects): counted for them, not the
    // victim.
    Accepted(Post("/api/usage/track", json::value(EventBody("m2", "newcomer"))), 0,
             /*victim=*/false);
    EXPECT_EQ(CurrentUsed(*admin_, "newcomer", "requests"), 1);
    // Reservations that do not exist.
    EXPECT_TRUE(IsError(service_->Delete("/api/quota/reservations/none"), 404, "not_found"));
    EXPECT_TRUE(IsError(service_->Post("/api/quota/reservations/none/commit", std::string("{}")),
                        404, "not_found"));
  }

  void BadDates() {
    const int64_t now = NowSeconds();
    auto at = [](const std::string& time) {
      return json::value(
          json::object{{"id", "dt"}, {"subject", kVictim}, {"type", "t"}, {"time", time}});
    };
    for (const std::string& t :
         {std::string("yesterday"), std::string("2026-13-01T00:00:00Z"),
          std::string("2026-02-30T00:00:00Z"), std::string("2026-01-01"),
          std::string("2026-01-01T00:00:00"), std::string("1970-01-01T00:00:00Z"),
          std::string("0000-01-01T00:00:00Z"), std::string("9999-12-31T23:59:59Z"),
          std::string("10000-01-01T00:00:00Z"), std::string("2026-01-01T25:00:00Z"),
          std::string("2026-01-01T00:60:00Z"), std::string(""), std::string(" "),
          std::string("2026-01-01T00:00:00+25:00"), std::string("2026-01-01T00:00:00Zjunk"),
          Rfc3339(now - 40 * 86400), Rfc3339(now + 3600), Rfc3339(now + 3600, 120).substr(0, 19)}) {
      for (const std::string target :
           {"/api/quota/consume", "/api/usage/track", "/api/quota/check"}) {
        EXPECT_TRUE(IsError(Post(target, at(t)), 422, "invalid_request", "time"))
            << target << " time " << t;
      }
    }
    // Accepted: late within the window, and with an offset.
    Accepted(
        Post("/api/usage/track", json::value(json::object{{"id", "late"},
                                                          {"subject", kVictim},
                                                          {"type", "t"},
                                                          {"time", Rfc3339(now - 30 * 86400)}})),
        0);
    Accepted(
        Post("/api/quota/consume", json::value(json::object{{"id", "offset"},
                                                            {"subject", kVictim},
                                                            {"type", "t"},
                                                            {"time", Rfc3339(now - 60, 120)}})),
        0);
    for (const std::string q : {"from=yesterday", "to=2026-99-99T00:00:00Z", "from=2026-01-01"}) {
      const std::string field = q.substr(0, q.find('='));
      EXPECT_TRUE(IsError(admin_->Get("/api/quota/history?user_id=victim&" + q), 422,
                          "invalid_request", field))
          << q;
      EXPECT_TRUE(IsError(admin_->Get("/api/admin/audit?" + q), 422, "invalid_request", field))
          << q;
    }
  }

  void ReplayWithADifferentBody() {
    const json::object first = EventBody("dup", kVictim, json::object{{"chars", 5}});
    Accepted(Post("/api/quota/consume", json::value(first)), 5);
    const Response again = Post("/api/quota/consume", json::value(first));
    ASSERT_EQ(again.status, 200) << again.Describe();
    EXPECT_EQ(At(again.Json(), "replayed"), json::value(true));
    std::vector<json::object> variants;
    variants.push_back(EventBody("dup", kVictim, json::object{{"chars", 6}}));
    variants.push_back(EventBody("dup", kVictim, json::object{{"chars", 5}}, "other-type"));
    variants.push_back(EventBody("dup", "victim2", json::object{{"chars", 5}}));
    variants.push_back(EventBody("dup", kVictim, json::object{{"chars", 5}, {"tokens", 1}}));
    variants.push_back(EventBody("dup", kVictim));
    json::object timed = first;
    timed["time"] = Rfc3339(NowSeconds() - 3600);
    variants.push_back(timed);
    for (const json::object& v : variants) {
      for (const std::string target : {"/api/quota/consume", "/api/usage/track"}) {
        EXPECT_TRUE(IsError(Post(target, json::value(v)), 409, "conflict", "id"))
            << target << " " << json::serialize(v);
      }
    }
    // In a batch: the whole batch is refused.
    json::array batch{EventBody("fresh-in-batch", kVictim, json::object{{"chars", 100}}),
                      variants[0]};
    EXPECT_TRUE(IsError(Post("/api/usage/track", json::value(json::object{{"events", batch}})), 409,
                        "conflict"));
    // The same id twice within one batch, with two bodies.
    json::array twice{EventBody("twice", kVictim, json::object{{"chars", 1}}),
                      EventBody("twice", kVictim, json::object{{"chars", 2}})};
    const Response tw = Post("/api/usage/track", json::value(json::object{{"events", twice}}));
    EXPECT_TRUE(tw.status == 409 || tw.status == 422) << tw.Describe();
    EXPECT_TRUE(IsError(admin_->Get("/api/admin/users/victim2"), 404, "not_found"))
        << "a conflicting replay created a subject";
  }

  void GarbageInsteadOfHttp() {
    Response r = RawExchange("GARBAGE\r\n\r\n");
    EXPECT_EQ(r.status, 400) << "garbage instead of a request line";
    std::mt19937 rng(12345);
    std::string noise(4096, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    RawExchange(noise + "\r\n\r\n");
    RawExchange(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) +
                std::string(500, 'A') + "\r\n\r\n");
    EXPECT_EQ(RawExchange("GET / HTTP/9.9\r\n\r\n").status, 400);
    EXPECT_EQ(RawExchange("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n").status,
              400);
    EXPECT_EQ(RawExchange("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: "
                          "5\r\nContent-Length: 6\r\n\r\nhello")
                  .status,
              400);
    EXPECT_EQ(RawExchange("GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n").status, 400);
    EXPECT_EQ(
        RawExchange(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n")
            .status,
        400);
    EXPECT_EQ(
        RawExchange("POST /api/quota/consume HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    service_key_ + "\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n")
            .status,
        400);
    EXPECT_EQ(RawExchange("GET /healthz HTTP/1.1\r\n Host: folded\r\n\r\n").status, 400);
    // Both Content-Length and Transfer-Encoding (request smuggling): refused,
    // or at least the connection is closed after the answer (RawExchange).
    r = RawExchange("POST /api/quota/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    service_key_ +
                    "\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET "
                    "/healthz HTTP/1.1\r\n\r\n");
    EXPECT_NE(r.status, 200)
        << "a request with both Content-Length and Transfer-Encoding was processed";
    // A valid request followed by garbage: the first is answered, then 400.
    HttpClient mixed(server_->address());
    ASSERT_TRUE(mixed.WriteRaw(RawRequest("GET", "/healthz", "") + "GARBAGE\r\n\r\n"));
    r = mixed.ReadResponse();
    EXPECT_EQ(r.status, 200) << r.Describe();
    r = mixed.ReadResponse();
    EXPECT_EQ(r.status, 400) << r.Describe();
    // Pipelined requests are answered in order on one connection.
    HttpClient pipelined(server_->address());
    const std::string three =
        RawRequest("GET", "/healthz", "") + RawRequest("GET", "/readyz", "") +
        RawRequest("POST", "/api/quota/consume", service_key_,
                   json::serialize(EventBody("piped", kVictim, json::object{{"chars", 2}})));
    ASSERT_TRUE(pipelined.WriteRaw(three));
    r = pipelined.ReadResponse();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(At(r.Json(), "status"), json::value("ok")) << r.body;
    r = pipelined.ReadResponse();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(At(r.Json(), "status"), json::value("ready")) << r.body;
    r = pipelined.ReadResponse();
    Accepted(r, 2);
    // HTTP/1.0 works and closes.
    HttpClient old(server_->address());
    ASSERT_TRUE(old.WriteRaw("GET /healthz HTTP/1.0\r\n\r\n"));
    bool closed = false;
    r = ParseRawResponse(old.ReadUntilClose(milliseconds(5000), &closed));
    EXPECT_EQ(r.status, 200) << r.Describe();
    EXPECT_TRUE(closed);
    // A client that hangs up halfway through a body: nothing is applied.
    {
      HttpClient quitter(server_->address());
      const std::string body =
          json::serialize(EventBody("quitter", kVictim, json::object{{"chars", 1000}}));
      ASSERT_TRUE(quitter.WriteRaw(
          RawRequest("POST", "/api/quota/consume", service_key_, body)
              .substr(0,
                      RawRequest("POST", "/api/quota/consume", service_key_, body).size() - 10)));
      quitter.Close();
    }
  }

  // Valid but less common HTTP: Expect: 100-continue, a chunked body, a
  // client that asks to close, lower-case and repeated-space headers.
  void ProtocolEdges() {
    const std::string body =
        json::serialize(EventBody("edge-1", kVictim, json::object{{"chars", 4}}));
    HttpClient c(server_->address());
    ASSERT_TRUE(c.WriteRaw(
        "POST /api/quota/consume HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + service_key_ +
        "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n"));
    Response r = c.ReadResponse();
    EXPECT_EQ(r.status, 100) << r.Describe();
    ASSERT_TRUE(c.WriteRaw(body));
    r = c.ReadResponse();
    Accepted(r, 4);

    const std::string body2 =
        json::serialize(EventBody("edge-2", kVictim, json::object{{"chars", 5}}));
    std::string chunked =
        "POST /api/quota/consume HTTP/1.1\r\nhost: x\r\nauthorization:    Bearer " + service_key_ +
        "\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body2.size(); at += 7) {
      const std::string part = body2.substr(at, 7);
      char size[16];
      snprintf(size, sizeof(size), "%zx", part.size());
      chunked += std::string(size) + "\r\n" + part + "\r\n";
    }
    chunked += "0\r\n\r\n";
    ASSERT_TRUE(c.WriteRaw(chunked));
    r = c.ReadResponse();
    Accepted(r, 5);

    ASSERT_TRUE(c.WriteRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    bool closed = false;
    r = ParseRawResponse(c.ReadUntilClose(milliseconds(5000), &closed));
    EXPECT_EQ(r.status, 200) << r.Describe();
    EXPECT_FALSE(r.keep_alive);
    EXPECT_TRUE(closed) << "the server kept the connection after Connection: close";
  }

  void OversizedHeaders() {
    HttpClient c(server_->address(), service_key_);
    Response r = c.Request("GET", "/healthz", "", {{"X-Big", std::string(20 * 1024, 'h')}});
    EXPECT_EQ(r.status, 431) << r.Describe();
    EXPECT_TRUE(IsError(r, 431,
                        std::string(At(At(r.Json(), "error"), "code").is_string()
                                        ? At(At(r.Json(), "error"), "code").as_string()
                                        : "?")));
    Headers many;
    for (int i = 0; i < 2000; ++i) many.emplace_back("X-H" + std::to_string(i), "0123456789");
    r = c.Request("GET", "/healthz", "", many);
    EXPECT_EQ(r.status, 431) << r.Describe();
    r = c.Request("GET", "/healthz?pad=" + std::string(20 * 1024, 'p'));
    EXPECT_EQ(r.status, 431) << r.Describe();
    r = c.Request("GET", "/api/usage/current?user_id=victim", "",
                  {{"Authorization", "Bearer " + std::string(20 * 1024, 'k')}});
    EXPECT_EQ(r.status, 431) << r.Describe();
    // A header near the limit is fine.
    r = c.Request("GET", "/healthz", "", {{"X-Big", std::string(12 * 1024, 'h')}});
    EXPECT_EQ(r.status, 200) << r.Describe();
    // A write with a huge header is not applied.
    r = c.Request("POST", "/api/quota/consume", json::serialize(EventBody("big-header", kVictim)),
                  {{"X-Big", std::string(20 * 1024, 'h')}});
    EXPECT_EQ(r.status, 431) << r.Describe();
  }

  void SlowClients() {
    // Connections that send nothing, half a request line, half a header, or
    // a header and part of its body, and then wait.
    std::vector<std::unique_ptr<HttpClient>> slow;
    const std::string body =
        json::serialize(EventBody("slow", kVictim, json::object{{"chars", 777}}));
    const std::string full = RawRequest("POST", "/api/quota/consume", service_key_, body);
    const std::vector<std::string> partial = {"", "POST /api/quota/con",
                                              "POST /api/quota/consume HTTP/1.1\r\nHost: x\r\n",
                                              full.substr(0, full.size() - body.size() + 10)};
    for (int i = 0; i < 40; ++i) {
      auto c = std::make_unique<HttpClient>(server_->address());
      ASSERT_TRUE(c->Connect());
      if (!partial[i % 4].empty()) {
        ASSERT_TRUE(c->WriteRaw(partial[i % 4]));
      }
      slow.push_back(std::move(c));
    }
    // Others are served meanwhile, promptly.
    HttpClient fast(server_->address(), service_key_);
    fast.set_timeout(milliseconds(3000));
    for (int i = 0; i < 20; ++i) {
      const auto start = std::chrono::steady_clock::now();
      Response r = fast.Get("/healthz");
      EXPECT_EQ(r.status, 200) << r.Describe();
      r = fast.Post("/api/quota/consume",
                    json::value(EventBody("while-slow-" + std::to_string(i), kVictim)));
      Accepted(r, 0);
      r = fast.Get("/api/usage/current?user_id=victim");
      EXPECT_EQ(r.status, 200) << r.Describe();
      EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    }
    // New connections too.
    for (int i = 0; i < 5; ++i) {
      HttpClient another(server_->address());
      another.set_timeout(milliseconds(3000));
      EXPECT_EQ(another.Get("/readyz").status, 200);
    }
    // The slow ones hang up: their half-sent consume is never applied.
    slow.clear();
  }

  void ThousandKeepAliveRequests() {
    HttpClient c(server_->address(), service_key_);
    int consumes = 0;
    for (int i = 0; i < 1000; ++i) {
      Response r;
      switch (i % 10) {
        case 0:
          r = c.Post("/api/quota/consume", json::value(EventBody("ka-" + std::to_string(i), kVictim,
                                                                 json::object{{"chars", 3}})));
          Accepted(r, 3);
          ++consumes;
          break;
        case 1:
          r = c.Post("/api/quota/check",
                     json::value(EventBody("kc-" + std::to_string(i), kVictim)));
          break;
        case 2:
          r = c.Get("/api/usage/current?user_id=victim");
          if (r.status == 200) {
            EXPECT_EQ(UsedOf(At(r.Json(), "quotas"), "requests"), requests_);
          }
          break;
        case 3:
          r = c.Get("/api/quota/status?user_id=victim");
          break;
        default:
          r = c.Get("/healthz");
      }
      ASSERT_EQ(r.status, 200) << "request " << i << ": " << r.Describe();
      ASSERT_TRUE(r.keep_alive) << "request " << i << " closed the connection";
    }
    EXPECT_EQ(c.connects(), 1) << "the 1,000 requests needed more than one connection";
    EXPECT_EQ(consumes, 100);
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> admin_;
  std::unique_ptr<HttpClient> service_;
  std::string service_key_;
  std::string registry_;
  int64_t requests_ = 0;  // the victim's accepted events
  int64_t chars_ = 0;     // and their chars
  int64_t events_ = 0;    // accepted events of every subject
  int canaries_ = 0;
};

TEST_F(HttpHostileTest, MalformedJson) { MalformedJson(); }
TEST_F(HttpHostileTest, WrongTypesAndMissingFields) { WrongTypesAndMissingFields(); }
// Regression (found by this test, since fixed): a bulk update that is not an object
// is reported with field "updates[1]." and message "updates[1].: must be an
// object" (admin_handlers.cc Bulk: InvalidRequest(prefix + "", ...) with a
// prefix that ends in "."). The field should name the element: "updates[1]".
TEST_F(HttpHostileTest, ABulkUpdateThatIsNotAnObjectIsNamedByItsIndex) {
  const Response r = admin_->Post("/api/admin/quota/bulk",
                                  R"({"updates":[{"user_id":"victim","tier":"free"},5]})");
  EXPECT_TRUE(IsError(r, 422, "invalid_request", "updates[1]"));
  EXPECT_EQ(std::string(At(At(r.Json(), "error"), "message").as_string()).rfind("updates[1]: ", 0),
            0u)
      << r.body;
}
TEST_F(HttpHostileTest, NegativeOverflowingAndFractionalNumbers) { BadNumbers(); }
TEST_F(HttpHostileTest, HugeStrings) { HugeStrings(); }
TEST_F(HttpHostileTest, DeepNesting) { DeepNesting(); }
TEST_F(HttpHostileTest, InvalidUtf8) { InvalidUtf8(); }
TEST_F(HttpHostileTest, UnknownSubjectsAndMeters) { UnknownSubjectsAndMeters(); }
TEST_F(HttpHostileTest, BadDates) { BadDates(); }
TEST_F(HttpHostileTest, ReplayWithADifferentBody) { ReplayWithADifferentBody(); }
TEST_F(HttpHostileTest, GarbageInsteadOfHttp) { GarbageInsteadOfHttp(); }
TEST_F(HttpHostileTest, HeadersLargerThan16KiBAre431) { OversizedHeaders(); }
TEST_F(HttpHostileTest, ContinueChunkedAndClose) { ProtocolEdges(); }
TEST_F(HttpHostileTest, SlowClientsDoNotStopOthers) { SlowClients(); }
TEST_F(HttpHostileTest, AThousandRequestsOnOneKeepAliveConnection) { ThousandKeepAliveRequests(); }

// Everything above against one server, which must come out intact.
TEST_F(HttpHostileTest, AllOfItAgainstOneServer) {
  MalformedJson();
  WrongTypesAndMissingFields();
  BadNumbers();
  HugeStrings();
  DeepNesting();
  InvalidUtf8();
  UnknownSubjectsAndMeters();
  BadDates();
  ReplayWithADifferentBody();
  GarbageInsteadOfHttp();
  ProtocolEdges();
  OversizedHeaders();
  SlowClients();
  ThousandKeepAliveRequests();
}

}  // namespace
}  // namespace tally::http_test
