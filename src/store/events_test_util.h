// Test helper shared by the Store implementations' tests: a RollupSink that
// sums each subject's event data, and one fixture and set of expectations for
// ScanEvents, DeleteEvents and RestoreEvents, so that every store streams and
// retains events alike.
//
// Thread-safety: SumSink may be called from any thread; the rest is test code
// for one thread.
#ifndef TALLY_STORE_EVENTS_TEST_UTIL_H_
#define TALLY_STORE_EVENTS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace tally::testing {

// The smallest useful rollup: per subject, the sum of every value of every
// event's data. One RollupRow per subject (family 0, key the subject, type "",
// hour 0, cell the sum in decimal). It records what it was given, so that a
// test can tell a folded event from a loaded row.
class SumSink final : public RollupSink {
 public:
  void Fold(uint64_t seq, const EventRecord& record) override {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t& sum = sums_[record.event.subject];
    for (const auto& [name, value] : record.event.data) sum += value;
    dirty_.insert(record.event.subject);
    folded_.push_back(seq);
  }
  void TakeDirty(std::vector<RollupRow>& out) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& subject : dirty_) {
      out.push_back(RollupRow{0, subject, "", 0, std::to_string(sums_[subject])});
    }
    dirty_.clear();
  }
  absl::Status Load(const RollupRow& row) override {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t sum = 0;
    const char* end = row.cell.data() + row.cell.size();
    const auto [ptr, ec] = std::from_chars(row.cell.data(), end, sum);
    if (row.family != 0 || ec != std::errc() || ptr != end) {
      return absl::DataLossError("bad cell \"" + row.cell + "\"");
    }
    sums_[row.key] = sum;
    ++loaded_;
    return absl::OkStatus();
  }

  std::map<std::string, int64_t> sums() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sums_;
  }
  // The seqs Fold was called with, in order.
  std::vector<uint64_t> folded() const {
    std::lock_guard<std::mutex> lock(mu_);
    return folded_;
  }
  int loaded() const {
    std::lock_guard<std::mutex> lock(mu_);
    return loaded_;
  }

 private:
  mutable std::mutex mu_;  // guards every member below
  std::map<std::string, int64_t> sums_;
  std::set<std::string> dirty_;
  std::vector<uint64_t> folded_;
  int loaded_ = 0;
};

using SeqEvents = std::vector<std::pair<uint64_t, EventRecord>>;

// Event i (0..29) of the scan fixture: subject "s" + i % 3, type "api" for odd
// i and "batch" for even; times are 1000 + 7 * k for k = 11 * i mod 30, so
// every k once but out of seq order (time [1000, 1070) holds ten events).
inline EventRecord ScanFixtureEvent(int i) {
  EventRecord r;
  r.event.id = "scan-" + std::to_string(i);
  r.event.subject = "s" + std::to_string(i % 3);
  r.event.type = i % 2 == 1 ? "api" : "batch";
  r.event.time = 1000 + 7 * ((11 * i) % 30);
  r.event.data = {{"n", i + 1}, {"tokens", 10 * i}};
  r.received = r.event.time + 5;
  r.fingerprint = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(i + 1);
  r.org = i % 4 == 0 ? "acme" : "";
  r.origin = i % 5 == 0 ? EventRecord::Origin::kConsume : EventRecord::Origin::kTrack;
  if (i % 2 == 1) {
    r.event.context = {"sess-" + std::to_string(i), "203.0.113.1", "curl/8", "/v1/x", "POST", i,
                       i % 3 == 0 ? "E_X" : ""};
  }
  r.effects = {{Scope::kSubject, "tokens", 0, 100'000, 10 * i, 0}};
  return r;
}

// Appends the fixture's 30 events in three Appends, a ledger grant before
// every fifth (so event seqs have gaps), and waits until they are durable.
// Returns the events with their seqs, in seq order.
inline SeqEvents AppendScanFixture(Store& store) {
  SeqEvents model;
  for (int part = 0; part < 3; ++part) {
    std::vector<LogRecord> records;
    std::vector<int> event_index;  // index into records -> fixture i, or -1
    for (int i = 10 * part; i < 10 * part + 10; ++i) {
      if (i % 5 == 0) {
        LedgerRecord grant;
        grant.kind = LedgerRecord::Kind::kGrant;
        grant.time = 1000;
        grant.subject = "s0";
        records.push_back(grant);
        event_index.push_back(-1);
      }
      records.push_back(ScanFixtureEvent(i));
      event_index.push_back(i);
    }
    const uint64_t first = store.LastSeq() + 1;
    absl::StatusOr<uint64_t> ticket = store.Append(std::move(records));
    EXPECT_TRUE(ticket.ok()) << ticket.status();
    if (!ticket.ok()) return model;
    EXPECT_TRUE(store.WaitDurable(*ticket).ok());
    for (size_t k = 0; k < event_index.size(); ++k) {
      if (event_index[k] >= 0) model.emplace_back(first + k, ScanFixtureEvent(event_index[k]));
    }
  }
  return model;
}

inline SeqEvents ScanAllEvents(Store& store, const EventQuery& query = {}) {
  SeqEvents out;
  const absl::Status status = store.ScanEvents(query, [&](uint64_t seq, const EventRecord& e) {
    out.emplace_back(seq, e);
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  return out;
}

// `events` filtered by `query`, as ScanEvents should.
inline SeqEvents Filter(const SeqEvents& events, const EventQuery& q) {
  SeqEvents out;
  for (const auto& [seq, e] : events) {
    if (e.event.time < q.from || e.event.time >= q.to || seq <= q.after_seq) continue;
    if (q.upto_seq != 0 && seq > q.upto_seq) continue;
    if (!q.subject.empty() && e.event.subject != q.subject) continue;
    if (!q.type.empty() && e.event.type != q.type) continue;
    out.emplace_back(seq, e);
  }
  return out;
}

// REQUIRES: `store` holds AppendScanFixture's events, `model`, and no others.
inline void ExpectScanQueries(Store& store, const SeqEvents& model) {
  ASSERT_EQ(model.size(), 30u);
  EXPECT_EQ(ScanAllEvents(store), model);
  const uint64_t seq9 = model[9].first;
  const uint64_t seq19 = model[19].first;
  const std::vector<std::pair<EventQuery, size_t>> queries = {
      {{.subject = "s1"}, 10},
      {{.type = "api"}, 15},
      {{.subject = "s1", .type = "api"}, 5},
      {{.from = 1000, .to = 1070}, 10},
      {{.from = 1070}, 20},
      {{.to = 1001}, 1},
      {{.from = 1000 + 7 * 29}, 1},
      {{.after_seq = seq9, .upto_seq = seq19}, 10},
      {{.after_seq = seq19}, 10},
      {{.upto_seq = seq9}, 10},
      {{.from = 1070, .to = 1140, .subject = "s2", .type = "batch", .after_seq = seq9}, 0},
      {{.from = 1035, .to = 1140, .subject = "s2", .after_seq = 1}, 0},
      {{.subject = "s9"}, 0},
      {{.from = 1050, .to = 1050}, 0},
      {{.from = 1060, .to = 1050}, 0},
  };
  for (const auto& [query, count] : queries) {
    const SeqEvents got = ScanAllEvents(store, query);
    EXPECT_EQ(got, Filter(model, query))
        << "from " << query.from << " to " << query.to << " subject " << query.subject << " type "
        << query.type << " after " << query.after_seq << " upto " << query.upto_seq;
    if (count > 0) {
      EXPECT_EQ(got.size(), count) << query.subject << query.type << query.from;
    }
  }

  // fn returning false stops the scan at once.
  SeqEvents first;
  ASSERT_TRUE(store
                  .ScanEvents({.type = "batch"},
                              [&](uint64_t seq, const EventRecord& e) {
                                first.emplace_back(seq, e);
                                return first.size() < 4;
                              })
                  .ok());
  const SeqEvents batch = Filter(model, {.type = "batch"});
  EXPECT_EQ(first, SeqEvents(batch.begin(), batch.begin() + 4));
}

// Deletes the fixture's events before time 1070 in two steps (bounded by seq,
// then not), checks what is left, and restores them from what ScanEvents
// returned: ScanEvents then returns exactly what it did before.
// REQUIRES: `store` holds AppendScanFixture's events, `model`, and no others.
inline void ExpectDeleteAndRestoreRoundTrip(Store& store, const SeqEvents& model) {
  ASSERT_EQ(ScanAllEvents(store), model);
  const uint64_t mid = model[14].first;
  EXPECT_EQ(*store.DeleteEvents(kBeginningOfTime, store.LastSeq()), 0u);

  const SeqEvents archive1 = ScanAllEvents(store, {.to = 1070, .upto_seq = mid});
  ASSERT_FALSE(archive1.empty());
  absl::StatusOr<uint64_t> deleted = store.DeleteEvents(1070, mid);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, archive1.size());
  SeqEvents rest;
  for (const auto& entry : model) {
    if (std::find(archive1.begin(), archive1.end(), entry) == archive1.end()) {
      rest.push_back(entry);
    }
  }
  EXPECT_EQ(ScanAllEvents(store), rest);

  const SeqEvents archive2 = ScanAllEvents(store, {.to = 1070});
  EXPECT_EQ(archive1.size() + archive2.size(), 10u);
  deleted = store.DeleteEvents(1070, store.LastSeq());
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, archive2.size());
  EXPECT_TRUE(ScanAllEvents(store, {.to = 1070}).empty());
  EXPECT_EQ(ScanAllEvents(store).size(), 20u);
  EXPECT_EQ(*store.DeleteEvents(1070, store.LastSeq()), 0u);  // nothing left to delete

  // A seq never assigned: nothing is inserted.
  SeqEvents bad = archive1;
  bad.emplace_back(store.LastSeq() + 1, ScanFixtureEvent(0));
  EXPECT_EQ(store.RestoreEvents(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.RestoreEvents({{0, ScanFixtureEvent(0)}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScanAllEvents(store).size(), 20u);

  // Out of order, and with events still present (skipped, not duplicated).
  SeqEvents restore(archive2.rbegin(), archive2.rend());
  restore.insert(restore.end(), archive1.begin(), archive1.end());
  restore.push_back(model.back());
  restore.push_back(rest.front());
  absl::StatusOr<uint64_t> restored = store.RestoreEvents(restore);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(*restored, 10u);
  EXPECT_EQ(ScanAllEvents(store), model);
  EXPECT_EQ(*store.RestoreEvents(model), 0u);
  EXPECT_EQ(ScanAllEvents(store), model);
}

}  // namespace tally::testing

#endif  // TALLY_STORE_EVENTS_TEST_UTIL_H_
