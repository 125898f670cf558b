// One million events through GET /api/usage/export: tracked in batches of
// 10,000, exported as CSV and NDJSON (events) and as daily usage, checked by
// count and sums, with the server's memory watched while it streams and the
// rows per second printed. Release suite only (not named http_*: the
// sanitizer runs select -R '^http_'); about 30 s on a 2-core box.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "http_client.h"
#include "server_process.h"
#include "test_support.h"

namespace tally::http_test {
namespace {

constexpr int kEvents = 1'000'000;
constexpr int kBatch = 10'000;

// Resident memory in KiB of the server process, or -1.
int64_t ServerRssKib(const ServerProcess& server) {
  return static_cast<int64_t>(ProcStatus(server.pid(), "VmRSS"));
}

std::string Iso(int64_t seconds) {
  char buf[32];
  const time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The integer after each `key` in `text`, summed.
int64_t SumAfter(const std::string& text, const std::string& key) {
  int64_t sum = 0;
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + 1)) {
    sum += std::strtoll(text.c_str() + at + key.size(), nullptr, 10);
  }
  return sum;
}

TEST(ExportMillion, CountsSumsMemoryAndSpeed) {
  ServerProcess server(ServerSetup{.config = "[storage]\ndurability = \"relaxed\"\n"});
  ASSERT_TRUE(server.Start());
  HttpClient admin = server.Client();
  admin.set_timeout(std::chrono::seconds(120));

  // Two days of events, ten a second... spread over 100 subjects.
  const int64_t base = (NowSeconds() / 3600 - 48) * 3600;
  int64_t chars = 0;
  const auto track_start = std::chrono::steady_clock::now();
  for (int b = 0; b < kEvents / kBatch; ++b) {
    std::string body = "{\"events\":[";
    for (int i = 0; i < kBatch; ++i) {
      const int n = b * kBatch + i;
      const int64_t c = n % 997;
      chars += c;
      if (i > 0) body += ',';
      body += "{\"id\":\"m" + std::to_string(n) + "\",\"subject\":\"s" + std::to_string(n % 100) +
              "\",\"type\":\"fix\",\"time\":\"" + Iso(base + n / 10) + "\",\"data\":{\"chars\":" +
              std::to_string(c) + ",\"tokens\":3},\"context\":{\"user_agent\":\"bench, \\\"v1\\\"\"}}";
    }
    body += "]}";
    const Response r = admin.Post("/api/usage/track", body);
    ASSERT_EQ(r.status, 200) << r.Describe();
  }
  const double track_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - track_start).count();
  std::printf("tracked %d events in %.1f s\n", kEvents, track_s);

  for (const std::string format : {"csv", "ndjson"}) {
    const int64_t rss_before = ServerRssKib(server);
    std::atomic<bool> done{false};
    std::atomic<int64_t> rss_peak{rss_before};
    std::thread watch([&] {
      while (!done.load()) {
        const int64_t rss = ServerRssKib(server);
        if (rss > rss_peak.load()) rss_peak.store(rss);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    const auto start = std::chrono::steady_clock::now();
    const Response r = admin.Get("/api/usage/export?kind=events&format=" + format);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    done.store(true);
    watch.join();
    ASSERT_EQ(r.status, 200) << r.Describe();
    int64_t rows = 0;
    for (char c : r.body) rows += c == '\n';
    if (format == "csv") --rows;  // the header
    EXPECT_EQ(rows, kEvents);
    EXPECT_EQ(SumAfter(r.body, format == "csv" ? ",chars=" : "\"chars\":"), chars);
    const int64_t growth_mib = (rss_peak.load() - rss_before) / 1024;
    std::printf("export %s: %lld rows, %.1f MB in %.2f s = %.0f rows/s (%.0f MB/s); server RSS %+lld MiB\n",
                format.c_str(), static_cast<long long>(rows), r.body.size() / 1e6, seconds, rows / seconds,
                r.body.size() / 1e6 / seconds, static_cast<long long>(growth_mib));
    // Streamed: the server holds a few chunks, never the body (100+ MB).
    EXPECT_LT(growth_mib, 64) << "the server's memory grew with the export";
  }

  // Daily usage over the same events: the same totals.
  const Response daily = admin.Get("/api/usage/export?kind=daily&format=ndjson");
  ASSERT_EQ(daily.status, 200) << daily.Describe();
  EXPECT_EQ(SumAfter(daily.body, "\"events\":"), kEvents);
  EXPECT_EQ(SumAfter(daily.body, "\"chars\":"), chars);
  EXPECT_EQ(server.Stop(), std::optional<int>(0)) << server.Log();
}

}  // namespace
}  // namespace tally::http_test
