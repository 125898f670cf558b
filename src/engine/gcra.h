// GCRA (the generic cell rate algorithm): a token bucket kept as one number,
// the theoretical arrival time (TAT) of the next unit.
//
// A limit of `rate` units per `per` with bursts of `burst` lets a request of
// `cost` units through when, after adding it, the TAT is at most burst units'
// worth of time ahead of now. Integer microseconds, so sub-second limits
// ("5 per 100ms") are exact to the microsecond.
//
// Thread-safety: pure functions; the caller guards the TAT it passes.
#ifndef TALLY_ENGINE_GCRA_H_
#define TALLY_ENGINE_GCRA_H_

#include <cstdint>

#include "core/time.h"
#include "engine/plan.h"

namespace tally {

struct GcraResult {
  bool allowed = false;
  Micros new_tat = 0;   // the TAT to store if the request goes ahead
  Micros retry_at = 0;  // when denied: the first instant it would conform
};

// Evaluates a request of `cost` units at `now` against `tat`. Never mutates.
GcraResult GcraEvaluate(const RateRule& rule, Micros tat, Micros now, int64_t cost);

}  // namespace tally

#endif  // TALLY_ENGINE_GCRA_H_
