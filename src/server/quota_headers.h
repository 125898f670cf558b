// The quota headers of every decision and usage response:
//
//   X-Usage-Current / X-Usage-Limit / X-Usage-Remaining   the tightest quota
//   RateLimit-Policy: "chars";q=10000;w=2592000, "org.chars";q=50000;w=2592000
//   RateLimit:        "chars";r=9477;t=1209600, "org.chars";r=41000;t=1209600
//   Retry-After: 3600                                       on 429
//
// RateLimit-Policy and RateLimit follow draft-ietf-httpapi-ratelimit-headers
// (-08 to -10): Structured Field lists with one named policy per limited
// quota; q = quota, w = window seconds, qu = "requests" for count meters,
// r = remaining, t = seconds until the window resets. Subject quotas are
// named by their meter, org quotas "org.<meter>". Unlimited quotas have no policy.
//
// Thread-safety: pure functions.
#ifndef TALLY_SERVER_QUOTA_HEADERS_H_
#define TALLY_SERVER_QUOTA_HEADERS_H_

#include <vector>

#include "engine/decision.h"
#include "server/http_types.h"

namespace tally {

void AddQuotaHeaders(const std::vector<QuotaView>& quotas, Micros now, HttpResponse* response);

// Retry-After in whole seconds (rounded up, at least 1) for a retry at `at`.
void AddRetryAfter(Micros at, Micros now, HttpResponse* response);

}  // namespace tally

#endif  // TALLY_SERVER_QUOTA_HEADERS_H_
