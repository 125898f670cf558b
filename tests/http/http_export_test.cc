// GET /api/usage/export against the real `tally serve`: every format × kind,
// RFC 4180 quoting checked with a real CSV parser (Python's csv module) and
// JSON with Boost.JSON, who may export what, parameter errors, and streams
// that clients abandon (no leaked producer thread, the server keeps serving,
// SIGTERM still drains). The million-row run is export_million_test.cc.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "http_client.h"
#include "server_process.h"
#include "test_support.h"

namespace tally::http_test {
namespace {

using Row = std::map<std::string, std::string>;

constexpr char kConfig[] = R"toml(
[subjects.alice]
timezone = "UTC"

[subjects.bob]
timezone = "Asia/Tokyo"
)toml";

// User agents that need quoting in CSV and escaping in JSON.
const std::vector<std::string> kAgents = {
    "Mozilla/5.0 (X11; Linux x86_64), like Gecko",
    "say \"hi\", then \"bye\"",
    "two\r\nlines\nand a bare LF",
    "Bär-Browser/2.0 日本語 😀",
    "trailing comma,",
    "",
};

std::string Iso(int64_t seconds) {
  char buf[32];
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Runs Python's csv module over `text`; the records as a JSON array of arrays.
json::array PythonCsv(const std::string& text, const std::string& dir) {
  const std::string in = dir + "/export.csv";
  const std::string out = dir + "/export.json";
  {
    std::ofstream f(in, std::ios::binary);
    f << text;
  }
  const std::string cmd =
      "python3 -c 'import csv, json, sys; "
      "rows = list(csv.reader(open(sys.argv[1], newline=\"\", encoding=\"utf-8\"), strict=True)); "
      "json.dump(rows, open(sys.argv[2], \"w\"), ensure_ascii=False)' " +
      in + " " + out;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream f(out, std::ios::binary);
  const std::string parsed((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  boost::system::error_code ec;
  json::value v = json::parse(parsed, ec);
  EXPECT_FALSE(ec) << parsed.substr(0, 300);
  return v.is_array() ? v.as_array() : json::array();
}

std::string Text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "";
  return json::serialize(v);
}

// Flattens one JSON row: "data.chars", "context.user_agent", meters by name.
Row FromJson(const json::object& o) {
  Row row;
  for (const auto& [key, value] : o) {
    if (value.is_object()) {
      for (const auto& [k, v] : value.as_object()) {
        row[std::string(key) == "meters" ? std::string(k) : std::string(key) + "." + std::string(k)] = Text(v);
      }
    } else {
      row[std::string(key)] = Text(value);
    }
  }
  return row;
}

// The rows of an export body in any format, flattened alike.
std::vector<Row> Rows(const std::string& format, const std::string& body, const std::string& dir) {
  std::vector<Row> rows;
  if (format == "csv") {
    const json::array records = PythonCsv(body, dir);
    if (records.empty()) return rows;
    std::vector<std::string> header;
    for (const json::value& h : records[0].as_array()) header.push_back(std::string(h.as_string()));
    static const std::set<std::string> kContext = {"session_id", "ip",     "user_agent", "endpoint",
                                                   "method",     "processing_ms", "error_code"};
    for (size_t i = 1; i < records.size(); ++i) {
      const json::array& fields = records[i].as_array();
      EXPECT_EQ(fields.size(), header.size());
      Row row;
      for (size_t c = 0; c < header.size() && c < fields.size(); ++c) {
        const std::string value(fields[c].as_string());
        if (header[c] == "data") {
          size_t start = 0;
          while (start < value.size()) {
            size_t end = value.find(';', start);
            if (end == std::string::npos) end = value.size();
            const std::string item = value.substr(start, end - start);
            row["data." + item.substr(0, item.find('='))] = item.substr(item.find('=') + 1);
            start = end + 1;
          }
        } else if (kContext.count(header[c])) {
          if (!value.empty()) row["context." + header[c]] = value;
        } else if (!value.empty()) {
          row[header[c]] = value;
        }
      }
      rows.push_back(std::move(row));
    }
  } else if (format == "json") {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    EXPECT_FALSE(ec) << body.substr(0, 300);
    EXPECT_TRUE(v.is_array());
    if (v.is_array()) {
      for (const json::value& o : v.as_array()) rows.push_back(FromJson(o.as_object()));
    }
  } else {
    EXPECT_TRUE(body.empty() || body.back() == '\n');
    size_t start = 0;
    while (start < body.size()) {
      const size_t nl = body.find('\n', start);
      boost::system::error_code ec;
      const json::value v = json::parse(body.substr(start, nl - start), ec);
      EXPECT_FALSE(ec) << body.substr(start, 200);
      if (v.is_object()) rows.push_back(FromJson(v.as_object()));
      start = nl == std::string::npos ? body.size() : nl + 1;
    }
  }
  return rows;
}

// Threads of the server process, or -1.
int ServerThreads(const ServerProcess& server) {
  return static_cast<int>(ProcStatus(server.pid(), "Threads"));
}

class HttpExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(ServerSetup{.config = kConfig});
    ASSERT_TRUE(server_->Start());
    admin_ = std::make_unique<HttpClient>(server_->Client());
    const std::string key = CreateKey(*admin_, "service", json::object{{"name", "backend"}});
    ASSERT_FALSE(key.empty());
    service_ = std::make_unique<HttpClient>(server_->Client(key));
    base_ = (NowSeconds() / 3600 - 72) * 3600;  // three days ago, on the hour
  }

  void TearDown() override {
    if (server_ == nullptr || !server_->running()) return;
    admin_.reset();
    service_.reset();
    int signal = 0;
    const std::optional<int> code = server_->Stop(std::chrono::seconds(40), &signal);
    EXPECT_EQ(code, std::optional<int>(0)) << "signal " << signal << "; log:\n" << server_->Log();
  }

  // Tracks `events` in one batch.
  void Track(const json::array& events) {
    const Response r = service_->Post("/api/usage/track", json::value(json::object{{"events", events}}));
    ASSERT_EQ(r.status, 200) << r.Describe();
  }

  json::object Event(const std::string& id, const std::string& subject, int64_t at, int64_t chars,
                     const std::string& agent, const std::string& type = "fix") {
    json::object context{{"ip", "203.0.113.9"}, {"processing_ms", 12}};
    if (!agent.empty()) context["user_agent"] = agent;
    return json::object{{"id", id},
                        {"subject", subject},
                        {"type", type},
                        {"time", Iso(at)},
                        {"data", json::object{{"chars", chars}, {"tokens", 2}}},
                        {"context", context}};
  }

  // alice: 12 events over two days, one per kAgents entry twice; bob: 4 "chat" events.
  std::vector<json::object> TrackSample() {
    std::vector<json::object> sent;
    for (int i = 0; i < 12; ++i) {
      sent.push_back(Event("a" + std::to_string(i), "alice", base_ + i * 4 * 3600 + 59, 100 + i,
                           kAgents[static_cast<size_t>(i) % kAgents.size()]));
    }
    for (int i = 0; i < 4; ++i) {
      sent.push_back(Event("b" + std::to_string(i), "bob", base_ + i * 7 * 3600, 1000, "curl/8", "chat"));
    }
    json::array batch;
    for (const json::object& e : sent) batch.push_back(e);
    Track(batch);
    return sent;
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> admin_;
  std::unique_ptr<HttpClient> service_;
  int64_t base_ = 0;
};

TEST_F(HttpExportTest, EveryFormatAndKind) {
  const std::vector<json::object> sent = TrackSample();
  int64_t total_chars = 0;
  for (const json::object& e : sent) total_chars += e.at("data").at("chars").as_int64();
  const std::map<std::string, std::string> types = {
      {"csv", "text/csv; charset=utf-8"}, {"json", "application/json"}, {"ndjson", "application/x-ndjson"}};
  for (const auto& [format, content_type] : types) {
    for (const std::string kind : {"events", "hourly", "daily", "monthly"}) {
      SCOPED_TRACE(format + " " + kind);
      const Response r = service_->Get("/api/usage/export?format=" + format + "&kind=" + kind);
      ASSERT_EQ(r.status, 200) << r.Describe();
      EXPECT_EQ(r.Header("Content-Type"), content_type);
      EXPECT_EQ(r.Header("Transfer-Encoding"), "chunked");
      EXPECT_NE(r.Header("Content-Disposition").find("attachment; filename=\"tally-" + kind), std::string::npos)
          << r.Header("Content-Disposition");
      const std::vector<Row> rows = Rows(format, r.body, server_->dir());
      int64_t events = 0, chars = 0;
      std::set<std::string> subjects;
      for (const Row& row : rows) {
        subjects.insert(row.at("subject"));
        if (kind == "events") {
          ++events;
          chars += std::stoll(row.at("data.chars"));
        } else {
          events += std::stoll(row.at("events"));
          chars += std::stoll(row.at("chars"));
          EXPECT_EQ(row.count("requests"), 1u);
        }
      }
      EXPECT_EQ(events, static_cast<int64_t>(sent.size()));
      EXPECT_EQ(chars, total_chars);
      EXPECT_EQ(subjects, (std::set<std::string>{"alice", "bob"}));
      if (kind == "events") {
        EXPECT_EQ(rows.size(), sent.size());
      } else if (kind == "hourly") {
        EXPECT_EQ(rows.size(), sent.size());  // one event per hour
      }
      if (kind == "daily") {
        for (const Row& row : rows) {  // each subject's own zone: Tokyo days start at 15:00Z
          EXPECT_NE(row.at("start").find(row.at("subject") == "bob" ? "T15:00:00Z" : "T00:00:00Z"),
                    std::string::npos)
              << row.at("start");
        }
      }
    }
  }
  // The meter filter: usage columns, and events the meter applies to.
  Response r = service_->Get("/api/usage/export?format=csv&kind=daily&meter=tokens&tz=UTC");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.body.substr(0, r.body.find("\r\n")), "subject,type,start,end,events,errors,tokens");
  r = service_->Get("/api/usage/export?format=ndjson&type=chat");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Rows("ndjson", r.body, server_->dir()).size(), 4u);
  // A range: events in [from, to).
  r = service_->Get("/api/usage/export?format=json&from=" + Iso(base_) + "&to=" + Iso(base_ + 8 * 3600 + 59));
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Rows("json", r.body, server_->dir()).size(), 2u + 2u);  // a0, a1; b0, b1
  // HEAD: the head alone.
  r = service_->Request("HEAD", "/api/usage/export?format=csv");
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_TRUE(r.body.empty());
  // Nothing matches: an empty export, still well formed.
  r = service_->Get("/api/usage/export?format=json&type=nothing");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.Json(), json::value(json::array()));
}

TEST_F(HttpExportTest, CsvQuotingSurvivesARealCsvParserExactly) {
  const std::vector<json::object> sent = TrackSample();
  const Response r = service_->Get("/api/usage/export?format=csv&user_id=alice");
  ASSERT_EQ(r.status, 200) << r.Describe();
  const json::array records = PythonCsv(r.body, server_->dir());
  ASSERT_EQ(records.size(), 1u + 12u);
  EXPECT_EQ(Text(records[0].as_array()[0]), "seq");
  EXPECT_EQ(records[0].as_array().size(), 17u);
  for (size_t i = 0; i < 12; ++i) {
    const json::array& f = records[i + 1].as_array();
    ASSERT_EQ(f.size(), 17u);
    const json::object& e = sent[i];
    EXPECT_EQ(Text(f[1]), Text(e.at("id")));
    EXPECT_EQ(Text(f[2]), "alice");
    EXPECT_EQ(Text(f[4]), "fix");
    EXPECT_EQ(Text(f[5]), Text(e.at("time")));
    EXPECT_EQ(Text(f[7]), "track");
    EXPECT_EQ(Text(f[9]), "chars=" + Text(e.at("data").at("chars")) + ";tokens=2");
    EXPECT_EQ(Text(f[11]), "203.0.113.9");
    EXPECT_EQ(Text(f[12]), kAgents[i % kAgents.size()]) << "row " << i;
    EXPECT_EQ(Text(f[15]), "12");
  }
  // JSON keeps the same strings.
  const Response j = service_->Get("/api/usage/export?format=json&user_id=alice");
  ASSERT_EQ(j.status, 200) << j.Describe();
  const std::vector<Row> rows = Rows("json", j.body, server_->dir());
  ASSERT_EQ(rows.size(), 12u);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string agent = kAgents[i % kAgents.size()];
    EXPECT_EQ(rows[i].count("context.user_agent") ? rows[i].at("context.user_agent") : "", agent);
  }
}

TEST_F(HttpExportTest, AUserTokenExportsOnlyItsOwnSubject) {
  TrackSample();
  HttpClient alice = server_->Client(UserToken("alice"));
  for (const std::string kind : {"events", "daily"}) {
    Response r = alice.Get("/api/usage/export?format=ndjson&kind=" + kind);
    ASSERT_EQ(r.status, 200) << r.Describe();
    const std::vector<Row> rows = Rows("ndjson", r.body, server_->dir());
    EXPECT_FALSE(rows.empty());
    for (const Row& row : rows) EXPECT_EQ(row.at("subject"), "alice");
    r = alice.Get("/api/usage/export?format=ndjson&kind=" + kind + "&user_id=alice");
    EXPECT_EQ(r.status, 200) << r.Describe();
    r = alice.Get("/api/usage/export?kind=" + kind + "&user_id=bob");
    EXPECT_TRUE(IsError(r, 403, "forbidden", "user_id")) << r.Describe();
  }
  // A service key names one subject, or none for all.
  Response r = service_->Get("/api/usage/export?format=ndjson&user_id=bob");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Rows("ndjson", r.body, server_->dir()).size(), 4u);
  r = service_->Get("/api/usage/export?user_id=nobody");
  EXPECT_TRUE(IsError(r, 404, "not_found")) << r.Describe();
  HttpClient anyone(server_->address());
  EXPECT_EQ(anyone.Get("/api/usage/export").status, 401);
}

TEST_F(HttpExportTest, BadParametersAre422WithTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"format=xml", "format"},
      {"kind=weekly", "kind"},
      {"from=yesterday", "from"},
      {"to=2026-13-01T00:00:00Z", "to"},
      {"from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from"},
      {"from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", "from"},
      {"meter=bytes", "meter"},
      {"meter=chars,,tokens", "meter"},
      {"kind=daily&tz=Mars/Olympus_Mons", "tz"},
      {"tz=", "tz"},
      {"type=", "type"},
      {"user_id=", "user_id"},
      {"kind=hourly&from=0001-01-01T00:00:00Z&to=9999-01-01T00:00:00Z", "to"},
      {"colour=red", "colour"},
  };
  for (const auto& [query, field] : cases) {
    const Response r = service_->Get("/api/usage/export?" + query);
    EXPECT_TRUE(IsError(r, 422, "invalid_request", field)) << query << ": " << r.Describe();
  }
  // Hostile values are refused, never echoed raw or crashing.
  Response r = service_->Get("/api/usage/export?meter=%22%0D%0A" + std::string(3000, 'x'));
  EXPECT_TRUE(IsError(r, 422, "invalid_request", "meter")) << r.Describe();
  r = service_->Get("/api/usage/export?format=csv");
  EXPECT_EQ(r.status, 200) << r.Describe();
}

TEST_F(HttpExportTest, AbandonedStreamsStopTheirProducersAndTheServerKeepsServing) {
  // ~25 MB of CSV: far more than the socket buffers, so a client that does
  // not read holds its producer blocked on the full queue.
  const std::string agent(300, 'u');
  for (int b = 0; b < 6; ++b) {
    json::array batch;
    for (int i = 0; i < 10'000; ++i) {
      const int n = b * 10'000 + i;
      batch.push_back(Event("e" + std::to_string(n), "s" + std::to_string(n % 50), base_ + n, 1, agent));
    }
    Track(batch);
  }
  const int idle_threads = ServerThreads(*server_);
  ASSERT_GT(idle_threads, 0);
  const std::string request = "GET /api/usage/export?format=csv HTTP/1.1\r\nHost: tally\r\nAuthorization: Bearer " +
                              std::string(kAdminKey) + "\r\n\r\n";
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    std::vector<HttpClient> stuck;
    for (int i = 0; i < 4; ++i) {
      stuck.emplace_back(server_->address(), kAdminKey);
      stuck.back().set_receive_buffer(4096);
      ASSERT_TRUE(stuck.back().WriteRaw(request));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    // Four producers run (and block): a fifth export is refused, not queued.
    Response busy = admin_->Get("/api/usage/export?format=csv");
    EXPECT_TRUE(IsError(busy, 503, "unavailable")) << busy.Describe();
    EXPECT_EQ(busy.Header("Retry-After"), "1");
    EXPECT_GE(ServerThreads(*server_), idle_threads + 4);
    // Other requests are served meanwhile: no I/O thread is blocked.
    EXPECT_EQ(admin_->Get("/healthz").status, 200);
    // Every producer notices its client left, stops, and its thread ends.
    const auto closed = std::chrono::steady_clock::now();
    for (HttpClient& c : stuck) c.Close();
    int threads = -1;
    for (int attempt = 0; attempt < 100; ++attempt) {
      threads = ServerThreads(*server_);
      if (threads <= idle_threads) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_LE(threads, idle_threads) << "producer threads left behind";
    std::printf("producers stopped %lld ms after their clients left\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - closed)
                                           .count()));
  }
  // Exports work again.
  Response r = admin_->Get("/api/usage/export?format=ndjson&user_id=s7");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Rows("ndjson", r.body, server_->dir()).size(), 60'000u / 50);

  // A whole export read by a client: complete, and the connection reusable.
  r = admin_->Get("/api/usage/export?format=json");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Rows("json", r.body, server_->dir()).size(), 60'000u);
  const int connects = admin_->connects();
  EXPECT_EQ(admin_->Get("/healthz").status, 200);
  EXPECT_EQ(admin_->connects(), connects);

  // SIGTERM with an export in flight: the drain waits for it; once its
  // client goes, the server exits 0.
  HttpClient slow(server_->address(), kAdminKey);
  slow.set_receive_buffer(4096);
  ASSERT_TRUE(slow.WriteRaw(request));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server_->Terminate();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_GT(ServerThreads(*server_), 0) << "exited without waiting for the stream";
  slow.Close();
  int signal = 0;
  const std::optional<int> code = server_->WaitExit(std::chrono::seconds(20), &signal);
  EXPECT_EQ(code, std::optional<int>(0)) << "signal " << signal << "; log:\n" << server_->Log();
}

}  // namespace
}  // namespace tally::http_test
