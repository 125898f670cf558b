#include <atomic>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"

#include "gtest/gtest.h"
#include "jobs/anomaly_job.h"
#include "jobs/scheduler.h"
#include "store/memory_store.h"

namespace tally {
namespace {

constexpr Micros kT0 = 1'772'323'200'000'000;  // 2026-03-01T00:00:00Z

TEST(SchedulerTest, RunsJobsUntilStopped) {
  std::atomic<int> runs{0};
  Scheduler scheduler;
  scheduler.Every("tick", std::chrono::milliseconds(1), [&runs] { runs++; });
  scheduler.Start();
  while (runs.load() < 3) std::this_thread::yield();
  scheduler.Stop();
  const int after = runs.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(runs.load(), after) << "no run after Stop()";
}

TEST(SchedulerTest, StopsPromptlyWhenNothingIsDue) {
  Scheduler scheduler;
  scheduler.Every("hourly", std::chrono::hours(1), [] { FAIL() << "not due yet"; });
  scheduler.Start();
  scheduler.Stop();
}

// Eight days of a steady 20 ± 3 events an hour, then 90 in the last hour.
void FeedSpike(Store& store) {
  std::mt19937 rng(1);
  std::vector<LogRecord> records;
  for (int h = 0; h <= 192; ++h) {
    const int n = h == 192 ? 90 : 17 + static_cast<int>(rng() % 7);
    for (int i = 0; i < n; ++i) {
      EventRecord r;
      r.event.id = absl::StrCat("e", h, "-", i);
      r.event.subject = "alice";
      r.event.type = "api";
      r.event.time = kT0 + h * kMicrosPerHour + i;
      records.push_back(std::move(r));
    }
  }
  ASSERT_TRUE(store.Append(std::move(records)).ok());
}

TEST(AnomalyJobTest, RecordsEachClosedHourOnceAcrossRestarts) {
  Rollups rollups(DefaultMeters());
  MemoryStore store(&rollups);
  FeedSpike(store);
  // 10 minutes after hour 192 closed: past the 5-minute grace.
  SimulatedClock clock(kT0 + 193 * kMicrosPerHour + 10 * kMicrosPerMinute);
  AnomalyJob job(&rollups, &store, &clock);
  absl::StatusOr<int> recorded = job.RunOnce();
  ASSERT_TRUE(recorded.ok()) << recorded.status();
  EXPECT_EQ(*recorded, 2) << "events and requests";  // no chars in these events
  absl::StatusOr<std::vector<AlertEntry>> alerts = store.ReadAlerts(AlertQuery{});
  ASSERT_TRUE(alerts.ok());
  ASSERT_EQ(alerts->size(), 2u);
  EXPECT_EQ((*alerts)[0].record.subject, "alice");
  EXPECT_EQ((*alerts)[0].record.hour, kT0 + 192 * kMicrosPerHour);

  EXPECT_EQ(*job.RunOnce(), 0) << "the same hour is not scored twice";
  AnomalyJob restarted(&rollups, &store, &clock);
  EXPECT_EQ(*restarted.RunOnce(), 0) << "nor after a restart";
  EXPECT_EQ(store.ReadAlerts(AlertQuery{})->size(), 2u);
}

TEST(AnomalyJobTest, WaitsForTheGracePeriod) {
  Rollups rollups(DefaultMeters());
  MemoryStore store(&rollups);
  FeedSpike(store);
  SimulatedClock clock(kT0 + 193 * kMicrosPerHour + 2 * kMicrosPerMinute);
  AnomalyJob job(&rollups, &store, &clock);
  EXPECT_EQ(*job.RunOnce(), 0) << "hour 192 closed only 2 minutes ago";
  clock.Advance(4 * kMicrosPerMinute);
  EXPECT_EQ(*job.RunOnce(), 2);
}

}  // namespace
}  // namespace tally
