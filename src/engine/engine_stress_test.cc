// Concurrency, proven: many threads race for one subject's (or one org's)
// quota; exactly the limit is admitted, never more. Runs under TSan in CI.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine/engine_test_util.h"

namespace tally {
namespace {

using testing::EngineFixture;
using testing::Ev;
using testing::Find;
using testing::MonthlyQuota;
using testing::TestConfig;

constexpr int kThreads = 8;

Config LimitConfig(int64_t requests, int64_t tokens) {
  Config c = TestConfig();
  c.tiers[0].quotas = {MonthlyQuota("requests", requests), MonthlyQuota("tokens", tokens)};
  c.tiers[2].quotas = {MonthlyQuota("requests", requests), MonthlyQuota("tokens", tokens)};
  return c;
}

TEST(EngineStressTest, ManyThreadsOneSubjectAdmitExactlyTheLimit) {
  constexpr int64_t kLimit = 1000;
  EngineFixture f(LimitConfig(kLimit, 1'000'000'000));
  std::atomic<int64_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        auto d = f.engine->Consume(Ev("t" + std::to_string(t) + "-" + std::to_string(i), "hot"));
        ASSERT_TRUE(d.ok()) << d.status();
        if (d->allowed) admitted.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), kLimit);
  EXPECT_EQ(f.Used("hot", "requests"), kLimit);
}

TEST(EngineStressTest, ManySubjectsOfOneOrgAdmitExactlyTheOrgLimit) {
  constexpr int64_t kLimit = 777;
  EngineFixture f(LimitConfig(1'000'000, 1'000'000'000));
  ASSERT_TRUE(f.engine->PutOrg(Org{"acme", "team", "UTC", 1, {}}).ok());
  // team: requests limited to 1,000,000 by LimitConfig; tighten the org itself.
  ASSERT_TRUE(f.engine->PutOrg(Org{"acme", "team", "UTC", 1, {{"requests", kLimit}}}).ok());
  for (int s = 0; s < 16; ++s) {
    Subject sub;
    sub.id = "member" + std::to_string(s);
    sub.tier = "open";
    sub.org = "acme";
    ASSERT_TRUE(f.engine->PutSubject(sub).ok());
  }
  std::atomic<int64_t> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string subject = "member" + std::to_string((t * 7 + i) % 16);
        auto d = f.engine->Consume(Ev("o" + std::to_string(t) + "-" + std::to_string(i), subject));
        ASSERT_TRUE(d.ok()) << d.status();
        if (d->allowed) admitted.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), kLimit);
  EXPECT_EQ(f.Used("member0", "requests", Scope::kOrg), kLimit);
  int64_t per_subject = 0;
  for (int s = 0; s < 16; ++s) per_subject += f.Used("member" + std::to_string(s), "requests");
  EXPECT_EQ(per_subject, kLimit);
}

TEST(EngineStressTest, RetriesRacingEachOtherCountOnce) {
  EngineFixture f(LimitConfig(1'000'000, 1'000'000'000));
  std::atomic<int> first_answers{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto d = f.engine->Consume(Ev("shared-" + std::to_string(i), "dup", {{"tokens", 3}}));
        ASSERT_TRUE(d.ok()) << d.status();
        if (!d->replayed) first_answers.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(first_answers.load(), 200);
  EXPECT_EQ(f.Used("dup", "tokens"), 600);
}

// Reservations, commits, releases and expiry interleaved with consumes: the
// limit holds at every instant, and the final count is exactly what was settled.
TEST(EngineStressTest, ReservationsAndExpiryNeverOvershoot) {
  constexpr int64_t kTokens = 50'000;
  EngineFixture f(LimitConfig(1'000'000, kTokens));
  std::atomic<int64_t> settled{0};
  std::atomic<bool> overshoot{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 300; ++i) {
        const std::string id = "r" + std::to_string(t) + "-" + std::to_string(i);
        const int64_t estimate = 1 + rng() % 400;
        const int action = rng() % 4;
        if (action == 0) {
          auto d = f.engine->Consume(Ev(id, "llm", {{"tokens", estimate}}));
          ASSERT_TRUE(d.ok()) << d.status();
          if (d->allowed) settled.fetch_add(estimate);
          const QuotaView* v = Find(d->quotas, "tokens");
          if (v != nullptr && v->used + v->reserved > kTokens) overshoot = true;
          continue;
        }
        auto r = f.engine->Reserve(Ev(id, "llm", {{"tokens", estimate}}),
                                   action == 3 ? 1 : 60 * kMicrosPerSecond);
        ASSERT_TRUE(r.ok()) << r.status();
        const QuotaView* v = Find(r->quotas, "tokens");
        if (v != nullptr && v->used + v->reserved > kTokens) overshoot = true;
        if (!r->allowed) continue;
        if (action == 1) {
          const int64_t actual = estimate - static_cast<int64_t>(rng() % estimate);
          auto c = f.engine->Commit(id, Ev("", "", {{"tokens", actual}}));
          ASSERT_TRUE(c.ok()) << c.status();
          settled.fetch_add(actual);
        } else if (action == 2) {
          ASSERT_TRUE(f.engine->Release(id).ok());
        }
        // action 3: the 1 µs hold is left to expire.
        if (i % 50 == 0) f.clock.Advance(2);
        if (i % 7 == 0) f.engine->ExpireReservations();
      }
    });
  }
  for (auto& th : threads) th.join();
  f.clock.Advance(120 * kMicrosPerSecond);
  f.engine->ExpireReservations();
  EXPECT_FALSE(overshoot.load());
  auto views = f.engine->QuotaStatus("llm");
  ASSERT_TRUE(views.ok());
  const QuotaView* v = Find(*views, "tokens");
  EXPECT_EQ(v->used, settled.load());
  EXPECT_EQ(v->reserved, 0);
  EXPECT_LE(v->used, kTokens);
  // A restart reproduces the same balance from the log.
  f.Reopen();
  EXPECT_EQ(f.Used("llm", "tokens"), settled.load());
}

}  // namespace
}  // namespace tally
