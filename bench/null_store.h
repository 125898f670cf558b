// NullStore: a Store that accepts and discards every record, so the engine
// benchmark measures decisions, not storage. Not for tests of durability.
#ifndef TALLY_BENCH_NULL_STORE_H_
#define TALLY_BENCH_NULL_STORE_H_

#include <atomic>

#include "store/store.h"

namespace tally {

class NullStore final : public Store {
 public:
  absl::StatusOr<uint64_t> Append(std::vector<LogRecord> records) override {
    return seq_.fetch_add(records.size(), std::memory_order_relaxed) + records.size();
  }
  absl::Status WaitDurable(uint64_t) override { return absl::OkStatus(); }
  absl::Status Flush() override { return absl::OkStatus(); }
  void WhenDurable(uint64_t, std::function<void(const absl::Status&)> done) override { done(absl::OkStatus()); }
  absl::StatusOr<std::vector<AuditEntry>> ReadAudit(const AuditQuery&) override {
    return std::vector<AuditEntry>();
  }
  absl::StatusOr<std::vector<LedgerEntry>> ReadLedger(const LedgerQuery&) override {
    return std::vector<LedgerEntry>();
  }
  absl::StatusOr<std::vector<AlertEntry>> ReadAlerts(const AlertQuery&) override {
    return std::vector<AlertEntry>();
  }
  absl::Status ScanEvents(const EventQuery&,
                          const std::function<bool(uint64_t, const EventRecord&)>&) override {
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> DeleteEvents(Micros, uint64_t) override { return 0; }
  absl::StatusOr<uint64_t> RestoreEvents(
      const std::vector<std::pair<uint64_t, EventRecord>>&) override {
    return 0;
  }
  uint64_t LastSeq() const override { return seq_.load(); }
  StoreStats Stats() const override { return StoreStats{}; }
  absl::StatusOr<Registry> LoadRegistry() override { return Registry{}; }
  absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint() override { return std::nullopt; }
  absl::Status Replay(uint64_t,
                      const std::function<absl::Status(uint64_t, const LogRecord&)>&) override {
    return absl::OkStatus();
  }
  absl::Status ScanDedup(Micros, uint64_t, const std::function<void(const DedupEntry&)>&) override {
    return absl::OkStatus();
  }

 private:
  std::atomic<uint64_t> seq_{0};
};

}  // namespace tally

#endif  // TALLY_BENCH_NULL_STORE_H_
