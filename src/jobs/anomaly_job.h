// AnomalyJob: once an hour has closed (and a grace period has let late events
// land), scores every subject's usage in it (analytics/anomaly.h) and records
// each flagged one as an alert record through the store.
//
// Each hour is scored once: the job remembers the last hour it scored, and an
// hour that already holds anomaly alerts (scored before a restart) is skipped.
// After a long stop it scores at most the last kMaxCatchUpHours hours.
//
// Thread-safety: RunOnce() from one thread at a time (the scheduler's).
#ifndef TALLY_JOBS_ANOMALY_JOB_H_
#define TALLY_JOBS_ANOMALY_JOB_H_

#include "absl/status/statusor.h"
#include "analytics/anomaly.h"
#include "analytics/rollups.h"
#include "core/clock.h"
#include "store/store.h"

namespace tally {

class AnomalyJob {
 public:
  static constexpr int kMaxCatchUpHours = 24;

  AnomalyJob(const Rollups* rollups, Store* store, const Clock* clock,
             AnomalyOptions options = {}, Micros grace = 5 * kMicrosPerMinute)
      : rollups_(rollups), store_(store), clock_(clock), options_(options), grace_(grace) {}

  // Scores the hours closed since the last run; returns the alerts recorded
  // (durable when it returns).
  absl::StatusOr<int> RunOnce();

 private:
  const Rollups* const rollups_;
  Store* const store_;
  const Clock* const clock_;
  const AnomalyOptions options_;
  const Micros grace_;
  Micros next_hour_ = kBeginningOfTime;  // the first hour not yet scored
};

}  // namespace tally

#endif  // TALLY_JOBS_ANOMALY_JOB_H_
