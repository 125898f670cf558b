#include "server/quota_headers.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace tally {
namespace {

std::string PolicyName(const QuotaView& q) {
  return q.scope == Scope::kOrg ? absl::StrCat("org.", q.meter) : q.meter;
}

int64_t CeilSeconds(Micros d) { return d <= 0 ? 0 : (d + kMicrosPerSecond - 1) / kMicrosPerSecond; }

}  // namespace

void AddQuotaHeaders(const std::vector<QuotaView>& quotas, Micros now, HttpResponse* response) {
  const QuotaView* tightest = nullptr;
  std::string policy, state;
  for (const QuotaView& q : quotas) {
    if (!q.limit) continue;
    if (tightest == nullptr || *q.remaining < *tightest->remaining) tightest = &q;
    const std::string name = PolicyName(q);
    absl::StrAppend(&policy, policy.empty() ? "" : ", ", "\"", name, "\";q=", *q.limit);
    if (q.period.end != kEndOfTime && q.period.start != kBeginningOfTime) {
      absl::StrAppend(&policy, ";w=", CeilSeconds(q.period.end - q.period.start));
    }
    if (q.meter == "requests") absl::StrAppend(&policy, ";qu=\"requests\"");
    absl::StrAppend(&state, state.empty() ? "" : ", ", "\"", name, "\";r=", *q.remaining);
    if (q.period.end != kEndOfTime) absl::StrAppend(&state, ";t=", CeilSeconds(q.period.end - now));
  }
  if (tightest == nullptr && !quotas.empty()) {
    response->headers.emplace_back("X-Usage-Current", std::to_string(quotas.front().used));
    return;
  }
  if (tightest == nullptr) return;
  response->headers.emplace_back("X-Usage-Current", std::to_string(tightest->used));
  response->headers.emplace_back("X-Usage-Limit", std::to_string(*tightest->limit));
  response->headers.emplace_back("X-Usage-Remaining", std::to_string(*tightest->remaining));
  response->headers.emplace_back("RateLimit-Policy", std::move(policy));
  response->headers.emplace_back("RateLimit", std::move(state));
}

void AddRetryAfter(Micros at, Micros now, HttpResponse* response) {
  response->headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(1, CeilSeconds(at - now))));
}

}  // namespace tally
