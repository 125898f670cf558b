// Instants and durations as integer microseconds since the Unix epoch (UTC).
//
// tally keeps time as plain int64 microseconds on the hot path: comparisons and
// arithmetic are single instructions, and every stored timestamp is exact.
// Civil (calendar) arithmetic happens only in period.h, through absl::TimeZone.
#ifndef TALLY_CORE_TIME_H_
#define TALLY_CORE_TIME_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

// Microseconds since 1970-01-01T00:00:00Z.
using Micros = int64_t;

inline constexpr Micros kMicrosPerMilli = 1'000;
inline constexpr Micros kMicrosPerSecond = 1'000'000;
inline constexpr Micros kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr Micros kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr Micros kMicrosPerDay = 24 * kMicrosPerHour;

// The open ends of a window that never resets.
inline constexpr Micros kBeginningOfTime = std::numeric_limits<Micros>::min();
inline constexpr Micros kEndOfTime = std::numeric_limits<Micros>::max();

// Formats `t` as RFC 3339 in UTC, e.g. "2026-03-08T07:00:00Z" (fractional
// seconds only when non-zero). kBeginningOfTime and kEndOfTime format as "".
std::string FormatRfc3339(Micros t);

// FormatRfc3339(t) appended to `out`, without allocating (exports write
// millions of times).
void AppendRfc3339(Micros t, std::string& out);

// Parses an RFC 3339 timestamp ("2026-03-08T02:30:00-05:00", "...Z",
// fractional seconds up to microseconds). Returns nullopt on anything else.
std::optional<Micros> ParseRfc3339(std::string_view text);

}  // namespace tally

#endif  // TALLY_CORE_TIME_H_
