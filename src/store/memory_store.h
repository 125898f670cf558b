// MemoryStore: a Store that keeps every record in memory, for tests and
// benchmarks (the in-memory fake of the storage seam, like leveldb's memenv).
//
// Every appended record is "durable" as soon as Append returns; registry
// upserts go to maps and checkpoints are kept, so an engine can be destroyed
// and a new one recovered from the same MemoryStore to test a restart.
// FailWrites() makes later appends fail, to test the engine's failure path;
// PauseDurability() holds appends "in flight", to test what waits for them.
// With a RollupSink, every event is folded into it as it becomes durable (in
// Append, or in ResumeDurability); nothing is persisted, so TakeDirty and Load
// are never called.
//
// Thread-safety: every method may be called from any thread. WhenDurable
// callbacks run inline, or on a thread inside Append, ResumeDurability,
// FailWrites or the destructor (whichever made them due). The sink's Fold is
// called under the store's lock: it must not call back into the store.
#ifndef TALLY_STORE_MEMORY_STORE_H_
#define TALLY_STORE_MEMORY_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "store/durable_callbacks.h"
#include "store/store.h"

namespace tally {

class MemoryStore final : public Store {
 public:
  // `rollups` (may be null) gets every event once it is durable. Not owned;
  // must outlive the store.
  explicit MemoryStore(RollupSink* rollups = nullptr) : rollups_(rollups) {}
  // Calls the WhenDurable callbacks still pending with AbortedError.
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

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
  // Copies a few hundred events at a time and calls `fn` without the lock, so
  // `fn` may call back into the store.
  absl::Status ScanEvents(const EventQuery& query,
                          const std::function<bool(uint64_t seq, const EventRecord&)>& fn) override;

  absl::StatusOr<uint64_t> DeleteEvents(Micros before, uint64_t upto_seq) override;
  // Skips a seq held by any record.
  absl::StatusOr<uint64_t> RestoreEvents(
      const std::vector<std::pair<uint64_t, EventRecord>>& events) override;

  absl::StatusOr<Registry> LoadRegistry() override;
  absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint() override;
  absl::Status Replay(
      uint64_t after_seq,
      const std::function<absl::Status(uint64_t seq, const LogRecord&)>& fn) override;
  absl::Status ScanDedup(Micros since, uint64_t upto_seq,
                         const std::function<void(const DedupEntry&)>& fn) override;

  // From now on Append returns `status` (as a SqliteStore does after a failed
  // commit), and WaitDurable and WhenDurable return it for any ticket not
  // already durable; pending WhenDurable callbacks get it now.
  // absl::OkStatus() makes the store healthy again.
  void FailWrites(absl::Status status);

  // From PauseDurability() to ResumeDurability(), appended records are stored
  // but not durable: WaitDurable blocks, WhenDurable callbacks wait, and
  // ReadAudit and ReadLedger do not see them (as while a SqliteStore commits).
  // ResumeDurability() makes them durable and calls the waiting callbacks on
  // the calling thread, in ticket order.
  void PauseDurability();
  void ResumeDurability();

  // Every record appended (minus the events DeleteEvents removed, plus those
  // RestoreEvents put back), with its sequence number, in seq order.
  std::vector<std::pair<uint64_t, LogRecord>> Records() const;

 private:
  void ApplyRegistry(const LogRecord& record) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The newest seq the reads look at: durable, < before_seq.
  uint64_t FirstSeqToRead(uint64_t before_seq) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How many records have a seq <= `seq` (records_ is in seq order, with gaps
  // where events were deleted).
  size_t CountUpTo(uint64_t seq) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Folds the events that became durable since the last call into rollups_.
  void FoldDurable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  RollupSink* const rollups_;  // may be null; constant after construction

  // Guards every member below. Never held while a WhenDurable callback runs.
  // (std::mutex rather than absl::Mutex: TSan sees through it with Debian's
  // uninstrumented abseil.)
  mutable std::mutex mu_;
  std::condition_variable durable_cv_;  // notified when durable_seq_ or failure_ change
  std::vector<std::pair<uint64_t, LogRecord>> records_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Subject> subjects_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Org> orgs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Tier> tiers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ApiKey> keys_ ABSL_GUARDED_BY(mu_);
  uint64_t last_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t durable_seq_ ABSL_GUARDED_BY(mu_) = 0;  // == last_seq_ unless paused
  uint64_t folded_seq_ ABSL_GUARDED_BY(mu_) = 0;   // rollups_ has every event up to it
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t appends_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);

  // The WhenDurable callbacks; told of progress after mu_ is released.
  DurableCallbacks callbacks_{0};
};

}  // namespace tally

#endif  // TALLY_STORE_MEMORY_STORE_H_
