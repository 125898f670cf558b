#include "store/memory_store.h"

#include <variant>

#include "core/event.h"

namespace tally {

absl::StatusOr<uint64_t> MemoryStore::Append(std::vector<LogRecord> records) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failure_.ok()) return failure_;
  ++appends_;
  for (LogRecord& record : records) {
    ApplyRegistry(record);
    records_.emplace_back(++last_seq_, std::move(record));
  }
  return last_seq_;
}

void MemoryStore::ApplyRegistry(const LogRecord& record) {
  if (const auto* s = std::get_if<SubjectRecord>(&record)) {
    subjects_[s->subject.id] = s->subject;
  } else if (const auto* o = std::get_if<OrgRecord>(&record)) {
    orgs_[o->org.id] = o->org;
  } else if (const auto* t = std::get_if<TierRecord>(&record)) {
    tiers_[t->tier.name] = t->tier;
  }
}

absl::Status MemoryStore::WaitDurable(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ticket <= last_seq_) return absl::OkStatus();
  if (!failure_.ok()) return failure_;
  return absl::InvalidArgumentError("WaitDurable: ticket " + std::to_string(ticket) +
                                    " was never issued");
}

absl::Status MemoryStore::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

uint64_t MemoryStore::LastSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

StoreStats MemoryStore::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  StoreStats stats;
  stats.appended = records_.size();
  stats.durable = records_.size();
  stats.commits = appends_;
  stats.queue_depth = 0;
  return stats;
}

absl::StatusOr<Registry> MemoryStore::LoadRegistry() {
  std::lock_guard<std::mutex> lock(mu_);
  Registry registry;
  for (const auto& [id, subject] : subjects_) registry.subjects.push_back(subject);
  for (const auto& [id, org] : orgs_) registry.orgs.push_back(org);
  for (const auto& [name, tier] : tiers_) registry.tiers.push_back(tier);
  return registry;
}

absl::StatusOr<std::optional<Checkpoint>> MemoryStore::LoadCheckpoint() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (const auto* c = std::get_if<CheckpointRecord>(&it->second)) {
      return std::optional<Checkpoint>(Checkpoint{it->first, c->blob});
    }
  }
  return std::optional<Checkpoint>();
}

absl::Status MemoryStore::Replay(
    uint64_t after_seq,
    const std::function<absl::Status(uint64_t seq, const LogRecord&)>& fn) {
  // Copies the records out so that `fn` runs without the lock (it may call
  // back into the store).
  std::vector<std::pair<uint64_t, LogRecord>> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [seq, record] : records_) {
      if (seq <= after_seq) continue;
      if (std::holds_alternative<EventRecord>(record) ||
          std::holds_alternative<LedgerRecord>(record)) {
        todo.emplace_back(seq, record);
      }
    }
  }
  for (const auto& [seq, record] : todo) {
    absl::Status status = fn(seq, record);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status MemoryStore::ScanDedup(Micros since, uint64_t upto_seq,
                                    const std::function<void(const DedupEntry&)>& fn) {
  std::vector<DedupEntry> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [seq, record] : records_) {
      if (seq > upto_seq) break;
      if (const auto* e = std::get_if<EventRecord>(&record)) {
        if (e->received >= since) {
          entries.push_back({StableHash(e->event.id), e->fingerprint, e->received, seq});
        }
      } else if (const auto* l = std::get_if<LedgerRecord>(&record)) {
        if (l->kind == LedgerRecord::Kind::kHold && l->time >= since) {
          entries.push_back({StableHash(l->request.id), l->fingerprint, l->time, seq});
        }
      }
    }
  }
  for (const DedupEntry& entry : entries) fn(entry);
  return absl::OkStatus();
}

void MemoryStore::FailWrites(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  failure_ = std::move(status);
}

std::vector<std::pair<uint64_t, LogRecord>> MemoryStore::Records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

}  // namespace tally
