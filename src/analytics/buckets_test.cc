#include "analytics/buckets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/period.h"

namespace tally {
namespace {

constexpr Granularity kAll[] = {Granularity::kHour, Granularity::kDay, Granularity::kWeek,
                                Granularity::kMonth};

Micros At(std::string_view rfc3339) {
  const std::optional<Micros> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(0);
}

absl::TimeZone Zone(std::string_view name) {
  const std::optional<absl::TimeZone> tz = LoadZone(name);
  EXPECT_TRUE(tz.has_value()) << name;
  return tz.value_or(absl::UTCTimeZone());
}

// The boundaries as RFC 3339, for readable failures.
std::vector<std::string> Boundaries(Granularity g, std::string_view zone, std::string_view from,
                                    std::string_view to) {
  const absl::StatusOr<std::vector<Micros>> b = BucketBoundaries(g, Zone(zone), At(from), At(to));
  EXPECT_TRUE(b.ok()) << b.status();
  std::vector<std::string> out;
  for (Micros t : b.value_or(std::vector<Micros>{})) out.push_back(FormatRfc3339(t));
  return out;
}

using Strings = std::vector<std::string>;

TEST(GranularityTest, NamesRoundTrip) {
  for (Granularity g : kAll) EXPECT_EQ(ParseGranularity(GranularityName(g)), g);
  EXPECT_EQ(GranularityName(Granularity::kWeek), "week");
  EXPECT_FALSE(ParseGranularity("Day").has_value());
  EXPECT_FALSE(ParseGranularity("").has_value());
}

TEST(BucketBoundariesTest, UtcHours) {
  EXPECT_EQ(Boundaries(Granularity::kHour, "UTC", "2026-05-04T10:30:00Z", "2026-05-04T13:00:00Z"),
            (Strings{"2026-05-04T10:00:00Z", "2026-05-04T11:00:00Z", "2026-05-04T12:00:00Z",
                     "2026-05-04T13:00:00Z"}));
  EXPECT_EQ(
      Boundaries(Granularity::kHour, "UTC", "2026-05-04T10:00:00Z", "2026-05-04T11:00:00.000001Z"),
      (Strings{"2026-05-04T10:00:00Z", "2026-05-04T11:00:00Z", "2026-05-04T12:00:00Z"}));
  // Hours stay UTC hours in any zone.
  EXPECT_EQ(Boundaries(Granularity::kHour, "Asia/Kolkata", "2026-05-04T10:15:00Z",
                       "2026-05-04T10:45:00Z"),
            (Strings{"2026-05-04T10:00:00Z", "2026-05-04T11:00:00Z"}));
}

TEST(BucketBoundariesTest, NewYorkDaysAcrossDst) {
  // 2026-03-08: clocks spring forward, a 23-hour day.
  EXPECT_EQ(Boundaries(Granularity::kDay, "America/New_York", "2026-03-07T12:00:00Z",
                       "2026-03-09T12:00:00Z"),
            (Strings{"2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z",
                     "2026-03-10T04:00:00Z"}));
  // 2026-11-01: clocks fall back, a 25-hour day.
  EXPECT_EQ(Boundaries(Granularity::kDay, "America/New_York", "2026-10-31T04:00:00Z",
                       "2026-11-02T05:00:00Z"),
            (Strings{"2026-10-31T04:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"}));
}

TEST(BucketBoundariesTest, BerlinWeeksStartOnLocalMonday) {
  // 2026-03-29 CET -> CEST, so the week of March 23 lasts 167 hours.
  EXPECT_EQ(Boundaries(Granularity::kWeek, "Europe/Berlin", "2026-03-25T12:00:00Z",
                       "2026-04-08T00:00:00Z"),
            (Strings{"2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z", "2026-04-05T22:00:00Z",
                     "2026-04-12T22:00:00Z"}));
}

TEST(BucketBoundariesTest, MonthLengthsIncludingLeapFebruary) {
  const absl::StatusOr<std::vector<Micros>> b =
      BucketBoundaries(Granularity::kMonth, absl::UTCTimeZone(), At("2024-01-15T00:00:00Z"),
                       At("2024-04-02T00:00:00Z"));
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(b->size(), 5u);
  EXPECT_EQ(FormatRfc3339(b->front()), "2024-01-01T00:00:00Z");
  const int expected_days[] = {31, 29, 31, 30};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*b)[i + 1] - (*b)[i], expected_days[i] * kMicrosPerDay) << i;
  }
  EXPECT_EQ(Boundaries(Granularity::kMonth, "America/New_York", "2023-02-10T00:00:00Z",
                       "2023-03-01T05:00:00Z"),
            (Strings{"2023-02-01T05:00:00Z", "2023-03-01T05:00:00Z"}));
}

TEST(BucketBoundariesTest, HalfHourZonesFloorToTheUtcHour) {
  // Kolkata (+05:30): 2026-01-10 00:00 local is 2026-01-09T18:30Z -> 18:00Z.
  const absl::TimeZone kolkata = Zone("Asia/Kolkata");
  EXPECT_EQ(BucketStart(Granularity::kDay, kolkata, At("2026-01-09T18:15:00Z")),
            At("2026-01-09T18:00:00Z"));
  EXPECT_EQ(BucketStart(Granularity::kDay, kolkata, At("2026-01-09T17:59:59.999999Z")),
            At("2026-01-08T18:00:00Z"));
  EXPECT_EQ(Boundaries(Granularity::kDay, "Asia/Kolkata", "2026-01-09T18:00:00Z",
                       "2026-01-10T18:00:00.000001Z"),
            (Strings{"2026-01-09T18:00:00Z", "2026-01-10T18:00:00Z", "2026-01-11T18:00:00Z"}));
  // Kathmandu (+05:45): local midnight at 18:15Z -> 18:00Z. Month of February 2026.
  EXPECT_EQ(Boundaries(Granularity::kMonth, "Asia/Kathmandu", "2026-02-10T00:00:00Z",
                       "2026-02-20T00:00:00Z"),
            (Strings{"2026-01-31T18:00:00Z", "2026-02-28T18:00:00Z"}));
}

TEST(BucketBoundariesTest, RejectsEmptyRangesAndTooManyBuckets) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const Micros t = At("2026-01-01T00:00:00Z");
  EXPECT_EQ(BucketBoundaries(Granularity::kDay, utc, t, t).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BucketBoundaries(Granularity::kDay, utc, t + 1, t).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Exactly 10000 hours fit; one more microsecond needs bucket 10001.
  const Micros end = t + 10000 * kMicrosPerHour;
  EXPECT_EQ(BucketBoundaries(Granularity::kHour, utc, t, end)->size(), 10001u);
  const absl::Status too_many = BucketBoundaries(Granularity::kHour, utc, t, end + 1).status();
  EXPECT_EQ(too_many.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.message().find("10000"), absl::string_view::npos) << too_many;
  // Days: 3 allowed, 4 needed.
  const absl::Status days =
      BucketBoundaries(Granularity::kDay, utc, t, t + 3 * kMicrosPerDay + 1, 3).status();
  EXPECT_EQ(days.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(days.message().find("max_buckets (3)"), absl::string_view::npos) << days;
  EXPECT_TRUE(BucketBoundaries(Granularity::kDay, utc, t, t + 3 * kMicrosPerDay, 3).ok());
}

// Against an independent reading of the contract: the bucket of t starts at
// the floored start of the local period holding t, unless t has already
// reached the floored start of the next period.
Micros ReferenceStart(Granularity g, const absl::TimeZone& tz, Micros t) {
  auto floor = [](Micros x) {
    return x - ((x % kMicrosPerHour) + kMicrosPerHour) % kMicrosPerHour;
  };
  if (g == Granularity::kHour) return floor(t);
  const PeriodUnit unit = g == Granularity::kDay    ? PeriodUnit::kDay
                          : g == Granularity::kWeek ? PeriodUnit::kWeek
                                                    : PeriodUnit::kMonth;
  const Window w = WindowFor(unit, 1, tz, t);
  return t >= floor(w.end) ? floor(w.end) : floor(w.start);
}

TEST(BucketBoundariesTest, EveryInstantFallsInExactlyOneBucket) {
  const char* const zones[] = {"UTC",
                               "America/New_York",
                               "Europe/Berlin",
                               "Asia/Kolkata",
                               "Asia/Kathmandu",
                               "Australia/Lord_Howe",
                               "America/St_Johns"};
  std::mt19937_64 rng(2026);
  const Micros base = At("2023-01-01T00:00:00Z");
  std::uniform_int_distribution<Micros> start(0, 4 * 365 * kMicrosPerDay);
  for (int trial = 0; trial < 400; ++trial) {
    const absl::TimeZone tz = Zone(zones[trial % std::size(zones)]);
    const Granularity g = kAll[(trial / std::size(zones)) % std::size(kAll)];
    const Micros max_span = g == Granularity::kHour ? 3 * kMicrosPerDay : 400 * kMicrosPerDay;
    const Micros from = base + start(rng);
    const Micros to = from + 1 + static_cast<Micros>(rng() % static_cast<uint64_t>(max_span));
    const absl::StatusOr<std::vector<Micros>> b = BucketBoundaries(g, tz, from, to);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_GE(b->size(), 2u);
    EXPECT_LE(b->front(), from);
    EXPECT_LT((*b)[b->size() - 2], to);
    EXPECT_GE(b->back(), to);
    for (size_t i = 0; i < b->size(); ++i) {
      EXPECT_EQ((*b)[i] % kMicrosPerHour, 0);
      EXPECT_EQ(BucketStart(g, tz, (*b)[i]), (*b)[i]);
      if (i > 0) {
        EXPECT_LT((*b)[i - 1], (*b)[i]);
      }
    }
    for (int k = 0; k < 50; ++k) {
      const Micros t = from + static_cast<Micros>(rng() % static_cast<uint64_t>(to - from));
      const auto next = std::upper_bound(b->begin(), b->end(), t);
      ASSERT_NE(next, b->begin());
      ASSERT_NE(next, b->end());
      EXPECT_EQ(BucketStart(g, tz, t), *(next - 1)) << FormatRfc3339(t);
      EXPECT_EQ(BucketStart(g, tz, t), ReferenceStart(g, tz, t)) << FormatRfc3339(t);
    }
  }
}

}  // namespace
}  // namespace tally
