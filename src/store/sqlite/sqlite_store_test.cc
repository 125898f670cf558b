#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/event.h"
#include "store/events_test_util.h"
#include "store/read_queries_test_util.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

// --- fixtures ----------------------------------------------------------------------

EventRecord MakeEvent(int i) {
  EventRecord r;
  r.event.id = "evt-" + std::to_string(i);
  r.event.subject = "user-" + std::to_string(i % 7);
  r.event.type = "correction";
  r.event.time = 1'700'000'000'000'000 + i;
  r.event.data = {{"chars", 500 + i}, {"tokens", i}};
  r.org = i % 2 == 0 ? "acme" : "";
  r.received = 1'700'000'000'000'000 + 10 * i;
  r.fingerprint = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i + 1);
  r.origin = EventRecord::Origin::kConsume;
  r.effects = {{Scope::kSubject, "chars", 1'699'000'000'000'000, 1'702'000'000'000'000, 500 + i, 0},
               {Scope::kOrg, "requests", kBeginningOfTime, kEndOfTime, 1, 0}};
  return r;
}

EventRecord FullEvent() {
  EventRecord r = MakeEvent(42);
  r.origin = EventRecord::Origin::kCommit;
  r.reservation_id = "res-9";
  r.fingerprint = UINT64_MAX;
  r.event.context = {"sess-1", "203.0.113.9", "curl/8.0 \"quoted\"", "/v1/correct", "POST", 0,
                     "E_TIMEOUT"};
  r.effects.push_back({Scope::kSubject, "users", 1, 2, 1, 0xdeadbeefcafef00dULL});
  return r;
}

// An event whose every string is hostile.
EventRecord HostileEvent(const std::string& h) {
  EventRecord r = FullEvent();
  r.event.id = "id:" + h;
  r.event.subject = h;
  r.event.type = h;
  r.event.data = {{h, 1}, {"x" + h, 2}};
  r.org = h;
  r.reservation_id = h;
  r.event.context = {h, h, h, h, h, 12, h};
  r.effects[0].meter = h;
  return r;
}

LedgerRecord MakeLedger(LedgerRecord::Kind kind) {
  LedgerRecord r;
  r.kind = kind;
  r.time = 1'700'000'000'123'456;
  r.subject = "user-1";
  r.org = "acme";
  r.effects = {{Scope::kSubject, "tokens", 10, 20, kind == LedgerRecord::Kind::kReset ? -30 : 30, 0}};
  if (kind == LedgerRecord::Kind::kHold || kind == LedgerRecord::Kind::kRelease ||
      kind == LedgerRecord::Kind::kExpire) {
    r.reservation_id = "res-1";
  }
  if (kind == LedgerRecord::Kind::kHold) {
    r.expires_at = 1'700'000'060'000'000;
    r.request.id = "req-1";
    r.request.subject = "user-1";
    r.request.type = "llm";
    r.request.time = 1'700'000'000'000'001;
    r.request.data = {{"tokens", 4096}};
    r.request.context.ip = "::1";
    r.request.context.processing_ms = 3;
    r.fingerprint = 77;
  }
  if (kind == LedgerRecord::Kind::kGrant || kind == LedgerRecord::Kind::kReset) {
    r.actor = "admin@example.com";
    r.reason = "support ticket #12, \"goodwill\"\nline 2";
  }
  return r;
}

Subject MakeSubject(const std::string& id, const std::string& tier) {
  Subject s;
  s.id = id;
  s.tier = tier;
  s.org = "acme";
  s.email = id + "@example.com";
  s.timezone = "Europe/Berlin";
  s.anchor_day = 31;
  s.overrides = {{"chars", 123}, {"tokens", std::nullopt}};
  s.notify.webhook = false;
  s.created = 99;
  return s;
}

Tier MakeTier(const std::string& name, int64_t limit) {
  Tier t;
  t.name = name;
  Quota q;
  q.meter = "chars";
  q.limit = limit;
  q.period = PeriodUnit::kDay;
  t.quotas = {q};
  t.rate_limits = {{"requests", 10, kMicrosPerSecond, 20}};
  t.pricing.base_cents = 900;
  return t;
}

// Runs raw SQL on the database file, behind the store's back.
void RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error != nullptr ? error : "") << " in " << sql;
  sqlite3_free(error);
  sqlite3_close(db);
}

int64_t RawCount(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &s, nullptr),
            SQLITE_OK);
  EXPECT_EQ(sqlite3_step(s), SQLITE_ROW);
  const int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

// The first column of the first row of `sql`, as an integer.
int64_t RawInt(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sql;
  EXPECT_EQ(sqlite3_step(s), SQLITE_ROW) << sql;
  const int64_t n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

int64_t SchemaVersion(const std::string& path) {
  return RawInt(path, "SELECT value FROM meta WHERE key = 'schema_version'");
}

// Turns a version 4 database into the version 3 it would have been: version 3
// is version 4 without `rollups`, `alerts` (and its index) and meta
// rollup_seq.
void DowngradeToVersion3(const std::string& path) {
  RawSql(path,
         "DROP TABLE rollups; DROP TABLE alerts; DELETE FROM meta WHERE key = 'rollup_seq';"
         " UPDATE meta SET value = 3 WHERE key = 'schema_version'");
}

// And into version 2: version 3 without `api_keys`, `audit` (and its index)
// and `ledger_by_subject`.
void DowngradeToVersion2(const std::string& path) {
  DowngradeToVersion3(path);
  RawSql(path,
         "DROP TABLE api_keys; DROP TABLE audit; DROP INDEX ledger_by_subject;"
         " UPDATE meta SET value = 2 WHERE key = 'schema_version'");
}

// And into version 1: version 2 without the `dedup` table.
void DowngradeToVersion1(const std::string& path) {
  DowngradeToVersion2(path);
  RawSql(path, "DROP TABLE dedup; UPDATE meta SET value = 1 WHERE key = 'schema_version'");
}

// How many tables and indexes named `name` the database has (0 or 1).
int64_t SchemaObjects(const std::string& path, const std::string& name) {
  return RawInt(path, "SELECT count(*) FROM sqlite_schema WHERE name = '" + name + "'");
}

ApiKey MakeKey(const std::string& id, Role role) {
  ApiKey k;
  k.id = id;
  k.name = "backend " + id;
  k.role = role;
  k.hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  k.prefix = "tk_" + id.substr(0, 9);
  k.created = 1'700'000'000'000'000;
  k.write_rate_per_s = 50;
  return k;
}

AuditRecord MakeAudit(const std::string& action, const std::string& target,
                      const std::string& reason = "") {
  AuditRecord a;
  a.time = 1'700'000'000'000'000;
  a.actor = "key_admin01";
  a.address = "203.0.113.7";
  a.action = action;
  a.target = target;
  a.after = "{\"id\":\"x\"}";
  a.reason = reason;
  return a;
}

// Holds SQLite's write lock on the database from a second connection, so the
// store's writer waits in BEGIN IMMEDIATE (up to its 5 s busy timeout) as if
// a commit were slow, until Release().
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  ~WriteLock() { Release(); }
  void Release() {
    if (db_ == nullptr) return;
    EXPECT_EQ(sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
};

// The outcomes of WhenDurable callbacks, with the thread each ran on.
class CallbackLog {
 public:
  struct Call {
    uint64_t ticket;
    absl::Status status;
    std::thread::id thread;
  };

  std::function<void(const absl::Status&)> For(uint64_t ticket) {
    return [this, ticket](const absl::Status& status) {
      // Notifies under the lock: once WaitFor sees the call, this is done
      // with the log, and the test may destroy it.
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back({ticket, status, std::this_thread::get_id()});
      cv_.notify_all();
    };
  }
  // Waits up to 10 s for `n` calls; returns them all.
  std::vector<Call> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return calls_.size() >= n; });
    return calls_;
  }
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_;
};

std::vector<DedupEntry> ScanAll(Store& store, Micros since = 0, uint64_t upto = UINT64_MAX) {
  std::vector<DedupEntry> out;
  absl::Status status = store.ScanDedup(since, upto, [&](const DedupEntry& e) { out.push_back(e); });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

// "seq:id_hash:fingerprint:received" per entry, for comparisons.
std::vector<std::string> Describe(const std::vector<DedupEntry>& entries) {
  std::vector<std::string> out;
  for (const DedupEntry& e : entries) {
    out.push_back(std::to_string(e.seq) + ":" + std::to_string(e.id_hash) + ":" +
                  std::to_string(e.fingerprint) + ":" + std::to_string(e.received));
  }
  return out;
}

using Replayed = std::vector<std::pair<uint64_t, LogRecord>>;

// Replay yields only events and ledger records, which have operator==.
bool SameRecord(const LogRecord& a, const LogRecord& b) {
  if (a.index() != b.index()) return false;
  if (const auto* e = std::get_if<EventRecord>(&a)) return *e == std::get<EventRecord>(b);
  if (const auto* l = std::get_if<LedgerRecord>(&a)) return *l == std::get<LedgerRecord>(b);
  return false;
}

Replayed ReplayAll(Store& store, uint64_t after = 0) {
  Replayed out;
  absl::Status status = store.Replay(after, [&](uint64_t seq, const LogRecord& r) {
    out.emplace_back(seq, r);
    return absl::OkStatus();
  });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TALLY_TEST_TMPDIR");
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(base != nullptr && *base != '\0' ? base : "/tmp") /
           ("tally_sqlite_" + std::string(info->name()) + "_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!mounted_.empty()) umount2(mounted_.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  SqliteStoreOptions Options(const std::string& sub = "data") const {
    SqliteStoreOptions options;
    options.dir = (dir_ / sub).string();
    options.clock = &clock_;
    return options;
  }
  std::string DbPath(const std::string& sub = "data") const {
    return (dir_ / sub / "tally.db").string();
  }

  std::unique_ptr<SqliteStore> OpenOrDie(const SqliteStoreOptions& options) {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::unique_ptr<SqliteStore> OpenOrDie() { return OpenOrDie(Options()); }

  // Mounts a tmpfs at `sub` (read-only or of `size`); false if not allowed here.
  bool MountTmpfs(const std::string& sub, bool read_only, const std::string& size) {
    const fs::path target = dir_ / sub;
    fs::create_directories(target);
    const std::string data = "size=" + size;
    if (mount("tmpfs", target.c_str(), "tmpfs", read_only ? MS_RDONLY : 0, data.c_str()) != 0) {
      return false;
    }
    mounted_ = target.string();
    return true;
  }

  fs::path dir_;
  std::string mounted_;
  SimulatedClock clock_{1'700'000'000'000'000};
};

// --- round trips -------------------------------------------------------------------

TEST_F(SqliteStoreTest, EveryRecordKindRoundTripsThroughRestart) {
  std::vector<LogRecord> records = {MakeEvent(1), FullEvent(), EventRecord{}};
  for (auto kind : {LedgerRecord::Kind::kHold, LedgerRecord::Kind::kRelease,
                    LedgerRecord::Kind::kExpire, LedgerRecord::Kind::kGrant,
                    LedgerRecord::Kind::kReset, LedgerRecord::Kind::kRollover}) {
    records.push_back(MakeLedger(kind));
  }
  records.push_back(LedgerRecord{});
  records.push_back(SubjectRecord{MakeSubject("user-1", "free")});
  records.push_back(OrgRecord{Org{"acme", "enterprise", "Asia/Tokyo", 15, {{"chars", 1}}}});
  records.push_back(TierRecord{MakeTier("free", 10'000)});
  records.push_back(CheckpointRecord{std::string("counters\0\xff\x01", 11)});
  records.push_back(MakeEvent(2));
  const std::vector<LogRecord> expected = records;

  {
    auto store = OpenOrDie();
    absl::StatusOr<uint64_t> ticket = store->Append(std::move(records));
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    EXPECT_EQ(*ticket, expected.size());
    ASSERT_TRUE(store->WaitDurable(*ticket).ok());
  }
  auto store = OpenOrDie();
  EXPECT_EQ(store->LastSeq(), expected.size());

  Replayed replayed = ReplayAll(*store);
  Replayed want;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::holds_alternative<EventRecord>(expected[i]) ||
        std::holds_alternative<LedgerRecord>(expected[i])) {
      want.emplace_back(i + 1, expected[i]);
    }
  }
  ASSERT_EQ(replayed.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(replayed[i].first, want[i].first);
    EXPECT_TRUE(SameRecord(replayed[i].second, want[i].second)) << "record at seq " << want[i].first;
  }

  absl::StatusOr<Registry> registry = store->LoadRegistry();
  ASSERT_TRUE(registry.ok()) << registry.status();
  ASSERT_EQ(registry->subjects.size(), 1u);
  EXPECT_EQ(registry->subjects[0], std::get<SubjectRecord>(expected[10]).subject);
  ASSERT_EQ(registry->orgs.size(), 1u);
  EXPECT_EQ(registry->orgs[0], std::get<OrgRecord>(expected[11]).org);
  ASSERT_EQ(registry->tiers.size(), 1u);
  EXPECT_EQ(registry->tiers[0], std::get<TierRecord>(expected[12]).tier);

  absl::StatusOr<std::optional<Checkpoint>> checkpoint = store->LoadCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ASSERT_TRUE(checkpoint->has_value());
  EXPECT_EQ((*checkpoint)->seq, 14u);
  EXPECT_EQ((*checkpoint)->blob, std::get<CheckpointRecord>(expected[13]).blob);
}

TEST_F(SqliteStoreTest, HostileStringsRoundTrip) {
  const std::vector<std::string> hostile = {
      "",  "\"", "\\", "a\nb\r\n", std::string("nul\0x", 5), "caf\xc3\xa9 \xf0\x9f\x98\x80",
      ",;|=%", "'; DROP TABLE events; --"};
  std::vector<LogRecord> records;
  for (const std::string& h : hostile) records.push_back(HostileEvent(h));
  const std::vector<LogRecord> expected = records;
  auto store = OpenOrDie();
  ASSERT_TRUE(store->Append(std::move(records)).ok());
  ASSERT_TRUE(store->Flush().ok());
  Replayed replayed = ReplayAll(*store);
  ASSERT_EQ(replayed.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(SameRecord(replayed[i].second, expected[i])) << "hostile string " << i;
  }
}

TEST_F(SqliteStoreTest, SequenceNumbersFollowAppendOrderAcrossKinds) {
  auto store = OpenOrDie();
  EXPECT_EQ(store->LastSeq(), 0u);
  EXPECT_EQ(*store->Append({MakeEvent(1), MakeEvent(2)}), 2u);
  EXPECT_EQ(*store->Append({SubjectRecord{MakeSubject("u", "free")}}), 3u);
  EXPECT_EQ(*store->Append({MakeLedger(LedgerRecord::Kind::kGrant)}), 4u);
  EXPECT_EQ(*store->Append({}), 4u);  // nothing appended: the current last seq
  EXPECT_EQ(*store->Append({MakeEvent(3)}), 5u);
  EXPECT_EQ(store->LastSeq(), 5u);
  ASSERT_TRUE(store->Flush().ok());
  Replayed replayed = ReplayAll(*store);
  std::vector<uint64_t> seqs;
  for (const auto& [seq, record] : replayed) seqs.push_back(seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 4, 5}));
  EXPECT_EQ(ReplayAll(*store, 4).size(), 1u);
  EXPECT_EQ(store->WaitDurable(6).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, RestartContinuesSequencesEvenAfterRegistryOnlyWrites) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({MakeEvent(1), MakeEvent(2), MakeEvent(3)}).ok());
  }
  {
    auto store = OpenOrDie();
    EXPECT_EQ(store->LastSeq(), 3u);
    EXPECT_EQ(*store->Append({TierRecord{MakeTier("free", 1)}}), 4u);
  }
  auto store = OpenOrDie();
  EXPECT_EQ(store->LastSeq(), 4u);  // from meta.last_seq: no event or ledger row has 4
  EXPECT_EQ(*store->Append({MakeEvent(4)}), 5u);
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(ReplayAll(*store).back().first, 5u);
}

TEST_F(SqliteStoreTest, DestructorCommitsEverythingQueued) {
  constexpr int kAppends = 200;
  {
    auto store = OpenOrDie();
    for (int i = 0; i < kAppends; ++i) ASSERT_TRUE(store->Append({MakeEvent(i)}).ok());
  }  // no Flush
  auto store = OpenOrDie();
  EXPECT_EQ(ReplayAll(*store).size(), static_cast<size_t>(kAppends));
}

TEST_F(SqliteStoreTest, RelaxedDurabilityStoresTheSame) {
  SqliteStoreOptions options = Options();
  options.strict = false;
  {
    auto store = OpenOrDie(options);
    ASSERT_TRUE(store->WaitDurable(*store->Append({FullEvent()})).ok());
  }
  auto store = OpenOrDie(options);
  Replayed replayed = ReplayAll(*store);
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_TRUE(SameRecord(replayed[0].second, FullEvent()));
}

TEST_F(SqliteStoreTest, RegistryUpsertsKeepTheLatestDefinition) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store->Append({SubjectRecord{MakeSubject("b", "free")},
                             SubjectRecord{MakeSubject("a", "free")},
                             TierRecord{MakeTier("free", 1)}, TierRecord{MakeTier("pro", 2)}})
                  .ok());
  ASSERT_TRUE(store->Append({SubjectRecord{MakeSubject("b", "premium")},
                             TierRecord{MakeTier("free", 3)},
                             OrgRecord{Org{"acme", "enterprise"}}})
                  .ok());
  ASSERT_TRUE(store->Flush().ok());
  absl::StatusOr<Registry> registry = store->LoadRegistry();
  ASSERT_TRUE(registry.ok()) << registry.status();
  ASSERT_EQ(registry->subjects.size(), 2u);
  EXPECT_EQ(registry->subjects[0], MakeSubject("a", "free"));
  EXPECT_EQ(registry->subjects[1], MakeSubject("b", "premium"));
  ASSERT_EQ(registry->tiers.size(), 2u);
  EXPECT_EQ(registry->tiers[0], MakeTier("free", 3));
  EXPECT_EQ(registry->tiers[1], MakeTier("pro", 2));
  ASSERT_EQ(registry->orgs.size(), 1u);
  EXPECT_EQ(registry->orgs[0].tier, "enterprise");
}

TEST_F(SqliteStoreTest, CorruptRegistryRowIsReportedNotCrashed) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({SubjectRecord{MakeSubject("u1", "free")}}).ok());
  }
  RawSql(DbPath(), "UPDATE subjects SET definition = '{\"anchor_day\":\"x\"' WHERE id = 'u1'");
  auto store = OpenOrDie();
  absl::StatusOr<Registry> registry = store->LoadRegistry();
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(registry.status().message().find("subjects row \"u1\""), std::string::npos)
      << registry.status();
}

TEST_F(SqliteStoreTest, CorruptEventRowStopsReplayWithDataLoss) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({MakeEvent(1), MakeEvent(2)}).ok());
  }
  RawSql(DbPath(), "UPDATE events SET effects = 's|chars|oops' WHERE seq = 2");
  auto store = OpenOrDie();
  int seen = 0;
  absl::Status status = store->Replay(0, [&](uint64_t, const LogRecord&) {
    ++seen;
    return absl::OkStatus();
  });
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("events row 2"), std::string::npos) << status;

  // ScanEvents stops there too, and so does the fold of a sink at open.
  seen = 0;
  status = store->ScanEvents({}, [&](uint64_t, const EventRecord&) { return ++seen > 0; });
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  store.reset();
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  absl::StatusOr<std::unique_ptr<SqliteStore>> with_sink = SqliteStore::Open(options);
  EXPECT_EQ(with_sink.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(with_sink.status().message().find(DbPath()), std::string::npos) << with_sink.status();
  EXPECT_NE(with_sink.status().message().find("events row 2"), std::string::npos);
}

TEST_F(SqliteStoreTest, ReplayStopsAtTheCallbacksError) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store->Append({MakeEvent(1), MakeEvent(2), MakeEvent(3)}).ok());
  ASSERT_TRUE(store->Flush().ok());
  int seen = 0;
  absl::Status status = store->Replay(0, [&](uint64_t seq, const LogRecord&) {
    ++seen;
    return seq == 2 ? absl::AbortedError("enough") : absl::OkStatus();
  });
  EXPECT_EQ(status, absl::AbortedError("enough"));
  EXPECT_EQ(seen, 2);
}

// --- checkpoints ---------------------------------------------------------------------

TEST_F(SqliteStoreTest, CheckpointsKeepTheLatestTwoAndReplayResumesAfterOne) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store->Append({MakeEvent(1), CheckpointRecord{"A"}}).ok());              // 1, 2
  ASSERT_TRUE(store->Append({MakeEvent(2), CheckpointRecord{"B"}}).ok());              // 3, 4
  ASSERT_TRUE(store->Append({MakeEvent(3), MakeLedger(LedgerRecord::Kind::kGrant)}).ok());
  ASSERT_TRUE(store->Append({CheckpointRecord{"C"}, MakeEvent(4)}).ok());              // 7, 8
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(RawCount(DbPath(), "checkpoints"), 2);
  EXPECT_EQ(RawCount(DbPath(), "checkpoints WHERE blob = CAST('B' AS BLOB)"), 1);

  absl::StatusOr<std::optional<Checkpoint>> latest = store->LoadCheckpoint();
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->seq, 7u);
  EXPECT_EQ((*latest)->blob, "C");
  Replayed after = ReplayAll(*store, (*latest)->seq);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].first, 8u);
  EXPECT_TRUE(SameRecord(after[0].second, MakeEvent(4)));
}

TEST_F(SqliteStoreTest, NoCheckpointIsNullopt) {
  auto store = OpenOrDie();
  absl::StatusOr<std::optional<Checkpoint>> none = store->LoadCheckpoint();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

// --- dedup scan ----------------------------------------------------------------------

TEST_F(SqliteStoreTest, ScanDedupHonoursBothBounds) {
  auto store = OpenOrDie();
  std::vector<LogRecord> records;
  for (int i = 0; i < 6; ++i) {
    EventRecord e = MakeEvent(i);
    e.received = 1000 + 100 * i;  // seq i + 1
    records.push_back(e);
  }
  LedgerRecord hold = MakeLedger(LedgerRecord::Kind::kHold);  // seq 7
  hold.time = 1350;
  records.push_back(hold);
  LedgerRecord old_hold = MakeLedger(LedgerRecord::Kind::kHold);  // seq 8
  old_hold.time = 10;
  records.push_back(old_hold);
  LedgerRecord grant = MakeLedger(LedgerRecord::Kind::kGrant);  // seq 9: never a dedup entry
  grant.time = 5000;
  records.push_back(grant);
  EventRecord late = MakeEvent(9);  // seq 10: past upto
  late.received = 9000;
  records.push_back(late);
  ASSERT_TRUE(store->Append(records).ok());
  ASSERT_TRUE(store->Flush().ok());

  std::vector<DedupEntry> entries;
  ASSERT_TRUE(store->ScanDedup(1200, 9, [&](const DedupEntry& e) { entries.push_back(e); }).ok());
  std::vector<uint64_t> seqs;
  for (const DedupEntry& e : entries) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{3, 4, 5, 6, 7}));
  ASSERT_EQ(entries.size(), 5u);
  EXPECT_EQ(entries[0].id_hash, StableHash("evt-2"));
  EXPECT_EQ(entries[0].fingerprint, MakeEvent(2).fingerprint);
  EXPECT_EQ(entries[0].received, 1200);
  EXPECT_EQ(entries[4].id_hash, StableHash("req-1"));
  EXPECT_EQ(entries[4].fingerprint, 77u);
  EXPECT_EQ(entries[4].received, 1350);

  entries.clear();
  ASSERT_TRUE(store->ScanDedup(0, UINT64_MAX, [&](const DedupEntry& e) { entries.push_back(e); })
                  .ok());
  EXPECT_EQ(entries.size(), 9u);  // 7 events + 2 holds
}

TEST_F(SqliteStoreTest, ScanDedupReadsEveryTransactionsBlockInOrder) {
  auto store = OpenOrDie();
  // Three transactions of events, one of a registry write only (no block).
  for (int t = 0; t < 3; ++t) {
    std::vector<LogRecord> records;
    for (int i = 0; i < 4; ++i) {
      EventRecord e = MakeEvent(10 * t + i);
      e.received = 1000 * (t + 1) + i;
      records.push_back(e);
    }
    ASSERT_TRUE(store->Append(records).ok());  // seqs 5t+1..5t+4, then the subject
    ASSERT_TRUE(store->Append({SubjectRecord{MakeSubject("u", "free")}}).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  EXPECT_EQ(RawCount(DbPath(), "dedup"), 3);
  std::vector<uint64_t> seqs;
  for (const DedupEntry& e : ScanAll(*store)) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14}));
  // The first block is all before `since`; the second is cut inside by `upto`.
  seqs.clear();
  for (const DedupEntry& e : ScanAll(*store, 2000, 8)) seqs.push_back(e.seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{6, 7, 8}));
  EXPECT_EQ(ScanAll(*store, 3002).size(), 2u);
}

TEST_F(SqliteStoreTest, CorruptDedupBlockIsDataLoss) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({MakeEvent(1), MakeEvent(2)}).ok());
  }
  RawSql(DbPath(), "UPDATE dedup SET entries = x'01' || substr(entries, 2, 5)");
  auto store = OpenOrDie();
  absl::Status status = store->ScanDedup(0, UINT64_MAX, [](const DedupEntry&) {});
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find("dedup row 2: dedup entry 0: bad received time"), std::string::npos)
      << status;
}

// --- concurrency ---------------------------------------------------------------------

TEST_F(SqliteStoreTest, ConcurrentAppendsAreEachStoredOnceInOrderAndGroupCommitted) {
  constexpr int kThreads = 8;
  constexpr int kAppendsPerThread = 150;
  auto store = OpenOrDie();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int a = 0; a < kAppendsPerThread; ++a) {
        std::vector<LogRecord> records;
        const int n = 1 + a % 3;
        for (int k = 0; k < n; ++k) {
          EventRecord e = MakeEvent(0);
          e.event.id = std::to_string(t) + "/" + std::to_string(a) + "/" + std::to_string(k);
          records.push_back(std::move(e));
        }
        absl::StatusOr<uint64_t> ticket = store->Append(std::move(records));
        if (!ticket.ok() || !store->WaitDurable(*ticket).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  const StoreStats stats = store->Stats();
  const int appends = kThreads * kAppendsPerThread;
  const uint64_t records = kThreads * (kAppendsPerThread / 3) * (1 + 2 + 3);
  EXPECT_EQ(stats.appended, records);
  EXPECT_EQ(stats.durable, records);
  EXPECT_EQ(stats.queue_depth, 0u);
  EXPECT_LT(stats.commits, static_cast<uint64_t>(appends)) << "group commit never grouped";

  Replayed replayed = ReplayAll(*store);
  ASSERT_EQ(replayed.size(), records);
  std::set<std::string> ids;
  std::map<std::string, int> last_k;  // "t/a" -> last k seen: an append stays in order
  for (size_t i = 0; i < replayed.size(); ++i) {
    EXPECT_EQ(replayed[i].first, i + 1);
    const std::string& id = std::get<EventRecord>(replayed[i].second).event.id;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate " << id;
    const size_t slash = id.rfind('/');
    const int k = std::stoi(id.substr(slash + 1));
    const std::string append = id.substr(0, slash);
    if (k > 0) {
      EXPECT_EQ(last_k[append], k - 1) << id;
      EXPECT_EQ(std::get<EventRecord>(replayed[i - 1].second).event.id,
                append + "/" + std::to_string(k - 1));  // contiguous
    }
    last_k[append] = k;
  }
}

TEST_F(SqliteStoreTest, OneAppendIsNeverSplitAcrossTransactions) {
  SqliteStoreOptions options = Options();
  options.max_batch_records = 10;
  auto store = OpenOrDie(options);
  std::vector<LogRecord> records;
  for (int i = 0; i < 25; ++i) records.push_back(MakeEvent(i));
  ASSERT_TRUE(store->WaitDurable(*store->Append(std::move(records))).ok());
  EXPECT_EQ(store->Stats().commits, 1u);
}

// --- failures ------------------------------------------------------------------------

TEST_F(SqliteStoreTest, AFailedBatchIsAllOrNothingAndFailsTheStoreForGood) {
  { auto store = OpenOrDie(); }
  // Poison: inserting the event "poison" fails inside the transaction.
  RawSql(DbPath(),
         "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.id = 'poison'"
         " BEGIN SELECT RAISE(ABORT, 'poisoned row'); END");
  auto store = OpenOrDie();
  ASSERT_TRUE(store->WaitDurable(*store->Append({MakeEvent(1)})).ok());

  EventRecord poison = MakeEvent(3);
  poison.event.id = "poison";
  absl::StatusOr<uint64_t> ticket =
      store->Append({MakeEvent(2), SubjectRecord{MakeSubject("x", "free")}, poison, MakeEvent(4)});
  ASSERT_TRUE(ticket.ok());
  const absl::Status failure = store->WaitDurable(*ticket);
  EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(failure.message().find("storage write failed: poisoned row"), std::string::npos)
      << failure;
  EXPECT_NE(failure.message().find(DbPath()), std::string::npos) << failure;

  // Failed for good, with the same error; the durable ticket stays durable.
  EXPECT_EQ(store->Append({MakeEvent(5)}).status(), failure);
  EXPECT_EQ(store->WaitDurable(*ticket), failure);
  EXPECT_EQ(store->Flush(), failure);
  EXPECT_TRUE(store->WaitDurable(1).ok());
  store.reset();

  store = OpenOrDie();
  Replayed replayed = ReplayAll(*store);
  ASSERT_EQ(replayed.size(), 1u);  // nothing of the failed batch
  EXPECT_TRUE(SameRecord(replayed[0].second, MakeEvent(1)));
  EXPECT_TRUE(store->LoadRegistry()->subjects.empty());
  EXPECT_EQ(store->LastSeq(), 1u);
}

// Tests run as root, whom permissions do not stop: fill the disk with a file
// size limit instead (works unprivileged, as root, and in CI).
TEST_F(SqliteStoreTest, WriteErrorWhenTheFileCannotGrow) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store->WaitDurable(*store->Append({MakeEvent(0)})).ok());

  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 512 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);

  std::vector<LogRecord> records;
  for (int i = 0; i < 10'000; ++i) records.push_back(FullEvent());
  absl::StatusOr<uint64_t> ticket = store->Append(std::move(records));
  ASSERT_TRUE(ticket.ok());
  const absl::Status failure = store->WaitDurable(*ticket);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old_limit), 0);

  EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable) << failure;
  EXPECT_NE(failure.message().find("storage write failed"), std::string::npos) << failure;
  EXPECT_NE(failure.message().find("(disk full or failing?)"), std::string::npos) << failure;
  EXPECT_EQ(store->Append({MakeEvent(1)}).status(), failure);
  store.reset();
  EXPECT_EQ(ReplayAll(*OpenOrDie()).size(), 1u);
}

TEST_F(SqliteStoreTest, WriteErrorOnARealFullDisk) {
  if (!MountTmpfs("small", /*read_only=*/false, "2m")) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  }
  auto store = OpenOrDie(Options("small"));
  absl::Status failure;
  for (int i = 0; i < 1000 && failure.ok(); ++i) {
    std::vector<LogRecord> records(1000, LogRecord(FullEvent()));
    absl::StatusOr<uint64_t> ticket = store->Append(std::move(records));
    failure = ticket.ok() ? store->WaitDurable(*ticket) : ticket.status();
  }
  EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable) << failure;
  EXPECT_NE(failure.message().find("full"), std::string::npos) << failure;
  EXPECT_EQ(store->Append({MakeEvent(1)}).status(), failure);
}

TEST_F(SqliteStoreTest, ReadOnlyDirectoryIsPermissionDenied) {
  if (!MountTmpfs("ro", /*read_only=*/true, "1m")) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(Options("ro"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied) << store.status();
  EXPECT_NE(store.status().message().find((dir_ / "ro").string()), std::string::npos);

  store = SqliteStore::Open(Options("ro/sub"));  // cannot even create the directory
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied) << store.status();
}

TEST_F(SqliteStoreTest, GarbageFileIsDataLoss) {
  fs::create_directories(dir_ / "data");
  std::ofstream(DbPath()) << "this is not a database, just some text that is long enough";
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(Options());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_NE(store.status().message().find(DbPath()), std::string::npos) << store.status();
}

TEST_F(SqliteStoreTest, CorruptPagesAfterAValidHeaderAreDataLoss) {
  fs::create_directories(dir_ / "data");
  std::string bytes("SQLite format 3\0", 16);
  bytes += std::string(4096, '\x5a');
  std::ofstream(DbPath(), std::ios::binary) << bytes;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(Options());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_NE(store.status().message().find(DbPath()), std::string::npos) << store.status();
}

TEST_F(SqliteStoreTest, EmptyFileBecomesANewDatabase) {
  fs::create_directories(dir_ / "data");
  std::ofstream(DbPath()).close();
  auto store = OpenOrDie();
  EXPECT_EQ(store->LastSeq(), 0u);
}

TEST_F(SqliteStoreTest, NewerSchemaIsFailedPrecondition) {
  { auto store = OpenOrDie(); }
  RawSql(DbPath(), "UPDATE meta SET value = 99 WHERE key = 'schema_version'");
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(Options());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos);
  EXPECT_NE(store.status().message().find(DbPath()), std::string::npos);
}

TEST_F(SqliteStoreTest, NewDatabaseHasTheCurrentSchema) {
  { auto store = OpenOrDie(); }
  EXPECT_EQ(SchemaVersion(DbPath()), 4);
  EXPECT_EQ(RawCount(DbPath(), "rollups"), 0);
  EXPECT_EQ(RawCount(DbPath(), "alerts"), 0);
  EXPECT_EQ(SchemaObjects(DbPath(), "alerts_by_subject"), 1);
  EXPECT_EQ(RawCount(DbPath(), "dedup"), 0);
  EXPECT_EQ(RawCount(DbPath(), "api_keys"), 0);
  EXPECT_EQ(RawCount(DbPath(), "audit"), 0);
  EXPECT_EQ(SchemaObjects(DbPath(), "ledger_by_subject"), 1);
  EXPECT_EQ(SchemaObjects(DbPath(), "audit_by_target"), 1);
}

// Version 1 had no `dedup` table: ScanDedup read the events and ledger rows.
TEST_F(SqliteStoreTest, Version1DatabaseIsUpgradedInPlace) {
  std::vector<std::string> expected;
  Replayed replayed;
  {
    auto store = OpenOrDie();
    LedgerRecord hold = MakeLedger(LedgerRecord::Kind::kHold);
    LedgerRecord anonymous = MakeLedger(LedgerRecord::Kind::kHold);  // NULL id and fingerprint
    anonymous.request.id.clear();
    anonymous.fingerprint = 0;
    ASSERT_TRUE(store->Append({MakeEvent(1), hold, MakeEvent(2)}).ok());
    ASSERT_TRUE(store->Flush().ok());
    ASSERT_TRUE(store->Append({MakeLedger(LedgerRecord::Kind::kGrant), CheckpointRecord{"cp"},
                               anonymous, MakeEvent(3)}).ok());
    ASSERT_TRUE(store->Flush().ok());
    expected = Describe(ScanAll(*store));
    replayed = ReplayAll(*store);
  }
  ASSERT_EQ(expected.size(), 5u);  // 3 events, 2 holds
  DowngradeToVersion1(DbPath());
  {
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(SchemaVersion(DbPath()), 4);  // 1 -> 2 -> 3 -> 4 in one go
    EXPECT_EQ(SchemaObjects(DbPath(), "rollups"), 1);
    EXPECT_EQ(SchemaObjects(DbPath(), "audit"), 1);
    EXPECT_EQ(Describe(ScanAll(*store)), expected);
    const Replayed after = ReplayAll(*store);
    ASSERT_EQ(after.size(), replayed.size());
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].first, replayed[i].first);
      EXPECT_TRUE(SameRecord(after[i].second, replayed[i].second)) << i;
    }
    // And it keeps going: a new event's entry follows the upgraded ones.
    ASSERT_TRUE(store->Append({MakeEvent(4)}).ok());
    ASSERT_TRUE(store->Flush().ok());
    const std::vector<DedupEntry> entries = ScanAll(*store);
    ASSERT_EQ(entries.size(), 6u);
    EXPECT_EQ(entries.back().id_hash, StableHash("evt-4"));
  }
  auto store = OpenOrDie();  // the upgrade ran once
  EXPECT_EQ(ScanAll(*store).size(), 6u);
}

TEST_F(SqliteStoreTest, AFailedUpgradeLeavesVersion1Unchanged) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({MakeEvent(1)}).ok());
  }
  DowngradeToVersion1(DbPath());
  RawSql(DbPath(), "CREATE TABLE dedup(x)");  // makes the upgrade's CREATE TABLE fail
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(Options());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("cannot upgrade " + DbPath() +
                                          " from schema version 1 to 4"),
            std::string::npos)
      << store.status();
  EXPECT_EQ(SchemaVersion(DbPath()), 1);
  EXPECT_EQ(RawCount(DbPath(), "events"), 1);
}

// Version 2 had no API keys, audit trail or read indexes.
TEST_F(SqliteStoreTest, Version2DatabaseIsUpgradedInPlaceKeepingAllData) {
  std::vector<std::string> dedup;
  Replayed replayed;
  Registry registry;
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({MakeEvent(1), MakeLedger(LedgerRecord::Kind::kGrant),
                               SubjectRecord{MakeSubject("user-1", "free")},
                               TierRecord{MakeTier("free", 5)}, OrgRecord{Org{"acme", "free"}},
                               MakeLedger(LedgerRecord::Kind::kHold)})
                    .ok());
    ASSERT_TRUE(store->Append({CheckpointRecord{"cp"}, MakeEvent(2),
                               MakeLedger(LedgerRecord::Kind::kReset)})
                    .ok());
    ASSERT_TRUE(store->Flush().ok());
    dedup = Describe(ScanAll(*store));
    replayed = ReplayAll(*store);
    registry = *store->LoadRegistry();
  }
  DowngradeToVersion2(DbPath());
  ASSERT_EQ(SchemaObjects(DbPath(), "api_keys"), 0);
  ASSERT_EQ(SchemaObjects(DbPath(), "ledger_by_subject"), 0);
  {
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(SchemaVersion(DbPath()), 4);
    for (const char* name : {"api_keys", "audit", "ledger_by_subject", "audit_by_target",
                             "rollups", "alerts", "alerts_by_subject"}) {
      EXPECT_EQ(SchemaObjects(DbPath(), name), 1) << name;
    }
    EXPECT_EQ(store->LastSeq(), 9u);
    EXPECT_EQ(Describe(ScanAll(*store)), dedup);
    const Replayed after = ReplayAll(*store);
    ASSERT_EQ(after.size(), replayed.size());
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_EQ(after[i].first, replayed[i].first);
      EXPECT_TRUE(SameRecord(after[i].second, replayed[i].second)) << i;
    }
    absl::StatusOr<Registry> loaded = store->LoadRegistry();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->subjects, registry.subjects);
    EXPECT_EQ(loaded->orgs, registry.orgs);
    EXPECT_EQ(loaded->tiers, registry.tiers);
    EXPECT_TRUE(loaded->keys.empty());
    // The new index covers the old rows: user-1's two adjustments (the hold
    // is not an adjustment).
    absl::StatusOr<std::vector<LedgerEntry>> ledger = store->ReadLedger({.subject = "user-1"});
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    ASSERT_EQ(ledger->size(), 2u);
    EXPECT_EQ((*ledger)[0].seq, 9u);
    EXPECT_EQ((*ledger)[0].record, MakeLedger(LedgerRecord::Kind::kReset));
    // And the new tables take writes.
    ASSERT_TRUE(store->Append({KeyRecord{MakeKey("key_1", Role::kAdmin)},
                               MakeAudit("key.create", "key:key_1")})
                    .ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  auto store = OpenOrDie();  // the upgrade ran once
  EXPECT_EQ(store->LoadRegistry()->keys.size(), 1u);
  EXPECT_EQ(store->ReadAudit({})->size(), 1u);
  EXPECT_EQ(store->LastSeq(), 11u);
}

TEST_F(SqliteStoreTest, AFailedUpgradeLeavesVersion2Unchanged) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({MakeEvent(1), MakeLedger(LedgerRecord::Kind::kGrant)}).ok());
  }
  DowngradeToVersion2(DbPath());
  RawSql(DbPath(), "CREATE TABLE audit(x)");  // makes the upgrade's CREATE TABLE fail
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(Options());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("cannot upgrade " + DbPath() +
                                          " from schema version 2 to 4 (it is left unchanged)"),
            std::string::npos)
      << store.status();
  EXPECT_EQ(SchemaVersion(DbPath()), 2);
  EXPECT_EQ(SchemaObjects(DbPath(), "api_keys"), 0);  // created before the failure: rolled back
  EXPECT_EQ(RawCount(DbPath(), "ledger"), 1);
  RawSql(DbPath(), "DROP TABLE audit");
  store = SqliteStore::Open(Options());  // the cause fixed, it upgrades
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(SchemaVersion(DbPath()), 4);
}

// --- API keys and the audit trail ---------------------------------------------------

TEST_F(SqliteStoreTest, KeysPersistAndReloadAsUpserts) {
  const ApiKey admin = MakeKey("key_ab12cd34", Role::kAdmin);
  const ApiKey service = MakeKey("key_00ff00ff", Role::kService);
  ApiKey revoked = service;
  revoked.revoked = 1'700'000'900'000'000;
  {
    auto store = OpenOrDie();
    EXPECT_EQ(*store->Append({KeyRecord{service}, KeyRecord{admin}, MakeEvent(1)}), 3u);
    EXPECT_EQ(*store->Append({KeyRecord{revoked}}), 4u);  // revoking rewrites the key
    ASSERT_TRUE(store->Flush().ok());
    absl::StatusOr<Registry> registry = store->LoadRegistry();
    ASSERT_TRUE(registry.ok()) << registry.status();
    EXPECT_EQ(registry->keys, (std::vector<ApiKey>{revoked, admin}));  // by id
  }
  EXPECT_EQ(RawCount(DbPath(), "api_keys"), 2);
  auto store = OpenOrDie();
  EXPECT_EQ(store->LastSeq(), 4u);  // keys use sequence numbers like other records
  absl::StatusOr<Registry> registry = store->LoadRegistry();
  ASSERT_TRUE(registry.ok()) << registry.status();
  ASSERT_EQ(registry->keys.size(), 2u);
  EXPECT_EQ(registry->keys[0], revoked);  // ordered by id; revoked keys survive
  EXPECT_EQ(registry->keys[1], admin);
  Replayed replayed = ReplayAll(*store);
  ASSERT_EQ(replayed.size(), 1u);  // keys are not replayed
  EXPECT_EQ(replayed[0].first, 3u);
}

TEST_F(SqliteStoreTest, CorruptKeyRowIsReportedNotCrashed) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({KeyRecord{MakeKey("key_1", Role::kAdmin)}}).ok());
  }
  RawSql(DbPath(), "UPDATE api_keys SET definition = '{\"role\":\"root\"}'");
  absl::StatusOr<Registry> registry = OpenOrDie()->LoadRegistry();
  ASSERT_FALSE(registry.ok());
  EXPECT_EQ(registry.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(registry.status().message().find("api_keys row \"key_1\""), std::string::npos)
      << registry.status();
}

TEST_F(SqliteStoreTest, AuditEntriesRoundTripAndAreNotReplayed) {
  std::vector<AuditRecord> audits;
  for (const std::string& h : {std::string(""), std::string("\"quoted\"\n\\"),
                               std::string("nul\0x", 5), std::string("caf\xc3\xa9 {}")}) {
    AuditRecord a = MakeAudit("subject.put" + h, "subject:" + h, h);
    a.actor = "actor" + h;
    a.address = h;
    a.before = h;
    a.after = h;
    audits.push_back(a);
  }
  audits.push_back(AuditRecord{});  // every field empty
  {
    auto store = OpenOrDie();
    std::vector<LogRecord> records = {MakeEvent(1)};
    for (const AuditRecord& a : audits) records.push_back(a);
    records.push_back(MakeEvent(2));
    ASSERT_TRUE(store->Append(std::move(records)).ok());
  }
  auto store = OpenOrDie();
  EXPECT_EQ(store->LastSeq(), audits.size() + 2);
  absl::StatusOr<std::vector<AuditEntry>> entries = store->ReadAudit({});
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), audits.size());
  for (size_t i = 0; i < audits.size(); ++i) {
    const AuditEntry& e = (*entries)[audits.size() - 1 - i];  // newest first
    EXPECT_EQ(e.seq, i + 2);
    EXPECT_EQ(e.record, audits[i]) << i;
  }
  std::vector<uint64_t> seqs;
  for (const auto& [seq, record] : ReplayAll(*store)) seqs.push_back(seq);
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, audits.size() + 2}));
}

// An admin change and its audit entry are appended together, so they commit
// together or not at all.
TEST_F(SqliteStoreTest, AChangeAndItsAuditEntryCommitOrRollBackTogether) {
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->Append({KeyRecord{MakeKey("key_ok", Role::kService)},
                               MakeAudit("key.create", "key:key_ok")})
                    .ok());
  }
  // The audit insert fails: the key and the subject written before it in the
  // same append roll back with it.
  RawSql(DbPath(),
         "CREATE TRIGGER poison BEFORE INSERT ON audit WHEN NEW.reason = 'poison'"
         " BEGIN SELECT RAISE(ABORT, 'poisoned audit'); END");
  {
    auto store = OpenOrDie();
    absl::StatusOr<uint64_t> ticket = store->Append(
        {KeyRecord{MakeKey("key_bad", Role::kAdmin)}, SubjectRecord{MakeSubject("u", "free")},
         MakeAudit("key.create", "key:key_bad", "poison")});
    ASSERT_TRUE(ticket.ok());
    EXPECT_EQ(store->WaitDurable(*ticket).code(), absl::StatusCode::kUnavailable);
  }
  // The other way round: the change fails, and its audit entry is not kept.
  RawSql(DbPath(),
         "DROP TRIGGER poison; CREATE TRIGGER poison BEFORE INSERT ON api_keys"
         " WHEN NEW.id = 'key_bad' BEGIN SELECT RAISE(ABORT, 'poisoned key'); END");
  {
    auto store = OpenOrDie();
    absl::StatusOr<uint64_t> ticket = store->Append(
        {MakeAudit("key.revoke", "key:key_bad"), KeyRecord{MakeKey("key_bad", Role::kAdmin)}});
    ASSERT_TRUE(ticket.ok());
    EXPECT_EQ(store->WaitDurable(*ticket).code(), absl::StatusCode::kUnavailable);
  }
  auto store = OpenOrDie();
  absl::StatusOr<Registry> registry = store->LoadRegistry();
  ASSERT_TRUE(registry.ok()) << registry.status();
  ASSERT_EQ(registry->keys.size(), 1u);
  EXPECT_EQ(registry->keys[0].id, "key_ok");
  EXPECT_TRUE(registry->subjects.empty());
  absl::StatusOr<std::vector<AuditEntry>> audit = store->ReadAudit({});
  ASSERT_TRUE(audit.ok()) << audit.status();
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].record.target, "key:key_ok");
}

// --- reads for the API ---------------------------------------------------------------

TEST_F(SqliteStoreTest, ReadAuditFiltersNewestFirst) {
  auto store = OpenOrDie();
  testing::AppendQueryFixture(*store);
  testing::ExpectAuditQueries(*store);
  store.reset();
  store = OpenOrDie();  // the same from disk
  testing::ExpectAuditQueries(*store);
}

TEST_F(SqliteStoreTest, ReadLedgerBySubjectNewestFirstWithPaging) {
  auto store = OpenOrDie();
  testing::AppendQueryFixture(*store);
  testing::ExpectLedgerQueries(*store);

  // Every kind of adjustment reads back exactly; holds, releases and
  // expiries are not adjustments and are left out.
  std::vector<LogRecord> records;
  std::vector<LedgerRecord> kinds;
  for (auto kind : {LedgerRecord::Kind::kHold, LedgerRecord::Kind::kGrant, LedgerRecord::Kind::kRelease,
                    LedgerRecord::Kind::kExpire, LedgerRecord::Kind::kReset, LedgerRecord::Kind::kRollover}) {
    LedgerRecord l = MakeLedger(kind);
    l.subject = "carol";
    if (kind >= LedgerRecord::Kind::kGrant) kinds.push_back(l);
    records.push_back(l);
  }
  ASSERT_TRUE(store->WaitDurable(*store->Append(std::move(records))).ok());
  absl::StatusOr<std::vector<LedgerEntry>> carol = store->ReadLedger({.subject = "carol"});
  ASSERT_TRUE(carol.ok()) << carol.status();
  ASSERT_EQ(carol->size(), kinds.size());
  for (size_t i = 0; i < kinds.size(); ++i) {
    EXPECT_EQ((*carol)[kinds.size() - 1 - i].record, kinds[i]) << i;
  }
}

TEST_F(SqliteStoreTest, ReadsUseTheIndexes) {
  { auto store = OpenOrDie(); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  auto plan = [&](const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &s, nullptr),
              SQLITE_OK);
    std::string detail;
    while (sqlite3_step(s) == SQLITE_ROW) {
      detail += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
      detail += "; ";
    }
    sqlite3_finalize(s);
    return detail;
  };
  // The shapes of ReadLedger's and ReadAudit's filtered queries.
  EXPECT_NE(plan("SELECT * FROM ledger WHERE subject = 'a' AND kind >= 3 AND seq < 9"
                 " AND time_us >= 0 AND time_us < 5 ORDER BY seq DESC LIMIT 10")
                .find("USING INDEX ledger_by_subject (subject=? AND seq<?)"),
            std::string::npos);
  EXPECT_NE(plan("SELECT * FROM audit WHERE target = 'a' AND seq < 9 AND time_us >= 0"
                 " AND time_us < 5 AND ('' = '' OR actor = '') ORDER BY seq DESC LIMIT 10")
                .find("USING INDEX audit_by_target (target=? AND seq<?)"),
            std::string::npos);
  sqlite3_close(db);
}

// The reads use their own connection: they neither wait for a commit in
// progress nor see its records before it is durable.
TEST_F(SqliteStoreTest, ReadsSeeOnlyDurableRecordsAndDoNotWaitForTheWriter) {
  auto store = OpenOrDie();
  ASSERT_TRUE(store->WaitDurable(*store->Append({testing::FixtureGrant(0),
                                                 testing::FixtureAudit(0)}))
                  .ok());
  WriteLock lock(DbPath());  // the writer's next BEGIN waits
  const uint64_t ticket = *store->Append({testing::FixtureGrant(2), testing::FixtureAudit(2)});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the writer is stuck now
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(store->ReadLedger({.subject = "alice"})->size(), 1u);
  EXPECT_EQ(store->ReadAudit({})->size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  lock.Release();
  ASSERT_TRUE(store->WaitDurable(ticket).ok());
  EXPECT_EQ(store->ReadLedger({.subject = "alice"})->size(), 2u);  // at once, once durable
  EXPECT_EQ(store->ReadAudit({})->size(), 2u);
}

TEST_F(SqliteStoreTest, ConcurrentReadsBesideAppendsSeeEveryDurableRecord) {
  constexpr int kWriters = 4;
  constexpr int kAppends = 60;
  auto store = OpenOrDie();
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      const std::string subject = "writer-" + std::to_string(w);
      for (int a = 0; a < kAppends; ++a) {
        LedgerRecord grant = testing::FixtureGrant(a);
        grant.subject = subject;
        AuditRecord audit = testing::FixtureAudit(a);
        audit.target = "subject:" + subject;
        absl::StatusOr<uint64_t> ticket = store->Append({grant, audit});
        if (!ticket.ok() || !store->WaitDurable(*ticket).ok()) {
          ++failures;
          continue;
        }
        // Durable, so the next read sees it (newest first: it comes first).
        absl::StatusOr<std::vector<LedgerEntry>> ledger =
            store->ReadLedger({.subject = subject, .limit = 1});
        absl::StatusOr<std::vector<AuditEntry>> entries =
            store->ReadAudit({.target = audit.target, .limit = 1});
        if (!ledger.ok() || ledger->size() != 1 || (*ledger)[0].seq != *ticket - 1 ||
            !entries.ok() || entries->size() != 1 || (*entries)[0].seq != *ticket) {
          ++failures;
        }
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      absl::StatusOr<std::vector<AuditEntry>> all = store->ReadAudit({.limit = 1000});
      if (!all.ok()) ++failures;
    }
  });
  for (std::thread& t : threads) t.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->ReadAudit({.limit = 1000})->size(), static_cast<size_t>(kWriters * kAppends));
}

// --- WhenDurable -------------------------------------------------------------------

TEST_F(SqliteStoreTest, WhenDurableRunsOnTheWriterRightAfterTheCommit) {
  auto store = OpenOrDie();
  WriteLock lock(DbPath());  // holds the commit back
  const uint64_t ticket = *store->Append({testing::FixtureGrant(0)});
  CallbackLog log;
  std::atomic<size_t> visible{0};
  store->WhenDurable(ticket, [&](const absl::Status& status) {
    // Committed before the callback: a fresh reader sees the record.
    visible = RawCount(DbPath(), "ledger");
    log.For(ticket)(status);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(log.calls().empty()) << "called before the commit";
  lock.Release();
  const std::vector<CallbackLog::Call> calls = log.WaitFor(1);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].status.ok()) << calls[0].status;
  EXPECT_NE(calls[0].thread, std::this_thread::get_id());  // the writer's
  EXPECT_EQ(visible.load(), 1u);
}

TEST_F(SqliteStoreTest, WhenDurableIsInlineWhenTheOutcomeIsKnown) {
  auto store = OpenOrDie();
  const uint64_t ticket = *store->Append({MakeEvent(1)});
  ASSERT_TRUE(store->Flush().ok());
  CallbackLog log;
  store->WhenDurable(ticket, log.For(ticket));
  store->WhenDurable(0, log.For(0));                  // nothing appended yet counts too
  store->WhenDurable(ticket + 1, log.For(ticket + 1));  // never issued
  const std::vector<CallbackLog::Call> calls = log.calls();  // without waiting
  ASSERT_EQ(calls.size(), 3u);
  for (const CallbackLog::Call& call : calls) EXPECT_EQ(call.thread, std::this_thread::get_id());
  EXPECT_TRUE(calls[0].status.ok());
  EXPECT_TRUE(calls[1].status.ok());
  EXPECT_EQ(calls[2].status.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, WhenDurableCallsBackInTicketOrderAcrossThreads) {
  constexpr int kThreads = 6;
  constexpr int kAppendsPerThread = 150;
  auto store = OpenOrDie();
  CallbackLog log;
  // Ticks of one clock: when each ticket's WhenDurable returned, and when its
  // callback ran (tickets are at most kThreads * kAppendsPerThread * 3).
  std::atomic<uint64_t> clock{0};
  std::vector<std::atomic<uint64_t>> registered_at(kThreads * kAppendsPerThread * 3 + 1);
  std::vector<std::atomic<uint64_t>> called_at(kThreads * kAppendsPerThread * 3 + 1);
  std::vector<std::thread> threads;
  std::mutex ids_mu;
  std::set<std::thread::id> appenders;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      {
        std::lock_guard<std::mutex> lock(ids_mu);
        appenders.insert(std::this_thread::get_id());
      }
      for (int a = 0; a < kAppendsPerThread; ++a) {
        std::vector<LogRecord> records(1 + a % 3, LogRecord(MakeEvent(t * 1000 + a)));
        absl::StatusOr<uint64_t> ticket = store->Append(std::move(records));
        ASSERT_TRUE(ticket.ok());
        const uint64_t k = *ticket;
        store->WhenDurable(k, [&, k, logged = log.For(k)](const absl::Status& s) {
          called_at[k] = ++clock;
          logged(s);
        });
        registered_at[k] = ++clock;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const size_t total = kThreads * kAppendsPerThread;
  const std::vector<CallbackLog::Call> calls = log.WaitFor(total);
  ASSERT_EQ(calls.size(), total);
  std::set<uint64_t> tickets;
  std::vector<uint64_t> on_writer;
  for (const CallbackLog::Call& call : calls) {
    EXPECT_TRUE(call.status.ok()) << call.status;
    EXPECT_TRUE(tickets.insert(call.ticket).second) << "called twice: " << call.ticket;
    if (appenders.count(call.thread) == 0) on_writer.push_back(call.ticket);
  }
  EXPECT_FALSE(on_writer.empty());
  // Ticket order among the callbacks registered before either ran: a
  // callback registered for an earlier ticket after a later one was called
  // cannot come first (that one already ran), wherever it runs.
  std::vector<uint64_t> all(tickets.begin(), tickets.end());
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = i + 1; j < all.size(); ++j) {
      const uint64_t a = all[i], b = all[j];  // a < b
      if (registered_at[a] < called_at[b]) {
        EXPECT_LT(called_at[a], called_at[b]) << "ticket " << a << " was registered before "
                                              << b << " was called, yet called after it";
      }
    }
  }
}

TEST_F(SqliteStoreTest, WhenDurableGetsTheErrorOfAFailedCommit) {
  { auto store = OpenOrDie(); }
  RawSql(DbPath(),
         "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.id = 'poison'"
         " BEGIN SELECT RAISE(ABORT, 'poisoned row'); END");
  auto store = OpenOrDie();
  const uint64_t good = *store->Append({MakeEvent(1)});
  CallbackLog log;
  store->WhenDurable(good, log.For(good));
  ASSERT_TRUE(store->WaitDurable(good).ok());
  EventRecord poison = MakeEvent(2);
  poison.event.id = "poison";
  WriteLock lock(DbPath());  // so that both appends are pending when it fails
  const uint64_t bad = *store->Append({poison});
  const uint64_t later = *store->Append({MakeEvent(3)});
  store->WhenDurable(later, log.For(later));
  store->WhenDurable(bad, log.For(bad));
  lock.Release();
  const std::vector<CallbackLog::Call> calls = log.WaitFor(3);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_TRUE(calls[0].status.ok());
  const absl::Status failure = store->WaitDurable(bad);
  EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(calls[1].ticket, bad);  // ticket order, not registration order
  EXPECT_EQ(calls[1].status, failure);
  EXPECT_EQ(calls[2].ticket, later);
  EXPECT_EQ(calls[2].status, failure);
  // Known from now on: inline, the durable ticket still OK.
  store->WhenDurable(bad, log.For(bad));
  store->WhenDurable(good, log.For(good));
  ASSERT_EQ(log.calls().size(), 5u);
  EXPECT_EQ(log.calls()[3].status, failure);
  EXPECT_TRUE(log.calls()[4].status.ok());
}

TEST_F(SqliteStoreTest, DestroyingTheStoreCallsEveryPendingCallback) {
  constexpr int kAppends = 300;
  CallbackLog log;
  {
    auto store = OpenOrDie();
    for (int i = 0; i < kAppends; ++i) {
      const uint64_t ticket = *store->Append({MakeEvent(i)});
      store->WhenDurable(ticket, log.For(ticket));
    }
  }  // committed by the destructor, which calls back before it returns
  std::vector<CallbackLog::Call> calls = log.calls();
  ASSERT_EQ(calls.size(), static_cast<size_t>(kAppends));
  for (const CallbackLog::Call& call : calls) EXPECT_TRUE(call.status.ok()) << call.status;
  EXPECT_EQ(ReplayAll(*OpenOrDie()).size(), static_cast<size_t>(kAppends));

  // A store that fails on the way down calls them with its error.
  RawSql(DbPath(),
         "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.id = 'poison'"
         " BEGIN SELECT RAISE(ABORT, 'poisoned row'); END");
  CallbackLog failed;
  {
    auto store = OpenOrDie();
    WriteLock lock(DbPath());
    EventRecord poison = MakeEvent(0);
    poison.event.id = "poison";
    const uint64_t bad = *store->Append({poison});
    store->WhenDurable(bad, failed.For(bad));
    for (int i = 0; i < 10; ++i) {
      const uint64_t ticket = *store->Append({MakeEvent(i)});
      store->WhenDurable(ticket, failed.For(ticket));
    }
    lock.Release();
  }
  calls = failed.calls();
  ASSERT_EQ(calls.size(), 11u);
  for (const CallbackLog::Call& call : calls) {
    EXPECT_EQ(call.status.code(), absl::StatusCode::kUnavailable) << call.status;
  }
}

TEST_F(SqliteStoreTest, ACallbackMayAppendAgain) {
  auto store = OpenOrDie();
  CallbackLog log;
  std::atomic<uint64_t> second{0};
  const uint64_t first = *store->Append({MakeEvent(1)});
  store->WhenDurable(first, [&](const absl::Status& status) {
    log.For(first)(status);
    absl::StatusOr<uint64_t> next = store->Append({MakeEvent(2)});  // no deadlock
    if (next.ok()) {
      second = *next;
      store->WhenDurable(*next, log.For(*next));
    }
  });
  const std::vector<CallbackLog::Call> calls = log.WaitFor(2);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].ticket, second.load());
  EXPECT_TRUE(calls[1].status.ok());
}

TEST_F(SqliteStoreTest, AnotherApplicationsDatabaseIsRefused) {
  fs::create_directories(dir_ / "data");
  RawSql(DbPath(), "CREATE TABLE customers(id INTEGER PRIMARY KEY)");
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(Options());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_EQ(RawCount(DbPath(), "customers"), 0);  // untouched
}

TEST_F(SqliteStoreTest, PathsOfTheWrongKindAreRefused) {
  fs::create_directories(dir_ / "data" / "tally.db");  // the database path is a directory
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(Options());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();

  std::ofstream(dir_ / "file") << "x";  // the data directory is a file
  store = SqliteStore::Open(Options("file"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();

  SqliteStoreOptions options = Options();
  options.dir = "";
  EXPECT_EQ(SqliteStore::Open(options).status().code(), absl::StatusCode::kInvalidArgument);
}

// --- rollups ----------------------------------------------------------------------

// What testing::SumSink holds after folding MakeEvent(i) for i in [from, to).
std::map<std::string, int64_t> ExpectedSums(int from, int to) {
  std::map<std::string, int64_t> sums;
  for (int i = from; i < to; ++i) {
    const EventRecord e = MakeEvent(i);
    for (const auto& [name, value] : e.event.data) sums[e.event.subject] += value;
  }
  return sums;
}

std::vector<LogRecord> MakeEvents(int from, int to) {
  std::vector<LogRecord> records;
  for (int i = from; i < to; ++i) records.push_back(MakeEvent(i));
  return records;
}

std::vector<uint64_t> SeqRange(uint64_t first, uint64_t last) {
  std::vector<uint64_t> seqs;
  for (uint64_t seq = first; seq <= last; ++seq) seqs.push_back(seq);
  return seqs;
}

int64_t RollupSeq(const std::string& path) {
  return RawInt(path, "SELECT ifnull((SELECT value FROM meta WHERE key = 'rollup_seq'), 0)");
}

TEST_F(SqliteStoreTest, RollupsFoldEveryEventOnAppendAndReloadAfterAClose) {
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  {
    auto store = OpenOrDie(options);
    // Only events are folded, in seq order: seqs 1, 3, then 5 to 7.
    ASSERT_TRUE(store->Append({MakeEvent(0), MakeLedger(LedgerRecord::Kind::kGrant), MakeEvent(1),
                               testing::FixtureAlert(0)})
                    .ok());
    ASSERT_TRUE(store->Append(MakeEvents(2, 5)).ok());
    ASSERT_TRUE(store->Flush().ok());
    EXPECT_EQ(sink.folded(), (std::vector<uint64_t>{1, 3, 5, 6, 7}));
    EXPECT_EQ(sink.sums(), ExpectedSums(0, 5));
  }
  EXPECT_EQ(RollupSeq(DbPath()), 7);  // the close persisted everything
  EXPECT_EQ(RawCount(DbPath(), "rollups"), 5);  // one row per subject
  EXPECT_EQ(RawInt(DbPath(), "SELECT CAST(cell AS INTEGER) FROM rollups WHERE key = 'user-3'"),
            503 + 3);

  testing::SumSink reloaded;
  options.rollups = &reloaded;
  auto store = OpenOrDie(options);
  EXPECT_EQ(reloaded.loaded(), 5);
  EXPECT_TRUE(reloaded.folded().empty());  // nothing folded twice
  EXPECT_EQ(reloaded.sums(), ExpectedSums(0, 5));
}

TEST_F(SqliteStoreTest, RollupsArePersistedAtMostOncePerInterval) {
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  options.rollup_flush_interval = 60'000'000;
  auto store = OpenOrDie(options);
  ASSERT_TRUE(store->WaitDurable(*store->Append({MakeEvent(0)})).ok());
  EXPECT_EQ(RollupSeq(DbPath()), 1);  // the first commit after open persists
  ASSERT_TRUE(store->WaitDurable(*store->Append({MakeEvent(1)})).ok());
  clock_.Advance(59'999'999);
  ASSERT_TRUE(store->WaitDurable(*store->Append({MakeEvent(2)})).ok());
  EXPECT_EQ(RollupSeq(DbPath()), 1);
  EXPECT_EQ(RawCount(DbPath(), "rollups"), 1);
  clock_.Advance(1);
  ASSERT_TRUE(store->WaitDurable(*store->Append({SubjectRecord{MakeSubject("x", "free")}})).ok());
  EXPECT_EQ(RollupSeq(DbPath()), 4);  // any commit: the seq is the transaction's last
  EXPECT_EQ(RawCount(DbPath(), "rollups"), 3);
  EXPECT_EQ(RawInt(DbPath(), "SELECT CAST(cell AS INTEGER) FROM rollups WHERE key = 'user-2'"),
            502 + 2);
}

// A crash leaves on disk what was committed: the database and its WAL. Copying
// both while the store is open and idle takes exactly that state.
TEST_F(SqliteStoreTest, AfterACrashTheEventsSinceTheLastPersistAreFoldedOnce) {
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  options.rollup_flush_interval = 3'600'000'000;
  {
    auto store = OpenOrDie(options);
    ASSERT_TRUE(store->WaitDurable(*store->Append(MakeEvents(0, 3))).ok());  // persisted
    ASSERT_TRUE(store->WaitDurable(*store->Append(MakeEvents(3, 6))).ok());
    ASSERT_TRUE(store->WaitDurable(*store->Append({MakeEvent(6), testing::FixtureAlert(1)})).ok());
    EXPECT_EQ(RollupSeq(DbPath()), 3);
    fs::create_directories(dir_ / "crash");
    for (const char* file : {"tally.db", "tally.db-wal"}) {
      fs::copy_file(dir_ / "data" / file, dir_ / "crash" / file);
    }
  }
  EXPECT_EQ(RollupSeq(DbPath()), 8);  // a clean close persists up to the last seq

  testing::SumSink recovered;
  options = Options("crash");
  options.rollups = &recovered;
  options.scan_window = 2;  // the fold at open reads on two threads
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->LastSeq(), 8u);
    EXPECT_EQ(recovered.loaded(), 3);                             // user-0..2 as of seq 3
    EXPECT_EQ(recovered.folded(), (std::vector<uint64_t>{4, 5, 6, 7}));  // the rest, once
    EXPECT_EQ(recovered.sums(), sink.sums());
    EXPECT_EQ(recovered.sums(), ExpectedSums(0, 7));
  }
  EXPECT_EQ(RollupSeq(DbPath("crash")), 8);
  testing::SumSink again;
  options.rollups = &again;
  auto store = OpenOrDie(options);
  EXPECT_TRUE(again.folded().empty());
  EXPECT_EQ(again.sums(), ExpectedSums(0, 7));
}

TEST_F(SqliteStoreTest, Version3DatabaseIsUpgradedAndEveryEventFolded) {
  {
    auto store = OpenOrDie();  // no sink: the rollups are not kept
    ASSERT_TRUE(store->Append(MakeEvents(0, 4)).ok());
    ASSERT_TRUE(store->Append({MakeLedger(LedgerRecord::Kind::kGrant), MakeEvent(4)}).ok());
    ASSERT_TRUE(store->Flush().ok());
  }
  EXPECT_EQ(RawCount(DbPath(), "rollups"), 0);
  DowngradeToVersion3(DbPath());
  ASSERT_EQ(SchemaObjects(DbPath(), "rollups"), 0);
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  options.scan_window = 2;
  options.scan_threads = 3;
  {
    auto store = OpenOrDie(options);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(SchemaVersion(DbPath()), 4);
    EXPECT_EQ(sink.folded(), (std::vector<uint64_t>{1, 2, 3, 4, 6}));
    EXPECT_EQ(sink.sums(), ExpectedSums(0, 5));
    ASSERT_TRUE(store->Append({MakeEvent(5)}).ok());
  }
  EXPECT_EQ(RollupSeq(DbPath()), 7);
  testing::SumSink reloaded;
  options.rollups = &reloaded;
  auto store = OpenOrDie(options);
  EXPECT_TRUE(reloaded.folded().empty());
  EXPECT_EQ(reloaded.sums(), ExpectedSums(0, 6));
}

TEST_F(SqliteStoreTest, WithoutASinkRollupRowsAreLeftAloneAndTheEventsFoldedLater) {
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  { ASSERT_TRUE(OpenOrDie(options)->Append(MakeEvents(0, 3)).ok()); }
  EXPECT_EQ(RollupSeq(DbPath()), 3);
  { ASSERT_TRUE(OpenOrDie()->Append(MakeEvents(3, 6)).ok()); }
  EXPECT_EQ(RollupSeq(DbPath()), 3);
  EXPECT_EQ(RawCount(DbPath(), "rollups"), 3);
  testing::SumSink later;
  options.rollups = &later;
  auto store = OpenOrDie(options);
  EXPECT_EQ(later.loaded(), 3);
  EXPECT_EQ(later.folded(), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(later.sums(), ExpectedSums(0, 6));
}

TEST_F(SqliteStoreTest, ARollupRowTheSinkRefusesIsDataLossNamingThePath) {
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  { ASSERT_TRUE(OpenOrDie(options)->Append(MakeEvents(0, 3)).ok()); }
  RawSql(DbPath(), "UPDATE rollups SET cell = 'x1' WHERE key = 'user-1'");
  testing::SumSink reloaded;
  options.rollups = &reloaded;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  const std::string message(store.status().message());
  EXPECT_NE(message.find(DbPath()), std::string::npos) << message;
  EXPECT_NE(message.find("key \"user-1\""), std::string::npos) << message;
  EXPECT_NE(message.find("bad cell \"x1\""), std::string::npos) << message;
  store = SqliteStore::Open(Options());  // without a sink the rows are not read
  EXPECT_TRUE(store.ok()) << store.status();
}

TEST_F(SqliteStoreTest, DeleteEventsPersistsTheRollupsFirstAndNeverTakesEventsOutOfThem) {
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  options.rollup_flush_interval = 3'600'000'000;
  {
    auto store = OpenOrDie(options);
    ASSERT_TRUE(store->WaitDurable(*store->Append(MakeEvents(0, 5))).ok());
    ASSERT_TRUE(store->WaitDurable(*store->Append(MakeEvents(5, 10))).ok());
    EXPECT_EQ(RollupSeq(DbPath()), 5);
    absl::StatusOr<uint64_t> deleted = store->DeleteEvents(kEndOfTime, store->LastSeq());
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    EXPECT_EQ(*deleted, 10u);
    EXPECT_EQ(RollupSeq(DbPath()), 10);
    EXPECT_EQ(RawCount(DbPath(), "events"), 0);
    EXPECT_EQ(RawCount(DbPath(), "dedup"), 2);  // left alone
    EXPECT_EQ(sink.sums(), ExpectedSums(0, 10));
  }
  testing::SumSink reloaded;
  options.rollups = &reloaded;
  auto store = OpenOrDie(options);
  EXPECT_TRUE(reloaded.folded().empty());
  EXPECT_EQ(reloaded.sums(), ExpectedSums(0, 10));
}

// Events after rollup_seq are not in the persisted rollups yet: deleting them
// without a sink would lose them from the rollups for good.
TEST_F(SqliteStoreTest, DeleteEventsWithoutASinkStopsAtTheRollupSeq) {
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  { ASSERT_TRUE(OpenOrDie(options)->Append(MakeEvents(0, 5)).ok()); }
  {
    auto store = OpenOrDie();
    ASSERT_TRUE(store->WaitDurable(*store->Append(MakeEvents(5, 10))).ok());
    EXPECT_EQ(*store->DeleteEvents(kEndOfTime, store->LastSeq()), 5u);
    std::vector<uint64_t> left;
    for (const auto& [seq, e] : testing::ScanAllEvents(*store)) left.push_back(seq);
    EXPECT_EQ(left, SeqRange(6, 10));
  }
  testing::SumSink later;
  options.rollups = &later;
  auto store = OpenOrDie(options);
  EXPECT_EQ(later.folded(), SeqRange(6, 10));
  EXPECT_EQ(later.sums(), ExpectedSums(0, 10));
}

TEST_F(SqliteStoreTest, RestoredEventsAreNotFoldedAgain) {
  testing::SumSink sink;
  SqliteStoreOptions options = Options();
  options.rollups = &sink;
  {
    auto store = OpenOrDie(options);
    ASSERT_TRUE(store->WaitDurable(*store->Append(MakeEvents(0, 10))).ok());
    const testing::SeqEvents archive = testing::ScanAllEvents(*store);
    ASSERT_EQ(archive.size(), 10u);
    EXPECT_EQ(*store->DeleteEvents(kEndOfTime, store->LastSeq()), 10u);
    EXPECT_EQ(*store->RestoreEvents(archive), 10u);
    EXPECT_EQ(testing::ScanAllEvents(*store), archive);
    EXPECT_EQ(sink.folded().size(), 10u);
    EXPECT_EQ(sink.sums(), ExpectedSums(0, 10));
  }
  testing::SumSink reloaded;
  options.rollups = &reloaded;
  auto store = OpenOrDie(options);
  EXPECT_TRUE(reloaded.folded().empty());
  EXPECT_EQ(reloaded.sums(), ExpectedSums(0, 10));
}

// --- alerts ----------------------------------------------------------------------

TEST_F(SqliteStoreTest, AlertsRoundTripNewestFirstWithPagingAndAreNotReplayed) {
  {
    auto store = OpenOrDie();
    testing::AppendAlertFixture(*store);
    testing::ExpectAlertQueries(*store);
  }
  auto store = OpenOrDie();
  EXPECT_EQ(store->LastSeq(), 10u);  // alerts count in the seq
  testing::ExpectAlertQueries(*store);
  EXPECT_TRUE(ReplayAll(*store).empty());
  EXPECT_EQ(RawInt(DbPath(), "SELECT count(*) FROM alerts WHERE meter IS NULL"), 1);
  EXPECT_EQ(RawInt(DbPath(), "SELECT count(*) FROM alerts WHERE detail IS NULL"), 1);
}

TEST_F(SqliteStoreTest, ReadAlertsBySubjectUsesItsIndex) {
  { auto store = OpenOrDie(); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbPath().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "EXPLAIN QUERY PLAN SELECT * FROM alerts WHERE subject = 'a' AND"
                               " seq < 9 AND hour_us >= 0 AND hour_us < 5 AND ('' = '' OR kind ="
                               " '') ORDER BY seq DESC LIMIT 10",
                               -1, &s, nullptr),
            SQLITE_OK);
  std::string detail;
  while (sqlite3_step(s) == SQLITE_ROW) {
    detail += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  EXPECT_NE(detail.find("USING INDEX alerts_by_subject (subject=? AND seq<?)"), std::string::npos)
      << detail;
}

// --- ScanEvents and retention --------------------------------------------------------

TEST_F(SqliteStoreTest, ScanEventsFiltersInSeqOrderAndStopsEarly) {
  testing::SeqEvents model;
  {
    auto store = OpenOrDie();
    model = testing::AppendScanFixture(*store);
    testing::ExpectScanQueries(*store, model);
  }
  // Windows of 3 seqs: every query spans many read transactions and gaps,
  // read by two threads, and by the caller's thread alone.
  SqliteStoreOptions options = Options();
  options.scan_window = 3;
  for (int threads : {2, 1, 3}) {
    options.scan_threads = threads;
    auto store = OpenOrDie(options);
    testing::ExpectScanQueries(*store, model);
  }
}

TEST_F(SqliteStoreTest, DeleteAndRestoreEventsRoundTrip) {
  testing::SeqEvents model;
  {
    auto store = OpenOrDie();
    model = testing::AppendScanFixture(*store);
    testing::ExpectDeleteAndRestoreRoundTrip(*store, model);
  }
  SqliteStoreOptions options = Options();
  options.scan_window = 2;
  auto store = OpenOrDie(options);
  EXPECT_EQ(testing::ScanAllEvents(*store), model);  // and it lasts
  testing::ExpectDeleteAndRestoreRoundTrip(*store, model);
  EXPECT_EQ(ReplayAll(*store).size(), 36u);  // the 30 events and 6 grants
}

// With archived events gone, a replay from before them would undercount the
// quotas: it is refused, until the archive is restored.
TEST_F(SqliteStoreTest, ReplayFromBeforeDeletedEventsIsRefusedUntilTheyAreRestored) {
  auto store = OpenOrDie();
  testing::AppendScanFixture(*store);
  std::vector<std::pair<uint64_t, EventRecord>> saved;
  ASSERT_TRUE(store->ScanEvents({}, [&](uint64_t seq, const EventRecord& r) {
    saved.emplace_back(seq, r);
    return true;
  }).ok());
  absl::StatusOr<uint64_t> deleted = store->DeleteEvents(kEndOfTime, store->LastSeq());
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  ASSERT_EQ(*deleted, saved.size());
  const absl::Status refused =
      store->Replay(0, [](uint64_t, const LogRecord&) { return absl::OkStatus(); });
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss) << refused;
  EXPECT_NE(refused.message().find("archived"), std::string_view::npos) << refused;
  EXPECT_TRUE(store->Replay(store->LastSeq(), [](uint64_t, const LogRecord&) {
    return absl::OkStatus();
  }).ok()) << "a replay after the deleted events is fine";

  ASSERT_EQ(*store->RestoreEvents(saved), saved.size());
  EXPECT_EQ(ReplayAll(*store).size(), 36u);
}

// Only an archived event fits back: never over another kind of record.
TEST_F(SqliteStoreTest, RestoreRefusesSeqsOfOtherRecords) {
  auto store = OpenOrDie();
  testing::AppendScanFixture(*store);
  uint64_t ledger_seq = 0;
  for (const auto& [seq, record] : ReplayAll(*store)) {
    if (std::holds_alternative<LedgerRecord>(record)) ledger_seq = seq;
  }
  ASSERT_GT(ledger_seq, 0u);
  EventRecord intruder;
  intruder.event.id = "x";
  intruder.event.subject = "mallory";
  intruder.event.type = "api";
  intruder.event.time = 1;
  absl::StatusOr<uint64_t> r = store->RestoreEvents({{ledger_seq, intruder}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_EQ(ReplayAll(*store).size(), 36u) << "nothing was inserted";
}

// A scan reads beside the writer and the shared reader, and sees the events
// durable when it started.
TEST_F(SqliteStoreTest, ScanEventsHoldsUpNeitherTheWriterNorTheReads) {
  auto store = OpenOrDie();
  const testing::SeqEvents model = testing::AppendScanFixture(*store);
  size_t calls = 0;
  const absl::Status status = store->ScanEvents({}, [&](uint64_t, const EventRecord&) {
    if (calls++ == 0) {
      absl::StatusOr<uint64_t> ticket =
          store->Append({testing::ScanFixtureEvent(30), testing::FixtureAudit(0)});
      EXPECT_TRUE(ticket.ok() && store->WaitDurable(*ticket).ok());
      EXPECT_EQ(store->ReadAudit({})->size(), 1u);
    }
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, model.size());
  EXPECT_EQ(testing::ScanAllEvents(*store).size(), model.size() + 1);

  // And it reads what is durable while a commit waits for the write lock.
  WriteLock lock(DbPath());
  const uint64_t ticket = *store->Append({testing::ScanFixtureEvent(31)});
  EXPECT_EQ(testing::ScanAllEvents(*store).size(), model.size() + 1);
  lock.Release();
  ASSERT_TRUE(store->WaitDurable(ticket).ok());
  EXPECT_EQ(testing::ScanAllEvents(*store).size(), model.size() + 2);
}

TEST_F(SqliteStoreTest, RetentionInterleavesWithAppends) {
  SqliteStoreOptions options = Options();
  options.scan_window = 7;
  auto store = OpenOrDie(options);
  const testing::SeqEvents model = testing::AppendScanFixture(*store);
  std::atomic<bool> done{false};
  std::atomic<int> appended{0};
  std::thread appender([&] {
    for (int a = 0; a < 50 && !done; ++a) {
      EventRecord e = testing::ScanFixtureEvent(100 + a);
      e.event.time = 5000;  // never deleted here
      absl::StatusOr<uint64_t> ticket = store->Append({e, testing::FixtureGrant(a)});
      if (ticket.ok() && store->WaitDurable(*ticket).ok()) ++appended;
    }
  });
  for (int round = 0; round < 5; ++round) {
    const testing::SeqEvents archive = testing::ScanAllEvents(*store, {.to = 1070});
    EXPECT_EQ(archive.size(), 10u);
    EXPECT_EQ(*store->DeleteEvents(1070, store->LastSeq()), 10u);
    EXPECT_EQ(*store->RestoreEvents(archive), 10u);
  }
  done = true;
  appender.join();
  EXPECT_EQ(testing::ScanAllEvents(*store, {.to = 5000}), model);
  EXPECT_EQ(testing::ScanAllEvents(*store, {.from = 5000}).size(),
            static_cast<size_t>(appended.load()));
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

TEST(SqliteStoreLockTest, ASecondProcessCannotOpenTheSameDataDirectory) {
  const char* base = std::getenv("TALLY_TEST_TMPDIR");
  std::string dir = std::string(base ? base : "/tmp") + "/lock-test-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  SqliteStoreOptions options;
  options.dir = dir;
  auto first = SqliteStore::Open(options);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = SqliteStore::Open(options);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(second.status().message()).find("in use"), std::string::npos);
  first->reset();
  auto third = SqliteStore::Open(options);  // released on close
  EXPECT_TRUE(third.ok()) << third.status();
  third->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tally
