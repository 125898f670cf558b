#include "engine/gcra.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

RateRule Rule(int64_t rate, Micros per, int64_t burst) { return RateRule{0, rate, per, burst}; }

TEST(GcraTest, ABurstGoesThroughThenOneUnitPerEmissionInterval) {
  const RateRule rule = Rule(10, kMicrosPerSecond, 3);  // 100 ms per unit
  Micros tat = 0;
  const Micros now = 1'000'000'000;
  for (int i = 0; i < 3; ++i) {
    GcraResult r = GcraEvaluate(rule, tat, now, 1);
    ASSERT_TRUE(r.allowed) << i;
    tat = r.new_tat;
  }
  GcraResult denied = GcraEvaluate(rule, tat, now, 1);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.retry_at, now + 100'000);
  EXPECT_TRUE(GcraEvaluate(rule, tat, denied.retry_at, 1).allowed);
  EXPECT_FALSE(GcraEvaluate(rule, tat, denied.retry_at - 1, 1).allowed);
}

TEST(GcraTest, CostsAreWeighedInUnits) {
  const RateRule rule = Rule(1000, kMicrosPerSecond, 1000);  // 1000 tokens/s
  GcraResult r = GcraEvaluate(rule, 0, 5'000'000, 600);
  ASSERT_TRUE(r.allowed);
  EXPECT_FALSE(GcraEvaluate(rule, r.new_tat, 5'000'000, 600).allowed);
  EXPECT_TRUE(GcraEvaluate(rule, r.new_tat, 5'000'000, 400).allowed);
  // A cost larger than the burst can never conform.
  EXPECT_FALSE(GcraEvaluate(rule, 0, 5'000'000, 1001).allowed);
}

TEST(GcraTest, SubSecondLimitsAreExactToTheMicrosecond) {
  const RateRule rule = Rule(5, 100'000, 1);  // 5 per 100 ms: one per 20 ms
  GcraResult r = GcraEvaluate(rule, 0, 0, 1);
  ASSERT_TRUE(r.allowed);
  EXPECT_FALSE(GcraEvaluate(rule, r.new_tat, 19'999, 1).allowed);
  EXPECT_TRUE(GcraEvaluate(rule, r.new_tat, 20'000, 1).allowed);
}

TEST(GcraTest, IdleTimeDoesNotBankMoreThanTheBurst) {
  const RateRule rule = Rule(1, kMicrosPerSecond, 2);
  Micros tat = 0;
  const Micros later = 3600 * kMicrosPerSecond;
  int allowed = 0;
  for (int i = 0; i < 5; ++i) {
    GcraResult r = GcraEvaluate(rule, tat, later, 1);
    if (r.allowed) {
      ++allowed;
      tat = r.new_tat;
    }
  }
  EXPECT_EQ(allowed, 2);
}

TEST(GcraTest, HugeCostsSaturateInsteadOfOverflowing) {
  const RateRule rule = Rule(1, kMicrosPerSecond, 1);
  GcraResult r = GcraEvaluate(rule, 0, 0, INT64_MAX);
  EXPECT_FALSE(r.allowed);
  EXPECT_GT(r.retry_at, 0);
}

// Regression: with each unit and the burst rounded separately, "3 per 1s,
// burst 3" admitted only 2 at one instant (333,334 us a unit, 1,000,000 the burst).
TEST(GcraTest, AFullBurstPassesWhenTheRateDoesNotDivideThePeriod) {
  for (int64_t rate : {3, 7, 9, 11, 13, 1'000'003}) {
    const RateRule rule{0, rate, kMicrosPerSecond, rate};
    Micros tat = 0;
    int64_t admitted = 0;
    for (int64_t i = 0; i < rate + 5; ++i) {
      GcraResult r = GcraEvaluate(rule, tat, 1'000'000'000, 1);
      if (!r.allowed) break;
      tat = r.new_tat;
      ++admitted;
    }
    EXPECT_EQ(admitted, rate) << "rate " << rate;
  }
}

}  // namespace
}  // namespace tally
