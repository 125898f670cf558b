// Restart: an engine rebuilt from the store (checkpoint + the log after it)
// holds exactly the state the first one had.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "engine/engine.h"
#include "engine/engine_test_util.h"
#include "store/sqlite/sqlite_store.h"

namespace tally {
namespace {

using testing::At;
using testing::EngineFixture;
using testing::Ev;
using testing::Find;
using testing::MonthlyQuota;
using testing::TestConfig;

std::vector<QuotaView> Status(Engine& e, const std::string& subject) {
  auto v = e.QuotaStatus(subject);
  EXPECT_TRUE(v.ok()) << v.status();
  return v.ok() ? *v : std::vector<QuotaView>();
}

void ExpectSameViews(const std::vector<QuotaView>& a, const std::vector<QuotaView>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].meter, b[i].meter);
    EXPECT_EQ(a[i].used, b[i].used) << a[i].meter << " " << a[i].account;
    EXPECT_EQ(a[i].reserved, b[i].reserved) << a[i].meter;
    EXPECT_EQ(a[i].limit, b[i].limit) << a[i].meter;
    EXPECT_EQ(a[i].period, b[i].period) << a[i].meter;
  }
}

// Drives a mixed random workload over a few subjects and an org.
void Workload(EngineFixture& f, int seed, int n) {
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    const std::string subject = "s" + std::to_string(rng() % 5);
    const std::string id = "w" + std::to_string(seed) + "-" + std::to_string(i);
    Event e = Ev(id, subject, {{"chars", static_cast<int64_t>(rng() % 50)}, {"tokens", static_cast<int64_t>(rng() % 300)}});
    e.context.session_id = "sess" + std::to_string(rng() % 4);
    e.data.push_back({"jobs", static_cast<int64_t>(rng() % 9)});
    switch (rng() % 6) {
      case 0:
        ASSERT_TRUE(f.engine->Track(e).ok());
        break;
      case 1:
      case 2:
        ASSERT_TRUE(f.engine->Consume(e).ok());
        break;
      case 3: {
        auto r = f.engine->Reserve(e, (1 + rng() % 100) * kMicrosPerSecond);
        ASSERT_TRUE(r.ok());
        if (r->allowed && rng() % 2) {
          ASSERT_TRUE(f.engine->Commit(id, Ev("", "", {{"tokens", static_cast<int64_t>(rng() % 100)}})).ok());
        }
        break;
      }
      case 4:
        f.clock.Advance((rng() % 3600) * kMicrosPerSecond);
        f.engine->ExpireReservations();
        break;
      case 5:
        if (rng() % 10 == 0) {
          absl::Status s = f.engine->ResetWindow(subject, "", Actor{"t", "test"});
          ASSERT_TRUE(s.ok() || absl::IsNotFound(s)) << s;
        } else {
          absl::Status s = f.engine->Grant(subject, "requests", 1 + rng() % 3, Actor{"t", "test"});
          ASSERT_TRUE(s.ok() || absl::IsNotFound(s)) << s;
        }
        break;
    }
  }
}

Config RecoveryConfig() {
  Config c = TestConfig();
  c.tiers[0].quotas = {MonthlyQuota("requests", 400), MonthlyQuota("chars", 6000),
                       MonthlyQuota("tokens", 30000), MonthlyQuota("sessions", 3),
                       MonthlyQuota("peak", 7)};
  c.tiers[0].quotas[0].rollover_cap = 50;
  c.tiers[0].quotas[0].period = PeriodUnit::kDay;
  c.orgs = {Org{"acme", "team", "Asia/Kolkata", 31, {}}};
  Subject s;
  s.id = "s1";
  s.tier = "free";
  s.org = "acme";
  s.timezone = "America/New_York";
  s.anchor_day = 31;
  c.subjects = {s};
  return c;
}

TEST(EngineRecoveryTest, RestartFromTheLogAloneReproducesEveryCounter) {
  EngineFixture f(RecoveryConfig());
  Workload(f, 1, 3000);
  std::vector<std::vector<QuotaView>> before;
  for (int s = 0; s < 5; ++s) before.push_back(Status(*f.engine, "s" + std::to_string(s)));
  const EngineStats stats = f.engine->Stats();
  f.Reopen();
  for (int s = 0; s < 5; ++s) ExpectSameViews(before[s], Status(*f.engine, "s" + std::to_string(s)));
  EXPECT_EQ(f.engine->Stats().open_reservations, stats.open_reservations);
  EXPECT_EQ(f.engine->Stats().events, stats.events);
}

TEST(EngineRecoveryTest, CheckpointPlusTailEqualsTheFullLog) {
  EngineFixture f(RecoveryConfig());
  Workload(f, 2, 1500);
  ASSERT_TRUE(f.engine->Checkpoint().ok());
  Workload(f, 3, 1500);
  std::vector<std::vector<QuotaView>> before;
  for (int s = 0; s < 5; ++s) before.push_back(Status(*f.engine, "s" + std::to_string(s)));
  f.Reopen();
  for (int s = 0; s < 5; ++s) ExpectSameViews(before[s], Status(*f.engine, "s" + std::to_string(s)));
  // And the reopened engine keeps going exactly.
  Workload(f, 4, 500);
}

TEST(EngineRecoveryTest, DedupAndOpenReservationsSurviveARestart) {
  EngineFixture f(RecoveryConfig());
  Event e = Ev("once", "s2", {{"tokens", 100}});
  ASSERT_TRUE(f.engine->Consume(e)->allowed);
  ASSERT_TRUE(f.engine->Reserve(Ev("hold", "s2", {{"tokens", 500}}), 600 * kMicrosPerSecond)->allowed);
  ASSERT_TRUE(f.engine->Checkpoint().ok());
  ASSERT_TRUE(f.engine->Consume(Ev("after-cp", "s2", {{"tokens", 1}}))->allowed);
  f.Reopen();
  auto again = f.engine->Consume(e);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_TRUE(f.engine->Consume(Ev("after-cp", "s2", {{"tokens", 1}}))->replayed);
  EXPECT_EQ(f.engine->Consume(Ev("once", "s2", {{"tokens", 7}})).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto views = Status(*f.engine, "s2");
  EXPECT_EQ(Find(views, "tokens")->used, 101);
  EXPECT_EQ(Find(views, "tokens")->reserved, 500);
  auto c = f.engine->Commit("hold", Ev("", "", {{"tokens", 200}}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Find(c->quotas, "tokens")->used, 301);
  EXPECT_EQ(Find(c->quotas, "tokens")->reserved, 0);
}

TEST(EngineRecoveryTest, RuntimeRegistryChangesWinOverTheConfigFile) {
  EngineFixture f(RecoveryConfig());
  Tier gold;
  gold.name = "gold";
  gold.inherits = "free";
  gold.quotas = {MonthlyQuota("chars", 123456)};
  ASSERT_TRUE(f.engine->PutTier(gold).ok());
  Subject s = *f.engine->GetSubject("s1");
  s.tier = "gold";
  ASSERT_TRUE(f.engine->PutSubject(s).ok());
  f.Reopen();
  EXPECT_EQ(f.engine->GetSubject("s1")->tier, "gold");
  auto views = Status(*f.engine, "s1");
  EXPECT_EQ(Find(views, "chars")->limit, 123456);
  EXPECT_EQ(Find(views, "requests")->limit.has_value(), true);  // inherited from free
}

// Over SQLite, a restart rebuilds the dedup index from the store's dedup
// blocks: ids from before the checkpoint, after it, and of holds; also after
// the database was upgraded from schema version 1 (which had no such blocks).
TEST(EngineRecoveryTest, DedupSurvivesRestartsOverSqliteAndAnUpgrade) {
  const char* base = std::getenv("TALLY_TEST_TMPDIR");
  const std::filesystem::path dir =
      std::filesystem::path(base != nullptr && *base != '\0' ? base : "/tmp") /
      ("tally_recovery_sqlite_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const Config config = RecoveryConfig();
  SimulatedClock clock(At("2026-03-10T12:00:00Z"));
  SqliteStoreOptions options;
  options.dir = dir.string();
  options.clock = &clock;
  {
    auto store = SqliteStore::Open(options).value();
    auto engine = Engine::Open(config, store.get(), &clock).value();
    ASSERT_TRUE(engine->Consume(Ev("before-cp", "s2", {{"tokens", 100}}))->allowed);
    ASSERT_TRUE(engine->Reserve(Ev("hold", "s2", {{"tokens", 500}}), 600 * kMicrosPerSecond)->allowed);
    ASSERT_TRUE(engine->Checkpoint().ok());
    ASSERT_TRUE(engine->Consume(Ev("after-cp", "s2", {{"tokens", 1}}))->allowed);
  }
  for (const bool upgrade : {false, true}) {
    SCOPED_TRACE(upgrade ? "upgraded from version 1" : "version 2");
    if (upgrade) {  // version 1: without the dedup table and versions 3 and 4's additions
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open((dir / "tally.db").c_str(), &db), SQLITE_OK);
      ASSERT_EQ(sqlite3_exec(db, "DROP TABLE api_keys; DROP TABLE audit; DROP INDEX ledger_by_subject;"
                                 " DROP TABLE dedup; DROP TABLE rollups; DROP TABLE alerts;"
                                 " DELETE FROM meta WHERE key = 'rollup_seq';"
                                 " UPDATE meta SET value = 1"
                                 " WHERE key = 'schema_version'",
                             nullptr, nullptr, nullptr),
                SQLITE_OK);
      sqlite3_close(db);
    }
    auto store = SqliteStore::Open(options).value();
    auto engine = Engine::Open(config, store.get(), &clock).value();
    EXPECT_EQ(engine->Stats().dedup_entries, 3u);
    EXPECT_TRUE(engine->Consume(Ev("before-cp", "s2", {{"tokens", 100}}))->replayed);
    EXPECT_TRUE(engine->Consume(Ev("after-cp", "s2", {{"tokens", 1}}))->replayed);
    EXPECT_EQ(engine->Consume(Ev("after-cp", "s2", {{"tokens", 2}})).status().code(),
              absl::StatusCode::kAlreadyExists);
    EXPECT_TRUE(engine->Reserve(Ev("hold", "s2", {{"tokens", 500}}), 600 * kMicrosPerSecond)
                    ->replayed);
    auto views = Status(*engine, "s2");
    EXPECT_EQ(Find(views, "tokens")->used, 101);
    EXPECT_EQ(Find(views, "tokens")->reserved, 500);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

// A store whose checkpoint comes back damaged, as from a bad disk sector.
class CorruptCheckpointStore final : public Store {
 public:
  explicit CorruptCheckpointStore(Store* inner) : inner_(inner) {}
  absl::StatusOr<uint64_t> Append(std::vector<LogRecord> r) override { return inner_->Append(std::move(r)); }
  absl::Status WaitDurable(uint64_t t) override { return inner_->WaitDurable(t); }
  void WhenDurable(uint64_t t, std::function<void(const absl::Status&)> done) override {
    inner_->WhenDurable(t, std::move(done));
  }
  absl::StatusOr<std::vector<AuditEntry>> ReadAudit(const AuditQuery& q) override { return inner_->ReadAudit(q); }
  absl::StatusOr<std::vector<LedgerEntry>> ReadLedger(const LedgerQuery& q) override { return inner_->ReadLedger(q); }
  absl::StatusOr<std::vector<AlertEntry>> ReadAlerts(const AlertQuery& q) override { return inner_->ReadAlerts(q); }
  absl::Status ScanEvents(const EventQuery& q,
                          const std::function<bool(uint64_t, const EventRecord&)>& fn) override {
    return inner_->ScanEvents(q, fn);
  }
  absl::StatusOr<uint64_t> DeleteEvents(Micros before, uint64_t upto) override {
    return inner_->DeleteEvents(before, upto);
  }
  absl::StatusOr<uint64_t> RestoreEvents(const std::vector<std::pair<uint64_t, EventRecord>>& e) override {
    return inner_->RestoreEvents(e);
  }
  absl::Status Flush() override { return inner_->Flush(); }
  uint64_t LastSeq() const override { return inner_->LastSeq(); }
  StoreStats Stats() const override { return inner_->Stats(); }
  absl::StatusOr<Registry> LoadRegistry() override { return inner_->LoadRegistry(); }
  absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint() override {
    auto cp = inner_->LoadCheckpoint();
    if (cp.ok() && cp->has_value()) (*cp)->blob[(*cp)->blob.size() / 2] ^= 0x5a;
    return cp;
  }
  absl::Status Replay(uint64_t after,
                      const std::function<absl::Status(uint64_t, const LogRecord&)>& fn) override {
    return inner_->Replay(after, fn);
  }
  absl::Status ScanDedup(Micros since, uint64_t upto,
                         const std::function<void(const DedupEntry&)>& fn) override {
    return inner_->ScanDedup(since, upto, fn);
  }

 private:
  Store* const inner_;
};

TEST(EngineRecoveryTest, ADamagedCheckpointIsDetectedAndTheWholeLogReplayed) {
  testing::EngineFixture f(RecoveryConfig());
  Workload(f, 9, 800);
  ASSERT_TRUE(f.engine->Checkpoint().ok());
  Workload(f, 10, 200);
  std::vector<std::vector<QuotaView>> before;
  for (int s = 0; s < 5; ++s) before.push_back(Status(*f.engine, "s" + std::to_string(s)));
  f.engine.reset();
  CorruptCheckpointStore damaged(&f.store);
  auto engine = Engine::Open(f.config, &damaged, &f.clock);
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_EQ((*engine)->recovery_warnings().size(), 1u);
  EXPECT_NE((*engine)->recovery_warnings()[0].find("checksum"), std::string::npos);
  for (int s = 0; s < 5; ++s) ExpectSameViews(before[s], Status(**engine, "s" + std::to_string(s)));
}

TEST(EngineRecoveryTest, ACalendarChangeNotYetAppliedSurvivesACheckpoint) {
  testing::EngineFixture f(RecoveryConfig(), testing::At("2026-03-10T12:00:00Z"));
  ASSERT_TRUE(f.engine->Consume(testing::Ev("a", "s1")).ok());
  Subject s = *f.engine->GetSubject("s1");
  s.timezone = "Asia/Tokyo";
  ASSERT_TRUE(f.engine->PutSubject(s).ok());
  ASSERT_TRUE(f.engine->Checkpoint().ok());
  f.Reopen();
  // The next event lands in the Tokyo calendar's window, as it would have
  // without the restart.
  auto d = f.engine->Consume(testing::Ev("b", "s1", {{"chars", 1}}));
  ASSERT_TRUE(d.ok());
  const QuotaView* v = testing::Find(d->quotas, "chars");
  ASSERT_NE(v, nullptr);
  // Anchor 31 in February is the 28th: 00:00 in Tokyo (UTC+9).
  EXPECT_EQ(v->period.start, testing::At("2026-02-27T15:00:00Z"));
}

}  // namespace
}  // namespace tally
