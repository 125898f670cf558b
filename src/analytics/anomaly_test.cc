#include "analytics/anomaly.h"

#include <random>

#include "gtest/gtest.h"

namespace tally {
namespace {

constexpr Micros kT0 = 1'772'323'200'000'000;  // 2026-03-01T00:00:00Z

// `per_hour(h)` events of subject `subject` in each hour h of [0, hours).
template <typename F>
void Feed(Rollups& rollups, const std::string& subject, int hours, F per_hour, uint64_t& seq) {
  for (int h = 0; h < hours; ++h) {
    for (int i = 0; i < per_hour(h); ++i) {
      EventRecord r;
      r.event.subject = subject;
      r.event.type = "api";
      r.event.time = kT0 + h * kMicrosPerHour + i;
      r.event.data = {{"chars", 100}};
      rollups.Fold(++seq, r);
    }
  }
}

TEST(AnomalyTest, FlagsASpikeAgainstTheSubjectsOwnBaseline) {
  Rollups rollups(DefaultMeters());
  std::mt19937 rng(1);
  uint64_t seq = 0;
  // steady: 20 ± 3 an hour for 8 days, then 90 in hour 192.
  Feed(rollups, "steady", 193, [&](int h) { return h == 192 ? 90 : 17 + static_cast<int>(rng() % 7); }, seq);
  // busy: 2,000 ± 100 an hour; 2,050 is normal for it.
  Feed(rollups, "busy", 193, [&](int h) { return h == 192 ? 2050 : 1900 + static_cast<int>(rng() % 200); }, seq);
  // newcomer: first seen three hours ago, so no baseline yet.
  Feed(rollups, "newcomer", 193, [](int h) { return h >= 190 ? 500 : 0; }, seq);

  const Micros hour = kT0 + 192 * kMicrosPerHour;
  const std::vector<Anomaly> flagged = DetectAnomalies(rollups, hour);
  ASSERT_FALSE(flagged.empty());
  for (const Anomaly& a : flagged) {
    EXPECT_EQ(a.subject, "steady");
    EXPECT_EQ(a.hour, hour);
    EXPECT_GE(a.z, 3.5);
  }
  // events, chars and requests all spiked for "steady".
  EXPECT_EQ(flagged.size(), 3u);
  EXPECT_EQ(flagged[0].meter, "chars");
  EXPECT_EQ(flagged[0].value, 9000);

  const std::vector<Anomaly> busy = ScoreSubjectHour(rollups, "busy", hour + 5);
  ASSERT_FALSE(busy.empty());
  for (const Anomaly& a : busy) EXPECT_FALSE(a.flagged) << a.meter << " z=" << a.z;
  EXPECT_TRUE(ScoreSubjectHour(rollups, "newcomer", hour).empty());
}

TEST(AnomalyTest, FlagsADropToZero) {
  Rollups rollups(DefaultMeters());
  uint64_t seq = 0;
  std::mt19937 rng(2);
  Feed(rollups, "alice", 192, [&](int) { return 40 + static_cast<int>(rng() % 5); }, seq);
  const std::vector<Anomaly> flagged = DetectAnomalies(rollups, kT0 + 192 * kMicrosPerHour);
  ASSERT_EQ(flagged.size(), 3u);
  EXPECT_LT(flagged[0].z, -3.5);
  const AlertRecord alert = AnomalyAlert(flagged[0], kT0 + 193 * kMicrosPerHour);
  EXPECT_EQ(alert.kind, "anomaly");
  EXPECT_EQ(alert.subject, "alice");
  EXPECT_NE(alert.detail.find("\"direction\":\"drop\""), std::string::npos) << alert.detail;
}

TEST(AnomalyTest, AFlatBaselineGivesAFiniteScoreInTheAlert) {
  Rollups rollups(DefaultMeters());
  uint64_t seq = 0;
  Feed(rollups, "flat", 193, [](int h) { return h == 192 ? 50 : 10; }, seq);
  const std::vector<Anomaly> flagged = DetectAnomalies(rollups, kT0 + 192 * kMicrosPerHour);
  ASSERT_FALSE(flagged.empty());
  const AlertRecord alert = AnomalyAlert(flagged[0], 0);
  EXPECT_EQ(alert.detail.find("inf"), std::string::npos) << alert.detail;
}

TEST(AnomalyTest, ASparseSubjectIsFlaggedOnlyBeyondTwiceItsBusiestHour) {
  Rollups rollups(DefaultMeters());
  uint64_t seq = 0;
  // Active one hour in ten (4 events), idle otherwise: median 0.
  Feed(rollups, "sparse", 193, [](int h) { return h == 192 ? 6 : (h % 10 == 0 ? 4 : 0); }, seq);
  EXPECT_TRUE(DetectAnomalies(rollups, kT0 + 192 * kMicrosPerHour).empty())
      << "6 events is not twice its busiest hour (4)";
  Rollups burst(DefaultMeters());
  seq = 0;
  Feed(burst, "sparse", 193, [](int h) { return h == 192 ? 60 : (h % 10 == 0 ? 4 : 0); }, seq);
  EXPECT_EQ(DetectAnomalies(burst, kT0 + 192 * kMicrosPerHour).size(), 3u);
}

}  // namespace
}  // namespace tally
