#include "store/memory_store.h"

#include <algorithm>
#include <iterator>
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
    FoldDurable();
    ticket = last_seq_;
    durable = durable_seq_;
  }
  callbacks_.Durable(durable);
  return ticket;
}

void MemoryStore::FoldDurable() {
  if (rollups_ == nullptr) {
    folded_seq_ = durable_seq_;
    return;
  }
  for (size_t i = CountUpTo(folded_seq_); i < records_.size(); ++i) {
    const auto& [seq, record] = records_[i];
    if (seq > durable_seq_) break;
    if (const auto* e = std::get_if<EventRecord>(&record)) rollups_->Fold(seq, *e);
  }
  folded_seq_ = durable_seq_;
}

size_t MemoryStore::CountUpTo(uint64_t seq) const {
  return std::upper_bound(records_.begin(), records_.end(), seq,
                          [](uint64_t s, const auto& r) { return s < r.first; }) -
         records_.begin();
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
  // Only durable ones, newest first.
  for (size_t i = CountUpTo(FirstSeqToRead(query.before_seq));
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
  for (size_t i = CountUpTo(FirstSeqToRead(query.before_seq));
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

absl::StatusOr<std::vector<AlertEntry>> MemoryStore::ReadAlerts(const AlertQuery& query) {
  if (absl::Status s = CheckLimit(query.limit, "ReadAlerts"); !s.ok()) return s;
  std::vector<AlertEntry> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = CountUpTo(FirstSeqToRead(query.before_seq));
       i > 0 && out.size() < static_cast<size_t>(query.limit); --i) {
    const auto& [seq, record] = records_[i - 1];
    const auto* a = std::get_if<AlertRecord>(&record);
    if (a == nullptr || a->hour < query.from || a->hour >= query.to) continue;
    if (!query.subject.empty() && a->subject != query.subject) continue;
    if (!query.kind.empty() && a->kind != query.kind) continue;
    out.push_back(AlertEntry{seq, *a});
  }
  return out;
}

absl::Status MemoryStore::ScanEvents(
    const EventQuery& query, const std::function<bool(uint64_t seq, const EventRecord&)>& fn) {
  constexpr size_t kBatch = 256;
  uint64_t cursor = query.after_seq;
  uint64_t upto = 0;  // the events durable at the start
  {
    std::lock_guard<std::mutex> lock(mu_);
    upto = query.upto_seq == 0 ? durable_seq_ : std::min(query.upto_seq, durable_seq_);
  }
  std::vector<std::pair<uint64_t, EventRecord>> batch;
  while (cursor < upto) {
    if (query.keep_going && !query.keep_going()) return absl::OkStatus();
    batch.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      size_t i = CountUpTo(cursor);
      for (; i < records_.size() && batch.size() < kBatch; ++i) {
        const auto& [seq, record] = records_[i];
        if (seq > upto) break;
        const auto* e = std::get_if<EventRecord>(&record);
        if (e == nullptr || e->event.time < query.from || e->event.time >= query.to) continue;
        if (!query.subject.empty() && e->event.subject != query.subject) continue;
        if (!query.type.empty() && e->event.type != query.type) continue;
        batch.emplace_back(seq, *e);
      }
      cursor = i < records_.size() && records_[i].first <= upto ? records_[i].first - 1 : upto;
    }
    for (const auto& [seq, event] : batch) {
      if (!fn(seq, event)) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> MemoryStore::DeleteEvents(Micros before, uint64_t upto_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t limit = std::min(upto_seq, durable_seq_);
  const size_t size = records_.size();
  std::erase_if(records_, [&](const std::pair<uint64_t, LogRecord>& r) {
    const auto* e = std::get_if<EventRecord>(&r.second);
    return e != nullptr && r.first <= limit && e->event.time < before;
  });
  return size - records_.size();
}

absl::StatusOr<uint64_t> MemoryStore::RestoreEvents(
    const std::vector<std::pair<uint64_t, EventRecord>>& events) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [seq, event] : events) {
    if (seq == 0 || seq > last_seq_) {
      return absl::InvalidArgumentError("RestoreEvents: seq " + std::to_string(seq) +
                                        " was never assigned (the last is " +
                                        std::to_string(last_seq_) + ")");
    }
  }
  // The new ones in seq order (the first of equal seqs), merged into records_.
  std::vector<std::pair<uint64_t, LogRecord>> restored;
  for (const auto& [seq, event] : events) {
    const size_t i = CountUpTo(seq);
    if (i > 0 && records_[i - 1].first == seq) continue;
    restored.emplace_back(seq, event);
  }
  const auto by_seq = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(restored.begin(), restored.end(), by_seq);
  restored.erase(std::unique(restored.begin(), restored.end(),
                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                 restored.end());
  std::vector<std::pair<uint64_t, LogRecord>> merged;
  merged.reserve(records_.size() + restored.size());
  std::merge(std::make_move_iterator(records_.begin()), std::make_move_iterator(records_.end()),
             std::make_move_iterator(restored.begin()), std::make_move_iterator(restored.end()),
             std::back_inserter(merged), by_seq);
  records_ = std::move(merged);
  return restored.size();
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
    FoldDurable();
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
