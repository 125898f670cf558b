#include "analytics/rollups.h"

#include <map>
#include <random>
#include <set>

#include "gtest/gtest.h"

namespace tally {
namespace {

constexpr Micros kT0 = 1'772'323'200'000'000;  // 2026-03-01T00:00:00Z

std::vector<Meter> TestMeters() {
  std::vector<Meter> meters = DefaultMeters();
  meters.push_back(Meter{.name = "peak", .aggregation = Aggregation::kMax, .value = "jobs"});
  meters.push_back(Meter{.name = "level", .aggregation = Aggregation::kLatest, .value = "jobs"});
  meters.push_back(
      Meter{.name = "sessions", .aggregation = Aggregation::kUniqueCount, .value = "context.session_id"});
  meters.push_back(Meter{.name = "llm_tokens",
                         .aggregation = Aggregation::kSum,
                         .value = "tokens",
                         .types = {"llm"}});
  return meters;
}

struct Stored {
  uint64_t seq;
  EventRecord record;
};

// Random events over ten days for a few subjects, folded out of time order
// (late events), some with errors, endpoints and latencies.
std::vector<Stored> RandomEvents(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<std::string> subjects = {"alice", "bob", "carol"};
  const std::vector<std::string> types = {"api", "llm", "export"};
  std::vector<Stored> out;
  for (int i = 0; i < n; ++i) {
    EventRecord r;
    r.event.id = "e" + std::to_string(i);
    r.event.subject = subjects[rng() % subjects.size()];
    r.event.type = types[rng() % types.size()];
    r.event.time = kT0 + static_cast<Micros>(rng() % (10 * 24)) * kMicrosPerHour +
                   static_cast<Micros>(rng() % 3600) * kMicrosPerSecond;
    r.event.data = {{"chars", static_cast<int64_t>(rng() % 1000)}};
    if (rng() % 2) r.event.data.emplace_back("tokens", static_cast<int64_t>(rng() % 5000));
    if (rng() % 3 == 0) r.event.data.emplace_back("jobs", static_cast<int64_t>(rng() % 50));
    if (rng() % 2) r.event.context.session_id = "s" + std::to_string(rng() % 7);
    if (rng() % 5 == 0) r.event.context.error_code = rng() % 2 ? "timeout" : "bad_input";
    r.event.context.endpoint = rng() % 2 ? "/v1/correct" : "/v1/chat";
    if (rng() % 4) r.event.context.processing_ms = static_cast<int64_t>(rng() % 900);
    out.push_back(Stored{static_cast<uint64_t>(i + 1), std::move(r)});
  }
  return out;
}

// The usage of the events with time in [from, to), recomputed from scratch.
Usage Recompute(const std::vector<Meter>& meters, const std::vector<Stored>& events,
                const std::string& subject, Micros from, Micros to, const std::string& type) {
  Usage u{0, 0, std::vector<int64_t>(meters.size(), 0)};
  std::vector<std::set<uint64_t>> uniques(meters.size());
  std::vector<std::pair<Micros, uint64_t>> latest(meters.size(), {kBeginningOfTime, 0});
  for (const Stored& s : events) {
    const Event& e = s.record.event;
    if ((!subject.empty() && e.subject != subject) || e.time < from || e.time >= to) continue;
    if (!type.empty() && e.type != type) continue;
    u.events++;
    u.errors += !e.context.error_code.empty();
    for (size_t m = 0; m < meters.size(); ++m) {
      if (!meters[m].Applies(e)) continue;
      const uint64_t in = meters[m].InputOf(e);
      switch (meters[m].aggregation) {
        case Aggregation::kSum:
        case Aggregation::kCount:
          u.meters[m] += static_cast<int64_t>(in);
          break;
        case Aggregation::kMax:
          u.meters[m] = std::max(u.meters[m], static_cast<int64_t>(in));
          break;
        case Aggregation::kLatest:
          if (latest[m] < std::pair(e.time, s.seq)) {
            latest[m] = {e.time, s.seq};
            u.meters[m] = static_cast<int64_t>(in);
          }
          break;
        case Aggregation::kUniqueCount:
          uniques[m].insert(in);
          u.meters[m] = static_cast<int64_t>(uniques[m].size());
          break;
      }
    }
  }
  return u;
}

std::vector<Micros> DayBoundaries(int days, Micros offset = 0) {
  std::vector<Micros> b;
  for (int d = 0; d <= days; ++d) b.push_back(kT0 + offset + d * kMicrosPerDay);
  return b;
}

void FoldShuffled(Rollups& rollups, std::vector<Stored> events, uint32_t seed) {
  std::shuffle(events.begin(), events.end(), std::mt19937(seed));  // late events
  for (const Stored& s : events) rollups.Fold(s.seq, s.record);
}

TEST(RollupsTest, SeriesEqualRecomputationFromEvents) {
  const std::vector<Meter> meters = TestMeters();
  const std::vector<Stored> events = RandomEvents(3000, 7);
  Rollups rollups(meters);
  FoldShuffled(rollups, events, 11);

  const std::vector<Micros> days = DayBoundaries(10, 5 * kMicrosPerHour);  // a UTC-5 calendar
  for (const std::string subject : {"alice", "bob", "carol", "nobody"}) {
    for (const std::string type : {"", "llm", "api", "unknown"}) {
      const std::vector<Bucket> series = rollups.SubjectSeries(subject, days, type);
      ASSERT_EQ(series.size(), days.size() - 1);
      for (size_t b = 0; b < series.size(); ++b) {
        SCOPED_TRACE(subject + "/" + type + " day " + std::to_string(b));
        EXPECT_EQ(series[b].start, days[b]);
        EXPECT_EQ(series[b].usage, Recompute(meters, events, subject, days[b], days[b + 1], type));
      }
    }
  }
}

TEST(RollupsTest, SystemSeriesAndTotalsEqualRecomputation) {
  const std::vector<Meter> meters = TestMeters();
  const std::vector<Stored> events = RandomEvents(2000, 3);
  Rollups rollups(meters);
  FoldShuffled(rollups, events, 5);
  const std::vector<Micros> days = DayBoundaries(10);
  const std::vector<Bucket> series = rollups.SystemSeries(days);
  const int sessions = rollups.MeterIndex("sessions");
  for (size_t b = 0; b < series.size(); ++b) {
    Usage want = Recompute(meters, events, "", days[b], days[b + 1], "");
    want.meters[sessions] = -1;  // not kept system-wide
    EXPECT_EQ(series[b].usage, want) << "day " << b;
  }
  const auto totals = rollups.SubjectTotals(kT0 + kMicrosPerDay, kT0 + 4 * kMicrosPerDay);
  ASSERT_EQ(totals.size(), 3u);
  EXPECT_EQ(rollups.CountActiveSubjects(kT0 + kMicrosPerDay, kT0 + 4 * kMicrosPerDay), 3);
  EXPECT_EQ(rollups.CountActiveSubjects(kT0 - kMicrosPerDay, kT0), 0);
  for (const auto& [subject, usage] : totals) {
    EXPECT_EQ(usage, Recompute(meters, events, subject, kT0 + kMicrosPerDay,
                               kT0 + 4 * kMicrosPerDay, ""))
        << subject;
  }
}

TEST(RollupsTest, ErrorCodesActiveSubjectsAndEndpoints) {
  const std::vector<Stored> events = RandomEvents(1000, 9);
  Rollups rollups(TestMeters());
  FoldShuffled(rollups, events, 1);
  std::map<std::string, int64_t> codes;
  std::map<Micros, std::set<std::string>> active;
  std::map<std::string, int64_t> per_endpoint;
  int64_t with_latency = 0;
  for (const Stored& s : events) {
    const Event& e = s.record.event;
    if (!e.context.error_code.empty()) codes[e.context.error_code]++;
    active[(e.time - kT0) / kMicrosPerHour].insert(e.subject);
    per_endpoint[e.type + " " + e.context.endpoint]++;
    with_latency += e.context.processing_ms >= 0;
  }
  const auto got_codes = rollups.ErrorCodes(kT0, kT0 + 10 * kMicrosPerDay);
  ASSERT_EQ(got_codes.size(), codes.size());
  for (const auto& [code, n] : got_codes) EXPECT_EQ(n, codes[code]) << code;
  EXPECT_GE(got_codes[0].second, got_codes[1].second);

  const std::vector<int64_t> per_hour = rollups.ActiveSubjectsPerHour(kT0, kT0 + 10 * kMicrosPerDay);
  ASSERT_EQ(per_hour.size(), 240u);
  for (size_t h = 0; h < per_hour.size(); ++h) {
    EXPECT_EQ(per_hour[h], static_cast<int64_t>(active[static_cast<Micros>(h)].size())) << h;
  }

  int64_t latency_count = 0;
  for (const EndpointUsage& u : rollups.Endpoints(kT0, kT0 + 10 * kMicrosPerDay)) {
    EXPECT_EQ(u.events, per_endpoint[u.type + " " + u.endpoint]);
    latency_count += static_cast<int64_t>(u.latency.count());
  }
  EXPECT_EQ(latency_count, with_latency);
}

TEST(RollupsTest, PersistedCellsReloadToTheSameSeries) {
  const std::vector<Meter> meters = TestMeters();
  const std::vector<Stored> events = RandomEvents(1500, 21);
  Rollups rollups(meters);
  std::vector<RollupRow> rows;
  // Flush in two rounds, as the store does between transactions: a cell
  // changed after its first flush is written again in full.
  for (size_t i = 0; i < events.size(); ++i) {
    rollups.Fold(events[i].seq, events[i].record);
    if (i == events.size() / 2) rollups.TakeDirty(rows);
  }
  rollups.TakeDirty(rows);
  std::vector<RollupRow> again;
  rollups.TakeDirty(again);
  EXPECT_TRUE(again.empty()) << "nothing changed since the last flush";

  // The store keeps the last version of each key (INSERT OR REPLACE).
  std::map<std::tuple<uint8_t, std::string, int64_t, std::string>, RollupRow> table;
  for (RollupRow& row : rows) {
    table[{row.family, row.key, row.hour, row.type}] = std::move(row);
  }
  Rollups reloaded(meters);
  for (const auto& [key, row] : table) ASSERT_TRUE(reloaded.Load(row).ok());

  const std::vector<Micros> days = DayBoundaries(10);
  for (const std::string subject : {"alice", "bob", "carol"}) {
    const auto a = rollups.SubjectSeries(subject, days);
    const auto b = reloaded.SubjectSeries(subject, days);
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].usage, b[i].usage) << subject << i;
  }
  const auto sa = rollups.SystemSeries(days);
  const auto sb = reloaded.SystemSeries(days);
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_EQ(sa[i].usage, sb[i].usage) << i;
  EXPECT_EQ(rollups.ActiveSubjectsPerHour(kT0, kT0 + 10 * kMicrosPerDay),
            reloaded.ActiveSubjectsPerHour(kT0, kT0 + 10 * kMicrosPerDay));
  const auto ea = rollups.Endpoints(kT0, kT0 + 10 * kMicrosPerDay);
  const auto eb = reloaded.Endpoints(kT0, kT0 + 10 * kMicrosPerDay);
  ASSERT_EQ(ea.size(), eb.size());
  for (size_t i = 0; i < ea.size(); ++i) {
    EXPECT_EQ(ea[i].events, eb[i].events);
    EXPECT_EQ(ea[i].latency, eb[i].latency);
  }
}

TEST(RollupsTest, CorruptCellsAreRefused) {
  Rollups rollups(TestMeters());
  RollupRow row{.family = 0, .key = "alice", .type = "api", .hour = 1, .cell = "\x01\x02"};
  EXPECT_EQ(rollups.Load(row).code(), absl::StatusCode::kDataLoss);
  row.cell = "junk";
  EXPECT_EQ(rollups.Load(row).code(), absl::StatusCode::kDataLoss);
  row.family = 9;
  EXPECT_EQ(rollups.Load(row).code(), absl::StatusCode::kDataLoss);
}

TEST(RollupsTest, EndpointsBeyondTheCapAreSummedAsOther) {
  Rollups rollups(DefaultMeters());
  for (size_t i = 0; i < Rollups::kMaxEndpoints + 50; ++i) {
    EventRecord r;
    r.event.subject = "alice";
    r.event.type = "api";
    r.event.time = kT0;
    r.event.context.endpoint = "/e/" + std::to_string(i);
    rollups.Fold(i + 1, r);
  }
  const auto endpoints = rollups.Endpoints(kT0, kT0 + kMicrosPerHour);
  EXPECT_EQ(endpoints.size(), Rollups::kMaxEndpoints + 1);
  EXPECT_EQ(endpoints[0].endpoint, "(other)");
  EXPECT_EQ(endpoints[0].events, 50);
}

}  // namespace
}  // namespace tally
