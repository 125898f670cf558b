// WriteLimiter (see write_limiter.h). Thread-safe: each stripe's mutex guards
// its map of TATs.
#include "server/auth/write_limiter.h"

#include <algorithm>
#include <limits>

#include "absl/hash/hash.h"
#include "engine/gcra.h"
#include "engine/plan.h"

namespace tally {
namespace {

constexpr int64_t kTicksPerMicro = 1000;
constexpr int64_t kTicksPerSecond = kMicrosPerSecond * kTicksPerMicro;

// Instants as nanosecond ticks; int64 holds them until the year 2262, beyond
// which they saturate.
int64_t ToTicks(Micros t) {
  int64_t ticks = 0;
  if (__builtin_mul_overflow(t, kTicksPerMicro, &ticks)) {
    return t > 0 ? std::numeric_limits<int64_t>::max() / 2 : std::numeric_limits<int64_t>::min() / 2;
  }
  return ticks;
}

// The first whole microsecond at or after `ticks`.
Micros FromTicksRoundingUp(int64_t ticks) {
  return ticks / kTicksPerMicro + (ticks % kTicksPerMicro > 0 ? 1 : 0);
}

}  // namespace

WriteLimiter::WriteLimiter(int64_t default_rate_per_s, int64_t burst_seconds)
    : default_rate_per_s_(std::max<int64_t>(default_rate_per_s, 0)),
      burst_seconds_(std::max<int64_t>(burst_seconds, 1)) {}

WriteLimiter::Result WriteLimiter::Admit(const std::string& key_id, int64_t rate_override_per_s, Micros now) {
  const int64_t rate = rate_override_per_s > 0 ? rate_override_per_s : default_rate_per_s_;
  if (rate <= 0) return Result{};  // unlimited

  // GCRA runs here in nanosecond ticks, one request per emission interval:
  // - "1 per interval" rather than "rate per second" makes the burst capacity
  //   a whole number of intervals (with GcraEvaluate's per-unit rounding up,
  //   "3 per second, burst 3" would let only 2 through at once);
  // - nanoseconds keep the rounding of the interval below 0.1% up to 1M/s,
  //   where whole microseconds would turn 300K/s into 250K/s.
  // Stored TATs are in ticks too.
  RateRule rule;
  rule.rate = 1;
  rule.per = (kTicksPerSecond + rate - 1) / rate;
  if (__builtin_mul_overflow(rate, burst_seconds_, &rule.burst)) rule.burst = std::numeric_limits<int64_t>::max();
  const Micros now_ticks = ToTicks(now);

  Stripe& stripe = stripes_[absl::Hash<std::string>{}(key_id) % kStripes];
  std::lock_guard<std::mutex> lock(stripe.mu);
  auto found = stripe.tats.find(key_id);
  const Micros tat = found == stripe.tats.end() ? 0 : found->second;
  const GcraResult gcra = GcraEvaluate(rule, tat, now_ticks, 1);
  if (!gcra.allowed) return Result{false, FromTicksRoundingUp(gcra.retry_at)};
  if (found != stripe.tats.end()) {
    found->second = gcra.new_tat;
    return Result{};
  }
  if (stripe.tats.size() >= kPruneAbove) {
    for (auto it = stripe.tats.begin(); it != stripe.tats.end();) {
      if (it->second <= now_ticks) {
        stripe.tats.erase(it++);
      } else {
        ++it;
      }
    }
  }
  stripe.tats.emplace(key_id, gcra.new_tat);
  return Result{};
}

}  // namespace tally
