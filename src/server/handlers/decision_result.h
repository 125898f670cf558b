// The HTTP answer to an engine decision: 200/201 with the decision and quota
// headers when allowed; 429 quota_exceeded or rate_limited, with the same
// quotas, a message saying which quota and when it resets, and Retry-After,
// when denied.
//
// Thread-safety: pure functions.
#ifndef TALLY_SERVER_HANDLERS_DECISION_RESULT_H_
#define TALLY_SERVER_HANDLERS_DECISION_RESULT_H_

#include <string>

#include <boost/json.hpp>

#include "engine/decision.h"
#include "server/http_types.h"

namespace tally {

// `ok_status` is the status when allowed; `deny` false answers 200 even when
// not allowed (check is a dry run). `extra` fields are merged into the body.
HandlerResult DecisionResult(const Decision& d, Micros now, int ok_status, bool deny,
                             boost::json::object extra = {});

}  // namespace tally

#endif  // TALLY_SERVER_HANDLERS_DECISION_RESULT_H_
