// Ingest with the rollups on (SqliteStoreOptions::rollups, as `tally serve`
// runs) against off, and the store's open time with the rollups loaded.
// Target (issue 4): ingest with rollups within 10 % of without.
//
//   rollup_ingest_bench [--path engine|store] [--durability strict|relaxed]
//                       [--threads 2] [--batch 1000] [--events 400000]
//                       [--runs 5] [--hours 1] [--only on|off] [--diagnose yes]
//   rollup_ingest_bench --open DIR [--events 10000000] [--runs 3]
//
// Ingest: the same events (bench/synthetic_events.h: 20,000 Zipf-active
// subjects, 4 types, event times over the last --hours hours) are generated
// once, then each run gets a fresh data directory and sends them in batches
// of --batch from --threads threads, through the engine (Engine::TrackBatch, as
// ingest_bench --batch N) or straight to the store (SqliteStore::Append of
// EventRecords + WaitDurable). Runs alternate off/on, on/off, ... (the box is
// noisy); prints each run, the medians and the ratio on/off.
//
// --open DIR: fills DIR once (if it has no tally.db) with --events events of
// 90 days through the store with rollups on, then times SqliteStore::Open
// (a) without rollups, (b) with rollups (load the persisted rows, fold the
// tail: none after a clean shutdown), (c) with rollups rebuilt from the whole
// log (rows and rollup_seq dropped first; the open's shutdown persists them
// again, so DIR is reusable).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include "analytics/rollups.h"
#include "bench_util.h"
#include "synthetic_events.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/meter.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace tally {
namespace {

constexpr int kSubjects = 20'000;

[[noreturn]] void Die(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
  std::exit(1);
}

Config BenchConfig(bool strict) {
  Config config = DefaultConfig([](const char*) -> const char* { return nullptr; });
  config.storage.durability = strict ? Durability::kStrict : Durability::kRelaxed;
  Tier big;
  big.name = "bench";
  config.tiers.push_back(big);  // unlimited: every event is admitted
  config.default_tier = "bench";
  return config;
}

// --diagnose: a sink in front of the Rollups that times Fold and TakeDirty
// and counts the rows persisted (two clock reads per event on the writer).
class TimingSink final : public RollupSink {
 public:
  explicit TimingSink(Rollups& rollups) : rollups_(rollups) {}
  void Fold(uint64_t seq, const EventRecord& record) override {
    const double t0 = bench::Seconds();
    rollups_.Fold(seq, record);
    fold_s += bench::Seconds() - t0;
  }
  void TakeDirty(std::vector<RollupRow>& out) override {
    const size_t before = out.size();
    const double t0 = bench::Seconds();
    rollups_.TakeDirty(out);
    take_s += bench::Seconds() - t0;
    rows += out.size() - before;
    ++takes;
  }
  absl::Status Load(const RollupRow& row) override { return rollups_.Load(row); }

  double fold_s = 0, take_s = 0;
  uint64_t rows = 0, takes = 0;

 private:
  Rollups& rollups_;
};

struct RunResult {
  double events_per_s = 0;
  double elapsed_s = 0;
  uint64_t commits = 0;
  RollupStats rollups;
};

bool g_diagnose = false;

// `batches`: the events, already cut into batches (copied per run, untimed).
RunResult RunOnce(bool with_rollups, bool through_engine, bool strict, int threads,
                  const std::vector<std::vector<EventRecord>>& batches) {
  const std::string dir = bench::TempDir("rollup-ingest");
  const Config config = BenchConfig(strict);
  Rollups rollups(config.meters);
  TimingSink timing(rollups);
  SqliteStoreOptions options;
  options.dir = dir;
  options.strict = strict;
  options.rollups = !with_rollups ? nullptr : g_diagnose ? static_cast<RollupSink*>(&timing) : &rollups;
  auto store = SqliteStore::Open(options);
  if (!store.ok()) Die("open", store.status());
  std::unique_ptr<Engine> engine;
  if (through_engine) {
    auto opened = Engine::Open(config, store->get(), SystemClock::Default());
    if (!opened.ok()) Die("engine", opened.status());
    engine = *std::move(opened);
  }
  // The inputs of this run, built before the clock starts.
  std::vector<std::vector<Event>> events;
  std::vector<std::vector<LogRecord>> records;
  int64_t total = 0;
  for (const auto& b : batches) {
    total += static_cast<int64_t>(b.size());
    if (through_engine) {
      auto& v = events.emplace_back();
      v.reserve(b.size());
      for (const EventRecord& r : b) v.push_back(r.event);
    } else {
      auto& v = records.emplace_back();
      v.reserve(b.size());
      for (const EventRecord& r : b) v.emplace_back(r);
    }
  }
  std::atomic<size_t> next{0};
  std::atomic<int64_t> failures{0};
  const double start = bench::Seconds();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next.fetch_add(1); i < batches.size(); i = next.fetch_add(1)) {
        if (through_engine) {
          if (!engine->TrackBatch(std::move(events[i])).ok()) failures.fetch_add(1);
        } else {
          auto ticket = (*store)->Append(std::move(records[i]));
          if (!ticket.ok() || !(*store)->WaitDurable(*ticket).ok()) failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  const double elapsed = bench::Seconds() - start;
  if (failures.load() > 0) std::fprintf(stderr, "%ld batches failed\n", static_cast<long>(failures.load()));
  RunResult r;
  r.events_per_s = static_cast<double>(total) / elapsed;
  r.elapsed_s = elapsed;
  r.commits = (*store)->Stats().commits;
  r.rollups = rollups.Stats();
  engine.reset();
  store->reset();
  if (with_rollups && g_diagnose) {
    std::printf("  writer: Fold %.3f s (%.2f us/event), TakeDirty %.3f s in %lu calls, %lu rows persisted "
                "(%.2f per event), of %.2f s elapsed\n",
                timing.fold_s, timing.fold_s * 1e6 / static_cast<double>(total), timing.take_s,
                static_cast<unsigned long>(timing.takes), static_cast<unsigned long>(timing.rows),
                static_cast<double>(timing.rows) / static_cast<double>(total), elapsed);
  }
  std::filesystem::remove_all(dir);
  return r;
}

int Ingest(int argc, char** argv) {
  using bench::Flag;
  const bool through_engine = Flag(argc, argv, "path", "engine") == "engine";
  const bool strict = Flag(argc, argv, "durability", "strict") == "strict";
  const int threads = std::stoi(Flag(argc, argv, "threads", "2"));
  const int batch = std::stoi(Flag(argc, argv, "batch", "1000"));
  const int64_t n = std::stoll(Flag(argc, argv, "events", "400000"));
  const int runs = std::stoi(Flag(argc, argv, "runs", "5"));
  g_diagnose = Flag(argc, argv, "diagnose", "no") != "no";

  // Event times over the last --hours hours (default 1: live traffic), ending
  // a minute ago (the engine takes events up to max_lateness old).
  const int hours = std::stoi(Flag(argc, argv, "hours", "1"));
  const Micros end = SystemClock::Default()->Now() - kMicrosPerMinute;
  std::vector<std::vector<EventRecord>> batches;
  bench::SyntheticEvents gen(n, kSubjects, hours, end);
  gen.Run([&](const EventRecord& r) {
    if (batches.empty() || static_cast<int>(batches.back().size()) == batch) {
      batches.emplace_back().reserve(batch);
    }
    batches.back().push_back(r);
  });

  // --only on|off: one side only (for profiling).
  const std::string only = Flag(argc, argv, "only", "");
  std::vector<double> off, on, ratios;
  for (int i = 0; i < runs; ++i) {
    double pair[2] = {1, 1};
    for (int k = 0; k < 2; ++k) {
      const bool with = (i + k) % 2 == 1;  // off,on then on,off then ...
      if (!only.empty() && only != (with ? "on" : "off")) continue;
      const RunResult r = RunOnce(with, through_engine, strict, threads, batches);
      std::printf("run %d rollups %-3s: %.0f events/s, %lu commits%s\n", i + 1, with ? "on" : "off",
                  r.events_per_s, static_cast<unsigned long>(r.commits),
                  with ? (" (" + std::to_string(r.rollups.cells) + " cells, " +
                          std::to_string(r.rollups.endpoint_cells) + " endpoint cells)")
                             .c_str()
                       : "");
      std::fflush(stdout);
      (with ? on : off).push_back(r.events_per_s);
      pair[with ? 1 : 0] = r.events_per_s;
    }
    ratios.push_back(pair[1] / pair[0]);
  }
  const double m_off = bench::Median(off), m_on = bench::Median(on);
  std::printf("median (%s, %s, threads=%d, batch=%d, %ld events, %d runs each): off %.0f events/s, on %.0f "
              "events/s; on/off %.3f (%.1f %% slower); median of paired ratios %.3f\n",
              through_engine ? "engine" : "store", strict ? "strict" : "relaxed", threads, batch,
              static_cast<long>(n), runs, m_off, m_on, m_on / m_off, 100 * (1 - m_on / m_off),
              bench::Median(ratios));
  return 0;
}

// --- --open DIR ----------------------------------------------------------------

void Fill(const std::string& dir, int64_t n) {
  Rollups rollups(DefaultMeters());
  SqliteStoreOptions options;
  options.dir = dir;
  options.strict = false;
  options.rollups = &rollups;
  auto store = SqliteStore::Open(options);
  if (!store.ok()) Die("open", store.status());
  bench::SyntheticEvents gen(n, kSubjects, 90 * 24, SystemClock::Default()->Now() - kMicrosPerHour);
  std::vector<LogRecord> batch;
  int64_t done = 0;
  const double t0 = bench::Seconds();
  gen.Run([&](const EventRecord& r) {
    batch.emplace_back(r);
    if (batch.size() == 10'000) {
      if (auto t = (*store)->Append(std::move(batch)); !t.ok()) Die("append", t.status());
      batch.clear();
      done += 10'000;
      if (done % 1'000'000 == 0) {
        std::fprintf(stderr, "filled %ldM (%.0f events/s)\n", static_cast<long>(done / 1'000'000),
                     done / (bench::Seconds() - t0));
      }
    }
  });
  if (!batch.empty()) (void)(*store)->Append(std::move(batch));
  if (auto s = (*store)->Flush(); !s.ok()) Die("flush", s);
  const RollupStats stats = rollups.Stats();
  std::printf("filled %s: %ld events in %.0f s; %lu subject cells, %lu endpoint cells\n", dir.c_str(),
              static_cast<long>(n), bench::Seconds() - t0, static_cast<unsigned long>(stats.cells),
              static_cast<unsigned long>(stats.endpoint_cells));
}

// Drops the persisted rollups, so that the next open with rollups folds the
// whole log (as after an upgrade to schema 4).
void DropRollups(const std::string& dir) {
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/tally.db").c_str(), &db);
  sqlite3_exec(db, "DELETE FROM rollups; DELETE FROM meta WHERE key = 'rollup_seq';", nullptr, nullptr,
               nullptr);
  sqlite3_close(db);
}

// Seconds to open (and, separately, to close: the destructor persists).
std::pair<double, double> TimeOpen(const std::string& dir, bool with_rollups, RollupStats* stats) {
  Rollups rollups(DefaultMeters());
  SqliteStoreOptions options;
  options.dir = dir;
  options.strict = false;
  options.rollups = with_rollups ? &rollups : nullptr;
  const double t0 = bench::Seconds();
  auto store = SqliteStore::Open(options);
  const double opened = bench::Seconds() - t0;
  if (!store.ok()) Die("open", store.status());
  *stats = rollups.Stats();
  const double t1 = bench::Seconds();
  store->reset();
  return {opened, bench::Seconds() - t1};
}

int Open(int argc, char** argv) {
  using bench::Flag;
  const std::string dir = Flag(argc, argv, "open", "");
  const int64_t n = std::stoll(Flag(argc, argv, "events", "10000000"));
  const int runs = std::stoi(Flag(argc, argv, "runs", "3"));
  std::filesystem::create_directories(dir);
  if (!std::filesystem::exists(dir + "/tally.db")) Fill(dir, n);
  std::printf("data dir %s: %.1f MB\n", dir.c_str(), std::filesystem::file_size(dir + "/tally.db") / 1e6);
  const auto [rss0, hwm0] = bench::MemoryMb();
  for (int mode = 0; mode < 3; ++mode) {
    std::vector<double> opens, closes;
    RollupStats stats;
    for (int i = 0; i < runs; ++i) {
      if (mode == 2) DropRollups(dir);
      const auto [o, c] = TimeOpen(dir, mode > 0, &stats);
      opens.push_back(o);
      closes.push_back(c);
    }
    static const char* const kModes[] = {"without rollups", "with rollups (load rows + tail)",
                                         "with rollups rebuilt from the whole log"};
    std::printf("open %s: median %.2f s over %d runs (close %.2f s); %lu cells, %lu endpoint cells, "
                "%lu events folded\n",
                kModes[mode], bench::Median(opens), runs, bench::Median(closes),
                static_cast<unsigned long>(stats.cells), static_cast<unsigned long>(stats.endpoint_cells),
                static_cast<unsigned long>(stats.folded));
    std::fflush(stdout);
  }
  const auto [rss, hwm] = bench::MemoryMb();
  std::printf("RSS at start %.0f MB, peak %.0f MB\n", rss0, hwm);
  (void)rss;
  (void)hwm0;
  return 0;
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  if (!tally::bench::Flag(argc, argv, "open", "").empty()) return tally::Open(argc, argv);
  return tally::Ingest(argc, argv);
}
