#include "engine/engine.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/engine_internal.h"

namespace tally {
namespace {

// Fills the stripes' dedup indexes at start-up, where millions of ids arrive
// at once. Ids are buffered per stripe and inserted a stripe at a time, so
// that consecutive inserts touch one stripe's map (a few MB, in cache) rather
// than a random one of all of them (hundreds of MB): 10M ids took 1.4-2.8 s
// instead of 3.6-6.3 s. Each stripe still sees its ids in arrival (seq)
// order, and an id already present is kept. Not thread-safe: recovery only.
class DedupLoader {
 public:
  explicit DedupLoader(std::vector<DedupIndex*> shards)
      : shards_(std::move(shards)), pending_(shards_.size()) {}

  void Add(int shard, const DedupEntry& e) {
    pending_[shard].push_back(Pending{e.id_hash, DedupIndex::Entry{e.fingerprint, e.received}});
    if (++buffered_ == kMaxBuffered) Flush();
  }

  // Inserts everything buffered; call once more after the last Add.
  void Flush() {
    for (size_t i = 0; i < shards_.size(); ++i) {
      DedupIndex& dedup = *shards_[i];
      for (const Pending& p : pending_[i]) {
        if (dedup.Find(p.id_hash) == nullptr) dedup.Insert(p.id_hash, p.entry);
      }
      pending_[i].clear();
    }
    buffered_ = 0;
  }

 private:
  static constexpr size_t kMaxBuffered = size_t{1} << 20;  // ~32 MB
  struct Pending {
    uint64_t id_hash;
    DedupIndex::Entry entry;
  };
  const std::vector<DedupIndex*> shards_;
  std::vector<std::vector<Pending>> pending_;  // by shard
  size_t buffered_ = 0;
};

}  // namespace

int MeterIndexOf(const std::vector<Meter>& meters, const std::string& name) {
  for (size_t i = 0; i < meters.size(); ++i) {
    if (meters[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Engine::Engine(const Config& config, Store* store, const Clock* clock)
    : options_(config.engine),
      default_tier_(config.default_tier),
      auto_create_subjects_(config.auto_create_subjects),
      strict_(config.storage.durability == Durability::kStrict),
      checkpoint_every_(config.storage.checkpoint_every),
      dedup_max_per_stripe_(static_cast<size_t>(
          std::max<int64_t>(1, config.engine.dedup_max_entries / kStripes))),
      meters_(config.meters),
      store_(store),
      clock_(clock) {
  for (auto& stripe : stripes_) stripe = std::make_unique<Stripe>();
}

Engine::~Engine() = default;

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(const Config& config, Store* store,
                                                     const Clock* clock) {
  std::unique_ptr<Engine> engine(new Engine(config, store, clock));
  if (absl::Status s = engine->Recover(config); !s.ok()) return s;
  return engine;
}

absl::Status Engine::ReplaceTiers(std::vector<Tier> defs) {
  absl::StatusOr<std::vector<Tier>> resolved = ResolveTiers(defs);
  if (!resolved.ok()) return resolved.status();
  tier_defs_.clear();
  for (Tier& t : defs) tier_defs_[t.name] = std::move(t);
  tiers_.clear();
  plans_.clear();
  for (Tier& t : *resolved) {
    plans_[t.name] = BuildPlan(t, meters_, Overrides());
    tiers_[t.name] = std::move(t);
  }
  return absl::OkStatus();
}

absl::Status Engine::Recover(const Config& config) {
  absl::StatusOr<Registry> registry = store_->LoadRegistry();
  if (!registry.ok()) return registry.status();
  // Stored definitions (changed at run time) win over the config file's.
  {
    absl::flat_hash_map<std::string, Tier> merged;
    for (const Tier& t : config.tiers) merged[t.name] = t;
    for (const Tier& t : registry->tiers) merged[t.name] = t;
    std::vector<Tier> defs;
    for (auto& [name, t] : merged) defs.push_back(std::move(t));
    std::unique_lock<std::shared_mutex> lock(tiers_mu_);
    if (absl::Status s = ReplaceTiers(std::move(defs)); !s.ok()) return s;
    if (!tiers_.contains(default_tier_)) {
      return absl::FailedPreconditionError(
          absl::StrCat("default_tier \"", default_tier_, "\" is not a defined tier"));
    }
  }
  auto put_org = [this](const Org& org) {
    auto entry = std::make_unique<OrgEntry>();
    entry->def = org;
    entry->account.scope = Scope::kOrg;
    entry->account.id = org.id;
    BindAccount(entry->account, org.tier, org.timezone, org.anchor_day, org.overrides);
    stripes_[StripeIndex(StableHash(org.id))]->orgs[org.id] = std::move(entry);
  };
  {
    std::lock_guard<std::mutex> lock(keys_mu_);
    for (const ApiKey& k : registry->keys) api_keys_[k.id] = k;
  }
  for (const Org& o : config.orgs) put_org(o);
  for (const Org& o : registry->orgs) put_org(o);
  auto put_subject = [this](const Subject& subject) {
    auto entry = std::make_unique<SubjectEntry>();
    entry->def = subject;
    entry->account.scope = Scope::kSubject;
    entry->account.id = subject.id;
    BindAccount(entry->account, subject.tier, subject.timezone, subject.anchor_day,
                subject.overrides);
    stripes_[StripeIndex(StableHash(subject.id))]->subjects[subject.id] = std::move(entry);
  };
  for (const Subject& s : config.subjects) put_subject(s);
  for (const Subject& s : registry->subjects) put_subject(s);

  absl::StatusOr<std::optional<tally::Checkpoint>> checkpoint = store_->LoadCheckpoint();
  if (!checkpoint.ok()) return checkpoint.status();
  uint64_t after = 0;
  if (checkpoint->has_value() && !CheckpointBlobIntact((*checkpoint)->blob)) {
    // Nothing of it was applied: the whole log rebuilds the same state.
    recovery_warnings_.push_back(absl::StrCat(
        "the checkpoint at seq ", (*checkpoint)->seq,
        " failed its checksum; recovered by replaying the whole log instead"));
  } else if (checkpoint->has_value()) {
    after = (*checkpoint)->seq;
    if (absl::Status s = LoadCheckpointBlob((*checkpoint)->blob); !s.ok()) return s;
  }
  // The ids of the whole dedup window, the tail's included: the checkpoint
  // carries none, and one narrow scan is cheaper than remembering them one by
  // one during the replay.
  {
    std::vector<DedupIndex*> shards;
    for (auto& stripe : stripes_) shards.push_back(&stripe->dedup);
    DedupLoader loader(std::move(shards));
    absl::Status s = store_->ScanDedup(
        clock_->Now() - options_.dedup_window, UINT64_MAX,
        [this, &loader](const DedupEntry& e) { loader.Add(StripeIndex(e.id_hash), e); });
    if (!s.ok()) return s;
    loader.Flush();
  }
  absl::Status s = store_->Replay(after, [this](uint64_t seq, const LogRecord& record) {
    records_since_checkpoint_.fetch_add(1, std::memory_order_relaxed);
    return ApplyRecord(seq, record);
  });
  if (!s.ok()) return s;
  Micros earliest = kEndOfTime;
  for (const auto& [id, r] : reservations_) {
    if (r->state == Reservation::State::kOpen) earliest = std::min(earliest, r->expires_at);
  }
  next_expiry_.store(earliest);
  return absl::OkStatus();
}

// Applies one replayed record's effects. Its id is in the dedup index already
// (Recover scans the ids of the whole window first).
absl::Status Engine::ApplyRecord(uint64_t seq, const LogRecord& record) {
  auto ensure_subject = [this](const std::string& id, Micros at) {
    if (FindSubject(id) == nullptr) {
      auto entry = NewSubjectEntry(id, at);
      stripes_[StripeIndex(StableHash(id))]->subjects[id] = std::move(entry);
    }
  };
  if (const auto* e = std::get_if<EventRecord>(&record)) {
    ensure_subject(e->event.subject, e->received);
    if (e->origin == EventRecord::Origin::kCommit) {
      auto it = reservations_.find(e->reservation_id);
      if (it != reservations_.end()) {
        if (it->second->state == Reservation::State::kOpen) DropHold(*it->second);
        it->second->state = Reservation::State::kCommitted;
        it->second->closed_at = e->received;
      }
    }
    for (const Effect& effect : e->effects) {
      ApplyEffect(e->event.subject, e->org, effect, LedgerRecord::Kind::kHold, true, e->event.time);
    }
    stat_events_.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  if (const auto* l = std::get_if<LedgerRecord>(&record)) {
    ensure_subject(l->subject, l->time);
    switch (l->kind) {
      case LedgerRecord::Kind::kHold: {
        auto r = std::make_unique<Reservation>();
        r->id = l->reservation_id;
        r->subject = l->subject;
        r->org = l->org;
        r->type = l->request.type;
        r->expires_at = l->expires_at;
        r->holds = l->effects;
        for (const Effect& effect : l->effects) {
          ApplyEffect(l->subject, l->org, effect, l->kind, false, l->time);
        }
        reservations_[r->id] = std::move(r);
        break;
      }
      case LedgerRecord::Kind::kRelease:
      case LedgerRecord::Kind::kExpire: {
        auto it = reservations_.find(l->reservation_id);
        if (it != reservations_.end() && it->second->state == Reservation::State::kOpen) {
          DropHold(*it->second);
          it->second->state = l->kind == LedgerRecord::Kind::kRelease ? Reservation::State::kReleased
                                                                      : Reservation::State::kExpired;
          it->second->closed_at = l->time;
        }
        break;
      }
      case LedgerRecord::Kind::kGrant:
      case LedgerRecord::Kind::kReset:
      case LedgerRecord::Kind::kRollover:
        for (const Effect& effect : l->effects) {
          ApplyEffect(l->subject, l->org, effect, l->kind, false, l->time);
        }
        break;
    }
    return absl::OkStatus();
  }
  (void)seq;
  return absl::OkStatus();
}

void Engine::ApplyEffect(const std::string& subject, const std::string& org, const Effect& effect,
                         LedgerRecord::Kind kind, bool usage, Micros event_time) {
  Account* account = nullptr;
  if (effect.scope == Scope::kSubject) {
    SubjectEntry* s = FindSubject(subject);
    if (s != nullptr) account = &s->account;
  } else {
    OrgEntry* o = FindOrg(org);
    if (o != nullptr) account = &o->account;
  }
  const int m = MeterIndexOf(meters_, effect.meter);
  if (account == nullptr || m < 0) return;
  WindowState& w = account->windows[m];
  const Window ew{effect.window_start, effect.window_end};
  // The same rules as the live path (PrepareTouch): a newer window rolls over
  // keeping open holds, an overlapping one takes the balance along, an older
  // one is closed.
  switch (Relate(w, ew)) {
    case WindowRelation::kSame:
      break;
    case WindowRelation::kNewer: {
      const int64_t reserved = w.reserved;
      w.Reset(ew, 0);
      w.reserved = reserved;
      break;
    }
    case WindowRelation::kOverlapping:
      w.window = ew;
      break;
    case WindowRelation::kOlder:
      return;
  }
  const Aggregation agg = meters_[m].aggregation;
  if (usage) {
    switch (agg) {
      case Aggregation::kSum:
      case Aggregation::kCount:
        w.used += effect.amount;
        break;
      case Aggregation::kUniqueCount:
        w.used += effect.amount;
        if (!w.uniques) w.uniques = std::make_unique<absl::flat_hash_set<uint64_t>>();
        w.uniques->insert(effect.unique_hash);
        break;
      case Aggregation::kMax:
        w.used = std::max(w.used, effect.amount);
        break;
      case Aggregation::kLatest:
        if (event_time >= w.latest_time) {
          w.used = effect.amount;
          w.latest_time = event_time;
        }
        break;
    }
    return;
  }
  switch (kind) {
    case LedgerRecord::Kind::kHold:
      w.reserved += effect.amount;
      break;
    case LedgerRecord::Kind::kGrant:
    case LedgerRecord::Kind::kRollover:
      if (__builtin_add_overflow(w.granted, effect.amount, &w.granted)) w.granted = INT64_MAX;
      break;
    case LedgerRecord::Kind::kReset:
      w.used = std::max<int64_t>(0, w.used + effect.amount);
      if (w.uniques) w.uniques->clear();
      break;
    case LedgerRecord::Kind::kRelease:
    case LedgerRecord::Kind::kExpire:
      w.reserved = std::max<int64_t>(0, w.reserved - effect.amount);
      break;
  }
}

// --- Accounts ------------------------------------------------------------

SubjectEntry* Engine::LockSubjectAndOrg(const std::string& subject_id, StripeLocks& locks) {
  const uint64_t subject_hash = StableHash(subject_id);
  Stripe& stripe = *stripes_[StripeIndex(subject_hash)];
  locks.Add(StripeIndex(subject_hash));
  // The org is known only once the subject is read under its stripe's lock;
  // if its stripe was not taken, take every stripe again in order and re-read.
  for (int attempt = 0;; ++attempt) {
    if (attempt == 8) locks.AddAll();
    locks.Lock();
    auto it = stripe.subjects.find(subject_id);
    SubjectEntry* subject = it == stripe.subjects.end() ? nullptr : it->second.get();
    if (subject == nullptr || subject->def.org.empty()) return subject;
    const int org_stripe = StripeIndex(StableHash(subject->def.org));
    if (locks.Holds(org_stripe)) return subject;
    locks.Add(org_stripe);
  }
}

SubjectEntry* Engine::FindSubject(const std::string& id) {
  Stripe& stripe = *stripes_[StripeIndex(StableHash(id))];
  auto it = stripe.subjects.find(id);
  return it == stripe.subjects.end() ? nullptr : it->second.get();
}

OrgEntry* Engine::FindOrg(const std::string& id) {
  Stripe& stripe = *stripes_[StripeIndex(StableHash(id))];
  auto it = stripe.orgs.find(id);
  return it == stripe.orgs.end() ? nullptr : it->second.get();
}

std::unique_ptr<SubjectEntry> Engine::NewSubjectEntry(const std::string& id, Micros now) {
  auto entry = std::make_unique<SubjectEntry>();
  entry->def.id = id;
  entry->def.tier = default_tier_;
  entry->def.created = now;
  entry->account.scope = Scope::kSubject;
  entry->account.id = id;
  BindAccount(entry->account, entry->def.tier, entry->def.timezone, entry->def.anchor_day,
              entry->def.overrides);
  return entry;
}

SubjectEntry* Engine::CreateSubject(const std::string& id, Micros now,
                                    std::vector<LogRecord>& records) {
  std::unique_ptr<SubjectEntry> entry = NewSubjectEntry(id, now);
  SubjectEntry* raw = entry.get();
  records.emplace_back(SubjectRecord{entry->def});
  stripes_[StripeIndex(StableHash(id))]->subjects[id] = std::move(entry);
  return raw;
}

void Engine::BindAccount(Account& account, const std::string& tier, const std::string& tz_name,
                         int anchor_day, const Overrides& overrides) {
  std::shared_ptr<const Plan> plan;
  {
    std::shared_lock<std::shared_mutex> lock(tiers_mu_);
    auto it = tiers_.find(tier);
    if (it == tiers_.end()) it = tiers_.find(default_tier_);
    if (overrides.empty()) {
      plan = plans_.at(it->first);
    } else {
      plan = BuildPlan(it->second, meters_, overrides);
    }
  }
  const absl::TimeZone tz = LoadZone(tz_name).value_or(absl::UTCTimeZone());
  const bool calendar_changed = account.tz.name() != tz.name() || account.anchor_day != anchor_day;
  account.windows.resize(meters_.size());
  for (size_t m = 0; m < meters_.size(); ++m) {
    const bool period_changed = account.plan && account.plan->quotas[m].period != plan->quotas[m].period;
    // The balance stays; the next touch moves it to the new calendar's window.
    if (calendar_changed || period_changed) account.windows[m].recalendar = true;
  }
  if (!account.plan || account.plan->rates.size() != plan->rates.size()) {
    account.tats.assign(plan->rates.size(), 0);
  }
  account.tz = tz;
  account.anchor_day = anchor_day;
  account.plan = std::move(plan);
}

QuotaView Engine::ViewFor(const Account& account, int meter, Micros now) const {
  const QuotaRule& rule = account.plan->quotas[meter];
  const WindowState& current = account.windows[meter];
  QuotaView v;
  if (current.Covers(now) && !current.recalendar) {
    v = ViewOf(current, rule);
  } else {
    // What the next write will see (PrepareTouch), without changing anything.
    const Window w = account.WindowAt(meter, now);
    switch (Relate(current, w)) {
      case WindowRelation::kNewer: {
        WindowState next;
        next.Reset(w, CarryInto(current, rule, w,
                                [&account, meter](Micros x) { return account.WindowAt(meter, x); }));
        next.reserved = current.reserved;
        v = ViewOf(next, rule);
        break;
      }
      case WindowRelation::kSame:
      case WindowRelation::kOverlapping:
        v = ViewOf(current, rule);
        v.period = w;
        break;
      case WindowRelation::kOlder:
        v = ViewOf(current, rule);
        break;
    }
  }
  v.meter = meters_[meter].name;
  v.scope = account.scope;
  v.account = account.id;
  return v;
}

// --- Reads ---------------------------------------------------------------

absl::StatusOr<std::vector<QuotaView>> Engine::QuotaStatus(const std::string& subject_id) {
  const Micros now = clock_->Now();
  if (next_expiry_.load(std::memory_order_acquire) <= now && !failed_.load()) ExpireReservations();
  StripeLocks locks(this);
  SubjectEntry* subject = LockSubjectAndOrg(subject_id, locks);
  if (subject == nullptr) return absl::NotFoundError(absl::StrCat("subject \"", subject_id, "\" is unknown"));
  OrgEntry* org = subject->def.org.empty() ? nullptr : FindOrg(subject->def.org);
  std::vector<QuotaView> views;
  for (size_t m = 0; m < meters_.size(); ++m) {
    views.push_back(ViewFor(subject->account, static_cast<int>(m), now));
    if (org != nullptr && org->account.plan->quotas[m].limited()) {
      views.push_back(ViewFor(org->account, static_cast<int>(m), now));
    }
  }
  return views;
}

absl::StatusOr<Subject> Engine::GetSubject(const std::string& id) {
  StripeLocks locks(this);
  locks.Add(StripeIndex(StableHash(id)));
  locks.Lock();
  SubjectEntry* subject = FindSubject(id);
  if (subject == nullptr) return absl::NotFoundError(absl::StrCat("subject \"", id, "\" is unknown"));
  return subject->def;
}

std::vector<Subject> Engine::ListSubjects(const std::string& prefix, const std::string& after,
                                          size_t limit) {
  std::vector<Subject> out;
  for (auto& stripe : stripes_) {
    std::lock_guard<SpinThenBlockMutex> lock(stripe->mu);
    for (const auto& [id, e] : stripe->subjects) {
      if (id > after && absl::StartsWith(id, prefix)) out.push_back(e->def);
    }
  }
  const size_t n = std::min(limit, out.size());
  std::partial_sort(out.begin(), out.begin() + n, out.end(),
                    [](const Subject& a, const Subject& b) { return a.id < b.id; });
  out.resize(n);
  return out;
}

absl::StatusOr<Org> Engine::GetOrg(const std::string& id) {
  StripeLocks locks(this);
  locks.Add(StripeIndex(StableHash(id)));
  locks.Lock();
  OrgEntry* org = FindOrg(id);
  if (org == nullptr) return absl::NotFoundError(absl::StrCat("org \"", id, "\" is unknown"));
  return org->def;
}

std::vector<Tier> Engine::TierDefinitions() const {
  std::shared_lock<std::shared_mutex> lock(tiers_mu_);
  std::vector<Tier> out;
  for (const auto& [name, tier] : tier_defs_) out.push_back(tier);
  std::sort(out.begin(), out.end(), [](const Tier& a, const Tier& b) { return a.name < b.name; });
  return out;
}

std::vector<Tier> Engine::Tiers() const {
  std::shared_lock<std::shared_mutex> lock(tiers_mu_);
  std::vector<Tier> out;
  for (const auto& [name, tier] : tiers_) out.push_back(tier);
  std::sort(out.begin(), out.end(), [](const Tier& a, const Tier& b) { return a.name < b.name; });
  return out;
}

EngineStats Engine::Stats() const {
  EngineStats s;
  s.decisions = stat_decisions_.load(std::memory_order_relaxed);
  s.denials = stat_denials_.load(std::memory_order_relaxed);
  s.replays = stat_replays_.load(std::memory_order_relaxed);
  s.events = stat_events_.load(std::memory_order_relaxed);
  for (const auto& stripe : stripes_) {
    std::lock_guard<SpinThenBlockMutex> lock(stripe->mu);
    s.subjects += stripe->subjects.size();
    s.dedup_entries += stripe->dedup.size();
  }
  std::lock_guard<std::mutex> lock(reservations_mu_);
  for (const auto& [id, r] : reservations_) {
    if (r->state == Reservation::State::kOpen) ++s.open_reservations;
  }
  return s;
}

// --- Store -----------------------------------------------------------------

absl::StatusOr<uint64_t> Engine::AppendLocked(std::vector<LogRecord> records) {
  const size_t n = records.size();
  absl::StatusOr<uint64_t> ticket = store_->Append(std::move(records));
  if (!ticket.ok()) {
    failed_.store(true, std::memory_order_release);
    return absl::UnavailableError(absl::StrCat("storage: ", ticket.status().message()));
  }
  records_since_checkpoint_.fetch_add(n, std::memory_order_relaxed);
  return ticket;
}

absl::Status Engine::AppendUnlockAndWait(std::vector<LogRecord> records, StripeLocks& locks,
                                         bool always_wait, DeferredWrite* deferred) {
  absl::StatusOr<uint64_t> ticket = AppendLocked(std::move(records));
  locks.Unlock();
  if (!ticket.ok()) return ticket.status();
  if (!always_wait) return AwaitDurable(*ticket, deferred);
  absl::Status s = store_->WaitDurable(*ticket);
  if (!s.ok()) {
    failed_.store(true, std::memory_order_release);
    return absl::UnavailableError(absl::StrCat("storage: ", s.message()));
  }
  return absl::OkStatus();
}

absl::Status Engine::AwaitDurable(uint64_t ticket, DeferredWrite* deferred) {
  if (!strict_) return absl::OkStatus();
  if (deferred != nullptr) {
    deferred->ticket = std::max(deferred->ticket, ticket);
    return absl::OkStatus();
  }
  absl::Status s = store_->WaitDurable(ticket);
  if (!s.ok()) {
    failed_.store(true, std::memory_order_release);
    return absl::UnavailableError(absl::StrCat("storage: ", s.message()));
  }
  return absl::OkStatus();
}

void Engine::WhenDurable(const DeferredWrite& write,
                         std::function<void(const absl::Status&)> done) {
  if (!strict_ || write.ticket == 0) {
    done(absl::OkStatus());
    return;
  }
  store_->WhenDurable(write.ticket, [this, done = std::move(done)](const absl::Status& s) {
    if (s.ok()) {
      done(s);
      return;
    }
    failed_.store(true, std::memory_order_release);
    done(absl::UnavailableError(absl::StrCat("storage: ", s.message())));
  });
}

}  // namespace tally
