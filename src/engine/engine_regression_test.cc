// Regression tests for defects found in review: each names the scenario.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "engine/engine.h"
#include "engine/engine_test_util.h"

namespace tally {
namespace {

using testing::At;
using testing::EngineFixture;
using testing::Ev;
using testing::Find;
using testing::MonthlyQuota;
using testing::TestConfig;

TEST(EngineRegressionTest, ATimeZoneChangeKeepsTheBalanceLiveAndAfterRestart) {
  EngineFixture f(TestConfig(), At("2026-03-10T12:00:00Z"));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(f.engine->Consume(Ev("a" + std::to_string(i), "tz"))->allowed);
  Subject s = *f.engine->GetSubject("tz");
  s.timezone = "America/New_York";
  ASSERT_TRUE(f.engine->PutSubject(s).ok());
  auto views = f.engine->QuotaStatus("tz");
  EXPECT_EQ(Find(*views, "requests")->period.start, At("2026-03-01T05:00:00Z"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.engine->Consume(Ev("b" + std::to_string(i), "tz"))->allowed);
  EXPECT_EQ(f.Used("tz", "requests"), 7);
  f.Reopen();
  EXPECT_EQ(f.Used("tz", "requests"), 7);
  ASSERT_TRUE(f.engine->Checkpoint().ok());
  f.Reopen();
  EXPECT_EQ(f.Used("tz", "requests"), 7);
  // The limit still holds in the new calendar.
  int admitted = 0;
  for (int i = 0; i < 5; ++i) admitted += f.engine->Consume(Ev("c" + std::to_string(i), "tz"))->allowed;
  EXPECT_EQ(admitted, 3);
}

TEST(EngineRegressionTest, APeriodChangeKeepsTheBalanceAndRecoversExactly) {
  EngineFixture f(TestConfig(), At("2026-03-10T12:00:00Z"));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(f.engine->Consume(Ev("a" + std::to_string(i), "p"))->allowed);
  Tier daily = f.engine->Tiers()[0];  // "free"
  ASSERT_EQ(daily.name, "free");
  for (Quota& q : daily.quotas) q.period = PeriodUnit::kDay;
  ASSERT_TRUE(f.engine->PutTier(daily).ok());
  ASSERT_TRUE(f.engine->Consume(Ev("b", "p"))->allowed);
  auto views = f.engine->QuotaStatus("p");
  EXPECT_EQ(Find(*views, "requests")->period.start, At("2026-03-10T00:00:00Z"));
  EXPECT_EQ(Find(*views, "requests")->used, 6);
  f.Reopen();
  EXPECT_EQ(f.Used("p", "requests"), 6);
  f.clock.Set(At("2026-03-11T00:00:00Z"));
  EXPECT_EQ(f.Used("p", "requests"), 0);
}

TEST(EngineRegressionTest, AnEventDatedAheadDoesNotMoveTheAccountIntoTheNextWindow) {
  EngineFixture f(TestConfig(), At("2026-03-31T23:57:00Z"));
  Event ahead = Ev("ahead", "fut");
  ahead.time = At("2026-04-01T00:01:00Z");
  ASSERT_TRUE(f.engine->Consume(ahead)->allowed);
  int admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += f.engine->Consume(Ev("n" + std::to_string(i), "fut"))->allowed;
  EXPECT_EQ(admitted, 9);
  f.Reopen();
  EXPECT_EQ(f.Used("fut", "requests"), 10);
}

TEST(EngineRegressionTest, ACommitCarryingTheReservationsIdIsCounted) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->Reserve(Ev("r1", "c", {{"tokens", 500}}), 0)->allowed);
  auto c = f.engine->Commit("r1", Ev("r1", "c", {{"tokens", 400}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->replayed);
  EXPECT_EQ(f.Used("c", "tokens"), 400);
}

TEST(EngineRegressionTest, AHoldCarriedAcrossARolloverStillCounts) {
  EngineFixture f(TestConfig(), At("2026-03-31T23:59:00Z"));
  ASSERT_TRUE(f.engine->Reserve(Ev("h", "roll", {{"tokens", 4000}}), 300 * kMicrosPerSecond)->allowed);
  f.clock.Set(At("2026-04-01T00:00:30Z"));
  EXPECT_FALSE(f.engine->Consume(Ev("big", "roll", {{"tokens", 5000}}))->allowed);
  EXPECT_TRUE(f.engine->Consume(Ev("small", "roll", {{"tokens", 1000}}))->allowed);
  ASSERT_TRUE(f.engine->Commit("h", Ev("", "", {{"tokens", 4000}})).ok());
  auto views = f.engine->QuotaStatus("roll");
  EXPECT_EQ(Find(*views, "tokens")->used, 5000);
  EXPECT_EQ(Find(*views, "tokens")->reserved, 0);
  f.Reopen();
  views = f.engine->QuotaStatus("roll");
  EXPECT_EQ(Find(*views, "tokens")->used, 5000);
  EXPECT_EQ(Find(*views, "tokens")->reserved, 0);
}

TEST(EngineRegressionTest, ARetriedCommitAfterARestartIsAReplay) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->Reserve(Ev("job", "rc", {{"tokens", 300}}), 0)->allowed);
  Event actual = Ev("", "", {{"tokens", 120}});
  ASSERT_TRUE(f.engine->Commit("job", actual).ok());
  ASSERT_TRUE(f.engine->Checkpoint().ok());  // the closed reservation is not in it
  f.Reopen();
  auto again = f.engine->Commit("job", actual);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(f.engine->Commit("job", Ev("", "", {{"tokens", 121}})).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(f.engine->Commit("never", actual).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(f.Used("rc", "tokens"), 120);
}

TEST(EngineRegressionTest, ReservationIdsOfTheMaximumLengthCanBeCommitted) {
  EngineFixture f;
  const std::string id(kMaxIdLength, 'r');
  ASSERT_TRUE(f.engine->Reserve(Ev(id, "long", {{"tokens", 10}}), 0)->allowed);
  auto c = f.engine->Commit(id, Ev("", "", {{"tokens", 10}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(f.Used("long", "tokens"), 10);
}

TEST(EngineRegressionTest, GrantsThatWouldOverflowAreRefused) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->Consume(Ev("x", "g")).ok());
  const int64_t max = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(f.engine->Grant("g", "requests", max - 10, Actor{"a", "b"}).ok());
  EXPECT_EQ(f.engine->Grant("g", "requests", max, Actor{"a", "b"}).code(),
            absl::StatusCode::kInvalidArgument);
  auto views = f.engine->QuotaStatus("g");
  EXPECT_EQ(Find(*views, "requests")->limit, max);  // 10 + (max - 10)
  f.Reopen();
  EXPECT_EQ(Find(*f.engine->QuotaStatus("g"), "requests")->limit, max);
}

TEST(EngineRegressionTest, LateEventsAreRecordedInTheirOwnWindow) {
  EngineFixture f(TestConfig(), At("2026-04-03T00:00:00Z"));
  ASSERT_TRUE(f.engine->Consume(Ev("now", "late")).ok());
  Event late = Ev("late", "late", {{"chars", 7}});
  late.time = At("2026-03-30T10:00:00Z");
  ASSERT_TRUE(f.engine->Track(late).ok());
  bool found = false;
  for (const auto& [seq, rec] : f.store.Records()) {
    const auto* e = std::get_if<EventRecord>(&rec);
    if (e == nullptr || e->event.id != "late") continue;
    found = true;
    ASSERT_FALSE(e->effects.empty());
    for (const Effect& effect : e->effects) {
      EXPECT_EQ(effect.window_start, At("2026-03-01T00:00:00Z"));
      EXPECT_EQ(effect.window_end, At("2026-04-01T00:00:00Z"));
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(f.Used("late", "chars"), 0);
}

}  // namespace
}  // namespace tally
