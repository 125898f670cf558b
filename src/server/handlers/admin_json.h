// Decoding of the admin API's bodies: subject patches, limits, tiers.
// Errors are InvalidArgument "<field>: <problem>" with the JSON path as field.
//
// Thread-safety: pure functions.
#ifndef TALLY_SERVER_HANDLERS_ADMIN_JSON_H_
#define TALLY_SERVER_HANDLERS_ADMIN_JSON_H_

#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "core/subject.h"
#include "core/tier.h"

namespace tally {

// A limit: a non-negative integer, or "unlimited" / null (nullopt).
absl::StatusOr<std::optional<int64_t>> DecodeLimit(const boost::json::value& v, std::string_view field);

// {meter: limit, ...}
absl::StatusOr<Overrides> DecodeOverrides(const boost::json::value& v, std::string_view field);

// The fields of PUT /api/admin/users/{id} present in `body` (any subset of
// tier, org, email, timezone, anchor_day, overrides, stripe_customer_id,
// notify), with `allowed` naming the other keys the caller reads itself.
absl::StatusOr<SubjectPatch> DecodeSubjectPatch(const boost::json::object& body, std::string id,
                                                std::string_view prefix,
                                                std::initializer_list<std::string_view> allowed);

// A tier definition: {"inherits","quotas":{meter:{limit,period,overage,
// allow_up_to,rollover_cap,warn_at}},"rate_limits":[{meter,rate,per,burst}],
// "pricing":{base_cents,currency,overage:{meter:{cents,per}}}}.
absl::StatusOr<Tier> DecodeTier(const boost::json::object& body, std::string name);

}  // namespace tally

#endif  // TALLY_SERVER_HANDLERS_ADMIN_JSON_H_
