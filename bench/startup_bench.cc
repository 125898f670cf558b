// Start-up time: how long Engine::Open takes to become ready over a data
// directory holding N stored events (target: 10M events, <= 5 s).
//
//   startup_bench [--events 10000000] [--subjects 100000] [--dir DIR] [--runs 3]
//
// Fills DIR (a fresh temporary directory unless --dir names an existing one)
// through the engine in relaxed batches of 1,000, then measures opening it
// (a) from the last checkpoint plus the tail, and (b) after deleting the
// checkpoints, from the whole log; then puts the checkpoints back, so that a
// --dir filled once can be measured again. Every open also rebuilds the dedup
// index of the last 35 days, which here holds every event.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "bench_util.h"
#include "core/clock.h"
#include "core/config.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace tally {
namespace {

Config BenchConfig() {
  Config config = DefaultConfig([](const char*) -> const char* { return nullptr; });
  config.storage.durability = Durability::kRelaxed;
  config.storage.checkpoint_every = 1'000'000;
  return config;
}

std::unique_ptr<SqliteStore> OpenStore(const std::string& dir) {
  SqliteStoreOptions options;
  options.dir = dir;
  options.strict = false;
  auto store = SqliteStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), std::string(store.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(store);
}

void Fill(const std::string& dir, int64_t events, int subjects) {
  auto store = OpenStore(dir);
  auto engine = Engine::Open(BenchConfig(), store.get(), SystemClock::Default()).value();
  const double start = bench::Seconds();
  for (int64_t n = 0; n < events; n += 1000) {
    std::vector<Event> batch;
    batch.reserve(1000);
    for (int64_t i = n; i < n + 1000 && i < events; ++i) {
      Event e;
      e.id = "ev-" + std::to_string(i);
      e.subject = "user" + std::to_string(i % subjects);
      e.type = "correction";
      e.data = {{"chars", 1 + i % 700}, {"tokens", i % 3000}};
      batch.push_back(std::move(e));
    }
    auto r = engine->TrackBatch(std::move(batch));
    if (!r.ok()) {
      std::fprintf(stderr, "track: %s\n", std::string(r.status().message()).c_str());
      std::exit(1);
    }
    if (n % 1'000'000 == 0 && n > 0) {
      std::fprintf(stderr, "filled %ld events (%.0f/s)\n", static_cast<long>(n), n / (bench::Seconds() - start));
    }
  }
  (void)store->Flush();
}

double TimeOpen(const std::string& dir, uint64_t* events) {
  const double t0 = bench::Seconds();
  auto store = OpenStore(dir);
  auto engine = Engine::Open(BenchConfig(), store.get(), SystemClock::Default());
  const double elapsed = bench::Seconds() - t0;
  if (!engine.ok()) {
    std::fprintf(stderr, "recover: %s\n", std::string(engine.status().message()).c_str());
    std::exit(1);
  }
  *events = (*engine)->Stats().dedup_entries;
  return elapsed;
}

// A checkpoints row, kept aside while the whole-log opens run.
struct SavedCheckpoint {
  int64_t seq = 0;
  int64_t created_us = 0;
  std::string blob;
};

// Deletes the checkpoints (so that an open replays the whole log) and returns
// them, so that RestoreCheckpoints can put them back: a reused --dir then
// measures the same thing on every invocation.
std::vector<SavedCheckpoint> DropCheckpoints(const std::string& dir) {
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/tally.db").c_str(), &db);
  std::vector<SavedCheckpoint> saved;
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT seq, created_us, blob FROM checkpoints", -1, &s, nullptr);
  while (sqlite3_step(s) == SQLITE_ROW) {
    SavedCheckpoint c{sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), ""};
    c.blob.assign(static_cast<const char*>(sqlite3_column_blob(s, 2)),
                  static_cast<size_t>(sqlite3_column_bytes(s, 2)));
    saved.push_back(std::move(c));
  }
  sqlite3_finalize(s);
  sqlite3_exec(db, "DELETE FROM checkpoints", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return saved;
}

void RestoreCheckpoints(const std::string& dir, const std::vector<SavedCheckpoint>& saved) {
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/tally.db").c_str(), &db);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO checkpoints(seq, created_us, blob) VALUES(?1, ?2, ?3)",
                     -1, &s, nullptr);
  for (const SavedCheckpoint& c : saved) {
    sqlite3_bind_int64(s, 1, c.seq);
    sqlite3_bind_int64(s, 2, c.created_us);
    sqlite3_bind_blob(s, 3, c.blob.data(), static_cast<int>(c.blob.size()), SQLITE_STATIC);
    sqlite3_step(s);
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  using tally::bench::Flag;
  const int64_t events = std::stoll(Flag(argc, argv, "events", "10000000"));
  const int subjects = std::stoi(Flag(argc, argv, "subjects", "100000"));
  const int runs = std::stoi(Flag(argc, argv, "runs", "3"));
  std::string dir = Flag(argc, argv, "dir", "");
  const bool temporary = dir.empty();
  if (temporary) dir = tally::bench::TempDir("startup");
  if (!std::filesystem::exists(dir + "/tally.db")) tally::Fill(dir, events, subjects);
  std::printf("data dir %s: %.1f MB\n", dir.c_str(),
              std::filesystem::file_size(dir + "/tally.db") / 1e6);
  std::vector<tally::SavedCheckpoint> saved;
  for (const bool with_checkpoint : {true, false}) {
    if (!with_checkpoint) saved = tally::DropCheckpoints(dir);
    std::vector<double> times;
    uint64_t dedup = 0;
    for (int i = 0; i < runs; ++i) times.push_back(tally::TimeOpen(dir, &dedup));
    std::printf("open %s: median %.2f s over %d runs (dedup index: %lu ids)\n",
                with_checkpoint ? "from checkpoint + tail" : "from the whole log",
                tally::bench::Median(times), runs, static_cast<unsigned long>(dedup));
    std::fflush(stdout);
  }
  tally::RestoreCheckpoints(dir, saved);
  if (temporary) std::filesystem::remove_all(dir);
  return 0;
}
