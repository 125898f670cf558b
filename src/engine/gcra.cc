#include "engine/gcra.h"

#include <algorithm>
#include <limits>

namespace tally {
namespace {

// units * per / rate, rounded up, saturating.
Micros SpanOf(int64_t units, const RateRule& rule) {
  __int128 span = (static_cast<__int128>(units) * rule.per + rule.rate - 1) / rule.rate;
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
