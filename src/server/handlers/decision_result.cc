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
    return absl::StrCat(who, " ", q.meter, " quota of ", q.account, " would be exceeded: ", q.used, " used",
                        q.reserved > 0 ? absl::StrCat(" and ", q.reserved, " reserved") : "", " of ", *q.limit,
                        ", ", q.remaining.value_or(0), " remaining; ",
                        q.period.end == kEndOfTime ? std::string("it never resets")
                                                   : "it resets at " + FormatRfc3339(q.period.end));
  }
  return absl::StrCat(who, " ", d.denied_meter, " quota would be exceeded");
}

}  // namespace

HandlerResult DecisionResult(const Decision& d, Micros now, int ok_status, bool deny, json::object extra) {
  HandlerResult r;
  std::string& body = r.response.body;
  body.reserve(1024);
  AppendDecisionFields(d, &body);
  for (const auto& [key, value] : extra) {
    body.push_back(',');
    AppendJsonString(std::string_view(key.data(), key.size()), &body);
    body.push_back(':');
    AppendJson(value, &body);
  }
  if (!d.allowed && deny) {
    const bool rate = d.reason == DenyReason::kRateLimited;
    body.append(",\"error\":{\"code\":");
    body.append(rate ? "\"rate_limited\"" : "\"quota_exceeded\"");
    body.append(",\"message\":");
    AppendJsonString(DenyMessage(d), &body);
    body.append(",\"meter\":");
    AppendJsonString(d.denied_meter, &body);
    absl::StrAppend(&body, ",\"scope\":\"", std::string(ScopeName(d.denied_scope)), "\"}");
    // A quota that never resets has no retry time (and no Retry-After).
    const bool retry = d.retry_at > 0 && d.retry_at != kEndOfTime;
    if (retry) {
      absl::StrAppend(&body, ",\"retry_at\":\"", FormatRfc3339(d.retry_at), "\"");
    } else {
      body.append(",\"retry_at\":null");
    }
    r.response.status = 429;
    if (retry) AddRetryAfter(d.retry_at, now, &r.response);
  } else {
    r.response.status = ok_status;
  }
  body.push_back('}');
  AddQuotaHeaders(d.quotas, now, &r.response);
  return r;
}

}  // namespace tally
