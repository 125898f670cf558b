// Export speed (issue 4 target: >= 1M rows/s), through the same RunExport that
// GET /api/usage/export and `tally export` use, reading a real SqliteStore.
//
//   export_bench [--events 1000000] [--runs 5] [--dir DIR]
//
// Fills DIR (a fresh temporary directory by default; kept and reused when
// given and already filled) with --events synthetic events of the last 30
// days (bench/synthetic_events.h) through a SqliteStore with rollups, then
// runs each export --runs times — kind=events as CSV, NDJSON and JSON, and
// kind=daily as CSV — into a sink that only counts bytes, and prints each
// run and the median rows/s.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "analytics/exporter.h"
#include "analytics/rollups.h"
#include "bench_util.h"
#include "core/clock.h"
#include "store/sqlite/sqlite_store.h"
#include "synthetic_events.h"

namespace tally {
namespace {

constexpr Micros kEnd = 1'795'000'000'000'000;  // 2026-11-19, an hour boundary

void Fill(SqliteStore& store, int64_t events) {
  bench::SyntheticEvents gen(events, 20'000, 30 * 24, kEnd);
  std::vector<LogRecord> batch;
  uint64_t ticket = 0;
  int64_t n = 0;
  gen.Run([&](const EventRecord& r) {
    EventRecord copy = r;
    copy.event.id = absl::StrCat("e", n++);
    batch.push_back(std::move(copy));
    if (batch.size() == 10'000) {
      ticket = *store.Append(std::move(batch));
      batch.clear();
    }
  });
  if (!batch.empty()) ticket = *store.Append(std::move(batch));
  if (absl::Status s = store.WaitDurable(ticket); !s.ok()) {
    std::fprintf(stderr, "fill: %s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
}

int Main(int argc, char** argv) {
  const int64_t events = std::stoll(bench::Flag(argc, argv, "events", "1000000"));
  const int runs = std::stoi(bench::Flag(argc, argv, "runs", "5"));
  std::string dir = bench::Flag(argc, argv, "dir", "");
  const bool temporary = dir.empty();
  if (temporary) dir = bench::TempDir("export");

  Rollups rollups(DefaultMeters());
  SqliteStoreOptions options;
  options.dir = dir;
  options.strict = false;
  options.rollups = &rollups;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), std::string(store.status().message()).c_str());
    return 1;
  }
  if ((*store)->LastSeq() == 0) {
    const double start = bench::Seconds();
    Fill(**store, events);
    std::printf("filled %s with %lld events in %.1f s\n", dir.c_str(), static_cast<long long>(events),
                bench::Seconds() - start);
  }

  ExportSources sources;
  sources.store = store->get();
  sources.rollups = &rollups;
  sources.meters = DefaultMeters();
  sources.timezone_of = [](const std::string&) { return std::string("UTC"); };

  struct Case {
    const char* name;
    ExportFormat format;
    ExportKind kind;
  };
  const Case cases[] = {{"events csv", ExportFormat::kCsv, ExportKind::kEvents},
                        {"events ndjson", ExportFormat::kNdjson, ExportKind::kEvents},
                        {"events json", ExportFormat::kJson, ExportKind::kEvents},
                        {"daily csv", ExportFormat::kCsv, ExportKind::kDaily}};
  for (const Case& c : cases) {
    std::vector<double> rates;
    uint64_t rows = 0, bytes = 0;
    for (int run = 0; run < runs; ++run) {
      ExportRequest request;
      request.format = c.format;
      request.kind = c.kind;
      if (c.kind != ExportKind::kEvents) {
        request.from = kEnd - 31 * kMicrosPerDay;
        request.to = kEnd;
      }
      if (absl::Status s = ValidateExportRequest(request, sources.meters, kEnd); !s.ok()) {
        std::fprintf(stderr, "%s: %s\n", c.name, std::string(s.message()).c_str());
        return 1;
      }
      bytes = 0;
      const double start = bench::Seconds();
      absl::Status s = RunExport(request, sources, [&](std::string chunk, uint64_t n) {
        bytes += chunk.size();
        rows = n;
        return true;
      });
      const double seconds = bench::Seconds() - start;
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", c.name, std::string(s.message()).c_str());
        return 1;
      }
      rates.push_back(static_cast<double>(rows) / seconds);
      std::printf("%-14s run %d: %llu rows, %.1f MB in %.3f s = %.0f rows/s\n", c.name, run + 1,
                  static_cast<unsigned long long>(rows), static_cast<double>(bytes) / 1e6, seconds,
                  rates.back());
    }
    std::printf("%-14s median %.0f rows/s (%d runs)\n", c.name, bench::Median(rates), runs);
  }
  store->reset();
  if (temporary) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) { return tally::Main(argc, argv); }
