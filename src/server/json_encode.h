// JSON for responses: quotas, decisions, subjects, tiers, ledger and audit
// entries, as the HTTP API documents them (docs/api.md, /openapi.json).
//
// Thread-safety: pure functions.
#ifndef TALLY_SERVER_JSON_ENCODE_H_
#define TALLY_SERVER_JSON_ENCODE_H_

#include <vector>

#include <boost/json.hpp>

#include "core/api_key.h"
#include "core/subject.h"
#include "core/tier.h"
#include "engine/decision.h"
#include "store/store.h"

namespace tally {

// {"meter","scope","account","limit","used","reserved","remaining","percent",
//  "status","period":{"start","end"},"reset_at"}; limit/remaining null when unlimited.
boost::json::object QuotaJson(const QuotaView& q);
// The same, written straight into `out` (the hot path: no allocation per field).
void AppendQuotaJson(const QuotaView& q, std::string* out);
boost::json::array QuotasJson(const std::vector<QuotaView>& quotas);
// The worst status of `quotas` ("ok" when empty).
std::string_view WorstStatus(const std::vector<QuotaView>& quotas);

// {"allowed","replayed","over_limit","quotas","thresholds"[, "reservation_id","expires_at"]}
boost::json::object DecisionJson(const Decision& d);
// The same fields, written straight into `out`, without the closing brace, so
// that the caller can add its own fields.
void AppendDecisionFields(const Decision& d, std::string* out);

boost::json::object SubjectJson(const Subject& s);
boost::json::object OrgJson(const Org& o);
boost::json::object TierJson(const Tier& t);
boost::json::object ApiKeyJson(const ApiKey& k);  // never the hash
boost::json::object LedgerJson(const LedgerEntry& e);
boost::json::object AuditJson(const AuditEntry& e);

// A time as RFC 3339, or null for the open ends of time.
boost::json::value TimeJson(Micros t);

}  // namespace tally

#endif  // TALLY_SERVER_JSON_ENCODE_H_
