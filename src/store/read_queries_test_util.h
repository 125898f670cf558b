// Test helper shared by the Store implementations' tests: fixtures and
// expectations for ReadAudit, ReadLedger and ReadAlerts, so that every store
// answers the API's reads alike.
//
// Thread-safety: test code, one thread.
#ifndef TALLY_STORE_READ_QUERIES_TEST_UTIL_H_
#define TALLY_STORE_READ_QUERIES_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"

namespace tally::testing {

// Record i (0..11) of the fixture: an audit entry at seq 3i+1, a grant at
// 3i+2 and an event at 3i+3, all at time 1000 + 10i. Even i: target
// "subject:alice" and subject "alice"; odd i: "tier:pro" and "bob". Actor
// "key_admin" when i % 3 == 0, else "key_ops".
inline AuditRecord FixtureAudit(int i) {
  AuditRecord a;
  a.time = 1000 + 10 * i;
  a.actor = i % 3 == 0 ? "key_admin" : "key_ops";
  a.address = i == 4 ? "" : "203.0.113." + std::to_string(i);
  a.action = i % 2 == 0 ? "subject.put" : "tier.put";
  a.target = i % 2 == 0 ? "subject:alice" : "tier:pro";
  a.before = i == 0 ? "" : "{\"n\":" + std::to_string(i - 1) + "}";
  a.after = "{\"n\":" + std::to_string(i) + ",\"note\":\"line\\nbreak \\\"q\\\"\"}";
  a.reason = i == 2 ? "" : "ticket #" + std::to_string(i);
  return a;
}

inline LedgerRecord FixtureGrant(int i) {
  LedgerRecord l;
  l.kind = LedgerRecord::Kind::kGrant;
  l.time = 1000 + 10 * i;
  l.subject = i % 2 == 0 ? "alice" : "bob";
  l.org = i % 4 == 0 ? "acme" : "";
  l.effects = {{Scope::kSubject, "tokens", 0, 100, 10 + i, 0}};
  l.actor = "key_admin";
  l.reason = "goodwill " + std::to_string(i);
  return l;
}

// Appends the fixture in three Appends and waits until it is durable.
inline void AppendQueryFixture(Store& store) {
  for (int part = 0; part < 3; ++part) {
    std::vector<LogRecord> records;
    for (int i = 4 * part; i < 4 * part + 4; ++i) {
      EventRecord e;
      e.event.id = "evt-" + std::to_string(i);
      e.event.subject = "alice";
      e.event.type = "t";
      e.event.time = 1000 + 10 * i;
      e.received = e.event.time;
      records.push_back(FixtureAudit(i));
      records.push_back(FixtureGrant(i));
      records.push_back(std::move(e));
    }
    absl::StatusOr<uint64_t> ticket = store.Append(std::move(records));
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    ASSERT_TRUE(store.WaitDurable(*ticket).ok());
  }
}

inline std::vector<uint64_t> AuditSeqs(Store& store, const AuditQuery& query) {
  absl::StatusOr<std::vector<AuditEntry>> entries = store.ReadAudit(query);
  EXPECT_TRUE(entries.ok()) << entries.status();
  std::vector<uint64_t> seqs;
  if (!entries.ok()) return seqs;
  for (const AuditEntry& e : *entries) {
    const int i = static_cast<int>(e.seq - 1) / 3;
    EXPECT_EQ(e.record, FixtureAudit(i)) << "seq " << e.seq;
    seqs.push_back(e.seq);
  }
  return seqs;
}

inline std::vector<uint64_t> LedgerSeqs(Store& store, const LedgerQuery& query) {
  absl::StatusOr<std::vector<LedgerEntry>> entries = store.ReadLedger(query);
  EXPECT_TRUE(entries.ok()) << entries.status();
  std::vector<uint64_t> seqs;
  if (!entries.ok()) return seqs;
  for (const LedgerEntry& e : *entries) {
    const int i = static_cast<int>(e.seq - 2) / 3;
    EXPECT_EQ(e.record, FixtureGrant(i)) << "seq " << e.seq;
    seqs.push_back(e.seq);
  }
  return seqs;
}

using Seqs = std::vector<uint64_t>;

// REQUIRES: `store` holds exactly AppendQueryFixture's records.
inline void ExpectAuditQueries(Store& store) {
  EXPECT_EQ(AuditSeqs(store, {}), (Seqs{34, 31, 28, 25, 22, 19, 16, 13, 10, 7, 4, 1}));
  EXPECT_EQ(AuditSeqs(store, {.target = "subject:alice"}), (Seqs{31, 25, 19, 13, 7, 1}));
  EXPECT_EQ(AuditSeqs(store, {.actor = "key_admin"}), (Seqs{28, 19, 10, 1}));
  EXPECT_EQ(AuditSeqs(store, {.target = "subject:alice", .actor = "key_admin"}), (Seqs{19, 1}));
  EXPECT_EQ(AuditSeqs(store, {.target = "tier:pro", .actor = "key_admin"}), (Seqs{28, 10}));
  EXPECT_TRUE(AuditSeqs(store, {.target = "subject:alic"}).empty());  // exact match only
  EXPECT_TRUE(AuditSeqs(store, {.actor = "KEY_ADMIN"}).empty());

  // [from, to) on the record's time.
  EXPECT_EQ(AuditSeqs(store, {.from = 1030, .to = 1070}), (Seqs{19, 16, 13, 10}));
  EXPECT_EQ(AuditSeqs(store, {.from = 1110}), (Seqs{34}));
  EXPECT_EQ(AuditSeqs(store, {.to = 1001}), (Seqs{1}));
  EXPECT_TRUE(AuditSeqs(store, {.from = 1000, .to = 1000}).empty());
  EXPECT_EQ(AuditSeqs(store, {.target = "tier:pro", .from = 1020, .to = 1080}), (Seqs{22, 16, 10}));

  // Limit and the paging cursor.
  EXPECT_EQ(AuditSeqs(store, {.limit = 5}), (Seqs{34, 31, 28, 25, 22}));
  EXPECT_EQ(AuditSeqs(store, {.before_seq = 22}), (Seqs{19, 16, 13, 10, 7, 4, 1}));
  EXPECT_EQ(AuditSeqs(store, {.before_seq = 21}), (Seqs{19, 16, 13, 10, 7, 4, 1}));
  EXPECT_TRUE(AuditSeqs(store, {.before_seq = 1}).empty());
  Seqs paged;
  AuditQuery page{.target = "subject:alice", .limit = 4};
  for (int pages = 0; pages < 10; ++pages) {
    const Seqs got = AuditSeqs(store, page);
    if (got.empty()) break;
    EXPECT_LE(got.size(), 4u);
    paged.insert(paged.end(), got.begin(), got.end());
    page.before_seq = got.back();
  }
  EXPECT_EQ(paged, (Seqs{31, 25, 19, 13, 7, 1}));

  for (int bad : {0, -1}) {
    EXPECT_EQ(store.ReadAudit({.limit = bad}).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// REQUIRES: `store` holds exactly AppendQueryFixture's records.
inline void ExpectLedgerQueries(Store& store) {
  EXPECT_EQ(LedgerSeqs(store, {.subject = "alice"}), (Seqs{32, 26, 20, 14, 8, 2}));
  EXPECT_EQ(LedgerSeqs(store, {.subject = "bob"}), (Seqs{35, 29, 23, 17, 11, 5}));
  EXPECT_EQ(LedgerSeqs(store, {}).size(), 12u);                 // any subject
  EXPECT_TRUE(LedgerSeqs(store, {.subject = "acme"}).empty());  // the org is not the subject
  EXPECT_EQ(LedgerSeqs(store, {.subject = "bob", .from = 1020, .to = 1060}), (Seqs{17, 11}));
  EXPECT_EQ(LedgerSeqs(store, {.subject = "alice", .limit = 2}), (Seqs{32, 26}));
  EXPECT_EQ(LedgerSeqs(store, {.subject = "alice", .before_seq = 26, .limit = 2}), (Seqs{20, 14}));

  Seqs paged;
  LedgerQuery page{.subject = "bob", .limit = 4};
  for (int pages = 0; pages < 10; ++pages) {
    const Seqs got = LedgerSeqs(store, page);
    if (got.empty()) break;
    paged.insert(paged.end(), got.begin(), got.end());
    page.before_seq = got.back();
  }
  EXPECT_EQ(paged, (Seqs{35, 29, 23, 17, 11, 5}));

  EXPECT_EQ(store.ReadLedger({.subject = "alice", .limit = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Alert i (0..9) of the alert fixture, at seq i + 1 when appended by
// AppendAlertFixture to an empty store: subject "alice" for even i, "bob" for
// odd; kind "budget" when i % 4 == 3, else "anomaly"; about hour 100 + i.
inline AlertRecord FixtureAlert(int i) {
  constexpr Micros kHour = 3'600'000'000;
  AlertRecord a;
  a.hour = (100 + i) * kHour;
  a.time = a.hour + kHour + i;
  a.kind = i % 4 == 3 ? "budget" : "anomaly";
  a.subject = i % 2 == 0 ? "alice" : "bob";
  a.meter = i == 5 ? "" : "tokens";
  a.detail = i == 7 ? "" : "{\"value\":" + std::to_string(100 * i) + ",\"z\":4,\"note\":\"a\\nb\"}";
  return a;
}

// Appends the ten alerts in two Appends and waits until they are durable.
inline void AppendAlertFixture(Store& store) {
  for (int part = 0; part < 2; ++part) {
    std::vector<LogRecord> records;
    for (int i = 5 * part; i < 5 * part + 5; ++i) records.push_back(FixtureAlert(i));
    absl::StatusOr<uint64_t> ticket = store.Append(std::move(records));
    ASSERT_TRUE(ticket.ok()) << ticket.status();
    ASSERT_TRUE(store.WaitDurable(*ticket).ok());
  }
}

inline std::vector<uint64_t> AlertSeqs(Store& store, const AlertQuery& query) {
  absl::StatusOr<std::vector<AlertEntry>> entries = store.ReadAlerts(query);
  EXPECT_TRUE(entries.ok()) << entries.status();
  std::vector<uint64_t> seqs;
  if (!entries.ok()) return seqs;
  for (const AlertEntry& e : *entries) {
    EXPECT_EQ(e.record, FixtureAlert(static_cast<int>(e.seq) - 1)) << "seq " << e.seq;
    seqs.push_back(e.seq);
  }
  return seqs;
}

// REQUIRES: `store` holds exactly AppendAlertFixture's records.
inline void ExpectAlertQueries(Store& store) {
  constexpr Micros kHour = 3'600'000'000;
  EXPECT_EQ(AlertSeqs(store, {}), (Seqs{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(AlertSeqs(store, {.subject = "alice"}), (Seqs{9, 7, 5, 3, 1}));
  EXPECT_EQ(AlertSeqs(store, {.kind = "budget"}), (Seqs{8, 4}));
  EXPECT_EQ(AlertSeqs(store, {.subject = "bob", .kind = "budget"}), (Seqs{8, 4}));
  EXPECT_TRUE(AlertSeqs(store, {.subject = "alice", .kind = "budget"}).empty());
  EXPECT_TRUE(AlertSeqs(store, {.subject = "alic"}).empty());  // exact match only
  // [from, to) on the hour the alert is about, not when it was raised.
  EXPECT_EQ(AlertSeqs(store, {.from = 103 * kHour, .to = 106 * kHour}), (Seqs{6, 5, 4}));
  EXPECT_EQ(AlertSeqs(store, {.subject = "bob", .from = 103 * kHour, .to = 106 * kHour}),
            (Seqs{6, 4}));
  EXPECT_TRUE(AlertSeqs(store, {.from = 104 * kHour, .to = 104 * kHour}).empty());
  EXPECT_EQ(AlertSeqs(store, {.limit = 3}), (Seqs{10, 9, 8}));
  EXPECT_EQ(AlertSeqs(store, {.before_seq = 5}), (Seqs{4, 3, 2, 1}));
  Seqs paged;
  AlertQuery page{.subject = "alice", .limit = 2};
  for (int pages = 0; pages < 10; ++pages) {
    const Seqs got = AlertSeqs(store, page);
    if (got.empty()) break;
    EXPECT_LE(got.size(), 2u);
    paged.insert(paged.end(), got.begin(), got.end());
    page.before_seq = got.back();
  }
  EXPECT_EQ(paged, (Seqs{9, 7, 5, 3, 1}));
  for (int bad : {0, -1}) {
    EXPECT_EQ(store.ReadAlerts({.limit = bad}).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace tally::testing

#endif  // TALLY_STORE_READ_QUERIES_TEST_UTIL_H_
