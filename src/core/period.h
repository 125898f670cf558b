// Periods and windows: when a quota resets.
//
// A window is the half-open interval [start, end) of one period of one quota,
// computed in the subject's IANA time zone from its billing anchor day. Reset is
// implicit: a window simply ends, so there is no reset job to race with.
//
//   day    local midnight to local midnight (23 or 25 hours across DST)
//   week   Monday 00:00 local to the next Monday (ISO weeks)
//   month  the anchor day 00:00 local to the anchor day of the next month; an
//          anchor past a month's end falls on its last day (31 -> Feb 28/29,
//          Apr 30), and returns to 31 in the months that have one
//   year   January's anchor day to next January's anchor day
//   never  [kBeginningOfTime, kEndOfTime)
//
// A local midnight that a DST change skips starts at the transition instant;
// one that repeats starts at its first occurrence.
//
// Thread-safety: pure functions; absl::TimeZone is safe to share.
#ifndef TALLY_CORE_PERIOD_H_
#define TALLY_CORE_PERIOD_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/time.h"

namespace tally {

enum class PeriodUnit { kDay, kWeek, kMonth, kYear, kNever };

std::string_view PeriodUnitName(PeriodUnit unit);
std::optional<PeriodUnit> ParsePeriodUnit(std::string_view name);

struct Window {
  Micros start = kBeginningOfTime;
  Micros end = kEndOfTime;

  bool Contains(Micros t) const { return start <= t && t < end; }
  friend bool operator==(const Window&, const Window&) = default;
};

// The window of `unit` that contains `at`.
// REQUIRES: 1 <= anchor_day <= 31.
Window WindowFor(PeriodUnit unit, int anchor_day, const absl::TimeZone& tz,
                 Micros at);

// Loads an IANA zone ("America/New_York", "UTC"); nullopt if unknown.
std::optional<absl::TimeZone> LoadZone(std::string_view name);

}  // namespace tally

#endif  // TALLY_CORE_PERIOD_H_
