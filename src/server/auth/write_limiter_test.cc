#include "server/auth/write_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace tally {
namespace {

constexpr Micros kStart = 1'767'225'600 * kMicrosPerSecond;

int AdmittedAt(WriteLimiter& limiter, const std::string& key, int64_t rate_override, Micros now, int attempts) {
  int admitted = 0;
  for (int i = 0; i < attempts; ++i) admitted += limiter.Admit(key, rate_override, now).allowed ? 1 : 0;
  return admitted;
}

TEST(WriteLimiterTest, ExactlyTheBurstIsAdmittedAtOneInstant) {
  WriteLimiter limiter(10);  // 10/s, burst 10
  EXPECT_EQ(AdmittedAt(limiter, "key_a", 0, kStart, 50), 10);
  WriteLimiter three_seconds(10, 3);  // burst 30
  EXPECT_EQ(AdmittedAt(three_seconds, "key_a", 0, kStart, 100), 30);
}

TEST(WriteLimiterTest, AfterTheBurstAdmissionsAreSpacedByTheEmissionInterval) {
  WriteLimiter limiter(10);  // one per 100 ms
  ASSERT_EQ(AdmittedAt(limiter, "key_a", 0, kStart, 10), 10);
  WriteLimiter::Result denied = limiter.Admit("key_a", 0, kStart);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.retry_at, kStart + 100'000);
  EXPECT_FALSE(limiter.Admit("key_a", 0, kStart + 99'999).allowed);
  EXPECT_TRUE(limiter.Admit("key_a", 0, kStart + 100'000).allowed);
  EXPECT_FALSE(limiter.Admit("key_a", 0, kStart + 100'000).allowed);
  // Steady state: one per 100 ms for a while.
  for (int i = 2; i < 20; ++i) {
    const Micros at = kStart + i * 100'000;
    EXPECT_TRUE(limiter.Admit("key_a", 0, at).allowed) << i;
    EXPECT_FALSE(limiter.Admit("key_a", 0, at).allowed) << i;
  }
  // After a quiet second, the full burst is back.
  EXPECT_EQ(AdmittedAt(limiter, "key_a", 0, kStart + 3 * kMicrosPerSecond, 50), 10);
}

TEST(WriteLimiterTest, KeysHaveSeparateBuckets) {
  WriteLimiter limiter(5);
  EXPECT_EQ(AdmittedAt(limiter, "key_a", 0, kStart, 20), 5);
  EXPECT_EQ(AdmittedAt(limiter, "key_b", 0, kStart, 20), 5);
  EXPECT_FALSE(limiter.Admit("key_a", 0, kStart).allowed);
}

TEST(WriteLimiterTest, AKeysOwnRateOverridesTheDefault) {
  WriteLimiter limiter(10);
  EXPECT_EQ(AdmittedAt(limiter, "key_fast", 1000, kStart, 5000), 1000);
  EXPECT_EQ(AdmittedAt(limiter, "key_slow", 2, kStart, 50), 2);
  WriteLimiter::Result denied = limiter.Admit("key_slow", 2, kStart);
  EXPECT_EQ(denied.retry_at, kStart + 500'000);
  // An override also limits when the default is unlimited.
  WriteLimiter unlimited_default(0);
  EXPECT_EQ(AdmittedAt(unlimited_default, "key_a", 3, kStart, 50), 3);
}

TEST(WriteLimiterTest, RatesThatDoNotDivideASecondStillGetTheirWholeBurstAndRate) {
  for (const int64_t rate : {3, 7, 9, 333}) {
    WriteLimiter limiter(rate);
    EXPECT_EQ(AdmittedAt(limiter, "key_a", 0, kStart, static_cast<int>(rate) + 5), rate) << rate;
    // Knocking every 100 ms for a minute: the long-run rate holds (the
    // interval is rounded up to a nanosecond, so at most one is lost).
    int64_t admitted = 0;
    for (Micros t = kStart + 100'000; t <= kStart + 60 * kMicrosPerSecond; t += 100'000) {
      admitted += AdmittedAt(limiter, "key_a", 0, t, static_cast<int>(rate));
    }
    EXPECT_LE(admitted, rate * 60) << rate;
    EXPECT_GE(admitted, rate * 60 - 1) << rate;
  }
  // A high rate: whole-microsecond intervals would round 300K/s down to 250K/s.
  WriteLimiter fast(300'000);
  EXPECT_EQ(AdmittedAt(fast, "key_a", 0, kStart, 300'010), 300'000);
  const int second = AdmittedAt(fast, "key_a", 0, kStart + kMicrosPerSecond, 300'010);
  EXPECT_GE(second, 299'700);
  EXPECT_LE(second, 300'000);
}

TEST(WriteLimiterTest, ZeroRateMeansUnlimited) {
  WriteLimiter limiter(0);
  EXPECT_EQ(AdmittedAt(limiter, "key_a", 0, kStart, 100'000), 100'000);
  EXPECT_EQ(limiter.Admit("key_a", 0, kStart).retry_at, 0);
}

TEST(WriteLimiterTest, ConcurrentAdmissionsNeverExceedTheBurst) {
  WriteLimiter limiter(100);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        if (limiter.Admit("shared", 0, kStart).allowed) admitted.fetch_add(1);
        (void)limiter.Admit("own_" + std::to_string(t) + "_" + std::to_string(i), 0, kStart);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(admitted.load(), 100);
}

TEST(WriteLimiterTest, ManyIdleKeysDoNotChangeAnswers) {
  // Enough keys to make stripes prune: a pruned (idle) key starts afresh,
  // exactly as if it had been kept.
  WriteLimiter limiter(1);
  for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(limiter.Admit("key_" + std::to_string(i), 0, kStart + i).allowed);
  const Micros later = kStart + 10 * kMicrosPerSecond;
  EXPECT_TRUE(limiter.Admit("key_0", 0, later).allowed);
  EXPECT_FALSE(limiter.Admit("key_0", 0, later).allowed);
  EXPECT_TRUE(limiter.Admit("key_99999", 0, later).allowed);
  EXPECT_FALSE(limiter.Admit("key_99999", 0, later).allowed);
}

}  // namespace
}  // namespace tally
