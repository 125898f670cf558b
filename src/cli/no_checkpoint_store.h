// NoCheckpointStore: a Store that hides the checkpoints of another store, so
// an Engine opened over it rebuilds every counter from a full replay of the
// log (tally verify compares that against the normal checkpoint + tail
// recovery).
//
// It delegates everything to the wrapped store except that LoadCheckpoint()
// finds none and appended CheckpointRecords are dropped (the wrapped store's
// checkpoints are left as they are).
//
// Thread-safety: as the wrapped store.
#ifndef TALLY_CLI_NO_CHECKPOINT_STORE_H_
#define TALLY_CLI_NO_CHECKPOINT_STORE_H_

#include <functional>
#include <utility>

#include "store/store.h"

namespace tally::cli {

class NoCheckpointStore final : public Store {
 public:
  // `base` must outlive this store.
  explicit NoCheckpointStore(Store* base) : base_(base) {}

  absl::StatusOr<uint64_t> Append(std::vector<LogRecord> records) override;
  absl::Status WaitDurable(uint64_t ticket) override { return base_->WaitDurable(ticket); }
  void WhenDurable(uint64_t ticket, std::function<void(const absl::Status&)> done) override {
    base_->WhenDurable(ticket, std::move(done));
  }
  absl::Status Flush() override { return base_->Flush(); }
  uint64_t LastSeq() const override { return base_->LastSeq(); }
  StoreStats Stats() const override { return base_->Stats(); }

  absl::StatusOr<std::vector<AuditEntry>> ReadAudit(const AuditQuery& query) override {
    return base_->ReadAudit(query);
  }
  absl::StatusOr<std::vector<LedgerEntry>> ReadLedger(const LedgerQuery& query) override {
    return base_->ReadLedger(query);
  }
  absl::StatusOr<std::vector<AlertEntry>> ReadAlerts(const AlertQuery& query) override {
    return base_->ReadAlerts(query);
  }
  absl::Status ScanEvents(const EventQuery& query,
                          const std::function<bool(uint64_t, const EventRecord&)>& fn) override {
    return base_->ScanEvents(query, fn);
  }
  absl::StatusOr<uint64_t> DeleteEvents(Micros before, uint64_t upto_seq) override {
    return base_->DeleteEvents(before, upto_seq);
  }
  absl::StatusOr<uint64_t> RestoreEvents(
      const std::vector<std::pair<uint64_t, EventRecord>>& events) override {
    return base_->RestoreEvents(events);
  }

  absl::StatusOr<Registry> LoadRegistry() override { return base_->LoadRegistry(); }
  // Always "no checkpoint".
  absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint() override { return std::nullopt; }
  absl::Status Replay(
      uint64_t after_seq,
      const std::function<absl::Status(uint64_t seq, const LogRecord&)>& fn) override {
    return base_->Replay(after_seq, fn);
  }
  absl::Status ScanDedup(Micros since, uint64_t upto_seq,
                         const std::function<void(const DedupEntry&)>& fn) override {
    return base_->ScanDedup(since, upto_seq, fn);
  }

 private:
  Store* const base_;
};

}  // namespace tally::cli

#endif  // TALLY_CLI_NO_CHECKPOINT_STORE_H_
