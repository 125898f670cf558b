#include "server/handlers/decision_result.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/api_error.h"
#include "server/json_writer.h"
#include "server/json_encode.h"
#include "server/quota_headers.h"

namespace tally {
namespace json = boost::json;

namespace {

std::string DenyMessage(const Decision& d) {
  const std::string who = d.denied_scope == Scope::kOrg ? "the org's pooled" : "the";
  if (d.reason == DenyReason::kRateLimited) {
    return absl::StrCat("rate limit on ", d.denied_meter, " reached; retry at ", FormatRfc3339(d.retry_at));
  }
  for (const QuotaView& q : d.quotas) {
    if (q.meter != d.denied_meter || q.scope != d.denied_scope || !q.limit) continue;
    return absl::StrCat(who, " ", q.meter, " quota of ", q.account, " is exhausted (", q.used, " used",
                        q.reserved > 0 ? absl::StrCat(" and ", q.reserved, " reserved") : "", " of ",
                        *q.limit, "); it resets at ", FormatRfc3339(q.period.end));
  }
  return absl::StrCat(who, " ", d.denied_meter, " quota is exhausted");
}

}  // namespace

HandlerResult DecisionResult(const Decision& d, Micros now, int ok_status, bool deny, json::object extra) {
  json::object body = DecisionJson(d);
  for (auto& [k, v] : extra) body[k] = std::move(v);
  HandlerResult r;
  if (!d.allowed && deny) {
    const bool rate = d.reason == DenyReason::kRateLimited;
    ApiError e{429, rate ? "rate_limited" : "quota_exceeded", DenyMessage(d), ""};
    body["error"] = {{"code", e.code}, {"message", e.message}, {"meter", d.denied_meter},
                     {"scope", ScopeName(d.denied_scope)}};
    body["retry_at"] = TimeJson(d.retry_at);
    r.response.status = 429;
    if (d.retry_at > 0) AddRetryAfter(d.retry_at, now, &r.response);
  } else {
    r.response.status = ok_status;
  }
  r.response.body = SerializeJson(body);
  AddQuotaHeaders(d.quotas, now, &r.response);
  return r;
}

}  // namespace tally
