// Query parameters the usage reads share (history, analytics, the admin
// usage reports): the time range, the time zone, the meters and the type, each
// checked with a 422 naming the parameter; and the JSON of a Usage.
//
// Thread-safety: pure functions of their arguments.
#ifndef TALLY_SERVER_HANDLERS_USAGE_PARAMS_H_
#define TALLY_SERVER_HANDLERS_USAGE_PARAMS_H_

#include <string>
#include <vector>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "analytics/rollups.h"
#include "server/http_types.h"

namespace tally {

struct TimeRange {
  Micros from = 0;
  Micros to = 0;
};

// `from` and `to` (RFC 3339); `to` defaults to the end of the current hour,
// `from` to `default_span` before `to`. from >= to, or a span over two years,
// is an error naming the parameter.
absl::StatusOr<TimeRange> RangeParam(const HttpRequest& request, Micros now, Micros default_span);

struct Zone {
  std::string name;
  absl::TimeZone tz;
};

// `tz` (an IANA name), else `fallback` (the subject's zone), else UTC.
absl::StatusOr<Zone> ZoneParam(const HttpRequest& request, const std::string& fallback);

// The usage reads' answer when the server keeps no rollups (503).
absl::Status RollupsUnavailable();

// Every meter's index, in order.
std::vector<int> AllMeters(const Rollups& rollups);

// `meter` (one name) as an index list, or every meter when absent.
absl::StatusOr<std::vector<int>> MetersParam(const HttpRequest& request, const Rollups& rollups);

// `type`, or "" when absent.
absl::StatusOr<std::string> TypeParam(const HttpRequest& request);

// {"events", "errors", "usage": {meter: value}} for the meters listed; a
// value of -1 (not kept) is null.
boost::json::object UsageJson(const Usage& usage, const std::vector<int>& meters,
                              const Rollups& rollups);

// An alert's stored detail (a JSON object) as JSON; as a string if it does
// not parse.
boost::json::value AlertDetailJson(const std::string& text);

// The start of the hour containing t, and of the next hour.
Micros FloorHour(Micros t);
Micros CeilHour(Micros t);

}  // namespace tally

#endif  // TALLY_SERVER_HANDLERS_USAGE_PARAMS_H_
