// Plan: a tier resolved against the meter list and one account's overrides.
//
// The engine indexes everything by meter position, so a plan holds one
// QuotaRule per meter (meters the tier does not limit get an unlimited monthly
// rule: their usage is still counted and shown) and the tier's rate limits.
//
// Thread-safety: immutable once built; shared between accounts by shared_ptr.
#ifndef TALLY_ENGINE_PLAN_H_
#define TALLY_ENGINE_PLAN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/meter.h"
#include "core/period.h"
#include "core/subject.h"
#include "core/tier.h"

namespace tally {

struct QuotaRule {
  std::optional<int64_t> limit;  // nullopt: unlimited
  PeriodUnit period = PeriodUnit::kMonth;
  Overage overage = Overage::kBlock;
  int64_t allow_up_to = 0;
  int64_t rollover_cap = 0;
  std::vector<int> warn_at;
  bool limited() const { return limit.has_value(); }
};

struct RateRule {
  int meter = 0;  // index into the meter list
  int64_t rate = 0;
  Micros per = kMicrosPerSecond;
  int64_t burst = 0;
};

struct Plan {
  std::string tier;
  std::vector<QuotaRule> quotas;  // one per meter, by meter index
  std::vector<RateRule> rates;
};

// Builds the plan of `tier` for `meters`, with `overrides` replacing limits.
// Quotas, rate limits and overrides naming unknown meters are ignored (config
// validation reports them).
std::shared_ptr<const Plan> BuildPlan(const Tier& tier, const std::vector<Meter>& meters,
                                      const Overrides& overrides);

}  // namespace tally

#endif  // TALLY_ENGINE_PLAN_H_
