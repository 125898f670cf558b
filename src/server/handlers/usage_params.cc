#include "server/handlers/usage_params.h"

#include "absl/strings/str_cat.h"
#include "core/event.h"
#include "core/period.h"
#include "server/api_error.h"

namespace tally {
namespace json = boost::json;

namespace {

constexpr Micros kMaxSpan = 2 * 366 * kMicrosPerDay;

}  // namespace

json::value AlertDetailJson(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::value(text);
  return v;
}

Micros FloorHour(Micros t) {
  Micros h = t / kMicrosPerHour;
  if (t % kMicrosPerHour < 0) --h;
  return h * kMicrosPerHour;
}

Micros CeilHour(Micros t) {
  const Micros f = FloorHour(t);
  return f == t ? t : f + kMicrosPerHour;
}

absl::StatusOr<TimeRange> RangeParam(const HttpRequest& request, Micros now, Micros default_span) {
  absl::StatusOr<std::optional<Micros>> from = request.query.GetTime("from");
  if (!from.ok()) return from.status();
  absl::StatusOr<std::optional<Micros>> to = request.query.GetTime("to");
  if (!to.ok()) return to.status();
  TimeRange range;
  range.to = to->value_or(CeilHour(now + 1));
  range.from = from->value_or(range.to - default_span);
  if (range.from >= range.to) {
    return absl::InvalidArgumentError("from: must be before to");
  }
  if (range.to - range.from > kMaxSpan) {
    return absl::InvalidArgumentError("from: the range may span at most two years");
  }
  return range;
}

absl::StatusOr<Zone> ZoneParam(const HttpRequest& request, const std::string& fallback) {
  std::string name = "UTC";
  if (std::optional<std::string_view> tz = request.query.Get("tz")) {
    name = std::string(*tz);
  } else if (!fallback.empty()) {
    name = fallback;
  }
  std::optional<absl::TimeZone> zone = LoadZone(name);
  if (!zone) {
    return absl::InvalidArgumentError(
        absl::StrCat("tz: \"", name, "\" is not an IANA time zone (e.g. Europe/Paris, UTC)"));
  }
  return Zone{name, *zone};
}

absl::Status RollupsUnavailable() {
  return absl::UnavailableError("usage analytics are not enabled on this server");
}

std::vector<int> AllMeters(const Rollups& rollups) {
  std::vector<int> all(rollups.meters().size());
  for (size_t m = 0; m < all.size(); ++m) all[m] = static_cast<int>(m);
  return all;
}

absl::StatusOr<std::vector<int>> MetersParam(const HttpRequest& request, const Rollups& rollups) {
  if (std::optional<std::string_view> name = request.query.Get("meter")) {
    const int m = rollups.MeterIndex(*name);
    if (m < 0) {
      std::string known;
      for (const Meter& meter : rollups.meters()) absl::StrAppend(&known, known.empty() ? "" : ", ", meter.name);
      return absl::InvalidArgumentError(
          absl::StrCat("meter: \"", std::string(*name), "\" is not a meter (meters: ", known, ")"));
    }
    return std::vector<int>{m};
  }
  return AllMeters(rollups);
}

absl::StatusOr<std::string> TypeParam(const HttpRequest& request) {
  std::optional<std::string_view> type = request.query.Get("type");
  if (!type) return std::string();
  if (type->empty() || type->size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("type: must be 1 to ", kMaxNameLength, " bytes"));
  }
  return std::string(*type);
}

json::object UsageJson(const Usage& usage, const std::vector<int>& meters, const Rollups& rollups) {
  json::object values;
  for (int m : meters) {
    const int64_t v = m < static_cast<int>(usage.meters.size()) ? usage.meters[m] : 0;
    values[rollups.meters()[m].name] = v < 0 ? json::value(nullptr) : json::value(v);
  }
  return json::object{{"events", usage.events}, {"errors", usage.errors}, {"usage", std::move(values)}};
}

}  // namespace tally
