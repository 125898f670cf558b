#include "analytics/export_writer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "analytics/exporter.h"
#include "core/meter.h"
#include "store/memory_store.h"

namespace tally {
namespace {

namespace json = boost::json;

Micros At(std::string_view rfc3339) {
  const std::optional<Micros> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(0);
}

EventRecord Full() {
  EventRecord r;
  r.event.id = "evt-1";
  r.event.subject = "alice";
  r.event.type = "api_call";
  r.event.time = At("2026-03-08T07:00:00.123456Z");
  r.event.data = {{"tokens", 10}, {"chars", 523}};  // not sorted: order is kept
  r.event.context = {"sess,1", "203.0.113.9", "Mozilla/5.0 \"Bär\" 日本語\r\nX: y", "/v1/fix",
                     "POST",   12,            "E\tTIMEOUT"};
  r.org = "acme";
  r.received = At("2026-03-08T07:00:01Z");
  r.origin = EventRecord::Origin::kCommit;
  r.reservation_id = "res-9";
  return r;
}

EventRecord Minimal() {
  EventRecord r;
  r.event.id = "e";
  r.event.subject = "s";
  r.event.type = "t";
  r.event.time = At("1969-12-31T23:59:59.999999Z");
  return r;
}

// Random printable-or-not UTF-8 text, with the characters CSV and JSON escape.
std::string RandomText(std::mt19937& rng, size_t max_len) {
  static const std::vector<std::string> kPieces = {
      "a", "Z", "0", ",", "\"", "\r", "\n", "\r\n", "\\", "\t", " ", "é", "日本", "😀", std::string(1, '\x01'), ";", "="};
  std::string s;
  const size_t n = rng() % (max_len + 1);
  for (size_t i = 0; i < n; ++i) s += kPieces[rng() % kPieces.size()];
  return s;
}

EventRecord RandomRecord(std::mt19937& rng) {
  EventRecord r;
  r.event.id = "id-" + std::to_string(rng());
  r.event.subject = "sub," + RandomText(rng, 4) + "x";
  r.event.type = "t\"" + RandomText(rng, 3) + "y";
  r.event.time = static_cast<Micros>(rng() % 4'000'000'000ULL) * kMicrosPerSecond / 2 + (rng() % 2 ? 0 : rng() % 1'000'000);
  // Sometimes days apart: the writer caches dates.
  r.received = r.event.time + static_cast<Micros>(rng() % 2 ? rng() % 1000 : rng() % (3 * kMicrosPerDay));
  for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i) {
    r.event.data.emplace_back("k" + std::to_string(i) + (i % 2 ? ".x" : "_-"), static_cast<int64_t>(rng()));
  }
  if (rng() % 3 == 0) r.event.data.emplace_back("big", INT64_MAX);
  EventContext& c = r.event.context;
  c.session_id = RandomText(rng, 3);
  c.ip = rng() % 2 ? "::1" : "";
  c.user_agent = RandomText(rng, 8);
  c.endpoint = RandomText(rng, 2);
  c.method = rng() % 2 ? "GET" : "";
  c.processing_ms = rng() % 3 == 0 ? -1 : static_cast<int64_t>(rng() % 5000);
  c.error_code = RandomText(rng, 2);
  r.org = rng() % 2 ? "org\n1" : "";
  r.origin = static_cast<EventRecord::Origin>(rng() % 3);
  r.reservation_id = r.origin == EventRecord::Origin::kCommit ? "r-" + RandomText(rng, 2) : "";
  return r;
}

TEST(EventJson, WritesTheDocumentedObject) {
  std::string out;
  AppendEventJson(12, Full(), out);
  EXPECT_EQ(out,
            "{\"seq\":12,\"id\":\"evt-1\",\"subject\":\"alice\",\"org\":\"acme\",\"type\":\"api_call\","
            "\"time\":\"2026-03-08T07:00:00.123456Z\",\"received\":\"2026-03-08T07:00:01Z\","
            "\"origin\":\"commit\",\"reservation_id\":\"res-9\",\"data\":{\"tokens\":10,\"chars\":523},"
            "\"context\":{\"session_id\":\"sess,1\",\"ip\":\"203.0.113.9\","
            "\"user_agent\":\"Mozilla/5.0 \\\"Bär\\\" 日本語\\r\\nX: y\",\"endpoint\":\"/v1/fix\","
            "\"method\":\"POST\",\"processing_ms\":12,\"error_code\":\"E\\tTIMEOUT\"}}");
  // And it is JSON that a real parser reads back to the same strings.
  const json::value v = json::parse(out);
  EXPECT_EQ(v.at("context").at("user_agent").as_string(), Full().event.context.user_agent);
}

TEST(EventJson, LeavesOutEmptyFields) {
  std::string out;
  AppendEventJson(1, Minimal(), out);
  EXPECT_EQ(out,
            "{\"seq\":1,\"id\":\"e\",\"subject\":\"s\",\"type\":\"t\",\"time\":\"1969-12-31T23:59:59.999999Z\","
            "\"received\":\"1970-01-01T00:00:00Z\",\"origin\":\"track\",\"data\":{}}");
}

TEST(EventJson, RoundTripsExactly) {
  std::mt19937 rng(7);
  std::vector<EventRecord> records = {Full(), Minimal()};
  for (int i = 0; i < 2000; ++i) records.push_back(RandomRecord(rng));
  for (size_t i = 0; i < records.size(); ++i) {
    std::string line;
    AppendEventJson(i + 1, records[i], line);
    absl::StatusOr<std::pair<uint64_t, EventRecord>> back = ParseEventJson(line);
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << line;
    EXPECT_EQ(back->first, i + 1);
    EXPECT_EQ(back->second, records[i]) << line;
    // The time strings are FormatRfc3339's.
    const json::value v = json::parse(line);
    EXPECT_EQ(v.at("time").as_string(), FormatRfc3339(records[i].event.time));
    EXPECT_EQ(v.at("received").as_string(), FormatRfc3339(records[i].received));
  }
}

TEST(EventJson, RejectsBadInputNamingTheField) {
  auto error = [](std::string_view line) {
    absl::StatusOr<std::pair<uint64_t, EventRecord>> r = ParseEventJson(line);
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  EXPECT_EQ(error("{\"id\":\"e\",\"subject\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\"}"), "ok");
  EXPECT_EQ(error("{\"subject\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\"}"), "id: is required");
  EXPECT_EQ(error("{\"id\":\"e\",\"subject\":\"s\",\"type\":\"t\",\"time\":\"yesterday\"}").substr(0, 5), "time:");
  EXPECT_EQ(error("{\"id\":\"e\",\"subject\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\",\"data\":{\"a\":-1}}")
                .substr(0, 7),
            "data.a:");
  EXPECT_EQ(error("{\"id\":\"e\",\"subject\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\",\"data\":{\"a\":1.5}}")
                .substr(0, 7),
            "data.a:");
  EXPECT_EQ(error("{\"id\":\"e\",\"subject\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\",\"nope\":1}"),
            "nope: unknown field");
  EXPECT_EQ(error("{\"id\":\"e\",\"subject\":\"s\",\"type\":\"t\",\"time\":\"2026-01-01T00:00:00Z\",\"origin\":\"x\"}")
                .substr(0, 7),
            "origin:");
  EXPECT_NE(error("[1,2]"), "ok");
  EXPECT_NE(error("{\"id\":"), "ok");
  EXPECT_NE(error(""), "ok");
  EXPECT_NE(error(std::string(10000, '[')), "ok");
}

TEST(EventCsv, QuotesPerRfc4180) {
  std::string out;
  AppendCsvField("plain", out);
  out += '|';
  AppendCsvField("a,b", out);
  out += '|';
  AppendCsvField("say \"hi\"", out);
  out += '|';
  AppendCsvField("two\r\nlines", out);
  out += '|';
  AppendCsvField("Bär 日本", out);
  out += '|';
  AppendCsvField("", out);
  EXPECT_EQ(out, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\r\nlines\"|Bär 日本|");
}

TEST(EventCsv, WritesTheDocumentedRecord) {
  std::string out;
  AppendEventCsv(12, Full(), out);
  EXPECT_EQ(out,
            "12,evt-1,alice,acme,api_call,2026-03-08T07:00:00.123456Z,2026-03-08T07:00:01Z,commit,res-9,"
            "tokens=10;chars=523,\"sess,1\",203.0.113.9,\"Mozilla/5.0 \"\"Bär\"\" 日本語\r\nX: y\",/v1/fix,POST,12,"
            "E\tTIMEOUT\r\n");
}

TEST(EventCsv, RoundTripsExactlyThroughTheRecordParser) {
  std::mt19937 rng(11);
  std::vector<EventRecord> records = {Full(), Minimal()};
  for (int i = 0; i < 2000; ++i) records.push_back(RandomRecord(rng));
  ExportWriter writer(ExportFormat::kCsv, ExportKind::kEvents);
  std::string text;
  writer.Begin(text);
  for (size_t i = 0; i < records.size(); ++i) writer.AddEvent(i + 1, records[i], text);
  writer.End(text);
  size_t pos = 0;
  absl::StatusOr<std::vector<std::string>> header = ParseCsvRecord(text, &pos);
  ASSERT_TRUE(header.ok());
  ASSERT_EQ(header->size(), 17u);
  EXPECT_EQ((*header)[0], "seq");
  EXPECT_EQ((*header)[16], "error_code");
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_LT(pos, text.size());
    absl::StatusOr<std::vector<std::string>> fields = ParseCsvRecord(text, &pos);
    ASSERT_TRUE(fields.ok()) << fields.status();
    absl::StatusOr<std::pair<uint64_t, EventRecord>> back = ParseEventCsv(*fields);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->first, i + 1);
    EXPECT_EQ(back->second, records[i]);
  }
  EXPECT_EQ(pos, text.size());
}

TEST(CsvRecord, ParsesEdgeCasesAndRejectsMalformedInput) {
  auto parse = [](std::string_view text) {
    size_t pos = 0;
    absl::StatusOr<std::vector<std::string>> r = ParseCsvRecord(text, &pos);
    std::string joined = r.ok() ? "" : "error";
    if (r.ok()) {
      for (const std::string& f : *r) joined += "[" + f + "]";
    }
    return joined;
  };
  EXPECT_EQ(parse("a,b\r\nc"), "[a][b]");
  EXPECT_EQ(parse("a,b\nc"), "[a][b]");
  EXPECT_EQ(parse("a,,\"\""), "[a][][]");
  EXPECT_EQ(parse("\"x\r\ny\",\"q\"\"\"\r\n"), "[x\r\ny][q\"]");
  EXPECT_EQ(parse("\r\n"), "[]");
  EXPECT_EQ(parse("\"open"), "error");
  EXPECT_EQ(parse("\"a\"b,c"), "error");
  EXPECT_EQ(parse("a\"b"), "error");
  EXPECT_FALSE(ParseEventCsv({"1", "2"}).ok());
  std::vector<std::string> f(17);
  f[1] = "e", f[2] = "s", f[4] = "t", f[5] = "2026-01-01T00:00:00Z";
  EXPECT_TRUE(ParseEventCsv(f).ok());
  f[9] = "chars=1;=2";
  EXPECT_EQ(ParseEventCsv(f).status().message().substr(0, 5), "data:");
  f[9] = "chars=x";
  EXPECT_FALSE(ParseEventCsv(f).ok());
  f[9] = "";
  f[15] = "-3";
  EXPECT_FALSE(ParseEventCsv(f).ok());
}

TEST(Codecs, SurviveRandomBytes) {
  std::mt19937 rng(3);
  std::string good;
  AppendEventJson(5, Full(), good);
  std::string good_csv;
  AppendEventCsv(5, Full(), good_csv);
  for (int i = 0; i < 20000; ++i) {
    std::string s = i % 2 ? good : good_csv;
    for (int k = 0, n = static_cast<int>(rng() % 4) + 1; k < n; ++k) {
      s[rng() % s.size()] = static_cast<char>(rng());
    }
    s.resize(rng() % (s.size() + 1));
    (void)ParseEventJson(s);
    size_t pos = 0;
    while (pos < s.size()) {
      absl::StatusOr<std::vector<std::string>> fields = ParseCsvRecord(s, &pos);
      if (!fields.ok()) break;
      (void)ParseEventCsv(*fields);
    }
  }
}

TEST(ExportWriter, JsonIsOneArrayAndNdjsonOneObjectPerLine) {
  for (int rows : {0, 1, 3}) {
    ExportWriter j(ExportFormat::kJson, ExportKind::kEvents);
    ExportWriter nd(ExportFormat::kNdjson, ExportKind::kEvents);
    std::string a, b;
    j.Begin(a);
    nd.Begin(b);
    for (int i = 0; i < rows; ++i) {
      j.AddEvent(i + 1, Full(), a);
      nd.AddEvent(i + 1, Full(), b);
    }
    j.End(a);
    nd.End(b);
    const json::value v = json::parse(a);
    ASSERT_TRUE(v.is_array());
    EXPECT_EQ(v.as_array().size(), static_cast<size_t>(rows));
    EXPECT_EQ(j.rows(), static_cast<uint64_t>(rows));
    size_t lines = 0;
    for (size_t start = 0; start < b.size();) {
      const size_t nl = b.find('\n', start);
      ASSERT_NE(nl, std::string::npos);
      EXPECT_TRUE(ParseEventJson(std::string_view(b).substr(start, nl - start)).ok());
      start = nl + 1;
      ++lines;
    }
    EXPECT_EQ(lines, static_cast<size_t>(rows));
  }
}

TEST(ExportWriter, UsageRows) {
  Bucket bucket{At("2026-03-08T00:00:00Z"), At("2026-03-09T00:00:00Z"), Usage{4, 1, {523, 4, 10}}};
  std::vector<MeterColumn> columns = {{"chars", 0}, {"tokens", 2}};
  ExportWriter csv(ExportFormat::kCsv, ExportKind::kDaily, columns);
  std::string out;
  csv.Begin(out);
  csv.AddUsage("bob,jr", "api_call", bucket, out);
  EXPECT_EQ(out,
            "subject,type,start,end,events,errors,chars,tokens\r\n"
            "\"bob,jr\",api_call,2026-03-08T00:00:00Z,2026-03-09T00:00:00Z,4,1,523,10\r\n");
  ExportWriter nd(ExportFormat::kNdjson, ExportKind::kMonthly, columns);
  out.clear();
  nd.AddUsage("bob", "api_call", bucket, out);
  EXPECT_EQ(out,
            "{\"subject\":\"bob\",\"type\":\"api_call\",\"start\":\"2026-03-08T00:00:00Z\","
            "\"end\":\"2026-03-09T00:00:00Z\",\"events\":4,\"errors\":1,\"meters\":{\"chars\":523,\"tokens\":10}}\n");
}

// --- Export runs over a store and its rollups ---

class ExporterTest : public ::testing::Test {
 protected:
  ExporterTest() : rollups_(DefaultMeters()), store_(&rollups_) {}

  void Add(const std::string& id, const std::string& subject, const std::string& type, Micros t,
           std::vector<std::pair<std::string, int64_t>> data) {
    EventRecord r;
    r.event.id = id;
    r.event.subject = subject;
    r.event.type = type;
    r.event.time = t;
    r.event.data = std::move(data);
    r.received = t;
    ASSERT_TRUE(store_.Append({r}).ok());
  }

  std::string Run(ExportRequest req, absl::Status* status = nullptr) {
    EXPECT_TRUE(ValidateExportRequest(req, DefaultMeters(), At("2026-04-01T00:00:00Z")).ok());
    ExportSources src;
    src.store = &store_;
    src.rollups = &rollups_;
    src.meters = DefaultMeters();
    src.timezone_of = [](const std::string& s) { return s == "tokyo" ? "Asia/Tokyo" : "UTC"; };
    std::string out;
    absl::Status s = RunExport(req, src, [&](std::string chunk, uint64_t) {
      out += chunk;
      return true;
    });
    if (status != nullptr) *status = s;
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  Rollups rollups_;
  MemoryStore store_;
};

TEST_F(ExporterTest, EventsFilteredBySubjectTypeTimeAndMeter) {
  Add("a", "alice", "fix", At("2026-03-01T10:00:00Z"), {{"chars", 5}});
  Add("b", "alice", "chat", At("2026-03-01T11:00:00Z"), {{"tokens", 7}});
  Add("c", "bob", "fix", At("2026-03-02T10:00:00Z"), {{"chars", 9}});
  ExportRequest req;
  req.format = ExportFormat::kNdjson;
  const std::string all = Run(req);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 3);
  req.subject = "alice";
  std::string out = Run(req);
  EXPECT_NE(out.find("\"id\":\"a\""), std::string::npos);
  EXPECT_EQ(out.find("\"id\":\"c\""), std::string::npos);
  req.meters = {"tokens"};
  out = Run(req);
  EXPECT_EQ(out.find("\"id\":\"a\""), std::string::npos);
  EXPECT_NE(out.find("\"id\":\"b\""), std::string::npos);
  req = ExportRequest{};
  req.format = ExportFormat::kJson;
  req.from = At("2026-03-02T00:00:00Z");
  const json::value v = json::parse(Run(req));
  ASSERT_EQ(v.as_array().size(), 1u);
  EXPECT_EQ(v.as_array()[0].at("id").as_string(), "c");
}

TEST_F(ExporterTest, DailyRowsInEachSubjectsZoneOrTheGivenOne) {
  Add("a", "tokyo", "fix", At("2026-03-01T14:00:00Z"), {{"chars", 5}});  // 23:00 in Tokyo
  Add("b", "tokyo", "fix", At("2026-03-01T16:00:00Z"), {{"chars", 7}});  // 01:00 the next day
  Add("c", "utc", "fix", At("2026-03-01T16:00:00Z"), {{"chars", 9}, {"tokens", 1}});
  Add("d", "utc", "chat", At("2026-03-01T17:00:00Z"), {{"tokens", 2}});
  ExportRequest req;
  req.kind = ExportKind::kDaily;
  req.from = At("2026-02-28T00:00:00Z");
  req.to = At("2026-03-03T00:00:00Z");
  EXPECT_EQ(Run(req),
            "subject,type,start,end,events,errors,chars,requests,tokens\r\n"
            "tokyo,fix,2026-02-28T15:00:00Z,2026-03-01T15:00:00Z,1,0,5,1,0\r\n"
            "tokyo,fix,2026-03-01T15:00:00Z,2026-03-02T15:00:00Z,1,0,7,1,0\r\n"
            "utc,chat,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,0,0,1,2\r\n"
            "utc,fix,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,0,9,1,1\r\n");
  req.tz = "UTC";
  req.meters = {"chars"};
  req.type = "fix";
  EXPECT_EQ(Run(req),
            "subject,type,start,end,events,errors,chars\r\n"
            "tokyo,fix,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,2,0,12\r\n"
            "utc,fix,2026-03-01T00:00:00Z,2026-03-02T00:00:00Z,1,0,9\r\n");
  req.kind = ExportKind::kHourly;
  req.subject = "tokyo";
  req.format = ExportFormat::kJson;
  const json::value v = json::parse(Run(req));
  ASSERT_EQ(v.as_array().size(), 2u);
  EXPECT_EQ(v.as_array()[1].at("start").as_string(), "2026-03-01T16:00:00Z");
  EXPECT_EQ(v.as_array()[1].at("meters").at("chars").as_int64(), 7);
}

TEST_F(ExporterTest, StopsWhenTheReaderStops) {
  for (int i = 0; i < 5000; ++i) {
    Add("e" + std::to_string(i), "alice", "fix", At("2026-03-01T10:00:00Z") + i, {{"chars", i}});
  }
  ExportSources src;
  src.store = &store_;
  int chunks = 0;
  int polls = 0;
  absl::Status s = RunExport(ExportRequest{}, src, [&](std::string chunk, uint64_t) {
    if (chunk.empty()) return ++polls > 0;  // "still there?" between stretches
    EXPECT_GE(chunk.size(), kExportChunkBytes);
    return ++chunks < 2;
  });
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_EQ(chunks, 2);
  EXPECT_GE(polls, 1);
}

// A filter that matches nothing writes nothing for the whole scan: the
// reader is still asked between stretches, and leaving stops the scan.
TEST_F(ExporterTest, ASilentScanStopsWhenTheReaderLeaves) {
  for (int i = 0; i < 2000; ++i) {
    Add("e" + std::to_string(i), "alice", "fix", At("2026-03-01T10:00:00Z") + i, {{"chars", i}});
  }
  ExportSources src;
  src.store = &store_;
  ExportRequest req;
  req.type = "no-such-type";
  int asked = 0;
  absl::Status s = RunExport(req, src, [&](std::string chunk, uint64_t) {
    EXPECT_TRUE(chunk.empty()) << "nothing matches";
    return ++asked < 1;
  });
  EXPECT_TRUE(absl::IsCancelled(s)) << s;
  EXPECT_EQ(asked, 1);
}

TEST(ExportRequestTest, ValidatesParameters) {
  const Micros now = At("2026-04-01T00:00:00Z");
  auto check = [&](ExportRequest req) {
    absl::Status s = ValidateExportRequest(req, DefaultMeters(), now);
    return s.ok() ? std::string("ok") : std::string(s.message()).substr(0, s.message().find(':'));
  };
  ExportRequest req;
  EXPECT_EQ(check(req), "ok");
  req.from = At("2026-03-02T00:00:00Z");
  req.to = At("2026-03-01T00:00:00Z");
  EXPECT_EQ(check(req), "from");
  req = ExportRequest{};
  req.tz = "Mars/Olympus";
  EXPECT_EQ(check(req), "tz");
  req = ExportRequest{};
  req.meters = {"bytes"};
  EXPECT_EQ(check(req), "meter");
  req = ExportRequest{};
  req.kind = ExportKind::kHourly;
  req.from = At("1900-01-01T00:00:00Z");
  req.to = At("2100-01-01T00:00:00Z");
  EXPECT_EQ(check(req), "to");
  req.kind = ExportKind::kMonthly;
  EXPECT_EQ(check(req), "ok");
  std::vector<std::string> meters;
  EXPECT_TRUE(ParseMeterList("chars,tokens", DefaultMeters(), &meters).ok());
  EXPECT_EQ(meters, (std::vector<std::string>{"chars", "tokens"}));
  EXPECT_FALSE(ParseMeterList("chars,", DefaultMeters(), &meters).ok());
  EXPECT_FALSE(ParseMeterList("chars,chars", DefaultMeters(), &meters).ok());
  EXPECT_FALSE(ParseMeterList("nope", DefaultMeters(), &meters).ok());
  ExportRequest named;
  named.kind = ExportKind::kDaily;
  named.format = ExportFormat::kNdjson;
  ASSERT_TRUE(ValidateExportRequest(named, DefaultMeters(), now).ok());
  EXPECT_EQ(ExportFileName(named), "tally-daily-20250331-20260401.ndjson");
  EXPECT_EQ(ExportFileName(ExportRequest{}), "tally-events.csv");
}

// Writing speed alone (no storage): prints rows/s; the bar is >= 1M rows/s end
// to end, so the writer must be several times faster than that.
TEST(ExportWriterSpeed, WritesEventsQuickly) {
  std::mt19937 rng(5);
  std::vector<EventRecord> records;
  for (int i = 0; i < 1000; ++i) {
    EventRecord r = Full();
    r.event.time += i * kMicrosPerSecond;
    r.event.context.user_agent = "Mozilla/5.0 (X11; Linux x86_64)";
    records.push_back(std::move(r));
  }
  for (ExportFormat format : {ExportFormat::kCsv, ExportFormat::kNdjson}) {
    ExportWriter w(format, ExportKind::kEvents);
    std::string out;
    const auto start = std::chrono::steady_clock::now();
    constexpr int kRows = 300'000;
    for (int i = 0; i < kRows; ++i) {
      w.AddEvent(static_cast<uint64_t>(i), records[static_cast<size_t>(i) % records.size()], out);
      if (out.size() > kExportChunkBytes) out.clear();
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %.0f rows/s\n", std::string(ExportFormatName(format)).c_str(), kRows / s);
  }
}

}  // namespace
}  // namespace tally
