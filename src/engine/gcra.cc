#include "engine/gcra.h"

#include <algorithm>
#include <limits>

namespace tally {
namespace {

// `units` quanta, saturating. A quantum is one unit's share of time,
// per / rate rounded up to a whole microsecond: every span is a whole number
// of quanta, so a full burst of `burst` units is admitted at one instant
// (rounding each unit and the burst separately admitted only 2 of "3 per 1s,
// burst 3"), and the sustained rate is never above `rate`.
Micros SpanOf(int64_t units, const RateRule& rule) {
  const __int128 quantum = (static_cast<__int128>(rule.per) + rule.rate - 1) / rule.rate;
  const __int128 span = static_cast<__int128>(units) * std::max<__int128>(quantum, 1);
  return span > std::numeric_limits<Micros>::max() / 4 ? std::numeric_limits<Micros>::max() / 4
                                                       : static_cast<Micros>(span);
}

}  // namespace

GcraResult GcraEvaluate(const RateRule& rule, Micros tat, Micros now, int64_t cost) {
  GcraResult result;
  const Micros capacity = SpanOf(rule.burst, rule);
  const Micros increment = SpanOf(cost, rule);
  const Micros start = std::max(tat, now);
  result.new_tat = start + increment;
  if (result.new_tat - now <= capacity) {
    result.allowed = true;
  } else {
    result.retry_at = result.new_tat - capacity;
  }
  return result;
}

}  // namespace tally
