// Reservations: holds on quota until the actual usage is committed, the
// client releases them, or their TTL passes.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"

namespace tally {
namespace {

// How long a closed reservation is remembered, to answer a second commit or
// release with a conflict instead of "unknown".
constexpr Micros kClosedMemory = kMicrosPerDay;

}  // namespace

void Engine::DropHold(const Reservation& r) {
  for (const Effect& hold : r.holds) {
    Account* account = nullptr;
    if (hold.scope == Scope::kSubject) {
      SubjectEntry* s = FindSubject(r.subject);
      if (s != nullptr) account = &s->account;
    } else {
      OrgEntry* o = FindOrg(r.org);
      if (o != nullptr) account = &o->account;
    }
    const int m = MeterIndexOf(meters_, hold.meter);
    if (account == nullptr || m < 0) continue;
    // Holds are carried across rollovers, so the hold is in the current
    // window whichever window it was made in.
    WindowState& w = account->windows[m];
    w.reserved = std::max<int64_t>(0, w.reserved - hold.amount);
  }
}

absl::Status Engine::CloseReservation(const std::string& id, LedgerRecord::Kind kind, Micros now,
                                      DeferredWrite* deferred) {
  std::string subject, org;
  {
    std::lock_guard<std::mutex> lock(reservations_mu_);
    auto it = reservations_.find(id);
    if (it == reservations_.end()) {
      return absl::NotFoundError(absl::StrCat("reservation \"", id, "\" is unknown"));
    }
    subject = it->second->subject;
    org = it->second->org;
  }
  StripeLocks locks(this);
  locks.Add(StripeIndex(StableHash(subject)));
  if (!org.empty()) locks.Add(StripeIndex(StableHash(org)));
  locks.Lock();
  std::lock_guard<std::mutex> lock(reservations_mu_);
  auto it = reservations_.find(id);
  if (it == reservations_.end()) {
    return absl::NotFoundError(absl::StrCat("reservation \"", id, "\" is unknown"));
  }
  Reservation& r = *it->second;
  if (r.state != Reservation::State::kOpen) {
    if (kind == LedgerRecord::Kind::kExpire) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "reservation \"", id, "\" was already ",
        r.state == Reservation::State::kCommitted  ? "committed"
        : r.state == Reservation::State::kReleased ? "released"
                                                   : "expired"));
  }
  DropHold(r);
  r.state = kind == LedgerRecord::Kind::kRelease ? Reservation::State::kReleased
                                                 : Reservation::State::kExpired;
  r.closed_at = now;
  LedgerRecord rec;
  rec.kind = kind;
  rec.time = now;
  rec.subject = r.subject;
  rec.org = r.org;
  rec.reservation_id = r.id;
  rec.effects = r.holds;
  std::vector<LogRecord> records;
  records.emplace_back(std::move(rec));
  return AppendUnlockAndWait(std::move(records), locks, /*always_wait=*/false, deferred);
}

absl::Status Engine::Release(const std::string& reservation_id, DeferredWrite* deferred) {
  if (failed_.load(std::memory_order_acquire)) {
    return absl::UnavailableError("storage failed earlier; tally accepts no writes until restarted");
  }
  return CloseReservation(reservation_id, LedgerRecord::Kind::kRelease, clock_->Now(), deferred);
}

int Engine::ExpireReservations() {
  // One sweep at a time: a second caller goes on with its own request.
  if (sweeping_.exchange(true, std::memory_order_acq_rel)) return 0;
  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag.store(false, std::memory_order_release); }
  } done{sweeping_};
  const Micros now = clock_->Now();
  std::vector<std::string> due;
  Micros next = kEndOfTime;
  {
    std::lock_guard<std::mutex> lock(reservations_mu_);
    for (auto it = reservations_.begin(); it != reservations_.end();) {
      const Reservation& r = *it->second;
      if (r.state != Reservation::State::kOpen) {
        if (r.closed_at + kClosedMemory < now) {
          reservations_.erase(it++);
          continue;
        }
      } else if (r.expires_at <= now) {
        due.push_back(r.id);
      } else {
        next = std::min(next, r.expires_at);
      }
      ++it;
    }
    next_expiry_.store(due.empty() ? next : now, std::memory_order_release);
  }
  int expired = 0;
  // Nobody is answered on an expiry, so nobody waits for its fsync: a sweep
  // on a request's thread must not stall it (and, in the server, an I/O
  // thread) for one commit per expired hold. An expiry lost in a crash is
  // simply swept again after the restart.
  for (const std::string& id : due) {
    DeferredWrite unwaited;
    if (CloseReservation(id, LedgerRecord::Kind::kExpire, now, &unwaited).ok()) ++expired;
  }
  if (!due.empty()) {
    // Recompute from what is still open (new holds may have arrived meanwhile).
    std::lock_guard<std::mutex> lock(reservations_mu_);
    Micros earliest = kEndOfTime;
    for (const auto& [id, r] : reservations_) {
      if (r->state == Reservation::State::kOpen) earliest = std::min(earliest, r->expires_at);
    }
    next_expiry_.store(earliest, std::memory_order_release);
  }
  return expired;
}

}  // namespace tally
