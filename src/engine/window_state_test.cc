#include "engine/window_state.h"

#include <gtest/gtest.h>

#include <limits>

namespace tally {
namespace {

QuotaRule Limit(int64_t limit, Overage overage = Overage::kBlock) {
  QuotaRule r;
  r.limit = limit;
  r.overage = overage;
  r.warn_at = {50, 75, 90, 100};
  return r;
}

WindowState Window100(int64_t used, int64_t reserved = 0) {
  WindowState w;
  w.Reset(Window{0, 100}, 0);
  w.used = used;
  w.reserved = reserved;
  return w;
}

TEST(WindowStateTest, BlockAdmitsUpToTheLimitCountingHolds) {
  const QuotaRule rule = Limit(100);
  EXPECT_TRUE(Admit(Window100(60, 30), rule, Aggregation::kSum, 10, 0).allowed);
  EXPECT_FALSE(Admit(Window100(60, 30), rule, Aggregation::kSum, 11, 0).allowed);
  WindowState granted = Window100(100);
  granted.granted = 5;
  EXPECT_TRUE(Admit(granted, rule, Aggregation::kSum, 5, 0).allowed);
  EXPECT_FALSE(Admit(granted, rule, Aggregation::kSum, 6, 0).allowed);
}

TEST(WindowStateTest, AllowUpToAndAllowFlagTheExcess) {
  QuotaRule up_to = Limit(100, Overage::kAllowUpTo);
  up_to.allow_up_to = 20;
  Admission a = Admit(Window100(100), up_to, Aggregation::kSum, 20, 0);
  EXPECT_TRUE(a.allowed);
  EXPECT_TRUE(a.over_limit);
  EXPECT_FALSE(Admit(Window100(100), up_to, Aggregation::kSum, 21, 0).allowed);
  Admission allow = Admit(Window100(1000), Limit(100, Overage::kAllow), Aggregation::kSum, 1000, 0);
  EXPECT_TRUE(allow.allowed);
  EXPECT_TRUE(allow.over_limit);
}

TEST(WindowStateTest, SumsThatWouldOverflowAreRejected) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  QuotaRule unlimited;
  Admission a = Admit(Window100(max), unlimited, Aggregation::kSum, 1, 0);
  EXPECT_TRUE(a.overflow);
  EXPECT_FALSE(a.allowed);
}

TEST(WindowStateTest, MaxAndLatestCompareTheValueItself) {
  const QuotaRule rule = Limit(10);
  Admission m = Admit(Window100(7), rule, Aggregation::kMax, 3, 0);
  EXPECT_TRUE(m.allowed);
  EXPECT_EQ(m.new_used, 7);
  EXPECT_FALSE(Admit(Window100(7), rule, Aggregation::kMax, 11, 0).allowed);
  WindowState w = Window100(5);
  w.latest_time = 50;
  EXPECT_EQ(Admit(w, rule, Aggregation::kLatest, 9, 40).new_used, 5);  // older event
  EXPECT_EQ(Admit(w, rule, Aggregation::kLatest, 9, 60).new_used, 9);
}

TEST(WindowStateTest, UniqueCountAddsOnlyNewValues) {
  const QuotaRule rule = Limit(2);
  WindowState w = Window100(0);
  for (uint64_t v : {7u, 7u, 8u}) {
    Admission a = Admit(w, rule, Aggregation::kUniqueCount, v, 0);
    ASSERT_TRUE(a.allowed);
    ApplyUsage(w, Aggregation::kUniqueCount, a, v, 0);
  }
  EXPECT_EQ(w.used, 2);
  EXPECT_FALSE(Admit(w, rule, Aggregation::kUniqueCount, 9, 0).allowed);
  EXPECT_TRUE(Admit(w, rule, Aggregation::kUniqueCount, 8, 0).allowed);
}

TEST(WindowStateTest, ViewsReportStatusAndRemaining) {
  const QuotaRule rule = Limit(200);
  QuotaView ok = ViewOf(Window100(100, 49), rule);
  EXPECT_EQ(ok.status, QuotaStatus::kOk);
  EXPECT_EQ(ok.remaining, 51);
  EXPECT_EQ(ViewOf(Window100(150), rule).status, QuotaStatus::kWarning);
  QuotaView over = ViewOf(Window100(250), rule);
  EXPECT_EQ(over.status, QuotaStatus::kExceeded);
  EXPECT_EQ(over.remaining, 0);
  EXPECT_DOUBLE_EQ(over.percent, 125.0);
  QuotaView unlimited = ViewOf(Window100(5), QuotaRule());
  EXPECT_FALSE(unlimited.limit.has_value());
  EXPECT_FALSE(unlimited.remaining.has_value());
}

TEST(WindowStateTest, ThresholdsAreCrossedOnceEach) {
  const QuotaRule rule = Limit(100);
  WindowState w = Window100(0);
  std::vector<int> out;
  CrossedThresholds(w, rule, 0, 49, out);
  EXPECT_TRUE(out.empty());
  CrossedThresholds(w, rule, 49, 95, out);
  EXPECT_EQ(out, (std::vector<int>{50, 75, 90}));
  out.clear();
  CrossedThresholds(w, rule, 95, 96, out);
  EXPECT_TRUE(out.empty());
}

TEST(WindowStateTest, RolloverCarriesUnusedUnitsUpToTheCap) {
  QuotaRule rule = Limit(100);
  rule.rollover_cap = 30;
  WindowState prev = Window100(80);
  const auto next_window = [](Micros t) { return Window{t - t % 100, t - t % 100 + 100}; };
  EXPECT_EQ(CarryInto(prev, rule, Window{100, 200}, next_window), 20);
  prev.used = 10;
  EXPECT_EQ(CarryInto(prev, rule, Window{100, 200}, next_window), 30);
  // An empty window in between carries its whole (capped) limit along.
  prev.used = 100;
  EXPECT_EQ(CarryInto(prev, rule, Window{200, 300}, next_window), 30);
  rule.rollover_cap = 0;
  EXPECT_EQ(CarryInto(prev, rule, Window{100, 200}, next_window), 0);
}

}  // namespace
}  // namespace tally
