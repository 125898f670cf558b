#include "store/memory_store.h"

#include <algorithm>
#include <string_view>
#include <utility>
#include <variant>

#include "core/event.h"

namespace tally {

MemoryStore::~MemoryStore() {
  callbacks_.Close(absl::AbortedError("MemoryStore destroyed before the write was durable"));
}

absl::StatusOr<uint64_t> MemoryStore::Append(std::vector<LogRecord> records) {
  uint64_t ticket = 0;
  uint64_t durable = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) return failure_;
    ++appends_;
    for (LogRecord& record : records) {
      ApplyRegistry(record);
      records_.emplace_back(++last_seq_, std::move(record));
    }
    if (!paused_) durable_seq_ = last_seq_;
    ticket = last_seq_;
    durable = durable_seq_;
  }
  callbacks_.Durable(durable);
  return ticket;
}

void MemoryStore::ApplyRegistry(const LogRecord& record) {
  if (const auto* s = std::get_if<SubjectRecord>(&record)) {
    subjects_[s->subject.id] = s->subject;
  } else if (const auto* o = std::get_if<OrgRecord>(&record)) {
    orgs_[o->org.id] = o->org;
  } else if (const auto* t = std::get_if<TierRecord>(&record)) {
    tiers_[t->tier.name] = t->tier;
  } else if (const auto* k = std::get_if<KeyRecord>(&record)) {
    keys_[k->key.id] = k->key;
  }
}

absl::Status MemoryStore::WaitDurable(uint64_t ticket) {
  std::unique_lock<std::mutex> lock(mu_);
  durable_cv_.wait(lock, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return ticket <= durable_seq_ || !failure_.ok() || ticket > last_seq_;
  });
  if (ticket <= durable_seq_) return absl::OkStatus();
  if (!failure_.ok()) return failure_;
  return absl::InvalidArgumentError("WaitDurable: ticket " + std::to_string(ticket) +
                                    " was never issued");
}

void MemoryStore::WhenDurable(uint64_t ticket, std::function<void(const absl::Status&)> done) {
  bool never_issued = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    never_issued = ticket > last_seq_ && failure_.ok();
  }
  if (never_issued) {
    done(absl::InvalidArgumentError("WhenDurable: ticket " + std::to_string(ticket) +
                                    " was never issued"));
    return;
  }
  callbacks_.Add(ticket, std::move(done));
}

absl::Status MemoryStore::Flush() {
  uint64_t last = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_.ok()) return failure_;
    last = last_seq_;
  }
  return WaitDurable(last);
}

uint64_t MemoryStore::LastSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_seq_;
}

StoreStats MemoryStore::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  StoreStats stats;
  stats.appended = last_seq_;
  stats.durable = durable_seq_;
  stats.commits = appends_;
  stats.queue_depth = last_seq_ - durable_seq_;
  return stats;
}

namespace {

absl::Status CheckLimit(int limit, std::string_view what) {
  if (limit >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(what) + ": limit must be >= 1, not " +
                                    std::to_string(limit));
}

}  // namespace

uint64_t MemoryStore::FirstSeqToRead(uint64_t before_seq) const {
  if (before_seq == 0) return durable_seq_;
  return std::min(durable_seq_, before_seq - 1);
}

absl::StatusOr<std::vector<AuditEntry>> MemoryStore::ReadAudit(const AuditQuery& query) {
  if (absl::Status s = CheckLimit(query.limit, "ReadAudit"); !s.ok()) return s;
  std::vector<AuditEntry> out;
  std::lock_guard<std::mutex> lock(mu_);
  // records_[i - 1] has seq i. Only durable ones, newest first.
  for (uint64_t i = FirstSeqToRead(query.before_seq);
       i > 0 && out.size() < static_cast<size_t>(query.limit); --i) {
    const auto& [seq, record] = records_[i - 1];
    const auto* a = std::get_if<AuditRecord>(&record);
    if (a == nullptr || a->time < query.from || a->time >= query.to) continue;
    if (!query.target.empty() && a->target != query.target) continue;
    if (!query.actor.empty() && a->actor != query.actor) continue;
    out.push_back(AuditEntry{seq, *a});
  }
  return out;
}

absl::StatusOr<std::vector<LedgerEntry>> MemoryStore::ReadLedger(const LedgerQuery& query) {
  if (absl::Status s = CheckLimit(query.limit, "ReadLedger"); !s.ok()) return s;
  std::vector<LedgerEntry> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (uint64_t i = FirstSeqToRead(query.before_seq);
       i > 0 && out.size() < static_cast<size_t>(query.limit); --i) {
    const auto& [seq, record] = records_[i - 1];
    const auto* l = std::get_if<LedgerRecord>(&record);
    if (l == nullptr || l->time < query.from || l->time >= query.to) continue;
    if (l->kind < LedgerRecord::Kind::kGrant) continue;  // holds, releases, expiries
    if (!query.subject.empty() && l->subject != query.subject) continue;
    out.push_back(LedgerEntry{seq, *l});
  }
  return out;
}

absl::StatusOr<Registry> MemoryStore::LoadRegistry() {
  std::lock_guard<std::mutex> lock(mu_);
  Registry registry;
  for (const auto& [id, subject] : subjects_) registry.subjects.push_back(subject);
  for (const auto& [id, org] : orgs_) registry.orgs.push_back(org);
  for (const auto& [name, tier] : tiers_) registry.tiers.push_back(tier);
  for (const auto& [id, key] : keys_) registry.keys.push_back(key);
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
  {
    std::lock_guard<std::mutex> lock(mu_);
    failure_ = status;
  }
  durable_cv_.notify_all();
  callbacks_.SetFailure(std::move(status));
}

void MemoryStore::PauseDurability() {
  std::lock_guard<std::mutex> lock(mu_);
  paused_ = true;
}

void MemoryStore::ResumeDurability() {
  uint64_t durable = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = false;
    durable_seq_ = last_seq_;
    durable = durable_seq_;
  }
  durable_cv_.notify_all();
  callbacks_.Durable(durable);
}

std::vector<std::pair<uint64_t, LogRecord>> MemoryStore::Records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return records_;
}

}  // namespace tally
