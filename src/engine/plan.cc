#include "engine/plan.h"

namespace tally {
namespace {

int MeterIndex(const std::vector<Meter>& meters, const std::string& name) {
  for (size_t i = 0; i < meters.size(); ++i) {
    if (meters[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

std::shared_ptr<const Plan> BuildPlan(const Tier& tier, const std::vector<Meter>& meters,
                                      const Overrides& overrides) {
  auto plan = std::make_shared<Plan>();
  plan->tier = tier.name;
  plan->quotas.resize(meters.size());
  for (const Quota& q : tier.quotas) {
    int m = MeterIndex(meters, q.meter);
    if (m < 0) continue;
    QuotaRule& rule = plan->quotas[m];
    rule.limit = q.limit;
    rule.period = q.period;
    rule.overage = q.overage;
    rule.allow_up_to = q.allow_up_to;
    rule.rollover_cap = q.rollover_cap;
    rule.warn_at = q.warn_at;
  }
  for (const auto& [meter, limit] : overrides) {
    int m = MeterIndex(meters, meter);
    if (m >= 0) plan->quotas[m].limit = limit;
  }
  for (const RateLimit& r : tier.rate_limits) {
    int m = MeterIndex(meters, r.meter);
    if (m < 0 || r.rate <= 0 || r.per <= 0) continue;
    plan->rates.push_back(RateRule{m, r.rate, r.per, r.burst > 0 ? r.burst : r.rate});
  }
  return plan;
}

}  // namespace tally
