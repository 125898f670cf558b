// Calendar buckets for usage series: where each hour, day, week or month of a
// chart starts.
//
//   hour   UTC hours
//   day    local midnight in the subject's zone (23 or 25 hours across DST)
//   week   local Monday 00:00 (ISO weeks)
//   month  the 1st 00:00 local
//
// Local boundaries follow core/period.h (WindowFor): a local midnight that a
// DST change skips starts at the transition instant, a repeated one at its
// first occurrence.
//
// Rollups are kept per UTC hour, so every boundary is floored to a whole UTC
// hour. In whole-hour-offset zones that changes nothing; in a +05:30 or +05:45
// zone a day starts at the UTC hour holding local midnight (Asia/Kolkata's
// 2026-01-10 starts at 2026-01-09T18:00Z, 30 minutes before local midnight).
// Every instant belongs to exactly one bucket.
//
// Thread-safety: pure functions; absl::TimeZone is safe to share.
#ifndef TALLY_ANALYTICS_BUCKETS_H_
#define TALLY_ANALYTICS_BUCKETS_H_

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/time.h"

namespace tally {

enum class Granularity { kHour, kDay, kWeek, kMonth };

// "hour", "day", "week", "month"; nullopt for anything else.
std::optional<Granularity> ParseGranularity(std::string_view name);
std::string_view GranularityName(Granularity granularity);

// The boundaries b[0..n] of the n buckets covering [from, to):
// b[0] <= from < b[1] < ... < b[n-1] < to <= b[n].
// InvalidArgumentError when from >= to or when more than max_buckets buckets
// would be needed.
absl::StatusOr<std::vector<Micros>> BucketBoundaries(Granularity granularity,
                                                     const absl::TimeZone& tz, Micros from,
                                                     Micros to, size_t max_buckets = 10000);

// The start of the bucket holding t.
Micros BucketStart(Granularity granularity, const absl::TimeZone& tz, Micros t);

}  // namespace tally

#endif  // TALLY_ANALYTICS_BUCKETS_H_
