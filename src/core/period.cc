#include "core/period.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "absl/time/civil_time.h"

namespace tally {
namespace {

constexpr std::array<std::pair<PeriodUnit, std::string_view>, 5> kUnitNames = {{
    {PeriodUnit::kDay, "day"},
    {PeriodUnit::kWeek, "week"},
    {PeriodUnit::kMonth, "month"},
    {PeriodUnit::kYear, "year"},
    {PeriodUnit::kNever, "never"},
}};

int DaysInMonth(absl::CivilMonth month) {
  return static_cast<int>(absl::CivilDay(month + 1) - absl::CivilDay(month));
}

// The anchor day of `month`, clamped to its last day.
absl::CivilDay AnchorIn(absl::CivilMonth month, int anchor_day) {
  return absl::CivilDay(month.year(), month.month(),
                        std::min(anchor_day, DaysInMonth(month)));
}

// The first civil day of the period of `unit` that holds `day`.
absl::CivilDay PeriodStartDay(PeriodUnit unit, int anchor_day,
                              absl::CivilDay day) {
  switch (unit) {
    case PeriodUnit::kWeek:
      return absl::PrevWeekday(day + 1, absl::Weekday::monday);
    case PeriodUnit::kMonth: {
      const absl::CivilMonth month(day);
      const absl::CivilDay start = AnchorIn(month, anchor_day);
      return day >= start ? start : AnchorIn(month - 1, anchor_day);
    }
    case PeriodUnit::kYear: {
      const absl::CivilMonth january{absl::CivilYear(day)};
      const absl::CivilDay start = AnchorIn(january, anchor_day);
      return day >= start ? start : AnchorIn(january - 12, anchor_day);
    }
    case PeriodUnit::kDay:
    case PeriodUnit::kNever:
      break;
  }
  return day;
}

// The first civil day of the period after the one starting on `start`.
absl::CivilDay NextPeriodStart(PeriodUnit unit, int anchor_day,
                               absl::CivilDay start) {
  switch (unit) {
    case PeriodUnit::kWeek:
      return start + 7;
    case PeriodUnit::kMonth:
      return AnchorIn(absl::CivilMonth(start) + 1, anchor_day);
    case PeriodUnit::kYear:
      return AnchorIn(absl::CivilMonth(absl::CivilYear(start) + 1), anchor_day);
    case PeriodUnit::kDay:
    case PeriodUnit::kNever:
      break;
  }
  return start + 1;
}

// The instant `day` begins in `tz`: its midnight, the first one if repeated,
// the transition that skips it if skipped.
Micros LocalMidnight(absl::CivilDay day, const absl::TimeZone& tz) {
  const absl::TimeZone::TimeInfo info = tz.At(absl::CivilSecond(day));
  return absl::ToUnixMicros(
      info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre);
}

}  // namespace

std::string_view PeriodUnitName(PeriodUnit unit) {
  for (const auto& [value, name] : kUnitNames) {
    if (value == unit) return name;
  }
  return "";
}

std::optional<PeriodUnit> ParsePeriodUnit(std::string_view name) {
  for (const auto& [value, unit_name] : kUnitNames) {
    if (unit_name == name) return value;
  }
  return std::nullopt;
}

Window WindowFor(PeriodUnit unit, int anchor_day, const absl::TimeZone& tz,
                 Micros at) {
  if (unit == PeriodUnit::kNever) return Window{};
  anchor_day = std::clamp(anchor_day, 1, 31);
  const absl::CivilDay local = absl::ToCivilDay(absl::FromUnixMicros(at), tz);
  const absl::CivilDay first = PeriodStartDay(unit, anchor_day, local);
  const absl::CivilDay next = NextPeriodStart(unit, anchor_day, first);
  Window window{LocalMidnight(first, tz), LocalMidnight(next, tz)};
  // The local clock first reads `first` 00:00 at window.start, so at >=
  // window.start. But a clock set back across midnight reads the end of the
  // previous day again after the next day has begun: then `at` belongs to the
  // next window.
  if (at >= window.end) {
    window = {window.end,
              LocalMidnight(NextPeriodStart(unit, anchor_day, next), tz)};
  }
  return window;
}

std::optional<absl::TimeZone> LoadZone(std::string_view name) {
  // Only IANA names: no paths out of the zoneinfo directory, no "localtime".
  const bool safe_chars = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' ||
           c == '+';
  });
  if (name.empty() || name.size() > 64 || !safe_chars || name.front() == '/' ||
      name.find("..") != std::string_view::npos || name == "localtime") {
    return std::nullopt;
  }
  // absl caches every name it is asked for, unknown ones too: look for the
  // zone's file first, so that clients sending made-up names cannot grow it.
  if (name != "UTC") {
    const char* dir = std::getenv("TZDIR");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(
            std::filesystem::path(dir != nullptr && *dir != '\0' ? dir : "/usr/share/zoneinfo") /
                std::string(name),
            ec)) {
      return std::nullopt;
    }
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(std::string(name), &tz)) return std::nullopt;
  return tz;
}

}  // namespace tally
