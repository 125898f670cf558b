// History and analytics over the in-memory rollups (analytics/rollups.h) of a
// large synthetic event log. Target (issue 4): each answer <= 200 ms over
// 100M events.
//
//   build-bench/bench/analytics_bench [--events=100000000]
//       [--benchmark_filter=...] [--benchmark_repetitions=N]
//
// (TALLY_BENCH_EVENTS=N works too.) Before the benchmarks run, N events of
// bench/synthetic_events.h (20,000 Zipf-active subjects, 4 types, 90 days
// ending 2026-11-20T15:00Z, fixed seed) are folded straight into a Rollups
// with the default meters (chars, requests, tokens), the way the store's
// writer folds them, and the fold rate, RollupStats and the process's memory
// are printed. Per-subject benchmarks read the heaviest subject, user00000
// (~9.5 % of all events).
//
// The store persists changed cells every second; the generator calls
// TakeDirty (and drops the rows) every 200,000 events to match, so memory and
// fold cost are as in a server.
//
// Each benchmark is one query, or the rollups part of one HTTP answer (the
// handlers in src/server/handlers/ minus JSON and the engine's own calls),
// timed in real time; by default 5 repetitions, aggregates only (read the
// _median rows).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "analytics/anomaly.h"
#include "analytics/buckets.h"
#include "analytics/rollups.h"
#include "analytics/stats.h"
#include "bench_util.h"
#include "synthetic_events.h"
#include "core/meter.h"
#include "core/time.h"
#include "store/log_record.h"

namespace tally {
namespace {

constexpr int kSubjects = 20'000;
constexpr int kDays = 90;
constexpr Micros kDay = kMicrosPerDay;
constexpr Micros kHour = kMicrosPerHour;
// The end of the generated log and the "now" of every query: a Friday,
// 15:00 UTC (10:00 in New York), so the last hours have traffic.
const Micros kNow = ParseRfc3339("2026-11-20T15:00:00Z").value();
constexpr int64_t kTakeDirtyEvery = 200'000;

using bench::MemoryMb;
using bench::SubjectName;

struct World {
  std::unique_ptr<Rollups> rollups;
  absl::TimeZone ny;
  std::string heavy = SubjectName(0);
  std::vector<std::string> peers;  // the heavy subject's tier: everyone (the engine's list)
};

World* g_world = nullptr;

void Build(int64_t events) {
  g_world = new World();
  World& w = *g_world;
  if (!absl::LoadTimeZone("America/New_York", &w.ny)) {
    std::fprintf(stderr, "no zone America/New_York\n");
    std::exit(1);
  }
  for (int i = 0; i < kSubjects; ++i) w.peers.push_back(SubjectName(i));
  w.rollups = std::make_unique<Rollups>(DefaultMeters());

  // The generator alone, on a sample, to tell its cost from Fold's.
  const int64_t sample = std::min<int64_t>(events, 2'000'000);
  {
    bench::SyntheticEvents g(sample, kSubjects, kDays * 24, kNow);
    uint64_t sink = 0;
    const double t0 = bench::Seconds();
    g.Run([&](const EventRecord& r) { sink += static_cast<uint64_t>(r.event.time); });
    const double dt = bench::Seconds() - t0;
    benchmark::DoNotOptimize(sink);
    std::printf("generator alone: %.2f M events/s (%ld events)\n", sample / dt / 1e6,
                static_cast<long>(sample));
  }

  bench::SyntheticEvents g(events, kSubjects, kDays * 24, kNow);
  uint64_t seq = 0;
  double take_dirty_s = 0;
  size_t rows = 0;
  std::vector<RollupRow> dirty;
  const double t0 = bench::Seconds();
  g.Run([&](const EventRecord& r) {
    w.rollups->Fold(++seq, r);
    if (seq % kTakeDirtyEvery == 0) {
      const double d0 = bench::Seconds();
      w.rollups->TakeDirty(dirty);
      take_dirty_s += bench::Seconds() - d0;
      rows += dirty.size();
      dirty.clear();
    }
    if (seq % 10'000'000 == 0) {
      std::fprintf(stderr, "folded %luM (%.2f M/s)\n", static_cast<unsigned long>(seq / 1'000'000),
                   seq / (bench::Seconds() - t0) / 1e6);
    }
  });
  const double dt = bench::Seconds() - t0;
  const RollupStats stats = w.rollups->Stats();
  const auto [rss, hwm] = MemoryMb();
  std::printf("generated + folded %lu events in %.1f s: %.2f M events/s (TakeDirty every %ld: %.1f s of it, "
              "%zu rows)\n",
              static_cast<unsigned long>(seq), dt, seq / dt / 1e6, static_cast<long>(kTakeDirtyEvery),
              take_dirty_s, rows);
  std::printf("rollups: %lu subjects, %lu subject cells, %lu endpoint cells; RSS %.0f MB (peak %.0f MB), "
              "%.1f bytes per event, %.1f bytes per cell\n",
              static_cast<unsigned long>(stats.subjects), static_cast<unsigned long>(stats.cells),
              static_cast<unsigned long>(stats.endpoint_cells), rss, hwm, rss * 1e6 / seq,
              rss * 1e6 / static_cast<double>(stats.cells));
  const std::array<Micros, 2> all = {kNow - kDays * kDay, kNow};
  const Usage heavy = w.rollups->SubjectSeries(w.heavy, all).front().usage;
  std::printf("heavy subject %s: %ld events over %d days\n", w.heavy.c_str(), static_cast<long>(heavy.events),
              kDays);
  std::fflush(stdout);
}

// --- History -------------------------------------------------------------------

// GET /api/usage/history: the series and its whole-span total.
void History(benchmark::State& state, Granularity g, Micros span, const absl::TimeZone& tz) {
  const Rollups& r = *g_world->rollups;
  for (auto _ : state) {
    std::vector<Micros> b = BucketBoundaries(g, tz, kNow - span, kNow).value();
    std::vector<Bucket> series = r.SubjectSeries(g_world->heavy, b);
    const std::array<Micros, 2> whole = {b.front(), b.back()};
    std::vector<Bucket> total = r.SubjectSeries(g_world->heavy, whole);
    benchmark::DoNotOptimize(series.data());
    benchmark::DoNotOptimize(total.data());
    state.counters["buckets"] = static_cast<double>(series.size());
  }
}

void BM_History_Day90_NewYork(benchmark::State& s) { History(s, Granularity::kDay, 90 * kDay, g_world->ny); }
void BM_History_Hour7(benchmark::State& s) { History(s, Granularity::kHour, 7 * kDay, g_world->ny); }
void BM_History_Month12_NewYork(benchmark::State& s) {
  History(s, Granularity::kMonth, 365 * kDay, g_world->ny);
}

// --- Analytics of one subject --------------------------------------------------

const Micros kEnd = kNow + kHour;  // CeilHour(now + 1)

int64_t Trend(const Rollups& r, Micros span) {
  const std::array<Micros, 3> b = {kEnd - 2 * span, kEnd - span, kEnd};
  std::vector<Bucket> series = r.SubjectSeries(g_world->heavy, b);
  return series[1].usage.events - series[0].usage.events;
}

int64_t PeakHours(const Rollups& r) {
  std::vector<Micros> hours;
  for (Micros t = kEnd - 28 * kDay; t <= kEnd; t += kHour) hours.push_back(t);
  const std::vector<Bucket> hourly = r.SubjectSeries(g_world->heavy, hours);
  std::array<std::array<int64_t, 24>, 7> grid{};
  for (const Bucket& b : hourly) {
    if (b.usage.events == 0) continue;
    const absl::CivilHour local = absl::ToCivilHour(absl::FromUnixMicros(b.start), g_world->ny);
    const int weekday = (static_cast<int>(absl::GetWeekday(absl::CivilDay(local))) + 7) % 7;
    grid[weekday][local.hour()] += b.usage.events;
  }
  std::vector<std::tuple<int64_t, int, int>> slots;
  for (int d = 0; d < 7; ++d) {
    for (int h = 0; h < 24; ++h) {
      if (grid[d][h] > 0) slots.emplace_back(grid[d][h], d, h);
    }
  }
  std::sort(slots.begin(), slots.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  return slots.empty() ? 0 : std::get<0>(slots.front());
}

// One monthly quota per meter (as a tier with chars, requests and tokens
// quotas would have): an hourly series from the window's start to now each.
double Forecasts(const Rollups& r) {
  const Micros window_start = BucketStart(Granularity::kMonth, g_world->ny, kNow);
  const std::vector<Micros> b = BucketBoundaries(Granularity::kMonth, g_world->ny, kNow, kNow + 1).value();
  const Micros window_end = b.back();
  double expected = 0;
  for (int m = 0; m < 3; ++m) {
    std::vector<Micros> hours;
    for (Micros t = window_start; t < kEnd + 1; t += kHour) hours.push_back(t);
    std::vector<int64_t> hourly;
    int64_t used = 0;
    for (const Bucket& bucket : r.SubjectSeries(g_world->heavy, hours)) {
      hourly.push_back(bucket.usage.meters[m]);
      used += bucket.usage.meters[m];
    }
    const WindowForecast f = ForecastWindow(hourly, window_start, kNow, window_end, used, used * 2);
    expected += f.expected;
  }
  return expected;
}

double TierStanding(const Rollups& r) {
  absl::flat_hash_map<std::string, Usage> usage;
  for (auto& [id, u] : r.SubjectTotals(kEnd - 30 * kDay, kEnd)) usage.emplace(id, std::move(u));
  auto value_of = [&](const std::string& id, int m) -> double {
    auto it = usage.find(id);
    if (it == usage.end()) return 0;
    return static_cast<double>(m < 0 ? it->second.events : it->second.meters[m]);
  };
  double sum = 0;
  for (int m = -1; m < 3; ++m) {
    std::vector<double> population;
    population.reserve(g_world->peers.size());
    for (const std::string& id : g_world->peers) population.push_back(value_of(id, m));
    const double mine = value_of(g_world->heavy, m);
    std::vector<double> sorted = population;
    std::sort(sorted.begin(), sorted.end());
    sum += PercentileRank(population, mine) + Median(population) +
           sorted[static_cast<size_t>(0.9 * static_cast<double>(sorted.size() - 1))];
  }
  return sum;
}

size_t ScoreLastHour(const Rollups& r) {
  return ScoreSubjectHour(r, g_world->heavy, kNow - kHour).size();
}

void BM_Analytics_Trend7d(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Trend(*g_world->rollups, 7 * kDay));
}
void BM_Analytics_Trend30d(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Trend(*g_world->rollups, 30 * kDay));
}
void BM_Analytics_PeakHours28d(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(PeakHours(*g_world->rollups));
}
void BM_Analytics_Forecast3Quotas(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Forecasts(*g_world->rollups));
}
void BM_Analytics_TierStanding30d(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(TierStanding(*g_world->rollups));
}
void BM_Analytics_ScoreSubjectHour(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(ScoreLastHour(*g_world->rollups));
}
// Everything GET /api/usage/analytics asks of the rollups.
void BM_Analytics_WholeAnswer(benchmark::State& state) {
  const Rollups& r = *g_world->rollups;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Trend(r, 7 * kDay));
    benchmark::DoNotOptimize(PeakHours(r));
    benchmark::DoNotOptimize(Forecasts(r));
    benchmark::DoNotOptimize(TierStanding(r));
    benchmark::DoNotOptimize(ScoreLastHour(r));
  }
}

// --- Admin ---------------------------------------------------------------------

void BM_Admin_SystemSeries_Hour7d(benchmark::State& state) {
  const std::vector<Micros> b =
      BucketBoundaries(Granularity::kHour, absl::UTCTimeZone(), kEnd - 7 * kDay, kEnd).value();
  for (auto _ : state) benchmark::DoNotOptimize(g_world->rollups->SystemSeries(b).data());
}
void BM_Admin_SystemSeries_Day90d(benchmark::State& state) {
  const std::vector<Micros> b =
      BucketBoundaries(Granularity::kDay, absl::UTCTimeZone(), kEnd - 90 * kDay, kEnd).value();
  for (auto _ : state) benchmark::DoNotOptimize(g_world->rollups->SystemSeries(b).data());
}
void BM_Admin_Endpoints30d(benchmark::State& state) {
  for (auto _ : state) {
    LatencySketch latency;
    for (const EndpointUsage& e : g_world->rollups->Endpoints(kEnd - 30 * kDay, kEnd)) latency.Merge(e.latency);
    benchmark::DoNotOptimize(latency.Quantile(0.99));
  }
}
void BM_Admin_ActiveSubjectsPerHour30d(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(g_world->rollups->ActiveSubjectsPerHour(kEnd - 30 * kDay, kEnd).data());
  }
}

// Everything GET /api/admin/usage/system asks of the rollups, over `days`.
void AdminSystem(benchmark::State& state, int days) {
  const Rollups& r = *g_world->rollups;
  const Micros from = kEnd - days * kDay;
  const Micros to = kEnd;
  const Granularity g = to - from <= 7 * kDay ? Granularity::kHour : Granularity::kDay;
  for (auto _ : state) {
    const std::vector<Micros> b = BucketBoundaries(g, absl::UTCTimeZone(), from, to).value();
    benchmark::DoNotOptimize(r.SystemSeries(b).data());
    const std::array<Micros, 2> whole = {from, to};
    benchmark::DoNotOptimize(r.SystemSeries(whole).front().usage.events);
    std::vector<Micros> hours;
    for (Micros t = from; t <= to; t += kHour) hours.push_back(t);
    std::array<int64_t, 24> by_hour{};
    for (const Bucket& bucket : r.SystemSeries(hours)) {
      by_hour[absl::ToCivilHour(absl::FromUnixMicros(bucket.start), absl::UTCTimeZone()).hour()] +=
          bucket.usage.events;
    }
    benchmark::DoNotOptimize(by_hour.data());
    LatencySketch latency;
    for (const EndpointUsage& e : r.Endpoints(from, to)) latency.Merge(e.latency);
    benchmark::DoNotOptimize(latency.Quantile(0.5));
    benchmark::DoNotOptimize(r.ActiveSubjectsPerHour(from, to).data());
    benchmark::DoNotOptimize(r.SubjectTotals(from, to).size());
  }
}
void BM_Admin_SystemAnswer1d(benchmark::State& s) { AdminSystem(s, 1); }
void BM_Admin_SystemAnswer7d(benchmark::State& s) { AdminSystem(s, 7); }
void BM_Admin_SystemAnswer30d(benchmark::State& s) { AdminSystem(s, 30); }

// GET /api/admin/usage/users: every subject's totals over 30 days, sorted by events.
void BM_Admin_Users30d(benchmark::State& state) {
  for (auto _ : state) {
    auto totals = g_world->rollups->SubjectTotals(kEnd - 30 * kDay, kEnd);
    std::stable_sort(totals.begin(), totals.end(),
                     [](const auto& a, const auto& b) { return a.second.events > b.second.events; });
    benchmark::DoNotOptimize(totals.data());
    state.counters["subjects"] = static_cast<double>(totals.size());
  }
}
void BM_Admin_SubjectTotals30d(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(g_world->rollups->SubjectTotals(kEnd - 30 * kDay, kEnd).data());
  }
}

// The hourly anomaly sweep: every subject with usage in the hour or its week.
void BM_Admin_DetectAnomalies1h(benchmark::State& state) {
  for (auto _ : state) {
    std::vector<Anomaly> a = DetectAnomalies(*g_world->rollups, kNow - kHour);
    state.counters["flagged"] = static_cast<double>(a.size());
  }
}

void Register() {
  auto add = [](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  };
  add("History/day_90d_NewYork", BM_History_Day90_NewYork);
  add("History/hour_7d", BM_History_Hour7);
  add("History/month_12m_NewYork", BM_History_Month12_NewYork);
  add("Analytics/trend_7d", BM_Analytics_Trend7d);
  add("Analytics/trend_30d", BM_Analytics_Trend30d);
  add("Analytics/peak_hours_28d", BM_Analytics_PeakHours28d);
  add("Analytics/forecast_3_quotas", BM_Analytics_Forecast3Quotas);
  add("Analytics/tier_standing_30d", BM_Analytics_TierStanding30d);
  add("Analytics/score_subject_hour", BM_Analytics_ScoreSubjectHour);
  add("Analytics/whole_answer", BM_Analytics_WholeAnswer);
  add("Admin/system_series_hour_7d", BM_Admin_SystemSeries_Hour7d);
  add("Admin/system_series_day_90d", BM_Admin_SystemSeries_Day90d);
  add("Admin/endpoints_30d", BM_Admin_Endpoints30d);
  add("Admin/active_subjects_per_hour_30d", BM_Admin_ActiveSubjectsPerHour30d);
  add("Admin/system_answer_1d", BM_Admin_SystemAnswer1d);
  add("Admin/system_answer_7d", BM_Admin_SystemAnswer7d);
  add("Admin/system_answer_30d", BM_Admin_SystemAnswer30d);
  add("Admin/subject_totals_30d", BM_Admin_SubjectTotals30d);
  add("Admin/users_30d_sorted", BM_Admin_Users30d);
  add("Admin/detect_anomalies_1h", BM_Admin_DetectAnomalies1h);
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  int64_t events = 100'000'000;
  if (const char* env = std::getenv("TALLY_BENCH_EVENTS")) events = std::stoll(env);
  // Take --events=N (or --events N) out before Google Benchmark sees the flags.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--events=", 9) == 0) {
      events = std::stoll(argv[i] + 9);
    } else if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
      events = std::stoll(argv[++i]);
    } else {
      args.push_back(argv[i]);
    }
  }
  // Medians of 5 repetitions unless told otherwise.
  auto given = [&](const char* flag) {
    return std::any_of(args.begin(), args.end(), [&](const char* a) { return std::strncmp(a, flag, std::strlen(flag)) == 0; });
  };
  std::string reps = "--benchmark_repetitions=5", aggregates = "--benchmark_report_aggregates_only=true";
  if (!given("--benchmark_repetitions")) args.push_back(reps.data());
  if (!given("--benchmark_report_aggregates_only")) args.push_back(aggregates.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  tally::Build(events);
  tally::Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
