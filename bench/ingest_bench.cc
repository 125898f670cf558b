// Durable ingest through the engine and the SQLite store.
//
//   ingest_bench [--durability strict|relaxed] [--threads 8] [--batch 1]
//                [--events 200000] [--subjects 10000] [--runs 3]
//
// --batch 1: each thread Consumes one event per call (the per-request path);
// --batch N: each thread calls TrackBatch with N events (a batch is one append).
// Prints events/s and per-call latency p50/p99 for each run, then the median run.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench_util.h"
#include "core/clock.h"
#include "core/config.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace tally {
namespace {

struct RunResult {
  double events_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  uint64_t commits = 0;
};

RunResult RunOnce(bool strict, int threads, int batch, int64_t events, int subjects) {
  const std::string dir = bench::TempDir("ingest");
  Config config = DefaultConfig([](const char*) -> const char* { return nullptr; });
  config.storage.durability = strict ? Durability::kStrict : Durability::kRelaxed;
  Tier big;
  big.name = "bench";
  config.tiers.push_back(big);  // unlimited: every event is admitted
  config.default_tier = "bench";
  SqliteStoreOptions options;
  options.dir = dir;
  options.strict = strict;
  auto store = SqliteStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(store.status().message()).c_str());
    std::exit(1);
  }
  auto engine = Engine::Open(config, store->get(), SystemClock::Default());
  if (!engine.ok()) {
    std::fprintf(stderr, "engine: %s\n", std::string(engine.status().message()).c_str());
    std::exit(1);
  }
  const int64_t per_thread = events / threads;
  std::vector<std::vector<double>> latencies(threads);
  std::atomic<int64_t> failures{0};
  const double start = bench::Seconds();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto make = [&](int64_t n) {
        Event e;
        e.id = absl::StrCat("t", t, "-", n);
        e.subject = absl::StrCat("user", (n * 7919 + t) % subjects);
        e.type = "correction";
        e.data = {{"chars", 523}, {"tokens", 1200}};
        e.context.endpoint = "/v1/correct";
        e.context.processing_ms = 42;
        return e;
      };
      for (int64_t n = 0; n < per_thread; n += batch) {
        const double t0 = bench::Seconds();
        bool ok;
        if (batch == 1) {
          auto d = (*engine)->Consume(make(n));
          ok = d.ok();
        } else {
          std::vector<Event> events_batch;
          events_batch.reserve(batch);
          for (int64_t i = n; i < n + batch && i < per_thread; ++i) events_batch.push_back(make(i));
          ok = (*engine)->TrackBatch(std::move(events_batch)).ok();
        }
        if (!ok) failures.fetch_add(1);
        latencies[t].push_back((bench::Seconds() - t0) * 1e6);
      }
    });
  }
  for (auto& th : pool) th.join();
  const double elapsed = bench::Seconds() - start;
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  RunResult r;
  r.events_per_s = static_cast<double>(per_thread * threads) / elapsed;
  r.p50_us = bench::Percentile(all, 50);
  r.p99_us = bench::Percentile(all, 99);
  r.commits = (*store)->Stats().commits;
  if (failures.load() > 0) std::fprintf(stderr, "%ld calls failed\n", static_cast<long>(failures.load()));
  engine->reset();
  store->reset();
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  using tally::bench::Flag;
  const bool strict = Flag(argc, argv, "durability", "strict") == "strict";
  const int threads = std::stoi(Flag(argc, argv, "threads", "8"));
  const int batch = std::stoi(Flag(argc, argv, "batch", "1"));
  const int64_t events = std::stoll(Flag(argc, argv, "events", "200000"));
  const int subjects = std::stoi(Flag(argc, argv, "subjects", "10000"));
  const int runs = std::stoi(Flag(argc, argv, "runs", "3"));
  std::vector<double> rates;
  for (int i = 0; i < runs; ++i) {
    auto r = tally::RunOnce(strict, threads, batch, events, subjects);
    std::printf("run %d: %s threads=%d batch=%d: %.0f events/s, call p50 %.0f us, p99 %.0f us, %lu commits\n",
                i + 1, strict ? "strict" : "relaxed", threads, batch, r.events_per_s, r.p50_us,
                r.p99_us, static_cast<unsigned long>(r.commits));
    rates.push_back(r.events_per_s);
  }
  std::printf("median: %.0f events/s (%s, threads=%d, batch=%d)\n", tally::bench::Median(rates),
              strict ? "strict" : "relaxed", threads, batch);
  return 0;
}
