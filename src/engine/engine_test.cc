#include "engine/engine.h"

#include <gtest/gtest.h>

#include <limits>

#include "engine/engine_test_util.h"

namespace tally {
namespace {

using testing::At;
using testing::EngineFixture;
using testing::Ev;
using testing::Find;
using testing::MonthlyQuota;
using testing::TestConfig;

TEST(EngineTest, ConsumeAdmitsExactlyTheLimitThenDeniesUntilTheWindowEnds) {
  EngineFixture f;
  for (int i = 0; i < 10; ++i) {
    auto d = f.engine->Consume(Ev("e" + std::to_string(i), "alice"));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_TRUE(d->allowed) << i;
  }
  auto denied = f.engine->Consume(Ev("e10", "alice"));
  ASSERT_TRUE(denied.ok());
  EXPECT_FALSE(denied->allowed);
  EXPECT_EQ(denied->reason, DenyReason::kQuotaExceeded);
  EXPECT_EQ(denied->denied_meter, "requests");
  EXPECT_EQ(denied->retry_at, At("2026-04-01T00:00:00Z"));
  const QuotaView* v = Find(denied->quotas, "requests");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->used, 10);
  EXPECT_EQ(v->remaining, 0);
  EXPECT_EQ(v->status, QuotaStatus::kExceeded);
  EXPECT_EQ(v->period.start, At("2026-03-01T00:00:00Z"));

  // A new month: the window resets by itself.
  f.clock.Set(At("2026-04-01T00:00:00Z"));
  auto next = f.engine->Consume(Ev("e11", "alice"));
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(next->allowed);
  EXPECT_EQ(f.Used("alice", "requests"), 1);
}

TEST(EngineTest, ConsumeIsAllOrNothingAcrossMeters) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->Consume(Ev("a", "bob", {{"chars", 900}}))->allowed);
  auto d = f.engine->Consume(Ev("b", "bob", {{"chars", 200}}));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->denied_meter, "chars");
  // The requests meter (which had room) did not count the denied event.
  EXPECT_EQ(f.Used("bob", "requests"), 1);
  EXPECT_EQ(f.Used("bob", "chars"), 900);
  // Exactly the remainder fits.
  EXPECT_TRUE(f.engine->Consume(Ev("c", "bob", {{"chars", 100}}))->allowed);
  EXPECT_EQ(f.Used("bob", "chars"), 1000);
}

TEST(EngineTest, RetriesCountOnceAndReusedIdsConflict) {
  EngineFixture f;
  Event e = Ev("same", "carol", {{"chars", 10}});
  ASSERT_TRUE(f.engine->Consume(e)->allowed);
  auto again = f.engine->Consume(e);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->allowed);
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(f.Used("carol", "chars"), 10);
  EXPECT_EQ(f.Used("carol", "requests"), 1);

  Event other = Ev("same", "carol", {{"chars", 11}});
  auto conflict = f.engine->Consume(other);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAlreadyExists);
  // A track with the same id and body is also a replay.
  EXPECT_TRUE(f.engine->Track(e)->replayed);
  EXPECT_EQ(f.Used("carol", "chars"), 10);
}

TEST(EngineTest, DeniedEventsAreNotRememberedSoARetryCanSucceedLater) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->Consume(Ev("big", "dan", {{"chars", 1000}}))->allowed);
  Event e = Ev("later", "dan", {{"chars", 5}});
  EXPECT_FALSE(f.engine->Consume(e)->allowed);
  ASSERT_TRUE(f.engine->Grant("dan", "chars", 5, Actor{"admin", "goodwill"}).ok());
  auto retry = f.engine->Consume(e);
  EXPECT_TRUE(retry->allowed);
  EXPECT_FALSE(retry->replayed);
}

TEST(EngineTest, CheckHasNoSideEffect) {
  EngineFixture f;
  auto d = f.engine->Check(Ev("x", "erin", {{"chars", 1000}}));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed);
  EXPECT_FALSE(f.engine->Check(Ev("x", "erin", {{"chars", 1001}}))->allowed);
  // Nothing was counted and the id is still free.
  EXPECT_TRUE(f.engine->Consume(Ev("x", "erin", {{"chars", 3}}))->allowed);
  EXPECT_EQ(f.Used("erin", "chars"), 3);
}

TEST(EngineTest, TrackCountsPastTheLimitAndReportsThresholdsOnce) {
  EngineFixture f;
  auto d = f.engine->Track(Ev("t1", "fay", {{"chars", 600}}));
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->crossings.size(), 1u);
  EXPECT_EQ(d->crossings[0].meter, "chars");
  EXPECT_EQ(d->crossings[0].percent, 50);
  d = f.engine->Track(Ev("t2", "fay", {{"chars", 100}}));
  EXPECT_TRUE(d->crossings.empty());
  d = f.engine->Track(Ev("t3", "fay", {{"chars", 5000}}));
  ASSERT_TRUE(d->allowed);
  EXPECT_TRUE(d->over_limit);
  std::vector<int> crossed;
  for (const auto& c : d->crossings) {
    if (c.meter == "chars") crossed.push_back(c.percent);
  }
  EXPECT_EQ(crossed, (std::vector<int>{75, 90, 100}));
  EXPECT_EQ(f.Used("fay", "chars"), 5700);
}

TEST(EngineTest, OrgQuotaIsPooledAcrossItsSubjects) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->PutOrg(Org{"acme", "team", "UTC", 1, {}}).ok());
  for (const char* s : {"u1", "u2"}) {
    Subject sub;
    sub.id = s;
    sub.tier = "open";
    sub.org = "acme";
    ASSERT_TRUE(f.engine->PutSubject(sub).ok());
  }
  int admitted = 0;
  for (int i = 0; i < 30; ++i) {
    auto d = f.engine->Consume(Ev("o" + std::to_string(i), i % 2 ? "u1" : "u2"));
    ASSERT_TRUE(d.ok());
    if (d->allowed) {
      ++admitted;
    } else {
      EXPECT_EQ(d->denied_scope, Scope::kOrg);
    }
  }
  EXPECT_EQ(admitted, 20);
  EXPECT_EQ(f.Used("u1", "requests", Scope::kOrg), 20);
  EXPECT_EQ(f.Used("u1", "requests"), 10);
}

TEST(EngineTest, ReservationsHoldThenSettleTheActualAmount) {
  EngineFixture f;
  auto r = f.engine->Reserve(Ev("job1", "gus", {{"tokens", 4000}}), 60 * kMicrosPerSecond);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->allowed);
  EXPECT_EQ(r->reservation_id, "job1");
  EXPECT_EQ(r->expires_at, f.clock.Now() + 60 * kMicrosPerSecond);
  EXPECT_EQ(Find(r->quotas, "tokens")->reserved, 4000);
  // The hold counts against others.
  EXPECT_FALSE(f.engine->Consume(Ev("other", "gus", {{"tokens", 1500}}))->allowed);
  EXPECT_TRUE(f.engine->Consume(Ev("small", "gus", {{"tokens", 1000}}))->allowed);

  Event actual = Ev("", "", {{"tokens", 2500}});
  auto c = f.engine->Commit("job1", actual);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Find(c->quotas, "tokens")->used, 3500);
  EXPECT_EQ(Find(c->quotas, "tokens")->reserved, 0);
  // The same commit again is a replay; a different one is refused.
  EXPECT_TRUE(f.engine->Commit("job1", actual)->replayed);
  EXPECT_EQ(f.engine->Commit("job1", Ev("", "", {{"tokens", 1}})).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(f.engine->Release("job1").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.Used("gus", "tokens"), 3500);
}

TEST(EngineTest, ReleasedAndExpiredHoldsGiveTheirUnitsBack) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->Reserve(Ev("r1", "hal", {{"tokens", 3000}}), 10 * kMicrosPerSecond)->allowed);
  ASSERT_TRUE(f.engine->Reserve(Ev("r2", "hal", {{"tokens", 2000}}), 20 * kMicrosPerSecond)->allowed);
  EXPECT_FALSE(f.engine->Reserve(Ev("r3", "hal", {{"tokens", 1}}), 0)->allowed);
  ASSERT_TRUE(f.engine->Release("r1").ok());
  EXPECT_EQ(f.engine->Release("r1").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.engine->Release("nope").code(), absl::StatusCode::kNotFound);
  f.clock.Advance(21 * kMicrosPerSecond);
  // The next write sweeps the expired hold before deciding.
  auto d = f.engine->Consume(Ev("after", "hal", {{"tokens", 5000}}));
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(Find(d->quotas, "tokens")->reserved, 0);
  // A commit after expiry still records the work that was done.
  auto late = f.engine->Commit("r2", Ev("", "", {{"tokens", 10}}));
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(f.Used("hal", "tokens"), 5010);
}

TEST(EngineTest, RateLimitIsGcraWithBurst) {
  Config c = TestConfig();
  c.tiers[1].rate_limits = {RateLimit{"requests", 10, kMicrosPerSecond, 5}};
  EngineFixture f(c);
  Subject s;
  s.id = "ivy";
  s.tier = "open";
  ASSERT_TRUE(f.engine->PutSubject(s).ok());
  int i = 0;
  for (; i < 5; ++i) EXPECT_TRUE(f.engine->Consume(Ev("g" + std::to_string(i), "ivy"))->allowed);
  auto denied = f.engine->Consume(Ev("g5", "ivy"));
  EXPECT_FALSE(denied->allowed);
  EXPECT_EQ(denied->reason, DenyReason::kRateLimited);
  EXPECT_EQ(denied->retry_at, f.clock.Now() + 100'000);
  f.clock.Advance(99'999);
  EXPECT_FALSE(f.engine->Consume(Ev("g6", "ivy"))->allowed);
  f.clock.Advance(1);
  EXPECT_TRUE(f.engine->Consume(Ev("g7", "ivy"))->allowed);
}

TEST(EngineTest, OveragePolicies) {
  Config c = TestConfig();
  c.tiers[0].quotas[0] = MonthlyQuota("requests", 3, Overage::kAllowUpTo);
  c.tiers[0].quotas[0].allow_up_to = 2;
  c.tiers[0].quotas[1] = MonthlyQuota("chars", 10, Overage::kAllow);
  EngineFixture f(c);
  int admitted = 0;
  for (int i = 0; i < 8; ++i) admitted += f.engine->Consume(Ev("p" + std::to_string(i), "jo"))->allowed;
  EXPECT_EQ(admitted, 5);
  auto d = f.engine->Track(Ev("big", "kim", {{"chars", 1'000'000}}));
  EXPECT_TRUE(d->over_limit);
  auto views = f.engine->QuotaStatus("kim");
  EXPECT_EQ(Find(*views, "chars")->status, QuotaStatus::kExceeded);
  EXPECT_EQ(Find(*views, "chars")->remaining, 0);
}

TEST(EngineTest, WindowsFollowTheSubjectsTimeZoneAndAnchor) {
  EngineFixture f(TestConfig(), At("2026-03-14T12:00:00Z"));
  Subject s;
  s.id = "nyc";
  s.tier = "free";
  s.timezone = "America/New_York";
  s.anchor_day = 15;
  ASSERT_TRUE(f.engine->PutSubject(s).ok());
  auto d = f.engine->Consume(Ev("n1", "nyc"));
  const QuotaView* v = Find(d->quotas, "requests");
  // Feb 15 00:00 EST (UTC-5) to Mar 15 00:00 EDT (UTC-4).
  EXPECT_EQ(v->period.start, At("2026-02-15T05:00:00Z"));
  EXPECT_EQ(v->period.end, At("2026-03-15T04:00:00Z"));
  f.clock.Set(At("2026-03-15T03:59:59Z"));
  EXPECT_EQ(f.Used("nyc", "requests"), 1);
  f.clock.Set(At("2026-03-15T04:00:00Z"));
  EXPECT_EQ(f.Used("nyc", "requests"), 0);
}

TEST(EngineTest, UnusedUnitsRollOverUpToTheCap) {
  Config c = TestConfig();
  c.tiers[0].quotas[0].rollover_cap = 4;
  EngineFixture f(c);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(f.engine->Consume(Ev("m" + std::to_string(i), "lee"))->allowed);
  f.clock.Set(At("2026-04-02T00:00:00Z"));
  auto d = f.engine->Consume(Ev("april", "lee"));
  EXPECT_EQ(Find(d->quotas, "requests")->limit, 12);  // 10 + min(4, 2)
  f.clock.Set(At("2026-05-02T00:00:00Z"));
  auto views = f.engine->QuotaStatus("lee");
  EXPECT_EQ(Find(*views, "requests")->limit, 14);  // 10 + min(4, 11)
}

TEST(EngineTest, LateEventsCountInTheirOwnWindowAndTimesAreBounded) {
  EngineFixture f(TestConfig(), At("2026-04-03T00:00:00Z"));
  Event late = Ev("late", "mo", {{"chars", 7}});
  late.time = At("2026-03-30T10:00:00Z");
  auto d = f.engine->Consume(late);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(f.Used("mo", "chars"), 0);  // April's window is untouched
  Event ancient = Ev("old", "mo");
  ancient.time = At("2026-02-01T00:00:00Z");
  EXPECT_EQ(f.engine->Consume(ancient).status().code(), absl::StatusCode::kInvalidArgument);
  Event future = Ev("soon", "mo");
  future.time = At("2026-04-03T00:06:00Z");
  EXPECT_EQ(f.engine->Consume(future).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EngineTest, OverflowAndBadInputAreRejectedNotWrapped) {
  EngineFixture f;
  Subject s;
  s.id = "max";
  s.tier = "open";
  ASSERT_TRUE(f.engine->PutSubject(s).ok());
  const int64_t big = std::numeric_limits<int64_t>::max();
  ASSERT_TRUE(f.engine->Track(Ev("o1", "max", {{"chars", big}})).ok());
  auto over = f.engine->Track(Ev("o2", "max", {{"chars", 1}}));
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.Used("max", "chars"), big);
  EXPECT_EQ(f.engine->Track(Ev("neg", "max", {{"chars", -1}})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(f.engine->Track(Ev("", "max")).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EngineTest, BatchIsAllOrNothing) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->Track(Ev("b0", "ned", {{"chars", 1}})).ok());
  std::vector<Event> batch = {Ev("b1", "ned", {{"chars", 2}}), Ev("b2", "pat", {{"chars", 3}}),
                              Ev("b0", "ned", {{"chars", 999}})};
  EXPECT_EQ(f.engine->TrackBatch(batch).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(f.Used("ned", "chars"), 1);
  EXPECT_EQ(f.engine->QuotaStatus("pat").status().code(), absl::StatusCode::kNotFound);
  batch[2] = Ev("b0", "ned", {{"chars", 1}});  // a retry of b0: counted once
  batch.push_back(Ev("b1", "ned", {{"chars", 2}}));  // duplicate within the batch
  auto ok = f.engine->TrackBatch(batch);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE((*ok)[2].replayed);
  EXPECT_TRUE((*ok)[3].replayed);
  EXPECT_EQ(f.Used("ned", "chars"), 3);
  EXPECT_EQ(f.Used("pat", "chars"), 3);
}

TEST(EngineTest, UniqueCountAndMaxMeters) {
  Config c = TestConfig();
  c.tiers[0].quotas.push_back(MonthlyQuota("sessions", 2));
  c.tiers[0].quotas.push_back(MonthlyQuota("peak", 5));
  EngineFixture f(c);
  auto with_session = [](std::string id, std::string session) {
    Event e = Ev(std::move(id), "uma");
    e.context.session_id = std::move(session);
    return e;
  };
  EXPECT_TRUE(f.engine->Consume(with_session("s1", "A"))->allowed);
  EXPECT_TRUE(f.engine->Consume(with_session("s2", "A"))->allowed);
  EXPECT_TRUE(f.engine->Consume(with_session("s3", "B"))->allowed);
  EXPECT_FALSE(f.engine->Consume(with_session("s4", "C"))->allowed);
  EXPECT_TRUE(f.engine->Consume(with_session("s5", "B"))->allowed);
  EXPECT_EQ(f.Used("uma", "sessions"), 2);
  EXPECT_TRUE(f.engine->Consume(Ev("j1", "uma", {{"jobs", 3}}))->allowed);
  EXPECT_FALSE(f.engine->Consume(Ev("j2", "uma", {{"jobs", 6}}))->allowed);
  EXPECT_TRUE(f.engine->Consume(Ev("j3", "uma", {{"jobs", 2}}))->allowed);
  EXPECT_EQ(f.Used("uma", "peak"), 3);
}

TEST(EngineTest, AdminResetGrantAndLimitGoThroughTheLedger) {
  EngineFixture f;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(f.engine->Consume(Ev("a" + std::to_string(i), "val"))->allowed);
  ASSERT_TRUE(f.engine->ResetWindow("val", "requests", Actor{"root", "support ticket 42"}).ok());
  EXPECT_EQ(f.Used("val", "requests"), 0);
  ASSERT_TRUE(f.engine->SetLimit("val", "requests", 2).ok());
  int admitted = 0;
  for (int i = 0; i < 5; ++i) admitted += f.engine->Consume(Ev("b" + std::to_string(i), "val"))->allowed;
  EXPECT_EQ(admitted, 2);
  ASSERT_TRUE(f.engine->SetLimit("val", "requests", std::nullopt).ok());
  EXPECT_TRUE(f.engine->Consume(Ev("c", "val"))->allowed);
  EXPECT_EQ(f.engine->ResetWindow("nobody", "", Actor{}).code(), absl::StatusCode::kNotFound);
  bool saw_reset = false;
  for (const auto& [seq, rec] : f.store.Records()) {
    if (const auto* l = std::get_if<LedgerRecord>(&rec); l && l->kind == LedgerRecord::Kind::kReset) {
      saw_reset = true;
      EXPECT_EQ(l->actor, "root");
      EXPECT_EQ(l->reason, "support ticket 42");
      ASSERT_EQ(l->effects.size(), 1u);
      EXPECT_EQ(l->effects[0].amount, -10);
    }
  }
  EXPECT_TRUE(saw_reset);
}

TEST(EngineTest, UnknownSubjectsAreCreatedOnlyWhenAllowed) {
  Config c = TestConfig();
  c.auto_create_subjects = false;
  EngineFixture f(c);
  EXPECT_EQ(f.engine->Consume(Ev("z", "ghost")).status().code(), absl::StatusCode::kNotFound);
  EngineFixture g;
  ASSERT_TRUE(g.engine->Consume(Ev("z", "ghost")).ok());
  EXPECT_EQ(g.engine->GetSubject("ghost")->tier, "free");
}

TEST(EngineTest, StorageFailureIsReportedAndBlocksLaterWrites) {
  EngineFixture f;
  ASSERT_TRUE(f.engine->Consume(Ev("ok", "wes")).ok());
  f.store.FailWrites(absl::UnavailableError("disk full"));
  auto d = f.engine->Consume(Ev("fail", "wes"));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(d.status().message()).find("disk full"), std::string::npos);
  f.store.FailWrites(absl::OkStatus());
  EXPECT_EQ(f.engine->Consume(Ev("next", "wes")).status().code(), absl::StatusCode::kUnavailable);
  // Reads still work.
  EXPECT_TRUE(f.engine->QuotaStatus("wes").ok());
}

}  // namespace
}  // namespace tally
