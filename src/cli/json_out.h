// JSON output for the tally CLI: an RFC 8259 string escaper and the JSON
// shapes of decisions and quota views (the same field names as the HTTP API).
//
// Thread-safety: pure functions.
#ifndef TALLY_CLI_JSON_OUT_H_
#define TALLY_CLI_JSON_OUT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/decision.h"

namespace tally::cli {

// `s` as a JSON string literal, quotes included. Escapes '"', '\\' and every
// control character (U+0000..U+001F, with \b \f \n \r \t short forms) and
// U+007F; other bytes, UTF-8 included, pass through unchanged.
std::string JsonString(std::string_view s);

// `v` as a JSON number, or null.
std::string JsonInt(std::optional<int64_t> v);

// A percentage with at most two decimals ("12.5", "100").
std::string JsonPercent(double percent);

// {"meter","scope","account","limit","used","reserved","remaining","percent",
//  "status","period":{"start","end"},"reset_at"}
std::string QuotaViewJson(const QuotaView& v);

// [QuotaViewJson, ...]
std::string QuotaViewsJson(const std::vector<QuotaView>& views);

// {"allowed","reason","replayed","over_limit","retry_at","denied_meter"?,
//  "reservation_id"?,"expires_at"?,"quotas":[...],"crossings":[...]}
std::string DecisionJson(const Decision& d);

}  // namespace tally::cli

#endif  // TALLY_CLI_JSON_OUT_H_
