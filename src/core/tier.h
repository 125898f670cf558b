// Tier: a plan (free, premium, enterprise...) and what it allows.
//
// A tier holds per-meter quotas, rate limits and prices. A tier may inherit
// another and override parts of it; ResolveTiers() flattens inheritance so the
// engine sees only resolved tiers.
//
// Thread-safety: plain value types.
#ifndef TALLY_CORE_TIER_H_
#define TALLY_CORE_TIER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/period.h"
#include "core/time.h"

namespace tally {

enum class Overage {
  kBlock,      // deny what would pass the limit (429)
  kAllow,      // admit and count everything, flag the excess
  kAllowUpTo,  // admit up to limit + allow_up_to, then deny
};

std::string_view OverageName(Overage o);
std::optional<Overage> ParseOverage(std::string_view name);

struct Quota {
  std::string meter;
  std::optional<int64_t> limit;  // nullopt: unlimited
  PeriodUnit period = PeriodUnit::kMonth;
  Overage overage = Overage::kBlock;
  int64_t allow_up_to = 0;   // with kAllowUpTo: units allowed past the limit
  int64_t rollover_cap = 0;  // unused units carried to the next window, at most this; 0 = none
  std::vector<int> warn_at = {50, 75, 90, 100};  // percent thresholds, ascending
  friend bool operator==(const Quota&, const Quota&) = default;
};

// GCRA rate limit: `rate` units of `meter` per `per`, with bursts of `burst`.
struct RateLimit {
  std::string meter;
  int64_t rate = 0;
  Micros per = kMicrosPerSecond;
  int64_t burst = 0;  // 0 means burst = rate
  friend bool operator==(const RateLimit&, const RateLimit&) = default;
};

// Money is integer cents (or the smallest unit of `currency`).
struct UnitPrice {
  int64_t cents = 0;  // price of `per` units of the meter beyond the limit
  int64_t per = 1;
  friend bool operator==(const UnitPrice&, const UnitPrice&) = default;
};

struct Pricing {
  int64_t base_cents = 0;  // per month
  std::string currency = "usd";
  std::map<std::string, UnitPrice> overage;  // meter -> price
  friend bool operator==(const Pricing&, const Pricing&) = default;
};

struct Tier {
  std::string name;
  std::string inherits;  // empty: none
  std::vector<Quota> quotas;
  std::vector<RateLimit> rate_limits;
  Pricing pricing;

  const Quota* FindQuota(std::string_view meter) const;
  friend bool operator==(const Tier&, const Tier&) = default;
};

// Flattens `inherits`: a child starts from its parent's resolved quotas, rate
// limits and pricing and replaces those it names again (by meter). Fails on an
// unknown parent or a cycle.
absl::StatusOr<std::vector<Tier>> ResolveTiers(const std::vector<Tier>& tiers);

}  // namespace tally

#endif  // TALLY_CORE_TIER_H_
