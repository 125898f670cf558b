// The hot path: Track, TrackBatch, Check, Consume, Reserve and Commit all run
// through Decide() (or DecideBatch() for batches): validate, lock, dedup,
// evaluate every touched window, apply, append to the store, wait.
#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/gcra.h"

namespace tally {

absl::Status Engine::ValidateTime(const Event& e, Micros now) const {
  if (e.time < now - options_.max_lateness) {
    return absl::InvalidArgumentError(
        absl::StrCat("time: ", FormatRfc3339(e.time), " is older than the accepted lateness (",
                     options_.max_lateness / kMicrosPerSecond, "s)"));
  }
  if (e.time > now + options_.max_future) {
    return absl::InvalidArgumentError(absl::StrCat("time: ", FormatRfc3339(e.time),
                                                   " is more than ", options_.max_future / kMicrosPerSecond,
                                                   "s in the future"));
  }
  return absl::OkStatus();
}

void Engine::PrepareTouch(Account& account, Scope scope, int meter, uint64_t input, Micros t,
                          Touch& touch) const {
  touch.account = &account;
  touch.scope = scope;
  touch.meter = meter;
  touch.input = input;
  const QuotaRule& rule = account.plan->quotas[meter];
  const WindowState& current = account.windows[meter];
  if (!current.Covers(t) || current.recalendar) {
    const Window w = account.WindowAt(meter, t);
    switch (Relate(current, w)) {
      case WindowRelation::kSame:
      case WindowRelation::kOverlapping:
        // The calendar or period changed: the balance moves to the new
        // window as it is (replay does the same from the effect's window).
        touch.rewindow = true;
        touch.new_window = w;
        break;
      case WindowRelation::kNewer:
        touch.rolled = true;
        touch.carry = CarryInto(current, rule, w,
                                [&account, meter](Micros x) { return account.WindowAt(meter, x); });
        touch.scratch.Reset(w, touch.carry);
        touch.scratch.reserved = current.reserved;  // open holds stay held
        break;
      case WindowRelation::kOlder:
        touch.late = true;
        touch.scratch.Reset(w, 0);
        break;
    }
  }
  touch.admission = Admit(touch.state(), rule, meters_[meter].aggregation, input, t);
}

void Engine::CommitRoll(Touch& t, Micros at, const std::string& subject_id,
                        const std::string& org_id, std::vector<LogRecord>& records) {
  if (t.rewindow) {
    t.account->windows[t.meter].window = t.new_window;
    t.account->windows[t.meter].recalendar = false;
    t.rewindow = false;
    return;
  }
  if (!t.rolled) return;
  const Window w = t.scratch.window;
  t.account->windows[t.meter] = std::move(t.scratch);
  t.rolled = false;
  if (t.carry <= 0) return;
  LedgerRecord rollover;
  rollover.kind = LedgerRecord::Kind::kRollover;
  rollover.time = at;
  rollover.subject = subject_id;
  rollover.org = org_id;
  rollover.effects.push_back(Effect{t.scope, meters_[t.meter].name, w.start, w.end, t.carry, 0});
  records.emplace_back(std::move(rollover));
}

absl::Status Engine::PrepareEvent(const Event& event, Micros now, SubjectEntry& subject,
                                  OrgEntry* org, Prepared& prepared) const {
  // An event dated (at most max_future) ahead of now counts in now's window:
  // one clock-skewed event must not move an account into its next window.
  const Micros placement = std::min(event.time, now);
  prepared.touches.clear();
  prepared.touches.reserve(meters_.size() * 2);
  prepared.new_tats.clear();
  for (size_t m = 0; m < meters_.size(); ++m) {
    const Meter& meter = meters_[m];
    if (!meter.Applies(event)) continue;
    const uint64_t input = meter.InputOf(event);
    PrepareTouch(subject.account, Scope::kSubject, static_cast<int>(m), input, placement,
                 prepared.touches.emplace_back());
    if (org != nullptr) {
      PrepareTouch(org->account, Scope::kOrg, static_cast<int>(m), input, placement,
                   prepared.touches.emplace_back());
    }
  }
  for (const Touch& t : prepared.touches) {
    if (t.admission.overflow) {
      return absl::InvalidArgumentError(
          absl::StrCat("data.", meters_[t.meter].value, ": the ", meters_[t.meter].name,
                       " total of ", t.account->id, " would overflow a 64-bit integer"));
    }
  }
  return absl::OkStatus();
}

void Engine::Enforce(const Event& event, const Account& subject, Micros now, Prepared& prepared,
                     Decision& d) const {
  d.allowed = true;
  for (const Touch& t : prepared.touches) {
    if (t.late || t.admission.allowed) continue;
    d.allowed = false;
    d.reason = DenyReason::kQuotaExceeded;
    d.denied_meter = meters_[t.meter].name;
    d.denied_scope = t.scope;
    d.retry_at = t.window().end;
    return;
  }
  const std::vector<RateRule>& rates = subject.plan->rates;
  for (size_t i = 0; i < rates.size(); ++i) {
    const Meter& meter = meters_[rates[i].meter];
    if (!meter.Applies(event)) continue;
    const uint64_t input = meter.InputOf(event);
    const int64_t cost = meter.aggregation == Aggregation::kCount || meter.aggregation == Aggregation::kSum
                             ? static_cast<int64_t>(std::min<uint64_t>(input, INT64_MAX))
                             : 1;
    const GcraResult r = GcraEvaluate(rates[i], subject.tats[i], now, cost);
    if (!r.allowed) {
      d.allowed = false;
      d.reason = DenyReason::kRateLimited;
      d.denied_meter = meter.name;
      d.denied_scope = Scope::kSubject;
      d.retry_at = r.retry_at;
      return;
    }
    prepared.new_tats.emplace_back(static_cast<int>(i), r.new_tat);
  }
}

void Engine::ApplyPrepared(const Event& event, bool hold, Prepared& prepared, Decision& d,
                           std::vector<Effect>& effects, std::vector<LogRecord>& records,
                           const std::string& subject_id, const std::string& org_id) {
  std::vector<int> crossed;
  for (Touch& t : prepared.touches) {
    const Meter& meter = meters_[t.meter];
    const QuotaRule& rule = t.account->plan->quotas[t.meter];
    Effect effect{t.scope, meter.name, 0, 0, 0, 0};
    const Window w = t.window();
    effect.window_start = w.start;
    effect.window_end = w.end;
    const bool replaces = meter.aggregation == Aggregation::kMax || meter.aggregation == Aggregation::kLatest;
    effect.amount = replaces ? static_cast<int64_t>(std::min<uint64_t>(t.input, INT64_MAX))
                             : t.admission.delta;
    if (meter.aggregation == Aggregation::kUniqueCount) effect.unique_hash = t.input;
    if (t.late) {
      if (!hold) effects.push_back(std::move(effect));
      continue;
    }
    CommitRoll(t, event.time, subject_id, org_id, records);
    WindowState& state = t.account->windows[t.meter];
    if (hold) {
      if (replaces || t.admission.delta == 0) continue;
      state.reserved += t.admission.delta;
      effects.push_back(std::move(effect));
      continue;
    }
    const int64_t before = state.used + state.reserved;
    ApplyUsage(state, meter.aggregation, t.admission, t.input, event.time);
    if (t.admission.over_limit) d.over_limit = true;
    crossed.clear();
    CrossedThresholds(state, rule, before, state.used + state.reserved, crossed);
    for (int pct : crossed) d.crossings.push_back(ThresholdCrossing{meter.name, t.scope, t.account->id, pct});
    effects.push_back(std::move(effect));
  }
  for (const auto& [i, tat] : prepared.new_tats) {
    for (Touch& t : prepared.touches) {
      if (t.scope == Scope::kSubject) {
        t.account->tats[i] = tat;
        break;
      }
    }
  }
}

void Engine::AddViews(const Prepared& prepared, Micros now, Decision& d) const {
  d.quotas.reserve(d.quotas.size() + prepared.touches.size());
  for (const Touch& t : prepared.touches) {
    if (t.late) continue;
    const QuotaRule& rule = t.account->plan->quotas[t.meter];
    if (t.scope == Scope::kOrg && !rule.limited()) continue;
    d.quotas.push_back(ViewFor(*t.account, t.meter, now));
  }
}

// Mixed into a reservation request's fingerprint (see Decide).
constexpr uint64_t kReserveFingerprintSalt = 0x9e3779b97f4a7c15ULL;

absl::StatusOr<Decision> Engine::Decide(Event event, Mode mode, Micros ttl,
                                        const std::string& reservation_id,
                                        DeferredWrite* deferred) {
  const Micros now = clock_->Now();
  const bool writes = mode != Mode::kCheck;
  if (writes && failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("storage failed earlier; tally accepts no writes until restarted");
  }
  uint64_t fingerprint = 0;
  std::string reservation_org;
  if (mode == Mode::kCommit) {
    absl::StatusOr<std::optional<Decision>> early =
        PrepareCommit(reservation_id, event, fingerprint, reservation_org, deferred);
    if (!early.ok()) return early.status();
    if (early->has_value()) return **early;
  } else {
    if (absl::Status s = ValidateEvent(event); !s.ok()) return s;
    fingerprint = Fingerprint(event);
    // An id used to reserve and the same id used to consume or track are
    // different requests: the second is a conflict, never a replay of the first.
    if (mode == Mode::kReserve) fingerprint ^= kReserveFingerprintSalt;
  }
  if (event.time == 0) event.time = now;
  if (absl::Status s = ValidateTime(event, now); !s.ok()) return s;
  if (mode == Mode::kReserve) {
    if (ttl == 0) ttl = options_.reservation_ttl;
    if (ttl < 0 || ttl > options_.reservation_max_ttl) {
      return absl::InvalidArgumentError(absl::StrCat("ttl_s: must be between 1 and ",
                                                     options_.reservation_max_ttl / kMicrosPerSecond));
    }
  }
  // Expired holds are swept before any decision, a check included, so that a
  // hold does not count past its TTL. While another thread's sweep is under
  // way this one goes on without waiting for it: a hold being dropped may
  // still count for that instant — a denial that a retry clears, never an
  // overshoot.
  if (next_expiry_.load(std::memory_order_acquire) <= now && !failed_.load()) ExpireReservations();

  const uint64_t id_hash = StableHash(event.id);
  StripeLocks locks(this);
  if (writes) locks.Add(StripeIndex(id_hash));
  // A commit drops holds on the org the reservation was made under.
  if (!reservation_org.empty()) locks.Add(StripeIndex(StableHash(reservation_org)));
  SubjectEntry* subject = LockSubjectAndOrg(event.subject, locks);

  Decision d;
  if (writes) {
    const DedupIndex::Entry* seen = stripes_[StripeIndex(id_hash)]->dedup.Find(id_hash);
    if (seen != nullptr) {
      if (seen->fingerprint != fingerprint) {
        return absl::AlreadyExistsError(absl::StrCat(
            "id: event \"", event.id, "\" was already recorded with a different body"));
      }
      return ReplayAnswer(event, mode, subject, now, locks, deferred);
    }
  }

  std::vector<LogRecord> records;
  records.reserve(2);
  std::unique_ptr<SubjectEntry> transient;  // Check on a subject not created yet
  if (subject == nullptr) {
    if (!auto_create_subjects_) {
      return absl::NotFoundError(absl::StrCat("subject: \"", event.subject,
                                              "\" is unknown (auto_create_subjects = false)"));
    }
    if (mode == Mode::kCheck) {
      transient = NewSubjectEntry(event.subject, now);
      subject = transient.get();
    } else {
      subject = CreateSubject(event.subject, now, records);
    }
  }
  OrgEntry* org = subject->def.org.empty() ? nullptr : FindOrg(subject->def.org);

  Prepared prepared;
  if (absl::Status s = PrepareEvent(event, now, *subject, org, prepared); !s.ok()) {
    if (!records.empty()) AppendLocked(std::move(records)).IgnoreError();  // keep the new subject
    return s;
  }
  const bool enforce = mode == Mode::kConsume || mode == Mode::kCheck || mode == Mode::kReserve;
  if (enforce) {
    Enforce(event, subject->account, now, prepared, d);
  } else {
    d.allowed = true;
  }
  stat_decisions_.fetch_add(1, std::memory_order_relaxed);
  if (!d.allowed || mode == Mode::kCheck) {
    if (!d.allowed) stat_denials_.fetch_add(1, std::memory_order_relaxed);
    if (!records.empty()) {
      // The auto-created subject is kept even when its first event is denied.
      absl::StatusOr<uint64_t> ticket = AppendLocked(std::move(records));
      if (!ticket.ok()) return ticket.status();
    }
    AddViews(prepared, now, d);
    return d;
  }

  std::vector<Effect> effects;
  effects.reserve(prepared.touches.size());
  const std::string org_id = org != nullptr ? org->def.id : std::string();
  if (mode == Mode::kCommit) {
    std::lock_guard<std::mutex> lock(reservations_mu_);
    auto it = reservations_.find(reservation_id);
    // An expired hold can still be committed: the work it guarded was done,
    // and its usage is counted (unenforced) rather than lost. A release of an
    // expired hold, by contrast, is a 409: there is nothing left to release.
    if (it == reservations_.end() || it->second->state == Reservation::State::kCommitted ||
        it->second->state == Reservation::State::kReleased) {
      return absl::FailedPreconditionError(
          absl::StrCat("reservation \"", reservation_id, "\" was already ",
                       it == reservations_.end()                              ? "closed"
                       : it->second->state == Reservation::State::kCommitted ? "committed"
                                                                             : "released"));
    }
    if (it->second->state == Reservation::State::kOpen) DropHold(*it->second);
    it->second->state = Reservation::State::kCommitted;
    it->second->closed_at = now;
  }
  ApplyPrepared(event, mode == Mode::kReserve, prepared, d, effects, records, event.subject, org_id);
  AddViews(prepared, now, d);

  if (mode == Mode::kReserve) {
    auto r = std::make_unique<Reservation>();
    r->id = event.id;
    r->subject = event.subject;
    r->org = org_id;
    r->type = event.type;
    r->expires_at = now + ttl;
    r->holds = effects;
    d.reservation_id = r->id;
    d.expires_at = r->expires_at;
    LedgerRecord hold;
    hold.kind = LedgerRecord::Kind::kHold;
    hold.time = now;
    hold.subject = event.subject;
    hold.org = org_id;
    hold.reservation_id = r->id;
    hold.expires_at = r->expires_at;
    hold.fingerprint = fingerprint;
    hold.effects = std::move(effects);
    hold.request = std::move(event);
    records.emplace_back(std::move(hold));
    {
      std::lock_guard<std::mutex> lock(reservations_mu_);
      reservations_[r->id] = std::move(r);
      Micros current = next_expiry_.load(std::memory_order_relaxed);
      while (d.expires_at < current && !next_expiry_.compare_exchange_weak(current, d.expires_at)) {
      }
    }
  } else {
    EventRecord rec;
    rec.org = org_id;
    rec.received = now;
    rec.fingerprint = fingerprint;
    rec.origin = mode == Mode::kCommit  ? EventRecord::Origin::kCommit
                 : mode == Mode::kTrack ? EventRecord::Origin::kTrack
                                        : EventRecord::Origin::kConsume;
    rec.reservation_id = mode == Mode::kCommit ? reservation_id : std::string();
    rec.effects = std::move(effects);
    rec.event = std::move(event);
    records.emplace_back(std::move(rec));
    stat_events_.fetch_add(1, std::memory_order_relaxed);
  }
  stripes_[StripeIndex(id_hash)]->dedup.Insert(id_hash, DedupIndex::Entry{fingerprint, now});
  stripes_[StripeIndex(id_hash)]->dedup.Evict(now - options_.dedup_window,
                                              dedup_max_per_stripe_);
  if (absl::Status s =
          AppendUnlockAndWait(std::move(records), locks, /*always_wait=*/false, deferred);
      !s.ok()) {
    return s;
  }
  MaybeCheckpoint();
  return d;
}

absl::StatusOr<Decision> Engine::ReplayAnswer(const Event& event, Mode mode,
                                              SubjectEntry* subject, Micros now,
                                              StripeLocks& locks, DeferredWrite* deferred) {
  Decision d;
  d.allowed = true;
  d.replayed = true;
  stat_replays_.fetch_add(1, std::memory_order_relaxed);
  if (subject != nullptr) {
    OrgEntry* org = subject->def.org.empty() ? nullptr : FindOrg(subject->def.org);
    for (size_t m = 0; m < meters_.size(); ++m) {
      if (!meters_[m].Applies(event)) continue;
      d.quotas.push_back(ViewFor(subject->account, static_cast<int>(m), now));
      if (org != nullptr && org->account.plan->quotas[m].limited()) {
        d.quotas.push_back(ViewFor(org->account, static_cast<int>(m), now));
      }
    }
  }
  if (mode == Mode::kReserve) {
    std::lock_guard<std::mutex> lock(reservations_mu_);
    auto it = reservations_.find(event.id);
    if (it != reservations_.end()) {
      d.reservation_id = it->second->id;
      d.expires_at = it->second->expires_at;
    }
  }
  locks.Unlock();
  // The first answer may still be waiting for its fsync: answer after it.
  if (absl::Status s = AwaitDurable(store_->LastSeq(), deferred); !s.ok()) return s;
  return d;
}

absl::StatusOr<std::vector<Decision>> Engine::TrackBatch(std::vector<Event> events,
                                                         DeferredWrite* deferred, bool with_quotas) {
  const Micros now = clock_->Now();
  if (failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("storage failed earlier; tally accepts no writes until restarted");
  }
  if (events.empty()) return absl::InvalidArgumentError("events: must not be empty");
  std::vector<uint64_t> fingerprints(events.size());
  std::vector<uint64_t> id_hashes(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    absl::Status s = ValidateEvent(events[i]);
    if (s.ok()) {
      fingerprints[i] = Fingerprint(events[i]);
      if (events[i].time == 0) events[i].time = now;
      s = ValidateTime(events[i], now);
    }
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("events[", i, "].", s.message()));
    id_hashes[i] = StableHash(events[i].id);
  }

  StripeLocks locks(this);
  locks.AddAll();
  locks.Lock();
  // Pass 1: find every reason to refuse the batch before changing anything.
  std::vector<Decision> decisions(events.size());
  std::vector<bool> skip(events.size(), false);
  absl::flat_hash_map<uint64_t, size_t> in_batch;
  for (size_t i = 0; i < events.size(); ++i) {
    const DedupIndex::Entry* seen = stripes_[StripeIndex(id_hashes[i])]->dedup.Find(id_hashes[i]);
    auto [it, inserted] = in_batch.emplace(id_hashes[i], i);
    const uint64_t prior = seen != nullptr ? seen->fingerprint
                           : inserted      ? fingerprints[i]
                                           : fingerprints[it->second];
    if (prior != fingerprints[i]) {
      return absl::AlreadyExistsError(absl::StrCat("events[", i, "].id: event \"", events[i].id,
                                                   "\" was already recorded with a different body"));
    }
    if (seen != nullptr || !inserted) {
      skip[i] = true;
      decisions[i].allowed = true;
      decisions[i].replayed = true;
      continue;
    }
    if (!auto_create_subjects_ && FindSubject(events[i].subject) == nullptr) {
      return absl::NotFoundError(absl::StrCat("events[", i, "].subject: \"", events[i].subject,
                                              "\" is unknown (auto_create_subjects = false)"));
    }
  }
  if (absl::Status s = CheckBatchOverflow(events, skip); !s.ok()) return s;

  // Pass 2: apply. Nothing below can fail before the append.
  std::vector<LogRecord> records;
  Prepared prepared;
  for (size_t i = 0; i < events.size(); ++i) {
    if (skip[i]) continue;
    SubjectEntry* subject = FindSubject(events[i].subject);
    if (subject == nullptr) subject = CreateSubject(events[i].subject, now, records);
    OrgEntry* org = subject->def.org.empty() ? nullptr : FindOrg(subject->def.org);
    PrepareEvent(events[i], now, *subject, org, prepared).IgnoreError();  // checked in pass 1
    Decision& d = decisions[i];
    d.allowed = true;
    std::vector<Effect> effects;
    const std::string org_id = org != nullptr ? org->def.id : std::string();
    ApplyPrepared(events[i], false, prepared, d, effects, records, events[i].subject, org_id);
    if (with_quotas) AddViews(prepared, now, d);
    EventRecord rec;
    rec.org = org_id;
    rec.received = now;
    rec.fingerprint = fingerprints[i];
    rec.origin = EventRecord::Origin::kTrack;
    rec.effects = std::move(effects);
    rec.event = std::move(events[i]);
    records.emplace_back(std::move(rec));
    DedupIndex& dedup = stripes_[StripeIndex(id_hashes[i])]->dedup;
    dedup.Insert(id_hashes[i], DedupIndex::Entry{fingerprints[i], now});
    dedup.Evict(now - options_.dedup_window, dedup_max_per_stripe_);
  }
  const uint64_t accepted = static_cast<uint64_t>(std::count(skip.begin(), skip.end(), false));
  stat_events_.fetch_add(accepted, std::memory_order_relaxed);
  stat_decisions_.fetch_add(events.size(), std::memory_order_relaxed);
  if (records.empty()) {  // every event a replay: answer once the first answers are durable
    locks.Unlock();
    if (absl::Status s = AwaitDurable(store_->LastSeq(), deferred); !s.ok()) return s;
    return decisions;
  }
  if (absl::Status s =
          AppendUnlockAndWait(std::move(records), locks, /*always_wait=*/false, deferred);
      !s.ok()) {
    return s;
  }
  MaybeCheckpoint();
  return decisions;
}

absl::Status Engine::CheckBatchOverflow(const std::vector<Event>& events,
                                        const std::vector<bool>& skip) {
  // Sums per (account, meter) in 128 bits against what the windows hold now
  // (an upper bound: a window that rolls over starts from zero).
  absl::flat_hash_map<std::pair<std::string, int>, __int128> totals;
  for (size_t i = 0; i < events.size(); ++i) {
    if (skip[i]) continue;
    SubjectEntry* subject = FindSubject(events[i].subject);
    for (size_t m = 0; m < meters_.size(); ++m) {
      const Meter& meter = meters_[m];
      if (meter.aggregation != Aggregation::kSum || !meter.Applies(events[i])) continue;
      const __int128 input = static_cast<__int128>(meter.InputOf(events[i]));
      __int128& slot = totals[{"s/" + events[i].subject, static_cast<int>(m)}];
      if (slot == 0 && subject != nullptr) slot = subject->account.windows[m].used;
      slot += input;
      const __int128 total = slot;  // the org insert below may move `slot`
      __int128 org_total = 0;
      OrgEntry* org = subject == nullptr || subject->def.org.empty() ? nullptr : FindOrg(subject->def.org);
      if (org != nullptr) {
        __int128& t = totals[{"o/" + org->def.id, static_cast<int>(m)}];
        if (t == 0) t = org->account.windows[m].used;
        t += input;
        org_total = t;
      }
      if (total > INT64_MAX || org_total > INT64_MAX) {
        return absl::InvalidArgumentError(absl::StrCat(
            "events[", i, "].data.", meter.value, ": the ", meter.name, " total of ",
            events[i].subject, " would overflow a 64-bit integer"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Decision>> Engine::PrepareCommit(const std::string& reservation_id,
                                                               Event& event, uint64_t& fingerprint,
                                                               std::string& reservation_org,
                                                               DeferredWrite* deferred) {
  if (reservation_id.empty() || reservation_id.size() > kMaxIdLength) {
    return absl::InvalidArgumentError("reservation_id: must be 1 to 256 characters");
  }
  // A commit is identified by its reservation: whatever id the client sent,
  // the actual event is stored as "<reservation id>/commit", so a retry dedups
  // (after a restart too) and never collides with the hold's own id.
  event.id = absl::StrCat(reservation_id, "/commit");
  fingerprint = Fingerprint(event);  // the body as sent, before defaults
  bool open_or_closed = false;
  {
    std::lock_guard<std::mutex> lock(reservations_mu_);
    auto it = reservations_.find(reservation_id);
    if (it != reservations_.end()) {
      const Reservation& r = *it->second;
      if (event.subject.empty()) event.subject = r.subject;
      if (event.type.empty()) event.type = r.type;
      if (event.subject != r.subject) {
        return absl::InvalidArgumentError(absl::StrCat("subject: reservation \"", reservation_id,
                                                       "\" belongs to another subject"));
      }
      reservation_org = r.org;
      open_or_closed = true;
    }
  }
  if (!open_or_closed) {
    // Forgotten (a restart, or settled long ago): a retried commit is still
    // answered from the dedup index.
    const uint64_t id_hash = StableHash(event.id);
    StripeLocks locks(this);
    locks.Add(StripeIndex(id_hash));
    locks.Lock();
    const DedupIndex::Entry* seen = stripes_[StripeIndex(id_hash)]->dedup.Find(id_hash);
    if (seen == nullptr) {
      return absl::NotFoundError(absl::StrCat("reservation \"", reservation_id, "\" is unknown"));
    }
    if (seen->fingerprint != fingerprint) {
      return absl::AlreadyExistsError(absl::StrCat("reservation \"", reservation_id,
                                                   "\" was already committed with a different body"));
    }
    locks.Unlock();
    // The first commit may still be waiting for its fsync: answer after it.
    if (absl::Status s = AwaitDurable(store_->LastSeq(), deferred); !s.ok()) return s;
    Decision d;
    d.allowed = true;
    d.replayed = true;
    stat_replays_.fetch_add(1, std::memory_order_relaxed);
    return std::optional<Decision>(std::move(d));
  }
  // Validate with the reservation id in place of the (longer) stored id.
  std::string stored_id = std::move(event.id);
  event.id = reservation_id;
  absl::Status valid = ValidateEvent(event);
  event.id = std::move(stored_id);
  if (!valid.ok()) return valid;
  return std::optional<Decision>();
}

absl::StatusOr<Decision> Engine::Track(Event event, DeferredWrite* deferred) {
  return Decide(std::move(event), Mode::kTrack, 0, std::string(), deferred);
}
absl::StatusOr<Decision> Engine::Check(const Event& event) {
  return Decide(event, Mode::kCheck, 0, std::string(), nullptr);
}
absl::StatusOr<Decision> Engine::Consume(Event event, DeferredWrite* deferred) {
  return Decide(std::move(event), Mode::kConsume, 0, std::string(), deferred);
}
absl::StatusOr<Decision> Engine::Reserve(Event request, Micros ttl, DeferredWrite* deferred) {
  return Decide(std::move(request), Mode::kReserve, ttl, std::string(), deferred);
}
absl::StatusOr<Decision> Engine::Commit(const std::string& reservation_id, Event actual,
                                        DeferredWrite* deferred) {
  return Decide(std::move(actual), Mode::kCommit, 0, reservation_id, deferred);
}

}  // namespace tally
