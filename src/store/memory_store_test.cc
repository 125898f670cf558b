#include "store/memory_store.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/event.h"

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

}  // namespace
}  // namespace tally
