// The records of tally's append-only log: what the engine hands the store.
//
// Every change is a record; the store assigns each a sequence number in the
// order it was appended. A window's balance is explained by the effects of the
// event and ledger records that name it, and the engine's state is rebuilt by
// replaying them after the latest checkpoint (docs/storage.md).
//
// Thread-safety: plain value types.
#ifndef TALLY_STORE_LOG_RECORD_H_
#define TALLY_STORE_LOG_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/api_key.h"
#include "core/event.h"
#include "core/subject.h"
#include "core/tier.h"
#include "core/time.h"

namespace tally {

// Whose window an effect changes: the event's subject, or the subject's org.
enum class Scope : uint8_t { kSubject = 0, kOrg = 1 };

std::string_view ScopeName(Scope scope);

// One change to one window's balance. How `amount` applies depends on the
// meter's aggregation and the record kind (see engine/window_state.h):
// usage adds to `used` (sum, count, unique_count), or replaces it (max, latest);
// holds add to `reserved`; grants and rollovers add to `granted`; resets add a
// negative amount to `used`.
struct Effect {
  Scope scope = Scope::kSubject;
  std::string meter;
  Micros window_start = 0;
  Micros window_end = 0;
  int64_t amount = 0;
  uint64_t unique_hash = 0;  // unique_count: the value counted
  friend bool operator==(const Effect&, const Effect&) = default;
};

// An accepted event and the usage it added.
struct EventRecord {
  enum class Origin : uint8_t { kTrack = 0, kConsume = 1, kCommit = 2 };
  Event event;  // event.time is resolved (never 0)
  std::string org;  // the subject's org when it was counted, or empty
  Micros received = 0;
  uint64_t fingerprint = 0;  // of the event as the client sent it
  Origin origin = Origin::kTrack;
  std::string reservation_id;  // with kCommit: the hold it settles
  std::vector<Effect> effects;
  friend bool operator==(const EventRecord&, const EventRecord&) = default;
};

// A balance change that is not usage.
struct LedgerRecord {
  enum class Kind : uint8_t {
    kHold = 0,      // a reservation holds `effects` (its request is `request`)
    kRelease = 1,   // a reservation's hold dropped by the client
    kExpire = 2,    // a reservation's hold dropped at its TTL
    kGrant = 3,     // an admin credit: effects add to `granted`
    kReset = 4,     // an admin reset: effects subtract `used`
    kRollover = 5,  // unused units carried into the next window
  };
  Kind kind = Kind::kHold;
  Micros time = 0;
  std::string subject;
  std::string org;
  std::string reservation_id;
  Micros expires_at = 0;       // kHold
  Event request;               // kHold: the reservation request (its id dedups)
  uint64_t fingerprint = 0;    // kHold: of the request as sent
  std::vector<Effect> effects;
  std::string actor;   // kGrant, kReset
  std::string reason;  // kGrant, kReset
  friend bool operator==(const LedgerRecord&, const LedgerRecord&) = default;
};

std::string_view LedgerKindName(LedgerRecord::Kind kind);

// Registry changes: upserts of the current definition.
struct SubjectRecord {
  Subject subject;
};
struct OrgRecord {
  Org org;
};
struct TierRecord {
  Tier tier;
};

// A snapshot of the engine's counters; everything appended before it is
// reflected in `blob` (the engine's own format).
struct CheckpointRecord {
  std::string blob;
};

// An API key's current definition (a registry upsert, like SubjectRecord):
// creation and revocation both write the whole key. Loaded by LoadRegistry.
struct KeyRecord {
  ApiKey key;
  friend bool operator==(const KeyRecord&, const KeyRecord&) = default;
};

// One entry of the audit trail: who changed what, from where, and why. The
// server appends it in the same Append as the change it describes, so the
// store commits both or neither. Read back with Store::ReadAudit.
struct AuditRecord {
  Micros time = 0;
  std::string actor;    // who: an API key id, a JWT subject, "cli"
  std::string address;  // the client's address, or empty
  // What: "subject.put", "quota.update", "quota.reset", "tier.put",
  // "key.create", "key.revoke", "bulk", ...
  std::string action;
  // Which: "subject:alice", "tier:premium", "key:key_ab12cd34", ...
  std::string target;
  std::string before;  // the target's JSON before the change, or empty
  std::string after;   // the target's JSON after the change, or empty
  std::string reason;
  friend bool operator==(const AuditRecord&, const AuditRecord&) = default;
};

// Something tally noticed and tells people about: for now, unusual usage
// (analytics/anomaly.h). Kept as a record so that it survives restarts and
// can be listed; delivery comes with notifications. Read back with
// Store::ReadAlerts.
struct AlertRecord {
  Micros time = 0;       // when it was raised
  std::string kind;      // "anomaly"
  std::string subject;   // whose usage
  std::string meter;     // which meter
  Micros hour = 0;       // the UTC hour it is about
  std::string detail;    // a JSON object: value, baseline median, MAD, z, ...
  friend bool operator==(const AlertRecord&, const AlertRecord&) = default;
};

// New kinds are added at the end.
using LogRecord = std::variant<EventRecord, LedgerRecord, SubjectRecord, OrgRecord, TierRecord,
                               CheckpointRecord, KeyRecord, AuditRecord, AlertRecord>;

}  // namespace tally

#endif  // TALLY_STORE_LOG_RECORD_H_
