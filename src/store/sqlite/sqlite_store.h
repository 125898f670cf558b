// SqliteStore: the embedded default Store, one SQLite database in WAL mode
// (<dir>/tally.db). docs/storage.md describes the schema and its guarantees.
//
// Append assigns sequence numbers and queues records; one writer thread
// commits queued appends in order, many per transaction (group commit, at
// most max_batch_records records, never splitting one Append), wakes the
// WaitDurable callers and calls the WhenDurable callbacks. A failed write
// fails the store for good: that batch's and every later waiter, and every
// later Append, get the same error. ReadAudit, ReadLedger and ReadAlerts use a
// second, read-only connection, which WAL lets read beside the writer;
// ScanEvents opens read-only connections of its own per call
// (sqlite/event_scan.h).
//
// With a RollupSink (options.rollups) the writer folds every event it writes
// into the sink, in its transaction, and persists the sink's changed rows at
// most every rollup_flush_interval together with the seq they reflect
// (meta rollup_seq); Open loads those rows and folds the events after them.
//
// Thread-safety: Append, WaitDurable, WhenDurable, Flush, LastSeq, Stats, the
// reads and the retention calls may be called from any thread. The recovery
// calls are for one thread before any Append.
#ifndef TALLY_STORE_SQLITE_SQLITE_STORE_H_
#define TALLY_STORE_SQLITE_SQLITE_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/clock.h"
#include "store/durable_callbacks.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tally {

struct SqliteStoreOptions {
  // Data directory; created if missing. The database is <dir>/tally.db.
  std::string dir;

  // true: PRAGMA synchronous=FULL, a commit returns once fsync'd, so a
  // durable ticket survives power loss. false ("relaxed"): synchronous=NORMAL,
  // a commit is written to the WAL without fsync (survives a crash of tally,
  // not of the machine). WaitDurable waits for the commit either way.
  // Default: true.
  bool strict = true;

  // Most records in one transaction (whole appends only: one larger append
  // is committed alone). Default: 10000.
  int max_batch_records = 10000;

  // Stamps registry rows (updated_us) and checkpoints (created_us).
  // Default: SystemClock::Default(). Not owned; must outlive the store.
  const Clock* clock = nullptr;

  // The rollups kept beside the events (analytics/rollups.h), or null for
  // none: then no event is folded and the `rollups` rows are left untouched.
  // Not owned; must outlive the store. Default: nullptr.
  RollupSink* rollups = nullptr;

  // With `rollups`: the least time (by `clock`) between two persists of the
  // sink's changed rows. Longer means fewer writes, and more events to fold
  // again at the next open after a crash. The destructor always persists.
  // Default: 30 s (a busy cell is written once per interval however many
  // events it takes; at 1 s, rewriting cells cost ingest ~30 %).
  Micros rollup_flush_interval = 30'000'000;

  // Seqs ScanEvents reads per read transaction: each window is a transaction
  // of its own, so that a long export does not hold back WAL checkpoints (the
  // WAL would grow until it ends). Must be >= 1. Default: 65536 (~12 MB of
  // event rows).
  uint64_t scan_window = 65536;

  // Threads ScanEvents reads and decodes with, each on its own connection,
  // beside the caller's thread, which calls `fn` (1: all on the caller's
  // thread). A scan of one window or less always runs on the caller's
  // thread. Default: 2.
  int scan_threads = 2;
};

class SqliteStore final : public Store {
 public:
  // Opens or creates the database and starts the writer. Errors name the path:
  // DataLossError for a corrupt or non-SQLite file, PermissionDeniedError for
  // a directory or file tally may not write, FailedPreconditionError for a
  // database of a newer schema or another application. With options.rollups,
  // loads the persisted rollup rows into it and folds the events written after
  // them (DataLossError naming the path for a row the sink refuses).
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteStoreOptions& options);

  // Commits everything queued (calling its WhenDurable callbacks), then stops
  // the writer and persists the rollups' changed rows (so that rollup_seq is
  // the last seq); callbacks still pending after that get AbortedError.
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // The ticket is the sequence number of the last record appended (for an
  // empty `records`, LastSeq()).
  absl::StatusOr<uint64_t> Append(std::vector<LogRecord> records) override;
  absl::Status WaitDurable(uint64_t ticket) override;
  void WhenDurable(uint64_t ticket, std::function<void(const absl::Status&)> done) override;
  absl::Status Flush() override;
  uint64_t LastSeq() const override;
  StoreStats Stats() const override;

  absl::StatusOr<std::vector<AuditEntry>> ReadAudit(const AuditQuery& query) override;
  absl::StatusOr<std::vector<LedgerEntry>> ReadLedger(const LedgerQuery& query) override;
  absl::StatusOr<std::vector<AlertEntry>> ReadAlerts(const AlertQuery& query) override;
  // Reads on a read-only connection of its own, in windows of seqs, each its
  // own read transaction (so a long export holds back neither the reads nor
  // WAL checkpoints). Sees the events durable when it started (upto_seq 0 is
  // bounded by them), minus any DeleteEvents removes meanwhile.
  absl::Status ScanEvents(const EventQuery& query,
                          const std::function<bool(uint64_t seq, const EventRecord&)>& fn) override;

  // Both run in transactions of ~10,000 rows on the writer's connection,
  // taking db_mu_ between the writer's transactions. With a sink,
  // DeleteEvents first persists the rollups, and never deletes an event with
  // seq > rollup_seq (one not yet reflected in the persisted rows).
  absl::StatusOr<uint64_t> DeleteEvents(Micros before, uint64_t upto_seq) override;
  absl::StatusOr<uint64_t> RestoreEvents(
      const std::vector<std::pair<uint64_t, EventRecord>>& events) override;

  absl::StatusOr<Registry> LoadRegistry() override;
  absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint() override;
  absl::Status Replay(
      uint64_t after_seq,
      const std::function<absl::Status(uint64_t seq, const LogRecord&)>& fn) override;
  absl::Status ScanDedup(Micros since, uint64_t upto_seq,
                         const std::function<void(const DedupEntry&)>& fn) override;

  const std::string& path() const { return path_; }

 private:
  class Writer;  // prepared statements and per-row encoding; sqlite_store.cc
  class Reader;  // the read-only connection and its statements; sqlite_store.cc
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };
  using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

  // One Append: its records, the first numbered `first_seq`.
  struct PendingAppend {
    uint64_t first_seq = 0;
    std::vector<LogRecord> records;
  };

  SqliteStore(const SqliteStoreOptions& options, std::string path, DbHandle db,
              std::unique_ptr<Writer> writer, std::unique_ptr<Reader> reader, uint64_t last_seq);

  // InvalidArgumentError unless every seq of `events` could be an archived
  // event's (sqlite_store.cc says why).
  absl::Status CheckRestorable(const std::vector<std::pair<uint64_t, EventRecord>>& events);

  // The store's write error, if it has failed.
  absl::Status Failure() const ABSL_LOCKS_EXCLUDED(queue_mu_);

  void WriterLoop();
  // Takes the next batch of whole appends off the queue; empty when stopping.
  std::vector<PendingAppend> NextBatch() ABSL_LOCKS_EXCLUDED(queue_mu_);
  absl::Status CommitBatch(const std::vector<PendingAppend>& batch) ABSL_LOCKS_EXCLUDED(db_mu_);
  void Publish(uint64_t last_seq, size_t records, const absl::Status& status)
      ABSL_LOCKS_EXCLUDED(queue_mu_);

  // Constant after construction.
  const SqliteStoreOptions options_;
  int lock_fd_ = -1;  // holds flock(LOCK_EX) on <dir>/LOCK; closed by the destructor
  const std::string path_;

  // Guards the connection `db_`, and `writer_` (its prepared statements):
  // held by the writer thread for each transaction and by the recovery calls.
  // Never held together with queue_mu_. (std::mutex rather than absl::Mutex:
  // TSan sees through it with Debian's uninstrumented abseil.)
  std::mutex db_mu_;
  const DbHandle db_ ABSL_PT_GUARDED_BY(db_mu_);
  const std::unique_ptr<Writer> writer_ ABSL_PT_GUARDED_BY(db_mu_);

  // Guards `reader_`, the read-only connection and its prepared statements,
  // held by ReadAudit, ReadLedger and ReadAlerts for one query. Never held together with
  // db_mu_ or queue_mu_, so readers wait only for each other, never for the
  // writer (WAL: a reader sees the last commit before its query began).
  // Declared after db_ so that it closes first and the writer's connection,
  // closing last, merges the WAL into the database.
  std::mutex read_mu_;
  const std::unique_ptr<Reader> reader_ ABSL_PT_GUARDED_BY(read_mu_);

  // Guards the queue, the sequence counters and the failure state; the
  // writer and WaitDurable callers wait on `queue_cv_` and `durable_cv_`.
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;    // notified when an append is queued or on stop
  std::condition_variable durable_cv_;  // notified after each commit or failure
  std::deque<PendingAppend> queue_ ABSL_GUARDED_BY(queue_mu_);
  uint64_t last_seq_ ABSL_GUARDED_BY(queue_mu_);     // highest seq assigned
  uint64_t durable_seq_ ABSL_GUARDED_BY(queue_mu_);  // highest seq committed
  absl::Status failure_ ABSL_GUARDED_BY(queue_mu_);  // first write error, for good
  bool stopping_ ABSL_GUARDED_BY(queue_mu_) = false;

  // The WhenDurable callbacks (has its own lock). The writer reports each
  // commit or failure to it, without holding queue_mu_, before publishing it
  // to WaitDurable callers.
  DurableCallbacks callbacks_;

  // Figures for Stats(); written by Append and the writer, read anywhere.
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> commits_{0};

  // The writer thread; started last in the constructor, joined by the destructor.
  std::thread thread_;
};

}  // namespace tally

#endif  // TALLY_STORE_SQLITE_SQLITE_STORE_H_
