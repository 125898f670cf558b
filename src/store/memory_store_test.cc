#include "store/memory_store.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/event.h"
#include "store/events_test_util.h"
#include "store/read_queries_test_util.h"

namespace tally {
namespace {

EventRecord MakeEvent(const std::string& id, Micros received) {
  EventRecord r;
  r.event.id = id;
  r.event.subject = "user-1";
  r.event.type = "correction";
  r.event.time = received;
  r.event.data = {{"chars", 10}};
  r.received = received;
  r.fingerprint = received * 3 + 1;
  r.effects = {{Scope::kSubject, "chars", 0, 100, 10, 0}};
  return r;
}

LedgerRecord MakeHold(const std::string& request_id, Micros time) {
  LedgerRecord r;
  r.kind = LedgerRecord::Kind::kHold;
  r.time = time;
  r.subject = "user-1";
  r.reservation_id = "res-" + request_id;
  r.request.id = request_id;
  r.fingerprint = 5;
  return r;
}

std::vector<uint64_t> ReplaySeqs(Store& store, uint64_t after) {
  std::vector<uint64_t> seqs;
  EXPECT_TRUE(store
                  .Replay(after,
                          [&](uint64_t seq, const LogRecord&) {
                            seqs.push_back(seq);
                            return absl::OkStatus();
                          })
                  .ok());
  return seqs;
}

TEST(MemoryStoreTest, AssignsSequenceNumbersAndKeepsRecords) {
  MemoryStore store;
  EXPECT_EQ(*store.Append({MakeEvent("a", 1), MakeEvent("b", 2)}), 2u);
  Subject subject;
  subject.id = "user-1";
  EXPECT_EQ(*store.Append({SubjectRecord{subject}}), 3u);
  EXPECT_EQ(*store.Append({}), 3u);
  EXPECT_EQ(*store.Append({MakeHold("r", 4)}), 4u);
  EXPECT_EQ(store.LastSeq(), 4u);
  EXPECT_TRUE(store.WaitDurable(4).ok());
  EXPECT_TRUE(store.Flush().ok());
  EXPECT_EQ(store.WaitDurable(5).code(), absl::StatusCode::kInvalidArgument);

  std::vector<std::pair<uint64_t, LogRecord>> records = store.Records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(std::get<EventRecord>(records[1].second), MakeEvent("b", 2));
  EXPECT_EQ(ReplaySeqs(store, 0), (std::vector<uint64_t>{1, 2, 4}));  // no registry record
  EXPECT_EQ(ReplaySeqs(store, 2), (std::vector<uint64_t>{4}));

  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.appended, 4u);
  EXPECT_EQ(stats.durable, 4u);
  EXPECT_EQ(stats.commits, 4u);
}

TEST(MemoryStoreTest, RecoversRegistryAndLatestCheckpoint) {
  MemoryStore store;
  Subject a{.id = "a", .tier = "free"};
  Subject a2{.id = "a", .tier = "premium"};
  Tier free{.name = "free"};
  ASSERT_TRUE(store.Append({SubjectRecord{a}, TierRecord{free}, OrgRecord{Org{.id = "acme"}}}).ok());
  ASSERT_TRUE(store.Append({CheckpointRecord{"one"}, MakeEvent("x", 1)}).ok());  // 4, 5
  ASSERT_TRUE(store.Append({SubjectRecord{a2}, CheckpointRecord{"two"}}).ok());   // 6, 7
  ASSERT_TRUE(store.Append({MakeEvent("y", 2)}).ok());                            // 8

  absl::StatusOr<Registry> registry = store.LoadRegistry();
  ASSERT_TRUE(registry.ok());
  ASSERT_EQ(registry->subjects.size(), 1u);
  EXPECT_EQ(registry->subjects[0], a2);
  ASSERT_EQ(registry->tiers.size(), 1u);
  ASSERT_EQ(registry->orgs.size(), 1u);

  absl::StatusOr<std::optional<Checkpoint>> checkpoint = store.LoadCheckpoint();
  ASSERT_TRUE(checkpoint.ok() && checkpoint->has_value());
  EXPECT_EQ((*checkpoint)->seq, 7u);
  EXPECT_EQ((*checkpoint)->blob, "two");
  EXPECT_EQ(ReplaySeqs(store, (*checkpoint)->seq), (std::vector<uint64_t>{8}));

  MemoryStore empty;
  EXPECT_FALSE(empty.LoadCheckpoint()->has_value());
}

TEST(MemoryStoreTest, ScanDedupHonoursBounds) {
  MemoryStore store;
  LedgerRecord grant;
  grant.kind = LedgerRecord::Kind::kGrant;
  grant.time = 50;
  ASSERT_TRUE(store
                  .Append({MakeEvent("old", 5), MakeEvent("a", 20), MakeHold("h", 30), grant,
                           MakeEvent("late", 40)})
                  .ok());
  std::vector<DedupEntry> entries;
  ASSERT_TRUE(store.ScanDedup(10, 4, [&](const DedupEntry& e) { entries.push_back(e); }).ok());
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id_hash, StableHash("a"));
  EXPECT_EQ(entries[0].fingerprint, 61u);
  EXPECT_EQ(entries[0].received, 20);
  EXPECT_EQ(entries[0].seq, 2u);
  EXPECT_EQ(entries[1].id_hash, StableHash("h"));
  EXPECT_EQ(entries[1].seq, 3u);
}

TEST(MemoryStoreTest, FailWritesFailsAppendsUntilCleared) {
  MemoryStore store;
  const uint64_t ticket = *store.Append({MakeEvent("a", 1)});
  const absl::Status disk_full = absl::UnavailableError("storage write failed: disk full");
  store.FailWrites(disk_full);
  EXPECT_EQ(store.Append({MakeEvent("b", 2)}).status(), disk_full);
  EXPECT_EQ(store.Flush(), disk_full);
  EXPECT_TRUE(store.WaitDurable(ticket).ok());  // appended before the failure
  EXPECT_EQ(store.LastSeq(), 1u);
  EXPECT_EQ(store.Records().size(), 1u);

  store.FailWrites(absl::OkStatus());
  EXPECT_EQ(*store.Append({MakeEvent("b", 2)}), 2u);
}

TEST(MemoryStoreTest, ReplayCallbackMayCallBackIntoTheStore) {
  MemoryStore store;
  ASSERT_TRUE(store.Append({MakeEvent("a", 1), MakeEvent("b", 2)}).ok());
  int seen = 0;
  absl::Status status = store.Replay(0, [&](uint64_t seq, const LogRecord&) {
    ++seen;
    EXPECT_EQ(store.LastSeq(), 2u);
    return seq == 1 ? absl::CancelledError("stop") : absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(seen, 1);
}

TEST(MemoryStoreTest, ConcurrentAppendsGetDistinctContiguousSequences) {
  constexpr int kThreads = 8;
  constexpr int kAppends = 500;
  MemoryStore store;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int a = 0; a < kAppends; ++a) {
        const std::string id = std::to_string(t) + "/" + std::to_string(a);
        absl::StatusOr<uint64_t> ticket =
            store.Append({MakeEvent(id + "/0", 1), MakeEvent(id + "/1", 1)});
        ASSERT_TRUE(ticket.ok());
        ASSERT_TRUE(store.WaitDurable(*ticket).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::pair<uint64_t, LogRecord>> records = store.Records();
  ASSERT_EQ(records.size(), 2u * kThreads * kAppends);
  std::set<std::string> ids;
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].first, i + 1);
    const std::string& id = std::get<EventRecord>(records[i].second).event.id;
    EXPECT_TRUE(ids.insert(id).second);
    if (i % 2 == 1) {  // the two records of one append are adjacent
      EXPECT_EQ(id.substr(0, id.size() - 1),
                std::get<EventRecord>(records[i - 1].second).event.id.substr(0, id.size() - 1));
    }
  }
}

// --- API keys, audit, reads ---------------------------------------------------

ApiKey MakeKey(const std::string& id, Role role) {
  ApiKey k;
  k.id = id;
  k.name = "key " + id;
  k.role = role;
  k.hash = std::string(64, 'a');
  k.prefix = "tk_" + id;
  k.created = 7;
  return k;
}

TEST(MemoryStoreTest, KeysAreRegistryUpsertsAndAuditIsNotReplayed) {
  MemoryStore store;
  ApiKey revoked = MakeKey("key_b", Role::kService);
  revoked.revoked = 99;
  AuditRecord audit{.time = 5, .actor = "cli", .action = "key.create", .target = "key:key_a"};
  ASSERT_EQ(*store.Append({KeyRecord{MakeKey("key_b", Role::kService)},
                           KeyRecord{MakeKey("key_a", Role::kAdmin)}, audit, MakeEvent("e", 1)}),
            4u);
  ASSERT_EQ(*store.Append({KeyRecord{revoked}}), 5u);
  absl::StatusOr<Registry> registry = store.LoadRegistry();
  ASSERT_TRUE(registry.ok());
  EXPECT_EQ(registry->keys, (std::vector<ApiKey>{MakeKey("key_a", Role::kAdmin), revoked}));
  EXPECT_EQ(ReplaySeqs(store, 0), (std::vector<uint64_t>{4}));
  absl::StatusOr<std::vector<AuditEntry>> entries = store.ReadAudit({});
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(*entries, (std::vector<AuditEntry>{{3, audit}}));
}

TEST(MemoryStoreTest, ReadAuditFiltersNewestFirst) {
  MemoryStore store;
  testing::AppendQueryFixture(store);
  testing::ExpectAuditQueries(store);
}

TEST(MemoryStoreTest, ReadLedgerBySubjectNewestFirst) {
  MemoryStore store;
  testing::AppendQueryFixture(store);
  testing::ExpectLedgerQueries(store);
}

TEST(MemoryStoreTest, ReadAlertsFiltersNewestFirst) {
  MemoryStore store;
  testing::AppendAlertFixture(store);
  testing::ExpectAlertQueries(store);
}

// --- rollups, ScanEvents and retention ------------------------------------------------

TEST(MemoryStoreTest, RollupsFoldEachEventOnceItIsDurable) {
  testing::SumSink sink;
  MemoryStore store(&sink);
  LedgerRecord grant;
  grant.kind = LedgerRecord::Kind::kGrant;
  ASSERT_TRUE(store.Append({MakeEvent("a", 1), grant, MakeEvent("b", 2)}).ok());
  EXPECT_EQ(sink.folded(), (std::vector<uint64_t>{1, 3}));
  store.PauseDurability();
  ASSERT_TRUE(store.Append({MakeEvent("c", 3)}).ok());
  ASSERT_TRUE(store.Append({testing::FixtureAlert(0), MakeEvent("d", 4)}).ok());
  EXPECT_EQ(sink.folded().size(), 2u);  // in flight: not yet
  store.ResumeDurability();
  EXPECT_EQ(sink.folded(), (std::vector<uint64_t>{1, 3, 4, 6}));
  EXPECT_EQ(sink.sums(), (std::map<std::string, int64_t>{{"user-1", 40}}));
  EXPECT_EQ(sink.loaded(), 0);
}

TEST(MemoryStoreTest, ScanEventsFiltersInSeqOrderAndStopsEarly) {
  MemoryStore store;
  const testing::SeqEvents model = testing::AppendScanFixture(store);
  testing::ExpectScanQueries(store, model);
}

TEST(MemoryStoreTest, ScanEventsSeesOnlyDurableEventsAndMayCallBack) {
  MemoryStore store;
  const testing::SeqEvents model = testing::AppendScanFixture(store);
  store.PauseDurability();
  ASSERT_TRUE(store.Append({testing::ScanFixtureEvent(30)}).ok());
  size_t calls = 0;
  ASSERT_TRUE(store
                  .ScanEvents({},
                              [&](uint64_t, const EventRecord&) {
                                ++calls;
                                EXPECT_TRUE(store.ReadAudit({}).ok());  // no deadlock
                                return true;
                              })
                  .ok());
  EXPECT_EQ(calls, model.size());
  store.ResumeDurability();
  EXPECT_EQ(testing::ScanAllEvents(store).size(), model.size() + 1);
}

TEST(MemoryStoreTest, DeleteAndRestoreEventsRoundTrip) {
  testing::SumSink sink;
  MemoryStore store(&sink);
  const testing::SeqEvents model = testing::AppendScanFixture(store);
  testing::ExpectDeleteAndRestoreRoundTrip(store, model);
  EXPECT_EQ(sink.folded().size(), model.size());  // restored events are not folded again
  // The reads still find the records around the gaps deletes leave.
  EXPECT_EQ(*store.DeleteEvents(kEndOfTime, store.LastSeq()), 30u);
  EXPECT_EQ(store.Records().size(), 6u);  // the grants
  EXPECT_EQ(store.ReadLedger({.before_seq = store.LastSeq()})->size(), 6u);
  EXPECT_EQ(store.ReadLedger({.limit = 2})->back().seq, model[20].first - 1);
}

// --- WhenDurable -----------------------------------------------------------------

// Collects callback outcomes; waits for them with a timeout.
class Outcomes {
 public:
  std::function<void(const absl::Status&)> For(uint64_t ticket) {
    return [this, ticket](const absl::Status& status) {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.emplace_back(ticket, status);
    };
  }
  std::vector<std::pair<uint64_t, absl::Status>> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<uint64_t, absl::Status>> calls_;
};

TEST(MemoryStoreTest, WhenDurableIsInlineForDurableTicketsAndRejectsUnissuedOnes) {
  MemoryStore store;
  const uint64_t ticket = *store.Append({MakeEvent("a", 1)});
  Outcomes outcomes;
  store.WhenDurable(ticket, outcomes.For(ticket));
  store.WhenDurable(0, outcomes.For(0));
  store.WhenDurable(ticket + 1, outcomes.For(ticket + 1));
  const auto calls = outcomes.calls();
  ASSERT_EQ(calls.size(), 3u);  // all before WhenDurable returned
  EXPECT_TRUE(calls[0].second.ok());
  EXPECT_TRUE(calls[1].second.ok());
  EXPECT_EQ(calls[2].second.code(), absl::StatusCode::kInvalidArgument);
}

TEST(MemoryStoreTest, PausedDurabilityHoldsCallbacksWaitersAndReads) {
  MemoryStore store;
  ASSERT_TRUE(store.Append({testing::FixtureGrant(0)}).ok());
  store.PauseDurability();
  const uint64_t t2 = *store.Append({testing::FixtureGrant(2), testing::FixtureAudit(2)});
  const uint64_t t3 = *store.Append({MakeEvent("b", 2)});
  Outcomes outcomes;
  store.WhenDurable(t3, outcomes.For(t3));
  store.WhenDurable(t2, outcomes.For(t2));
  store.WhenDurable(1, outcomes.For(1));  // durable before the pause: inline
  ASSERT_EQ(outcomes.calls().size(), 1u);
  EXPECT_EQ(store.Stats().queue_depth, 3u);
  // Not durable, so not visible to the API's reads.
  EXPECT_EQ(store.ReadLedger({.subject = "alice"})->size(), 1u);
  EXPECT_TRUE(store.ReadAudit({})->empty());
  std::future<absl::Status> waiter =
      std::async(std::launch::async, [&] { return store.WaitDurable(t2); });
  EXPECT_EQ(waiter.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);

  store.ResumeDurability();
  EXPECT_TRUE(waiter.get().ok());
  const auto calls = outcomes.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1].first, t2);  // in ticket order, not registration order
  EXPECT_EQ(calls[2].first, t3);
  EXPECT_TRUE(calls[1].second.ok() && calls[2].second.ok());
  EXPECT_EQ(store.ReadLedger({.subject = "alice"})->size(), 2u);
  EXPECT_EQ(store.ReadAudit({})->size(), 1u);
}

TEST(MemoryStoreTest, FailWritesFailsPendingCallbacksAndLaterOnes) {
  MemoryStore store;
  const uint64_t durable = *store.Append({MakeEvent("a", 1)});
  store.PauseDurability();
  const uint64_t pending = *store.Append({MakeEvent("b", 2)});
  Outcomes outcomes;
  store.WhenDurable(pending, outcomes.For(pending));
  const absl::Status disk_full = absl::UnavailableError("storage write failed: disk full");
  store.FailWrites(disk_full);
  ASSERT_EQ(outcomes.calls().size(), 1u);
  EXPECT_EQ(outcomes.calls()[0].second, disk_full);
  store.WhenDurable(pending, outcomes.For(pending));  // known now: inline
  store.WhenDurable(durable, outcomes.For(durable));
  const auto calls = outcomes.calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[1].second, disk_full);
  EXPECT_TRUE(calls[2].second.ok());
  EXPECT_EQ(store.WaitDurable(pending), disk_full);
}

TEST(MemoryStoreTest, DestroyingTheStoreAbortsPendingCallbacks) {
  Outcomes outcomes;
  {
    MemoryStore store;
    store.PauseDurability();
    const uint64_t ticket = *store.Append({MakeEvent("a", 1)});
    store.WhenDurable(ticket, outcomes.For(ticket));
    EXPECT_TRUE(outcomes.calls().empty());
  }
  const auto calls = outcomes.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].second.code(), absl::StatusCode::kAborted);
}

}  // namespace
}  // namespace tally
