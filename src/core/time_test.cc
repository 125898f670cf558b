#include "core/time.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "absl/time/time.h"

namespace tally {
namespace {

// 2026-03-08T07:00:00Z, from `date -ud 2026-03-08T07:00:00Z +%s`.
constexpr Micros k20260308T0700Z = 1'772'953'200 * kMicrosPerSecond;
// 2000-01-01T00:00:00Z.
constexpr Micros kY2K = 946'684'800 * kMicrosPerSecond;

TEST(ParseRfc3339Test, ParsesKnownInstants) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339("2000-01-01T00:00:00Z"), kY2K);
  EXPECT_EQ(ParseRfc3339("2026-03-08T07:00:00Z"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("2038-01-19T03:14:08Z"),
            int64_t{2'147'483'648} * kMicrosPerSecond);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.999999Z"), -1);
  EXPECT_EQ(ParseRfc3339("0001-01-01T00:00:00Z"),
            int64_t{-62'135'596'800} * kMicrosPerSecond);
}

TEST(ParseRfc3339Test, AppliesOffsets) {
  EXPECT_EQ(ParseRfc3339("2026-03-08T02:00:00-05:00"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("2026-03-08T12:30:00+05:30"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("2026-03-08T21:00:00+14:00"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("2026-03-07T21:00:00-10:00"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("2026-03-08T07:00:00+00:00"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("2026-03-08T07:00:00-00:00"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("2000-01-01T00:00:00+23:59"),
            kY2K - (23 * kMicrosPerHour + 59 * kMicrosPerMinute));
}

TEST(ParseRfc3339Test, AcceptsLowerCaseSeparatorAndZulu) {
  EXPECT_EQ(ParseRfc3339("2026-03-08t07:00:00z"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("2026-03-08t07:00:00Z"), k20260308T0700Z);
}

TEST(ParseRfc3339Test, KeepsMicrosecondsAndTruncatesFinerFractions) {
  EXPECT_EQ(ParseRfc3339("2026-03-08T07:00:00.5Z"), k20260308T0700Z + 500'000);
  EXPECT_EQ(ParseRfc3339("2026-03-08T07:00:00.000123Z"), k20260308T0700Z + 123);
  EXPECT_EQ(ParseRfc3339("2026-03-08T07:00:00.123456789Z"),
            k20260308T0700Z + 123'456);
  EXPECT_EQ(ParseRfc3339("2026-03-08T07:00:00.0000009Z"), k20260308T0700Z);
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.5Z"), -500'000);
}

TEST(ParseRfc3339Test, AcceptsLeapDaysOnlyInLeapYears) {
  EXPECT_TRUE(ParseRfc3339("2028-02-29T00:00:00Z").has_value());
  EXPECT_TRUE(ParseRfc3339("2000-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2027-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("1900-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2100-02-29T00:00:00Z").has_value());
}

TEST(ParseRfc3339Test, RejectsMalformedInput) {
  const char* const kRejected[] = {
      "",
      "2026",
      "2026-03-08",
      "2026-03-08T07:00",
      "2026-03-08T07:00:00",    // no offset
      "2026-03-08T07:00:00.5",  // no offset
      "2026-03-08 07:00:00Z",   // space separator
      "2026-03-08X07:00:00Z",
      "2026-3-08T07:00:00Z",
      "26-03-08T07:00:00Z",
      "+2026-03-08T07:00:00Z",
      "-2026-03-08T07:00:00Z",
      "20260-03-08T07:00:00Z",
      "2026/03/08T07:00:00Z",
      "2026-00-08T07:00:00Z",
      "2026-13-08T07:00:00Z",
      "2026-01-00T07:00:00Z",
      "2026-01-32T07:00:00Z",
      "2026-02-30T07:00:00Z",
      "2026-04-31T07:00:00Z",
      "2026-03-08T24:00:00Z",
      "2026-03-08T07:60:00Z",
      "2026-03-08T07:00:60Z",  // leap seconds are not accepted
      "2026-03-08T7:00:00Z",
      "2026-03-08T07:00:00.Z",
      "2026-03-08T07:00:00.1234567890Z",
      "2026-03-08T07:00:00,5Z",
      "2026-03-08T07:00:00+05",
      "2026-03-08T07:00:00+0530",
      "2026-03-08T07:00:00+5:30",
      "2026-03-08T07:00:00+24:00",
      "2026-03-08T07:00:00+05:60",
      "2026-03-08T07:00:00UTC",
      "2026-03-08T07:00:00ZZ",
      "2026-03-08T07:00:00Z ",
      " 2026-03-08T07:00:00Z",
      "2026-03-08T07:00:00+05:30Z",
      "２０２６-03-08T07:00:00Z",
      "2026-03-08T07:00:00\xff",
  };
  for (const char* text : kRejected) {
    EXPECT_EQ(ParseRfc3339(text), std::nullopt) << text;
  }
}

TEST(ParseRfc3339Test, RejectsEmbeddedNul) {
  const std::string text("2026-03-08T07:00:00Z\0", 21);
  EXPECT_EQ(ParseRfc3339(text), std::nullopt);
  EXPECT_EQ(ParseRfc3339(std::string_view("2026-03-08T07:00:00Z", 19)),
            std::nullopt);
}

TEST(FormatRfc3339Test, FormatsUtcWithFractionOnlyWhenNonZero) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(k20260308T0700Z), "2026-03-08T07:00:00Z");
  EXPECT_EQ(FormatRfc3339(k20260308T0700Z + 250'000),
            "2026-03-08T07:00:00.250000Z");
  EXPECT_EQ(FormatRfc3339(k20260308T0700Z + 123),
            "2026-03-08T07:00:00.000123Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339(kY2K - kMicrosPerDay), "1999-12-31T00:00:00Z");
}

TEST(FormatRfc3339Test, OpenEndsFormatAsEmpty) {
  EXPECT_EQ(FormatRfc3339(kBeginningOfTime), "");
  EXPECT_EQ(FormatRfc3339(kEndOfTime), "");
}

TEST(FormatRfc3339Test, FormatsInstantsNearTheOpenEndsWithoutCrashing) {
  EXPECT_FALSE(FormatRfc3339(kBeginningOfTime + 1).empty());
  EXPECT_FALSE(FormatRfc3339(kEndOfTime - 1).empty());
}

TEST(Rfc3339Test, RoundTripsRandomInstantsOfYears0001To9999) {
  const Micros lo = *ParseRfc3339("0001-01-01T00:00:00Z");
  const Micros hi = *ParseRfc3339("9999-12-31T23:59:59.999999Z");
  std::mt19937_64 rng(20260308);
  std::uniform_int_distribution<Micros> instant(lo, hi);
  for (int i = 0; i < 100'000; ++i) {
    const Micros t = instant(rng);
    const std::string text = FormatRfc3339(t);
    ASSERT_EQ(ParseRfc3339(text), t) << text;
  }
  EXPECT_EQ(FormatRfc3339(lo), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(hi), "9999-12-31T23:59:59.999999Z");
}

TEST(Rfc3339Test, RoundTripsEveryDayBoundaryOfALeapCycle) {
  const Micros start = *ParseRfc3339("2000-01-01T00:00:00Z");
  for (int day = 0; day < 146'097; day += 1) {
    const Micros t = start + day * kMicrosPerDay - 1;
    ASSERT_EQ(ParseRfc3339(FormatRfc3339(t)), t);
  }
}

// absl's own RFC 3339 parser is the oracle for well-formed input.
TEST(Rfc3339Test, AgreesWithAbslOnRandomWellFormedTimestamps) {
  std::mt19937_64 rng(42);
  auto pick = [&rng](int lo, int hi) {
    return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1));
  };
  for (int i = 0; i < 20'000; ++i) {
    const int month = pick(1, 12);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d",
                  pick(1, 9999), month, pick(1, month == 2 ? 28 : 30),
                  pick(0, 23), pick(0, 59), pick(0, 59));
    std::string text = buf;
    const int fraction_digits = pick(0, 9);
    if (fraction_digits > 0) text += '.';
    for (int d = 0; d < fraction_digits; ++d) {
      text += static_cast<char>('0' + pick(0, 9));
    }
    if (pick(0, 3) == 0) {
      text += 'Z';
    } else {
      std::snprintf(buf, sizeof(buf), "%c%02d:%02d", pick(0, 1) ? '+' : '-',
                    pick(0, 23), pick(0, 59));
      text += buf;
    }
    absl::Time expected;
    std::string error;
    ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, text, &expected, &error))
        << text << ": " << error;
    ASSERT_EQ(ParseRfc3339(text), absl::ToUnixMicros(expected)) << text;
  }
}

// Mutated valid timestamps and random bytes: the parser must never crash, and
// whatever it accepts must describe the instant it returns.
TEST(Rfc3339Test, SurvivesMutatedAndRandomInput) {
  const std::string seed = "2026-03-08T02:30:00.123456789-05:00";
  constexpr char kAlphabet[] = "0123456789-+:.TtZz \0\xff";
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200'000; ++i) {
    std::string text = seed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % (text.size() + 1);
      const char c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
      switch (rng() % 3) {
        case 0:
          text.insert(pos, 1, c);
          break;
        case 1:
          if (pos < text.size()) text.erase(pos, 1);
          break;
        default:
          if (pos < text.size()) text[pos] = c;
          break;
      }
    }
    if (const std::optional<Micros> t = ParseRfc3339(text)) {
      ASSERT_EQ(ParseRfc3339(FormatRfc3339(*t)), *t) << text;
    }
  }
  for (int i = 0; i < 100'000; ++i) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    EXPECT_EQ(ParseRfc3339(bytes), std::nullopt);
  }
}

}  // namespace
}  // namespace tally
