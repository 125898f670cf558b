#include "core/period.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"

namespace tally {

// Failures print windows as RFC 3339 rather than raw microseconds.
void PrintTo(const Window& window, std::ostream* os) {
  *os << "[" << FormatRfc3339(window.start) << ", " << FormatRfc3339(window.end)
      << ")";
}

namespace {

constexpr PeriodUnit kCalendarUnits[] = {PeriodUnit::kDay, PeriodUnit::kWeek,
                                         PeriodUnit::kMonth, PeriodUnit::kYear};

Micros At(std::string_view rfc3339) {
  const std::optional<Micros> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(0);
}

Window Span(std::string_view start, std::string_view end) {
  return {At(start), At(end)};
}

absl::TimeZone Zone(std::string_view name) {
  const std::optional<absl::TimeZone> tz = LoadZone(name);
  EXPECT_TRUE(tz.has_value()) << name;
  return tz.value_or(absl::UTCTimeZone());
}

Window Month(int anchor_day, std::string_view zone, std::string_view at) {
  return WindowFor(PeriodUnit::kMonth, anchor_day, Zone(zone), At(at));
}

Window Day(std::string_view zone, std::string_view at) {
  return WindowFor(PeriodUnit::kDay, 1, Zone(zone), At(at));
}

Micros Length(const Window& window) { return window.end - window.start; }

TEST(PeriodUnitTest, NamesRoundTrip) {
  for (PeriodUnit unit :
       {PeriodUnit::kDay, PeriodUnit::kWeek, PeriodUnit::kMonth,
        PeriodUnit::kYear, PeriodUnit::kNever}) {
    EXPECT_EQ(ParsePeriodUnit(PeriodUnitName(unit)), unit);
  }
  EXPECT_EQ(PeriodUnitName(PeriodUnit::kDay), "day");
  EXPECT_EQ(PeriodUnitName(PeriodUnit::kWeek), "week");
  EXPECT_EQ(PeriodUnitName(PeriodUnit::kMonth), "month");
  EXPECT_EQ(PeriodUnitName(PeriodUnit::kYear), "year");
  EXPECT_EQ(PeriodUnitName(PeriodUnit::kNever), "never");
}

TEST(PeriodUnitTest, RejectsUnknownNames) {
  for (std::string_view name :
       {"", "Month", "monthly", "months", "hour", " day", "day ", "weeks"}) {
    EXPECT_EQ(ParsePeriodUnit(name), std::nullopt) << name;
  }
}

TEST(LoadZoneTest, LoadsIanaZones) {
  ASSERT_TRUE(LoadZone("UTC").has_value());
  EXPECT_EQ(LoadZone("UTC")->name(), "UTC");
  ASSERT_TRUE(LoadZone("America/New_York").has_value());
  EXPECT_EQ(LoadZone("America/New_York")->name(), "America/New_York");
  EXPECT_TRUE(LoadZone("Etc/GMT+5").has_value());
  EXPECT_TRUE(LoadZone("America/Port-au-Prince").has_value());
}

TEST(LoadZoneTest, RejectsUnknownAndPathLikeNames) {
  for (std::string_view name :
       {"", "Mars/Olympus_Mons", "america/new_york", "/etc/localtime",
        "../../../etc/passwd", "America/../UTC", "localtime", "UTC ",
        "America/New York", "Fixed/UTC+05:00:00"}) {
    EXPECT_EQ(LoadZone(name), std::nullopt) << name;
  }
}

TEST(MonthWindowTest, ParserAgreesWithRawInstants) {
  EXPECT_EQ(At("2026-11-01T00:00:00-04:00"), 1'793'505'600 * kMicrosPerSecond);
  EXPECT_EQ(At("2026-12-01T00:00:00-05:00"), 1'796'101'200 * kMicrosPerSecond);
}

TEST(MonthWindowTest, UtcCalendarMonth) {
  const Window march = Span("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z");
  EXPECT_EQ(Month(1, "UTC", "2026-03-15T12:00:00Z"), march);
  EXPECT_EQ(Month(1, "UTC", "2026-03-01T00:00:00Z"), march);
  EXPECT_EQ(Month(1, "UTC", "2026-03-31T23:59:59.999999Z"), march);
  EXPECT_EQ(Month(1, "UTC", "2026-04-01T00:00:00Z"),
            Span("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"));
}

TEST(MonthWindowTest, InstantBeforeThisMonthsAnchorBelongsToLastMonth) {
  EXPECT_EQ(Month(15, "UTC", "2026-03-10T00:00:00Z"),
            Span("2026-02-15T00:00:00Z", "2026-03-15T00:00:00Z"));
  EXPECT_EQ(Month(15, "UTC", "2026-03-15T00:00:00Z"),
            Span("2026-03-15T00:00:00Z", "2026-04-15T00:00:00Z"));
  EXPECT_EQ(Month(15, "UTC", "2026-01-14T23:59:59Z"),
            Span("2025-12-15T00:00:00Z", "2026-01-15T00:00:00Z"));
}

TEST(MonthWindowTest, NewYorkMonthStartsInEdtAndEndsInEst) {
  const Window november = Month(1, "America/New_York", "2026-11-20T12:00:00Z");
  EXPECT_EQ(november,
            Span("2026-11-01T00:00:00-04:00", "2026-12-01T00:00:00-05:00"));
  EXPECT_EQ(november, Span("2026-11-01T04:00:00Z", "2026-12-01T05:00:00Z"));
  EXPECT_EQ(Length(november), 30 * kMicrosPerDay + kMicrosPerHour);
}

TEST(MonthWindowTest, NewYorkMarchIsAnHourShort) {
  const Window march = Month(1, "America/New_York", "2026-03-08T12:00:00Z");
  EXPECT_EQ(march,
            Span("2026-03-01T00:00:00-05:00", "2026-04-01T00:00:00-04:00"));
  EXPECT_EQ(Length(march), 31 * kMicrosPerDay - kMicrosPerHour);
}

TEST(MonthWindowTest, NewYorkEveningOfTheLastDayIsStillThatMonth) {
  EXPECT_EQ(Month(1, "America/New_York", "2026-12-01T04:30:00Z"),
            Span("2026-11-01T00:00:00-04:00", "2026-12-01T00:00:00-05:00"));
}

TEST(MonthWindowTest, BerlinOctoberIsAnHourLong) {
  const Window october = Month(1, "Europe/Berlin", "2026-10-15T12:00:00Z");
  EXPECT_EQ(october,
            Span("2026-10-01T00:00:00+02:00", "2026-11-01T00:00:00+01:00"));
  EXPECT_EQ(october, Span("2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"));
  EXPECT_EQ(Length(october), 31 * kMicrosPerDay + kMicrosPerHour);
}

TEST(MonthWindowTest, KolkataHalfHourOffset) {
  EXPECT_EQ(Month(1, "Asia/Kolkata", "2026-02-28T19:00:00Z"),
            Span("2026-02-28T18:30:00Z", "2026-03-31T18:30:00Z"));
  EXPECT_EQ(Month(1, "Asia/Kolkata", "2026-02-28T18:00:00Z"),
            Span("2026-01-31T18:30:00Z", "2026-02-28T18:30:00Z"));
}

TEST(MonthWindowTest, LordHoweHalfHourDaylightSaving) {
  const Window april = Month(1, "Australia/Lord_Howe", "2026-04-15T00:00:00Z");
  EXPECT_EQ(april,
            Span("2026-04-01T00:00:00+11:00", "2026-05-01T00:00:00+10:30"));
  EXPECT_EQ(Length(april), 30 * kMicrosPerDay + 30 * kMicrosPerMinute);
  const Window october =
      Month(1, "Australia/Lord_Howe", "2026-10-15T00:00:00Z");
  EXPECT_EQ(october,
            Span("2026-10-01T00:00:00+10:30", "2026-11-01T00:00:00+11:00"));
  EXPECT_EQ(Length(october), 31 * kMicrosPerDay - 30 * kMicrosPerMinute);
}

TEST(MonthWindowTest, KiritimatiStartsTheMonthBeforeUtcDoes) {
  EXPECT_EQ(Month(1, "Pacific/Kiritimati", "2025-12-31T12:00:00Z"),
            Span("2026-01-01T00:00:00+14:00", "2026-02-01T00:00:00+14:00"));
  EXPECT_EQ(At("2026-01-01T00:00:00+14:00"), At("2025-12-31T10:00:00Z"));
}

TEST(MonthWindowTest, ApiaAtPlusThirteen) {
  EXPECT_EQ(Month(1, "Pacific/Apia", "2026-03-31T12:00:00Z"),
            Span("2026-04-01T00:00:00+13:00", "2026-05-01T00:00:00+13:00"));
}

// Samoa skipped 2011-12-30 entirely, jumping from -10:00 to +14:00.
TEST(MonthWindowTest, ApiaAnchorOnTheDaySamoaSkipped) {
  const Micros transition = At("2011-12-30T10:00:00Z");
  EXPECT_EQ(Month(30, "Pacific/Apia", "2011-12-30T09:59:59Z"),
            Span("2011-11-30T00:00:00-10:00", "2011-12-31T00:00:00+14:00"));
  const Window december =
      WindowFor(PeriodUnit::kMonth, 30, Zone("Pacific/Apia"), transition);
  EXPECT_EQ(december.start, transition);
  EXPECT_EQ(december.end, At("2012-01-30T00:00:00+14:00"));
}

// Santiago springs forward at 24:00, so 2024-09-08 00:00 never happened.
TEST(MonthWindowTest, SkippedMidnightStartsAtTheTransition) {
  EXPECT_EQ(Month(8, "America/Santiago", "2024-09-20T12:00:00Z"),
            Span("2024-09-08T01:00:00-03:00", "2024-10-08T00:00:00-03:00"));
  EXPECT_EQ(Month(8, "America/Santiago", "2024-09-08T03:59:59Z"),
            Span("2024-08-08T00:00:00-04:00", "2024-09-08T01:00:00-03:00"));
  // Beirut likewise skipped 2024-03-31 00:00.
  EXPECT_EQ(Month(31, "Asia/Beirut", "2024-04-15T12:00:00Z"),
            Span("2024-03-31T01:00:00+03:00", "2024-04-30T00:00:00+03:00"));
}

// Havana falls back from 01:00 CDT to 00:00 CST, so 2024-11-03 00:00 happened
// twice.
TEST(MonthWindowTest, RepeatedMidnightStartsAtItsFirstOccurrence) {
  const Window november =
      Span("2024-11-03T00:00:00-04:00", "2024-12-03T00:00:00-05:00");
  EXPECT_EQ(Month(3, "America/Havana", "2024-11-03T00:30:00-05:00"), november);
  EXPECT_EQ(Month(3, "America/Havana", "2024-11-03T00:30:00-04:00"), november);
  EXPECT_EQ(Month(3, "America/Havana", "2024-11-03T03:59:59Z"),
            Span("2024-10-03T00:00:00-04:00", "2024-11-03T00:00:00-04:00"));
}

// Moncton set its clocks back from 00:01 ADT to 23:01 AST on 2006-10-29: the
// 29th had begun when the clock read 23:30 on the 28th again.
TEST(MonthWindowTest, ClockSetBackAcrossMidnightStaysInTheNewWindow) {
  EXPECT_EQ(Month(29, "America/Moncton", "2006-10-28T23:30:00-04:00"),
            Span("2006-10-29T00:00:00-03:00", "2006-11-29T00:00:00-04:00"));
  EXPECT_EQ(Month(29, "America/Moncton", "2006-10-28T23:59:59-03:00"),
            Span("2006-09-29T00:00:00-03:00", "2006-10-29T00:00:00-03:00"));
}

std::vector<Window> WalkMonths(int anchor_day, std::string_view zone,
                               std::string_view from, int count) {
  std::vector<Window> windows = {Month(anchor_day, zone, from)};
  const absl::TimeZone tz = Zone(zone);
  while (static_cast<int>(windows.size()) < count) {
    windows.push_back(
        WindowFor(PeriodUnit::kMonth, anchor_day, tz, windows.back().end));
  }
  return windows;
}

std::vector<Window> SpansFromStarts(const std::vector<std::string>& starts) {
  std::vector<Window> windows;
  for (size_t i = 0; i + 1 < starts.size(); ++i) {
    windows.push_back(Span(starts[i], starts[i + 1]));
  }
  return windows;
}

TEST(MonthWindowTest, Anchor31ClampsToShortMonthsAndReturns) {
  EXPECT_EQ(WalkMonths(31, "UTC", "2027-01-31T00:00:00Z", 12),
            SpansFromStarts({
                "2027-01-31T00:00:00Z",
                "2027-02-28T00:00:00Z",
                "2027-03-31T00:00:00Z",
                "2027-04-30T00:00:00Z",
                "2027-05-31T00:00:00Z",
                "2027-06-30T00:00:00Z",
                "2027-07-31T00:00:00Z",
                "2027-08-31T00:00:00Z",
                "2027-09-30T00:00:00Z",
                "2027-10-31T00:00:00Z",
                "2027-11-30T00:00:00Z",
                "2027-12-31T00:00:00Z",
                "2028-01-31T00:00:00Z",
            }));
}

TEST(MonthWindowTest, Anchor31InALeapYearEndsOnFebruary29) {
  EXPECT_EQ(WalkMonths(31, "UTC", "2028-01-31T00:00:00Z", 3),
            SpansFromStarts({"2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z",
                             "2028-03-31T00:00:00Z", "2028-04-30T00:00:00Z"}));
}

TEST(MonthWindowTest, Anchors29And30AcrossFebruary) {
  EXPECT_EQ(WalkMonths(29, "UTC", "2027-01-29T00:00:00Z", 2),
            SpansFromStarts({"2027-01-29T00:00:00Z", "2027-02-28T00:00:00Z",
                             "2027-03-29T00:00:00Z"}));
  EXPECT_EQ(WalkMonths(30, "UTC", "2027-01-30T00:00:00Z", 2),
            SpansFromStarts({"2027-01-30T00:00:00Z", "2027-02-28T00:00:00Z",
                             "2027-03-30T00:00:00Z"}));
  EXPECT_EQ(WalkMonths(29, "UTC", "2028-01-29T00:00:00Z", 2),
            SpansFromStarts({"2028-01-29T00:00:00Z", "2028-02-29T00:00:00Z",
                             "2028-03-29T00:00:00Z"}));
  EXPECT_EQ(WalkMonths(30, "UTC", "2028-01-30T00:00:00Z", 2),
            SpansFromStarts({"2028-01-30T00:00:00Z", "2028-02-29T00:00:00Z",
                             "2028-03-30T00:00:00Z"}));
}

TEST(MonthWindowTest, Anchor31InstantsAroundTheClampedDay) {
  EXPECT_EQ(Month(31, "UTC", "2027-02-27T12:00:00Z"),
            Span("2027-01-31T00:00:00Z", "2027-02-28T00:00:00Z"));
  EXPECT_EQ(Month(31, "UTC", "2027-03-30T12:00:00Z"),
            Span("2027-02-28T00:00:00Z", "2027-03-31T00:00:00Z"));
  EXPECT_EQ(Month(31, "America/New_York", "2027-03-15T12:00:00Z"),
            Span("2027-02-28T00:00:00-05:00", "2027-03-31T00:00:00-04:00"));
}

constexpr std::string_view kZones[] = {
    "UTC",          "America/New_York",    "Europe/Berlin",
    "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Kiritimati",
    "Pacific/Apia", "America/Santiago",    "America/Havana",
    "Asia/Beirut",  "America/St_Johns",    "Asia/Kathmandu",
};

int DaysInMonth(absl::CivilMonth month) {
  return static_cast<int>(absl::CivilDay(month + 1) - absl::CivilDay(month));
}

// A window starts at local midnight, or later on the same day only when that
// midnight was skipped.
void ExpectStartsOnDay(const absl::TimeZone& tz, Micros start,
                       absl::CivilDay day) {
  const absl::CivilSecond local =
      absl::ToCivilSecond(absl::FromUnixMicros(start), tz);
  EXPECT_EQ(absl::CivilDay(local), day) << tz.name() << " " << local;
  if (local != absl::CivilSecond(day)) {
    EXPECT_EQ(tz.At(absl::CivilSecond(day)).kind,
              absl::TimeZone::TimeInfo::SKIPPED)
        << tz.name() << " " << local;
  }
}

TEST(MonthWindowTest, ThreeYearsOfConsecutiveWindowsHaveNoGapsOrOverlaps) {
  for (std::string_view zone : kZones) {
    const absl::TimeZone tz = Zone(zone);
    for (int anchor : {1, 8, 15, 28, 29, 30, 31}) {
      const std::vector<Window> windows =
          WalkMonths(anchor, zone, "2025-01-20T12:00:00Z", 37);
      const absl::CivilMonth first_month(
          absl::ToCivilDay(absl::FromUnixMicros(windows[0].start), tz));
      for (size_t i = 0; i < windows.size(); ++i) {
        const absl::CivilMonth month = first_month + i;
        const absl::CivilDay anchor_day(month.year(), month.month(),
                                        std::min(anchor, DaysInMonth(month)));
        ExpectStartsOnDay(tz, windows[i].start, anchor_day);
        if (i > 0) {
          ASSERT_EQ(windows[i].start, windows[i - 1].end) << zone << anchor;
        }
      }
    }
  }
}

TEST(DayWindowTest, NewYorkSpringForwardDayHas23Hours) {
  const Window day = Day("America/New_York", "2026-03-08T12:00:00-04:00");
  EXPECT_EQ(day,
            Span("2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00"));
  EXPECT_EQ(Length(day), 23 * kMicrosPerHour);
}

TEST(DayWindowTest, NewYorkFallBackDayHas25Hours) {
  const Window day =
      Span("2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00");
  EXPECT_EQ(Day("America/New_York", "2026-11-01T01:30:00-04:00"), day);
  EXPECT_EQ(Day("America/New_York", "2026-11-01T01:30:00-05:00"), day);
  EXPECT_EQ(Length(day), 25 * kMicrosPerHour);
}

TEST(DayWindowTest, LordHoweDaysGainAndLoseHalfAnHour) {
  EXPECT_EQ(Length(Day("Australia/Lord_Howe", "2026-04-05T12:00:00+10:30")),
            24 * kMicrosPerHour + 30 * kMicrosPerMinute);
  EXPECT_EQ(Length(Day("Australia/Lord_Howe", "2026-10-04T12:00:00+11:00")),
            23 * kMicrosPerHour + 30 * kMicrosPerMinute);
}

TEST(DayWindowTest, SkippedMidnight) {
  EXPECT_EQ(Day("America/Santiago", "2024-09-08T12:00:00-03:00"),
            Span("2024-09-08T01:00:00-03:00", "2024-09-09T00:00:00-03:00"));
  EXPECT_EQ(Day("America/Santiago", "2024-09-08T03:59:59.999999Z"),
            Span("2024-09-07T00:00:00-04:00", "2024-09-08T01:00:00-03:00"));
  EXPECT_EQ(Day("America/Havana", "2024-03-10T12:00:00-04:00"),
            Span("2024-03-10T01:00:00-04:00", "2024-03-11T00:00:00-04:00"));
}

TEST(DayWindowTest, RepeatedMidnight) {
  const Window day =
      Span("2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00");
  EXPECT_EQ(Day("America/Havana", "2024-11-03T00:30:00-04:00"), day);
  EXPECT_EQ(Day("America/Havana", "2024-11-03T00:30:00-05:00"), day);
  EXPECT_EQ(Length(day), 25 * kMicrosPerHour);
}

TEST(DayWindowTest, ClockSetBackAcrossMidnight) {
  EXPECT_EQ(Day("America/Moncton", "2006-10-28T23:30:00-04:00"),
            Span("2006-10-29T00:00:00-03:00", "2006-10-30T00:00:00-04:00"));
  EXPECT_EQ(Day("America/Moncton", "2006-10-28T23:30:00-03:00"),
            Span("2006-10-28T00:00:00-03:00", "2006-10-29T00:00:00-03:00"));
}

// Toronto jumped from 23:30 to 00:30 on 1919-03-30: midnight fell inside the
// gap, so the 31st began at the transition, 23.5 hours after the 30th did.
TEST(DayWindowTest, MidnightInsideADaylightSavingGap) {
  const Window march31 = Day("America/Toronto", "1919-03-31T00:45:00-04:00");
  EXPECT_EQ(march31,
            Span("1919-03-30T23:30:00-05:00", "1919-04-01T00:00:00-04:00"));
  EXPECT_EQ(Length(Day("America/Toronto", "1919-03-30T12:00:00-05:00")),
            23 * kMicrosPerHour + 30 * kMicrosPerMinute);
}

TEST(DayWindowTest, SamoaSkippedDayHasNoWindow) {
  EXPECT_EQ(Day("Pacific/Apia", "2011-12-30T09:59:59Z"),
            Span("2011-12-29T00:00:00-10:00", "2011-12-31T00:00:00+14:00"));
  EXPECT_EQ(Day("Pacific/Apia", "2011-12-30T10:00:00Z"),
            Span("2011-12-31T00:00:00+14:00", "2012-01-01T00:00:00+14:00"));
}

TEST(DayWindowTest, AnchorDayIsIgnored) {
  const absl::TimeZone tz = Zone("Europe/Berlin");
  const Micros at = At("2026-05-20T12:00:00Z");
  EXPECT_EQ(WindowFor(PeriodUnit::kDay, 17, tz, at),
            Span("2026-05-20T00:00:00+02:00", "2026-05-21T00:00:00+02:00"));
  EXPECT_EQ(WindowFor(PeriodUnit::kWeek, 17, tz, at),
            WindowFor(PeriodUnit::kWeek, 1, tz, at));
}

TEST(DayWindowTest, ThreeYearsOfDaysAreConsecutiveLocalDays) {
  for (std::string_view zone : kZones) {
    const absl::TimeZone tz = Zone(zone);
    Window day = Day(zone, "2025-01-01T12:00:00Z");
    absl::CivilDay local =
        absl::ToCivilDay(absl::FromUnixMicros(day.start), tz);
    for (int i = 0; i < 3 * 366; ++i) {
      const Window next = WindowFor(PeriodUnit::kDay, 1, tz, day.end);
      ASSERT_EQ(next.start, day.end) << zone;
      ExpectStartsOnDay(tz, next.start, local + 1);
      ASSERT_GE(Length(next), 22 * kMicrosPerHour) << zone;
      ASSERT_LE(Length(next), 26 * kMicrosPerHour) << zone;
      day = next;
      ++local;
    }
  }
}

TEST(WeekWindowTest, StartsOnMonday) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const Window week = Span("2026-03-09T00:00:00Z", "2026-03-16T00:00:00Z");
  EXPECT_EQ(WindowFor(PeriodUnit::kWeek, 1, utc, At("2026-03-11T12:00:00Z")),
            week);
  EXPECT_EQ(WindowFor(PeriodUnit::kWeek, 1, utc, At("2026-03-09T00:00:00Z")),
            week);
  EXPECT_EQ(WindowFor(PeriodUnit::kWeek, 1, utc, At("2026-03-15T23:59:59Z")),
            week);
  EXPECT_EQ(
      WindowFor(PeriodUnit::kWeek, 1, utc, At("2026-03-08T23:59:59.999999Z")),
      Span("2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"));
}

TEST(WeekWindowTest, IsoWeekSpansNewYear) {
  EXPECT_EQ(WindowFor(PeriodUnit::kWeek, 1, absl::UTCTimeZone(),
                      At("2026-01-01T12:00:00Z")),
            Span("2025-12-29T00:00:00Z", "2026-01-05T00:00:00Z"));
}

TEST(WeekWindowTest, NewYorkWeekWithSpringForward) {
  const Window week = WindowFor(PeriodUnit::kWeek, 1, Zone("America/New_York"),
                                At("2026-03-08T12:00:00-04:00"));
  EXPECT_EQ(week,
            Span("2026-03-02T00:00:00-05:00", "2026-03-09T00:00:00-04:00"));
  EXPECT_EQ(Length(week), 7 * kMicrosPerDay - kMicrosPerHour);
}

TEST(WeekWindowTest, EveryWeekStartsOnALocalMonday) {
  for (std::string_view zone : kZones) {
    const absl::TimeZone tz = Zone(zone);
    Window week =
        WindowFor(PeriodUnit::kWeek, 1, tz, At("2025-01-01T00:00:00Z"));
    for (int i = 0; i < 160; ++i) {
      const absl::CivilDay day =
          absl::ToCivilDay(absl::FromUnixMicros(week.start), tz);
      ASSERT_EQ(absl::GetWeekday(day), absl::Weekday::monday) << zone << day;
      const Window next = WindowFor(PeriodUnit::kWeek, 1, tz, week.end);
      ASSERT_EQ(next.start, week.end) << zone;
      week = next;
    }
  }
}

TEST(YearWindowTest, CalendarYear) {
  EXPECT_EQ(WindowFor(PeriodUnit::kYear, 1, absl::UTCTimeZone(),
                      At("2026-06-15T00:00:00Z")),
            Span("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"));
  EXPECT_EQ(WindowFor(PeriodUnit::kYear, 1, Zone("America/New_York"),
                      At("2027-01-01T04:59:59Z")),
            Span("2026-01-01T00:00:00-05:00", "2027-01-01T00:00:00-05:00"));
  EXPECT_EQ(WindowFor(PeriodUnit::kYear, 1, Zone("Pacific/Kiritimati"),
                      At("2025-12-31T10:00:00Z")),
            Span("2026-01-01T00:00:00+14:00", "2027-01-01T00:00:00+14:00"));
}

TEST(YearWindowTest, AnchoredOnJanuarysAnchorDay) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  EXPECT_EQ(WindowFor(PeriodUnit::kYear, 15, utc, At("2026-01-10T00:00:00Z")),
            Span("2025-01-15T00:00:00Z", "2026-01-15T00:00:00Z"));
  EXPECT_EQ(WindowFor(PeriodUnit::kYear, 15, utc, At("2026-01-15T00:00:00Z")),
            Span("2026-01-15T00:00:00Z", "2027-01-15T00:00:00Z"));
  EXPECT_EQ(WindowFor(PeriodUnit::kYear, 31, utc, At("2028-02-29T00:00:00Z")),
            Span("2028-01-31T00:00:00Z", "2029-01-31T00:00:00Z"));
}

TEST(NeverWindowTest, CoversAllTime) {
  const Window never{kBeginningOfTime, kEndOfTime};
  for (Micros at : {kBeginningOfTime, Micros{0}, At("2026-03-08T07:00:00Z"),
                    kEndOfTime - 1}) {
    EXPECT_EQ(WindowFor(PeriodUnit::kNever, 1, Zone("Asia/Kolkata"), at),
              never);
  }
  EXPECT_TRUE(never.Contains(kBeginningOfTime));
  EXPECT_TRUE(never.Contains(kEndOfTime - 1));
}

TEST(WindowForTest, ExtremeInstantsAndAnchorsDoNotCrash) {
  const absl::TimeZone tz = Zone("America/New_York");
  for (PeriodUnit unit : kCalendarUnits) {
    for (int anchor : {-5, 0, 1, 31, 32, 1000}) {
      for (Micros at : {kBeginningOfTime, kBeginningOfTime + 1, Micros{0},
                        kEndOfTime - 1, kEndOfTime}) {
        const Window window = WindowFor(unit, anchor, tz, at);
        EXPECT_LE(window.start, window.end);
      }
    }
  }
}

void ExpectWindowProperties(PeriodUnit unit, int anchor,
                            const absl::TimeZone& tz, Micros at) {
  const Window window = WindowFor(unit, anchor, tz, at);
  ASSERT_TRUE(window.Contains(at))
      << tz.name() << " " << PeriodUnitName(unit) << " " << anchor << " "
      << FormatRfc3339(at) << " -> " << ::testing::PrintToString(window);
  ASSERT_LT(window.start, window.end);
  ASSERT_EQ(WindowFor(unit, anchor, tz, window.start), window);
  ASSERT_EQ(WindowFor(unit, anchor, tz, window.end - 1), window);
  ASSERT_EQ(WindowFor(unit, anchor, tz, window.end).start, window.end);
}

TEST(WindowForTest, RandomInstantsLieInTheirWindow) {
  std::vector<absl::TimeZone> zones;
  for (std::string_view zone : kZones) zones.push_back(Zone(zone));
  std::mt19937_64 rng(2026);
  std::uniform_int_distribution<Micros> instant(At("2020-01-01T00:00:00Z"),
                                                At("2035-12-31T23:59:59Z"));
  std::uniform_int_distribution<int> anchor(1, 31);
  for (int i = 0; i < 10'000; ++i) {
    const Micros at = instant(rng);
    for (const absl::TimeZone& tz : zones) {
      for (PeriodUnit unit : kCalendarUnits) {
        ASSERT_NO_FATAL_FAILURE(
            ExpectWindowProperties(unit, anchor(rng), tz, at));
      }
    }
  }
}

// Zones whose clocks went back across midnight: the local day of `at` is not
// always the day whose window holds it.
TEST(WindowForTest, RandomInstantsWhereClocksWentBackAcrossMidnight) {
  std::mt19937_64 rng(2006);
  std::uniform_int_distribution<Micros> instant(At("1987-01-01T00:00:00Z"),
                                                At("2011-12-31T00:00:00Z"));
  std::uniform_int_distribution<int> anchor(1, 31);
  for (std::string_view name : {"America/Moncton", "America/Goose_Bay",
                                "America/St_Johns", "Pacific/Apia"}) {
    const absl::TimeZone tz = Zone(name);
    for (int i = 0; i < 2'000; ++i) {
      const Micros at = instant(rng);
      for (PeriodUnit unit : kCalendarUnits) {
        ASSERT_NO_FATAL_FAILURE(
            ExpectWindowProperties(unit, anchor(rng), tz, at));
      }
    }
  }
}

// Every instant of the hour around each such transition, minute by minute.
TEST(WindowForTest, EveryMinuteAroundClocksGoingBackAcrossMidnight) {
  const absl::TimeZone tz = Zone("America/Goose_Bay");
  for (std::string_view transition :
       {"1988-10-30T00:01:00-02:00", "2010-11-07T00:01:00-03:00"}) {
    const Micros center = At(transition);
    for (Micros at = center - 3 * kMicrosPerHour;
         at < center + 3 * kMicrosPerHour; at += kMicrosPerMinute) {
      for (PeriodUnit unit : kCalendarUnits) {
        ASSERT_NO_FATAL_FAILURE(ExpectWindowProperties(unit, 30, tz, at));
      }
    }
  }
}

std::vector<std::string> InstalledZones() {
  std::ifstream zi("/usr/share/zoneinfo/tzdata.zi");
  std::vector<std::string> zones;
  std::string line;
  while (std::getline(zi, line)) {
    if (line.rfind("Z ", 0) != 0) continue;
    zones.push_back(line.substr(2, line.find(' ', 2) - 2));
  }
  return zones;
}

// Every zone installed here, around every transition from 1900 to 2040.
TEST(WindowForTest, AroundEveryTransitionOfEveryInstalledZone) {
  const std::vector<std::string> zones = InstalledZones();
  if (zones.empty()) GTEST_SKIP() << "no /usr/share/zoneinfo/tzdata.zi";
  const absl::Time from =
      absl::FromCivil(absl::CivilSecond(1900, 1, 1), absl::UTCTimeZone());
  for (const std::string& name : zones) {
    const absl::TimeZone tz = Zone(name);
    absl::TimeZone::CivilTransition transition;
    for (absl::Time t = from;
         tz.NextTransition(t, &transition) && transition.from.year() <= 2040;) {
      t = tz.At(transition.to).trans;
      for (Micros offset :
           {Micros{-1}, Micros{0}, kMicrosPerHour, 25 * kMicrosPerHour}) {
        for (PeriodUnit unit : kCalendarUnits) {
          ASSERT_NO_FATAL_FAILURE(ExpectWindowProperties(
              unit, 31, tz, absl::ToUnixMicros(t) + offset));
        }
      }
    }
  }
}

}  // namespace
}  // namespace tally
