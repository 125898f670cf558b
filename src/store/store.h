// Store: where tally's log, checkpoints and registry live (the storage seam).
//
// The engine never sees SQL. It appends records; one writer per store commits
// them in append order, many appends per transaction and per fsync (group
// commit). WaitDurable() returns once a ticket's records are on disk, and
// WhenDurable() calls back then instead of blocking. After a failed write the
// store is failed: every later Append and WaitDurable returns the same error,
// so no count is ever silently wrong.
//
// Recovery, before the first Append: LoadRegistry(), LoadCheckpoint(), then
// Replay() of everything after the checkpoint, and ScanDedup() for the ids the
// checkpoint does not carry.
//
// Thread-safety: Append, WaitDurable, WhenDurable, Flush, LastSeq, Stats, the
// reads (ReadAudit, ReadLedger, ReadAlerts, ScanEvents) and the retention calls
// may be called from any thread, concurrently; the reads never hold up the
// writer. The recovery calls are for one thread before
// any Append.
//
// Implementations: sqlite/sqlite_store.h (embedded default); memory_store.h
// (tests and benchmarks: keeps records in memory, "durable" at once).
#ifndef TALLY_STORE_STORE_H_
#define TALLY_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/api_key.h"
#include "core/subject.h"
#include "core/tier.h"
#include "store/log_record.h"

namespace tally {

struct Registry {
  std::vector<Subject> subjects;
  std::vector<Org> orgs;
  std::vector<Tier> tiers;
  std::vector<ApiKey> keys;  // revoked ones too
};

struct Checkpoint {
  uint64_t seq = 0;  // the checkpoint record's own sequence number
  std::string blob;
};

// What the dedup index needs of one accepted event or reservation request.
struct DedupEntry {
  uint64_t id_hash = 0;  // StableHash(event id)
  uint64_t fingerprint = 0;
  Micros received = 0;
  uint64_t seq = 0;
};

// Which audit entries ReadAudit returns: those matching every field.
struct AuditQuery {
  std::string target;  // exact match, e.g. "subject:alice"; empty = any
  std::string actor;   // exact match; empty = any
  // AuditRecord::time in [from, to).
  Micros from = kBeginningOfTime;
  Micros to = kEndOfTime;
  // Paging cursor: only entries with seq < before_seq (pass the last seq of
  // the previous page); 0 = from the newest.
  uint64_t before_seq = 0;
  int limit = 100;  // the most entries returned; REQUIRES: limit >= 1
};

struct AuditEntry {
  uint64_t seq = 0;  // the record's sequence number
  AuditRecord record;
  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

// Which ledger records ReadLedger returns: those matching every field.
struct LedgerQuery {
  std::string subject;  // exact match on LedgerRecord::subject; empty = any
  // LedgerRecord::time in [from, to).
  Micros from = kBeginningOfTime;
  Micros to = kEndOfTime;
  uint64_t before_seq = 0;  // paging cursor, as in AuditQuery
  int limit = 100;          // REQUIRES: limit >= 1
};

struct LedgerEntry {
  uint64_t seq = 0;
  LedgerRecord record;
  friend bool operator==(const LedgerEntry&, const LedgerEntry&) = default;
};

// Which alerts ReadAlerts returns: those matching every field.
struct AlertQuery {
  std::string subject;  // exact match; empty = any
  std::string kind;     // exact match; empty = any
  // AlertRecord::hour in [from, to).
  Micros from = kBeginningOfTime;
  Micros to = kEndOfTime;
  uint64_t before_seq = 0;  // paging cursor, as in AuditQuery
  int limit = 100;          // REQUIRES: limit >= 1
};

struct AlertEntry {
  uint64_t seq = 0;
  AlertRecord record;
  friend bool operator==(const AlertEntry&, const AlertEntry&) = default;
};

// Which stored events ScanEvents visits: those matching every field.
struct EventQuery {
  // event.time in [from, to).
  Micros from = kBeginningOfTime;
  Micros to = kEndOfTime;
  std::string subject;  // exact match; empty = any
  std::string type;     // exact match; empty = any
  // Only events with seq in (after_seq, upto_seq]; upto_seq 0 = no bound.
  uint64_t after_seq = 0;
  uint64_t upto_seq = 0;
  // When set, asked between stretches of rows (windows of seqs) whether to go
  // on: false ends the scan (OK), even when no row matched for a long while —
  // so a reader that went away stops a scan whose filter matches nothing.
  std::function<bool()> keep_going;
};

// One row of the rollups a RollupSink keeps: the store persists it as an
// opaque `cell` under its key and hands it back on open. `family` tells the
// sink's kinds of rows apart (analytics/rollups.h: 0 per subject, 1 per
// endpoint); `key` is the subject or the endpoint.
struct RollupRow {
  uint8_t family = 0;
  std::string key;
  std::string type;
  int64_t hour = 0;  // hours since the epoch (UTC)
  std::string cell;
  friend bool operator==(const RollupRow&, const RollupRow&) = default;
};

// A view of the events that the store keeps up to date with every event it
// commits: analytics' rollups (analytics/rollups.h), the seam between the
// store and analytics. The store folds each event into it in the same
// transaction that writes the event, persists the rows TakeDirty() hands back
// in a later transaction together with the seq they reflect, and on open
// loads the persisted rows and folds the events written after them, so the
// view always equals a recomputation from the events (a restart loses
// nothing, and nothing is counted twice).
//
// Thread-safety: Fold and TakeDirty are called by one thread at a time (the
// store's writer); Load only while the store opens. The sink guards what it
// shares with its readers.
class RollupSink {
 public:
  virtual ~RollupSink() = default;
  virtual void Fold(uint64_t seq, const EventRecord& record) = 0;
  // Appends to `out` every row changed since the last call, in full.
  virtual void TakeDirty(std::vector<RollupRow>& out) = 0;
  // DataLossError for a cell the sink cannot decode.
  virtual absl::Status Load(const RollupRow& row) = 0;
};

// Figures for logs, /metrics and benchmarks.
struct StoreStats {
  uint64_t appended = 0;   // records accepted by Append
  uint64_t durable = 0;    // records committed
  uint64_t commits = 0;    // transactions (= fsyncs under strict)
  uint64_t queue_depth = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Queues `records`, assigning them consecutive sequence numbers after every
  // record appended before. Returns a ticket for WaitDurable().
  virtual absl::StatusOr<uint64_t> Append(std::vector<LogRecord> records) = 0;

  // Blocks until the records of `ticket` (and all before) are durable.
  virtual absl::Status WaitDurable(uint64_t ticket) = 0;

  // Calls `done` once the records of `ticket` (and all before) are durable,
  // with OkStatus, or with the store's error if the write failed (the status
  // WaitDurable would return; InvalidArgumentError for a ticket never issued).
  //
  // When the outcome is already known, `done` runs inline, on the caller's
  // thread, before WhenDurable returns. Otherwise the writer thread calls it
  // right after the commit that made the ticket durable (or the failure),
  // outside any store lock. Callbacks are called in ticket order (equal
  // tickets: in the order registered), among those registered before either
  // is called (one registered late for an earlier ticket runs after the later
  // ones already called): one for an already durable ticket runs
  // inline unless a callback for an earlier or the same ticket is still
  // waiting to be called; then it is queued behind them.
  //
  // Every callback is called exactly once, never dropped: when a write fails,
  // the pending ones get the store's error (UnavailableError); a store
  // destroyed with callbacks still pending calls them with AbortedError
  // (SqliteStore's destructor first commits what is queued, so its callbacks
  // get that commit's outcome).
  //
  // `done` must be quick and must not block: it runs on the writer thread,
  // holding up the next commit (and WaitDurable callers of the same commit).
  // Post work elsewhere (e.g. a write to an io_context). It may call Append,
  // WhenDurable and the reads, but never WaitDurable or Flush (deadlock).
  virtual void WhenDurable(uint64_t ticket, std::function<void(const absl::Status&)> done) = 0;

  // Waits for everything appended so far.
  virtual absl::Status Flush() = 0;

  // The highest sequence number assigned so far (0: none).
  virtual uint64_t LastSeq() const = 0;

  virtual StoreStats Stats() const = 0;

  // --- Reads for the API (thread-safe; they never stall the writer) -------

  // The audit entries matching `query`, newest (highest seq) first, at most
  // query.limit; only entries already durable (one shows up at the latest
  // when WaitDurable of its ticket returns OK). InvalidArgumentError if
  // limit < 1.
  virtual absl::StatusOr<std::vector<AuditEntry>> ReadAudit(const AuditQuery& query) = 0;

  // The adjustments — grants, resets, rollovers; not reservation holds,
  // releases and expiries — matching `query`, newest first, at most
  // query.limit; only records already durable. InvalidArgumentError if limit < 1.
  virtual absl::StatusOr<std::vector<LedgerEntry>> ReadLedger(const LedgerQuery& query) = 0;

  // The alerts matching `query`, newest first, at most query.limit; only
  // records already durable. InvalidArgumentError if limit < 1.
  virtual absl::StatusOr<std::vector<AlertEntry>> ReadAlerts(const AlertQuery& query) = 0;

  // Calls `fn` for each durable event matching `query`, in seq order, until
  // `fn` returns false. Streams: memory does not grow with the number of
  // events, and the writer is never held up. For exports and archiving.
  virtual absl::Status ScanEvents(
      const EventQuery& query,
      const std::function<bool(uint64_t seq, const EventRecord&)>& fn) = 0;

  // --- Retention (docs/storage.md) ----------------------------------------

  // Deletes the durable events with seq <= upto_seq and event time < before,
  // in transactions small enough not to hold up appends for long; returns how
  // many. Rollups are left as they are.
  virtual absl::StatusOr<uint64_t> DeleteEvents(Micros before, uint64_t upto_seq) = 0;

  // Puts archived events back under their original sequence numbers, skipping
  // any seq already present; returns how many were inserted. They are not
  // folded into the rollups again (deleting them never took them out).
  // InvalidArgumentError for a seq above LastSeq().
  virtual absl::StatusOr<uint64_t> RestoreEvents(
      const std::vector<std::pair<uint64_t, EventRecord>>& events) = 0;

  // --- Recovery ---------------------------------------------------------

  virtual absl::StatusOr<Registry> LoadRegistry() = 0;
  virtual absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint() = 0;

  // Calls `fn` for every event and ledger record with seq > after_seq, in
  // sequence order. Registry (subject, org, tier, key), audit and checkpoint
  // records are not replayed. Stops at and returns the first error `fn`
  // returns.
  virtual absl::Status Replay(
      uint64_t after_seq,
      const std::function<absl::Status(uint64_t seq, const LogRecord&)>& fn) = 0;

  // Calls `fn` for each event and hold with received >= since and
  // seq <= upto_seq, in sequence order.
  virtual absl::Status ScanDedup(Micros since, uint64_t upto_seq,
                                 const std::function<void(const DedupEntry&)>& fn) = 0;
};

}  // namespace tally

#endif  // TALLY_STORE_STORE_H_
