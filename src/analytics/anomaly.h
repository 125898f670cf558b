// Unusual usage: each subject's usage in one hour scored against its own
// trailing baseline — the same hour of day on each of the 14 days before, so
// that a daily rhythm (busy afternoons, quiet nights) is not unusual — with a
// robust (median/MAD) z-score (analytics/stats.h).
//
// A robust score is not dragged along by the spikes already in the baseline,
// and each subject is its own reference: 5,000 requests an hour is normal for
// one customer and alarming for another. An hour is flagged when its score
// passes `threshold` and it differs from the baseline median by at least
// `min_delta` events' worth of the meter (the subject's own units per event:
// 10 events, or 10 × its average chars per event, ...) and by half the median
// (so that Poisson noise of a light subject, or a 20 % wobble of a steady one,
// is not an alert). A subject idle in most hours (median 0) scores
// infinite for any use at all: its hour is flagged only when it is more than
// twice its busiest hour of the baseline.
//
// Scored: events and every sum or count meter, of subjects with at least 8
// baseline days since their first event (a new subject has no baseline yet).
//
// Thread-safety: pure functions over a thread-safe Rollups.
#ifndef TALLY_ANALYTICS_ANOMALY_H_
#define TALLY_ANALYTICS_ANOMALY_H_

#include <string>
#include <vector>

#include "analytics/rollups.h"
#include "store/log_record.h"

namespace tally {

struct AnomalyOptions {
  int baseline_days = 14;  // the same hour of each of the days before
  double threshold = 3.5;    // |z| at or above this is unusual
  int64_t min_delta = 10;    // and |value - median| at least this many events' worth
};

struct Anomaly {
  std::string subject;
  std::string meter;  // a meter name, or "events"
  Micros hour = 0;    // the hour's start (UTC)
  int64_t value = 0;
  double median = 0;
  double mad = 0;
  double z = 0;  // ±1e9 against a flat baseline (JSON has no infinity)
  bool flagged = false;
};

// The scores of one subject's hour (`hour` is any instant in it), one per
// scored meter; empty when the baseline is too short to judge.
std::vector<Anomaly> ScoreSubjectHour(const Rollups& rollups, const std::string& subject,
                                      Micros hour, const AnomalyOptions& options = {});

// The flagged scores of every subject with usage in the hour or its baseline.
std::vector<Anomaly> DetectAnomalies(const Rollups& rollups, Micros hour,
                                     const AnomalyOptions& options = {});

// The alert record of a flagged anomaly, raised at `now`.
AlertRecord AnomalyAlert(const Anomaly& anomaly, Micros now);

}  // namespace tally

#endif  // TALLY_ANALYTICS_ANOMALY_H_
