// Engine: tally's quota engine — start here.
//
// It decides (check, consume, reserve), records (track, commit) and explains
// (status) usage against each subject's plan and its org's pooled plan, exactly
// and atomically, and makes every accepted change durable through a Store
// before answering (under strict durability).
//
//   Track    count an event; never denied (usage is still counted)
//   Check    would this event fit? no side effect
//   Consume  check and count in one atomic step, across every meter the event
//            touches and across subject and org quotas: all or nothing
//   Reserve  hold an estimate until Commit (settle the actual event) or
//            Release; holds expire after their TTL
//
// Every write is idempotent by event id within the dedup window: the same id
// with the same body answers again (Decision::replayed) and counts once; the
// same id with another body is an AlreadyExists error (HTTP 409).
//
// Errors are values: InvalidArgument (bad input, 422), NotFound (unknown
// subject/reservation, 404), AlreadyExists (id reuse, 409), FailedPrecondition
// (reservation already settled, or released after it expired: 409),
// Unavailable (storage failed, 503). A commit after the hold expired is
// accepted: the work was done, so its usage is counted (unenforced).
// A denial is not an error: it is a Decision with allowed == false.
//
// Thread-safety: every public method may be called from any thread. State is
// split over kStripes stripes, each guarded by its own mutex; an operation
// locks the stripes of its subject, org and event id in index order.
#ifndef TALLY_ENGINE_ENGINE_H_
#define TALLY_ENGINE_ENGINE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/clock.h"
#include "core/api_key.h"
#include "core/config.h"
#include "core/event.h"
#include "engine/account.h"
#include "engine/decision.h"
#include "engine/dedup_index.h"
#include "store/store.h"

namespace tally {

// Who made an administrative change, from where, and why: kept in the ledger
// entry and in the audit record written with the change.
struct Actor {
  std::string name;
  std::string reason;
  std::string address;  // the client's network address, if any
};

// A write whose durability the caller awaits without blocking a thread (the
// HTTP server). Pass one to a write method; when the method returns OK, call
// Engine::WhenDurable() with it and answer the client only from its callback.
// Without one (nullptr), write methods block until durable themselves.
struct DeferredWrite {
  uint64_t ticket = 0;  // 0: nothing to wait for
};

// Engine-wide counters for logs and /metrics.
struct EngineStats {
  uint64_t decisions = 0;
  uint64_t denials = 0;
  uint64_t replays = 0;
  uint64_t events = 0;  // accepted events
  uint64_t subjects = 0;
  uint64_t open_reservations = 0;
  uint64_t dedup_entries = 0;
};

class Engine {
 public:
  static constexpr int kStripes = 64;

  // Opens an engine over `store` and recovers its state (checkpoint + replay).
  // `store` and `clock` must outlive the engine.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const Config& config, Store* store,
                                                      const Clock* clock);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- The hot path ---------------------------------------------------
  // Every write takes an optional DeferredWrite (see above).
  absl::StatusOr<Decision> Track(Event event, DeferredWrite* deferred = nullptr);
  // A batch is all or nothing: every event is accepted, or none is. With
  // `with_quotas` false the decisions carry no QuotaViews (callers that only
  // count accepted and replayed events save building 1,000s of them).
  absl::StatusOr<std::vector<Decision>> TrackBatch(std::vector<Event> events,
                                                   DeferredWrite* deferred = nullptr,
                                                   bool with_quotas = true);
  absl::StatusOr<Decision> Check(const Event& event);
  absl::StatusOr<Decision> Consume(Event event, DeferredWrite* deferred = nullptr);
  // `ttl` 0 means the configured default.
  absl::StatusOr<Decision> Reserve(Event request, Micros ttl, DeferredWrite* deferred = nullptr);
  // Settles a reservation with the actual event (its id defaults to the
  // reservation id); the actual amount is counted even past the hold.
  absl::StatusOr<Decision> Commit(const std::string& reservation_id, Event actual,
                                  DeferredWrite* deferred = nullptr);
  absl::Status Release(const std::string& reservation_id, DeferredWrite* deferred = nullptr);
  // Calls `done` once the deferred write is durable (at once when there is
  // nothing to wait for, or under relaxed durability), with Unavailable if the
  // store failed. `done` may run on the store's writer thread: keep it short.
  void WhenDurable(const DeferredWrite& write, std::function<void(const absl::Status&)> done);
  // Drops holds past their TTL; returns how many. Also done lazily.
  int ExpireReservations();

  // --- Reads ------------------------------------------------------------
  // Every quota of a subject (and its org) as of now.
  absl::StatusOr<std::vector<QuotaView>> QuotaStatus(const std::string& subject_id);
  absl::StatusOr<Subject> GetSubject(const std::string& id);
  // Subjects in id order: those with `prefix`, after `after`, at most `limit`.
  std::vector<Subject> ListSubjects(const std::string& prefix, const std::string& after,
                                    size_t limit);
  absl::StatusOr<Org> GetOrg(const std::string& id);
  // Tier definitions as given (with `inherits`), by name.
  std::vector<Tier> TierDefinitions() const;
  std::vector<ApiKey> ApiKeys() const;
  std::vector<Tier> Tiers() const;
  const std::vector<Meter>& meters() const { return meters_; }
  EngineStats Stats() const;
  // What recovery had to work around (e.g. a checkpoint that failed its
  // checksum), for the caller to log. Constant after Open().
  const std::vector<std::string>& recovery_warnings() const { return recovery_warnings_; }

  // --- Administration (durable before returning) ------------------------
  // Each change is written with an audit record (actor, address, before,
  // after, reason) in the same transaction: both or neither.
  absl::Status PutSubject(Subject subject, const Actor& actor = {});
  absl::Status PutOrg(Org org, const Actor& actor = {});
  absl::Status PutTier(Tier tier, const Actor& actor = {});
  // Applies every patch or none (one transaction); returns the subjects as
  // they are after. `action` names the change in the audit trail.
  absl::StatusOr<std::vector<Subject>> UpdateSubjects(std::vector<SubjectPatch> patches,
                                                      const Actor& actor,
                                                      const std::string& action);
  // Sets (or with nullopt, makes unlimited) one subject's limit for a meter.
  absl::Status SetLimit(const std::string& subject_id, const std::string& meter,
                        std::optional<int64_t> limit, const Actor& actor = {});
  // Adds or replaces (by id) an API key; `action` is "key.create" or "key.revoke".
  absl::Status PutApiKey(const ApiKey& key, const Actor& actor, const std::string& action);
  // Resets the current window of one meter (or all, with an empty meter)
  // through a ledger entry.
  absl::Status ResetWindow(const std::string& subject_id, const std::string& meter,
                           const Actor& actor);
  // Credits `amount` units to the current window of a subject's meter.
  absl::Status Grant(const std::string& subject_id, const std::string& meter, int64_t amount,
                     const Actor& actor);

  // Writes a checkpoint of every counter through the store and waits for it.
  absl::Status Checkpoint();

 private:
  struct Stripe;
  class StripeLocks;
  struct Reservation;
  struct Touch;
  struct Prepared;
  enum class Mode { kTrack, kCheck, kConsume, kReserve, kCommit };

  Engine(const Config& config, Store* store, const Clock* clock);

  // --- Recovery (checkpoint.cc, engine.cc) ---
  absl::Status Recover(const Config& config);
  absl::Status ApplyRecord(uint64_t seq, const LogRecord& record);
  void ApplyEffect(const std::string& subject, const std::string& org, const Effect& effect,
                   LedgerRecord::Kind kind, bool usage, Micros event_time);
  absl::Status LoadCheckpointBlob(const std::string& blob);
  std::string CheckpointBlob();

  // --- The hot path (decide.cc) ---
  // The one path of every single-event write: validate, lock, dedup, evaluate,
  // apply, append, wait.
  absl::StatusOr<Decision> Decide(Event event, Mode mode, Micros ttl,
                                  const std::string& reservation_id, DeferredWrite* deferred);
  absl::StatusOr<Decision> ReplayAnswer(const Event& event, Mode mode, SubjectEntry* subject,
                                        Micros now, StripeLocks& locks, DeferredWrite* deferred);
  absl::Status ValidateTime(const Event& e, Micros now) const;
  void PrepareTouch(Account& account, Scope scope, int meter, uint64_t input, Micros t,
                    Touch& touch) const;
  absl::Status PrepareEvent(const Event& event, Micros now, SubjectEntry& subject, OrgEntry* org,
                            Prepared& prepared) const;
  // Commits: fixes the stored id, fingerprints the body as sent, fills
  // subject and type from the reservation. Returns a replayed decision when the
  // reservation is gone but the commit is in the dedup index.
  absl::StatusOr<std::optional<Decision>> PrepareCommit(const std::string& reservation_id,
                                                        Event& event, uint64_t& fingerprint,
                                                        std::string& reservation_org,
                                                        DeferredWrite* deferred);
  void Enforce(const Event& event, const Account& subject, Micros now, Prepared& prepared,
               Decision& d) const;
  void ApplyPrepared(const Event& event, bool hold, Prepared& prepared, Decision& d,
                     std::vector<Effect>& effects, std::vector<LogRecord>& records,
                     const std::string& subject_id, const std::string& org_id);
  // Makes a rolled touch's new window current, logging any rollover.
  void CommitRoll(Touch& t, Micros at, const std::string& subject_id, const std::string& org_id,
                  std::vector<LogRecord>& records);
  void AddViews(const Prepared& prepared, Micros now, Decision& d) const;
  absl::Status CheckBatchOverflow(const std::vector<Event>& events, const std::vector<bool>& skip);

  // --- Accounts (engine.cc); REQUIRE the owning stripe locked ---
  SubjectEntry* FindSubject(const std::string& id);
  // Locks the subject's stripe, its org's and whatever `locks` already holds
  // (in index order), and returns the subject, or nullptr if unknown.
  SubjectEntry* LockSubjectAndOrg(const std::string& subject_id, StripeLocks& locks);
  OrgEntry* FindOrg(const std::string& id);
  std::unique_ptr<SubjectEntry> NewSubjectEntry(const std::string& id, Micros now);
  SubjectEntry* CreateSubject(const std::string& id, Micros now, std::vector<LogRecord>& records);
  void BindAccount(Account& account, const std::string& tier, const std::string& tz_name,
                   int anchor_day, const Overrides& overrides);
  QuotaView ViewFor(const Account& account, int meter, Micros now) const;
  absl::Status ValidateSubject(const Subject& subject) const;
  absl::Status AdjustWindow(const std::string& subject_id, const std::string& meter,
                            LedgerRecord::Kind kind, int64_t amount, const Actor& actor);

  // --- Reservations (reservations.cc); REQUIRE reservations_mu_ and the stripes ---
  void DropHold(const Reservation& r);
  absl::Status CloseReservation(const std::string& id, LedgerRecord::Kind kind, Micros now,
                                DeferredWrite* deferred);

  // --- Store ---
  absl::StatusOr<uint64_t> AppendLocked(std::vector<LogRecord> records);
  // Waits for `ticket` under strict durability, or hands it to `deferred`.
  absl::Status AwaitDurable(uint64_t ticket, DeferredWrite* deferred = nullptr);
  absl::Status AppendAndWait(std::vector<LogRecord> records);
  // Appends (still under `locks`), unlocks, and waits for durability: always
  // for administrative writes, only under strict durability otherwise.
  absl::Status AppendUnlockAndWait(std::vector<LogRecord> records, StripeLocks& locks,
                                   bool always_wait, DeferredWrite* deferred = nullptr);
  // The audit record of an admin change.
  AuditRecord Audit(const Actor& actor, const std::string& action, std::string target,
                    std::string before, std::string after, Micros now) const;
  void MaybeCheckpoint();
  absl::Status WriteCheckpoint();  // REQUIRES checkpoint_mu_
  absl::Status ReplaceTiers(std::vector<Tier> defs);  // REQUIRES tiers_mu_ held exclusively

  int StripeIndex(uint64_t hash) const { return static_cast<int>(hash % kStripes); }

  // Constant after construction.
  const EngineOptions options_;
  const std::string default_tier_;
  const bool auto_create_subjects_;
  const bool strict_;
  const int64_t checkpoint_every_;
  const size_t dedup_max_per_stripe_;
  const std::vector<Meter> meters_;
  Store* const store_;
  const Clock* const clock_;

  std::array<std::unique_ptr<Stripe>, kStripes> stripes_;
  std::vector<std::string> recovery_warnings_;  // written only by Recover()

  // Guards the tier maps. Lock order: stripes, then tiers_mu_.
  mutable std::shared_mutex tiers_mu_;
  absl::flat_hash_map<std::string, Tier> tier_defs_ ABSL_GUARDED_BY(tiers_mu_);  // as given
  absl::flat_hash_map<std::string, Tier> tiers_ ABSL_GUARDED_BY(tiers_mu_);      // resolved
  absl::flat_hash_map<std::string, std::shared_ptr<const Plan>> plans_
      ABSL_GUARDED_BY(tiers_mu_);  // tier name -> plan without overrides

  // Guards reservations_. Lock order: stripes, then reservations_mu_.
  mutable std::mutex reservations_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Reservation>> reservations_
      ABSL_GUARDED_BY(reservations_mu_);
  std::atomic<Micros> next_expiry_{kEndOfTime};
  std::atomic<bool> sweeping_{false};  // an ExpireReservations() is running

  // Serialises checkpoints.
  std::mutex checkpoint_mu_;
  std::atomic<uint64_t> records_since_checkpoint_{0};

  // Serialises tier changes from the in-memory replace through the append and
  // the rebinding of accounts, so memory and log agree on the last change.
  // Taken before any stripe or tiers_mu_.
  std::mutex tier_change_mu_;

  // Guards api_keys_ (keys are few; the server keeps its own lookup table).
  mutable std::mutex keys_mu_;
  absl::flat_hash_map<std::string, ApiKey> api_keys_ ABSL_GUARDED_BY(keys_mu_);

  // Set once a store write fails; every later write fails with it.
  std::atomic<bool> failed_{false};

  std::atomic<uint64_t> stat_decisions_{0}, stat_denials_{0}, stat_replays_{0},
      stat_events_{0};
};

}  // namespace tally

#endif  // TALLY_ENGINE_ENGINE_H_
