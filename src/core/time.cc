#include "core/time.h"

#include <cstdio>

namespace tally {
namespace {

struct CivilDate {
  int64_t year;
  int month;
  int day;
};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil, exact for every date in Micros' range).
int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year =
      (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// The inverse of DaysFromCivil.
CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era = (day_of_era - day_of_era / 1460 +
                               day_of_era / 36524 - day_of_era / 146096) /
                              365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t shifted_month = (5 * day_of_year + 2) / 153;
  const int day =
      static_cast<int>(day_of_year - (153 * shifted_month + 2) / 5 + 1);
  const int month = static_cast<int>(shifted_month < 10 ? shifted_month + 3
                                                        : shifted_month - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool IsLeapYear(int year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Reads the fixed-layout fields of an RFC 3339 timestamp left to right.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ == text_.size(); }

  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  // Consumes `c` or, when given, its lower-case spelling.
  bool Consume(char c, char lower = '\0') {
    if (Peek(c) || (lower != '\0' && Peek(lower))) {
      ++pos_;
      return true;
    }
    return false;
  }

  // Consumes exactly `width` decimal digits.
  bool Digits(int width, int* value) {
    *value = 0;
    for (int i = 0; i < width; ++i) {
      if (!IsDigitAt(pos_)) return false;
      *value = *value * 10 + (text_[pos_++] - '0');
    }
    return true;
  }

  // Consumes 1 to 9 fraction digits; keeps microseconds, truncating the rest.
  bool Fraction(Micros* micros) {
    constexpr int kMaxDigits = 9;
    constexpr int kMicroDigits = 6;
    *micros = 0;
    int count = 0;
    for (; IsDigitAt(pos_); ++pos_, ++count) {
      if (count >= kMaxDigits) return false;
      if (count < kMicroDigits) *micros = *micros * 10 + (text_[pos_] - '0');
    }
    for (int i = count; i < kMicroDigits; ++i) *micros *= 10;
    return count > 0;
  }

 private:
  bool IsDigitAt(size_t pos) const {
    return pos < text_.size() && text_[pos] >= '0' && text_[pos] <= '9';
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// Reads "Z" or "±HH:MM" as signed minutes east of UTC.
bool ReadOffset(Reader& in, int* offset_minutes) {
  *offset_minutes = 0;
  if (in.Consume('Z', 'z')) return true;
  const bool east = in.Peek('+');
  if (!in.Consume('+') && !in.Consume('-')) return false;
  int hours = 0;
  int minutes = 0;
  if (!in.Digits(2, &hours) || !in.Consume(':') || !in.Digits(2, &minutes) ||
      hours > 23 || minutes > 59) {
    return false;
  }
  *offset_minutes = (east ? 1 : -1) * (hours * 60 + minutes);
  return true;
}

}  // namespace

void AppendRfc3339(Micros t, std::string& out) {
  if (t == kBeginningOfTime || t == kEndOfTime) return;
  int64_t days = t / kMicrosPerDay;
  Micros of_day = t % kMicrosPerDay;
  if (of_day < 0) {
    --days;
    of_day += kMicrosPerDay;
  }
  const CivilDate date = CivilFromDays(days);
  const int64_t seconds = of_day / kMicrosPerSecond;
  const int64_t fraction = of_day % kMicrosPerSecond;
  if (date.year < 0 || date.year > 9999) {  // rare: keep snprintf for the odd widths
    char buf[64];
    int n = std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02lld:%02lld:%02lld",
                          static_cast<long long>(date.year), date.month, date.day,
                          static_cast<long long>(seconds / 3600),
                          static_cast<long long>(seconds / 60 % 60),
                          static_cast<long long>(seconds % 60));
    if (fraction != 0) {
      n += std::snprintf(buf + n, sizeof(buf) - n, ".%06lld", static_cast<long long>(fraction));
    }
    buf[n++] = 'Z';
    out.append(buf, n);
    return;
  }
  // Digit by digit: this runs several times for every API response.
  char buf[32];
  auto put = [](char* at, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) at[i] = static_cast<char>('0' + v % 10);
  };
  put(buf, date.year, 4);
  buf[4] = '-';
  put(buf + 5, date.month, 2);
  buf[7] = '-';
  put(buf + 8, date.day, 2);
  buf[10] = 'T';
  put(buf + 11, seconds / 3600, 2);
  buf[13] = ':';
  put(buf + 14, seconds / 60 % 60, 2);
  buf[16] = ':';
  put(buf + 17, seconds % 60, 2);
  int n = 19;
  if (fraction != 0) {
    buf[n++] = '.';
    put(buf + n, fraction, 6);
    n += 6;
  }
  buf[n++] = 'Z';
  out.append(buf, n);
}

std::string FormatRfc3339(Micros t) {
  std::string out;
  AppendRfc3339(t, out);
  return out;
}

std::optional<Micros> ParseRfc3339(std::string_view text) {
  Reader in(text);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!in.Digits(4, &year) || !in.Consume('-') || !in.Digits(2, &month) ||
      !in.Consume('-') || !in.Digits(2, &day) || !in.Consume('T', 't') ||
      !in.Digits(2, &hour) || !in.Consume(':') || !in.Digits(2, &minute) ||
      !in.Consume(':') || !in.Digits(2, &second)) {
    return std::nullopt;
  }
  Micros fraction = 0;
  if (in.Consume('.') && !in.Fraction(&fraction)) return std::nullopt;
  int offset_minutes = 0;
  if (!ReadOffset(in, &offset_minutes) || !in.AtEnd()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  const int64_t local_seconds = DaysFromCivil(year, month, day) * 86'400 +
                                hour * 3600 + minute * 60 + second;
  return (local_seconds - offset_minutes * 60) * kMicrosPerSecond + fraction;
}

}  // namespace tally
