#include "analytics/buckets.h"

#include <array>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/period.h"

namespace tally {
namespace {

constexpr std::array<std::pair<Granularity, std::string_view>, 4> kNames = {{
    {Granularity::kHour, "hour"},
    {Granularity::kDay, "day"},
    {Granularity::kWeek, "week"},
    {Granularity::kMonth, "month"},
}};

Micros FloorToHour(Micros t) {
  Micros hours = t / kMicrosPerHour;
  if (t % kMicrosPerHour < 0) --hours;
  return hours * kMicrosPerHour;
}

PeriodUnit UnitOf(Granularity granularity) {
  switch (granularity) {
    case Granularity::kWeek:
      return PeriodUnit::kWeek;
    case Granularity::kMonth:
      return PeriodUnit::kMonth;
    case Granularity::kHour:
    case Granularity::kDay:
      break;
  }
  return PeriodUnit::kDay;
}

// The local period (day, week, month) whose floored start is the bucket of the
// UTC hour starting at `hour`. A floored start is <= `hour` exactly when the
// unfloored one falls before the hour's end, so this is the period holding
// the hour's last microsecond.
Window PeriodOfHour(Granularity granularity, const absl::TimeZone& tz, Micros hour) {
  return WindowFor(UnitOf(granularity), /*anchor_day=*/1, tz, hour + kMicrosPerHour - 1);
}

// The start of the bucket after the one starting at `start`.
Micros NextBucketStart(Granularity granularity, const absl::TimeZone& tz, Micros start) {
  if (granularity == Granularity::kHour) return start + kMicrosPerHour;
  return FloorToHour(PeriodOfHour(granularity, tz, start).end);
}

absl::Status TooManyBuckets(Granularity granularity, size_t max_buckets) {
  return absl::InvalidArgumentError(
      absl::StrCat("the range needs more than max_buckets (", max_buckets, ") ",
                   std::string(GranularityName(granularity)), " buckets"));
}

}  // namespace

std::optional<Granularity> ParseGranularity(std::string_view name) {
  for (const auto& [value, value_name] : kNames) {
    if (value_name == name) return value;
  }
  return std::nullopt;
}

std::string_view GranularityName(Granularity granularity) {
  for (const auto& [value, name] : kNames) {
    if (value == granularity) return name;
  }
  return "";
}

Micros BucketStart(Granularity granularity, const absl::TimeZone& tz, Micros t) {
  const Micros hour = FloorToHour(t);
  if (granularity == Granularity::kHour) return hour;
  return FloorToHour(PeriodOfHour(granularity, tz, hour).start);
}

absl::StatusOr<std::vector<Micros>> BucketBoundaries(Granularity granularity,
                                                     const absl::TimeZone& tz, Micros from,
                                                     Micros to, size_t max_buckets) {
  if (from >= to) return absl::InvalidArgumentError("from must be before to");
  const Micros first = BucketStart(granularity, tz, from);
  if (granularity == Granularity::kHour) {
    // Checked before allocating; unsigned so that no span overflows.
    const uint64_t span = static_cast<uint64_t>(to) - static_cast<uint64_t>(first);
    const uint64_t hour = kMicrosPerHour;
    if (span / hour + (span % hour != 0) > max_buckets) {
      return TooManyBuckets(granularity, max_buckets);
    }
  }
  std::vector<Micros> boundaries = {first};
  while (boundaries.back() < to) {
    if (boundaries.size() > max_buckets) return TooManyBuckets(granularity, max_buckets);
    boundaries.push_back(NextBucketStart(granularity, tz, boundaries.back()));
  }
  return boundaries;
}

}  // namespace tally
