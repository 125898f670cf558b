// In-process decisions: Consume of one event touching 3 meters (chars,
// requests, tokens) against the subject's and its org's quotas, with the
// storage seam replaced by NullStore. Target (DESIGN.md): >= 5M/s per core.
//
//   build/release/bench/engine_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <string>

#include "null_store.h"
#include "core/clock.h"
#include "core/config.h"
#include "engine/engine.h"

namespace tally {
namespace {

constexpr int kSubjects = 10'000;
constexpr int kOrgs = 100;

Config BenchConfig() {
  Config c = DefaultConfig([](const char*) -> const char* { return nullptr; });
  Tier big;
  big.name = "bench";
  for (const char* m : {"chars", "requests", "tokens"}) {
    Quota q;
    q.meter = m;
    q.limit = int64_t{1} << 60;
    big.quotas.push_back(q);
  }
  c.tiers.push_back(big);
  c.storage.durability = Durability::kRelaxed;
  c.storage.checkpoint_every = int64_t{1} << 62;
  c.engine.dedup_max_entries = 4'000'000;
  return c;
}

Event MakeEvent(uint64_t n, int subject) {
  Event e;
  e.id = "ev-" + std::to_string(n);
  e.subject = "user" + std::to_string(subject);
  e.type = "correction";
  e.data = {{"chars", 523}, {"tokens", 1200}};
  return e;
}

struct World {
  World() : clock(ParseRfc3339("2026-03-10T12:00:00Z").value()) {
    engine = Engine::Open(BenchConfig(), &store, &clock).value();
    for (int o = 0; o < kOrgs; ++o) {
      (void)engine->PutOrg(Org{"org" + std::to_string(o), "bench", "Europe/Berlin", 1, {}});
    }
    for (int s = 0; s < kSubjects; ++s) {
      Subject sub;
      sub.id = "user" + std::to_string(s);
      sub.tier = "bench";
      sub.org = "org" + std::to_string(s % kOrgs);
      sub.timezone = "America/New_York";
      (void)engine->PutSubject(sub);
    }
    // Warm up: every subject's and org's windows are current, as in steady state.
    for (int s = 0; s < kSubjects; ++s) {
      (void)engine->Consume(MakeEvent(next_id.fetch_add(1), s));
    }
  }
  NullStore store;
  SimulatedClock clock;
  std::unique_ptr<Engine> engine;
  std::atomic<uint64_t> next_id{0};
};

World& TheWorld() {
  static World* world = new World();
  return *world;
}


void BM_Consume3MetersSubjectAndOrg(benchmark::State& state) {
  World& w = TheWorld();
  uint64_t rng = 0x9e3779b97f4a7c15ull * (state.thread_index() + 1);
  int64_t denied = 0;
  for (auto _ : state) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    Event e = MakeEvent(w.next_id.fetch_add(1, std::memory_order_relaxed), rng % kSubjects);
    auto d = w.engine->Consume(std::move(e));
    if (!d.ok() || !d->allowed) ++denied;
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["denied"] = static_cast<double>(denied);
}
BENCHMARK(BM_Consume3MetersSubjectAndOrg)->Threads(1)->Threads(2)->UseRealTime();

// The same decision without building the event (ids and strings): what the
// engine itself costs once a request is parsed.
void BM_CheckOnly(benchmark::State& state) {
  World& w = TheWorld();
  Event e = MakeEvent(0, 42);
  for (auto _ : state) {
    auto d = w.engine->Check(e);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CheckOnly)->Threads(1)->UseRealTime();

// Event construction alone, to separate it from the engine's share.
void BM_MakeEvent(benchmark::State& state) {
  uint64_t n = 0;
  for (auto _ : state) {
    Event e = MakeEvent(n, static_cast<int>(n % kSubjects));
    ++n;
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MakeEvent);

}  // namespace
}  // namespace tally

BENCHMARK_MAIN();
