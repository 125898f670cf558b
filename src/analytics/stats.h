// Robust statistics and quota-window forecasting for analytics.
//
// Median / RobustZScore flag anomalous usage against a baseline without being
// dragged by the anomalies already in it (Iglewicz & Hoaglin's modified
// z-score). FitLine is ordinary least squares. ForecastWindow projects a quota
// window's total from its hourly usage so far.
//
// Thread-safety: pure functions.
#ifndef TALLY_ANALYTICS_STATS_H_
#define TALLY_ANALYTICS_STATS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/time.h"

namespace tally {

// The median (mean of the two middle values for an even count).
// REQUIRES: !v.empty() (returns NaN otherwise).
double Median(std::vector<double> v);

struct RobustScore {
  double median = 0;
  double mad = 0;  // Median absolute deviation from the median.
  double z = 0;    // Modified z-score of x; |z| > 3.5 is the usual outlier cut.
};

// z = 0.6745 (x - median) / MAD. When MAD is 0 (over half the baseline is one
// value), z = (x - median) / (1.253314 * mean absolute deviation from the
// median); when that is 0 too, z is 0 if x == median, else +/-infinity.
// nullopt when the baseline has fewer than 8 points.
std::optional<RobustScore> RobustZScore(std::span<const double> baseline, double x);

struct LinearFit {
  double slope = 0;
  double intercept = 0;
  double residual_sd = 0;  // sqrt(SSE / (n - 2)); 0 when n <= 2.
  int n = 0;
};

// Ordinary least squares y = slope * x + intercept over the first
// min(xs.size(), ys.size()) pairs. With fewer than 2 points, or all xs equal,
// slope is 0 and intercept the mean of ys (0 when there are none).
LinearFit FitLine(std::span<const double> xs, std::span<const double> ys);

struct WindowForecast {
  double expected = 0;               // Projected total at the window's end.
  double low = 0, high = 0;          // 95 % prediction band; low >= used_now.
  double rate_per_hour = 0;          // Fitted rate at `now`, >= 0.
  std::optional<Micros> exhaustion;  // When the projection reaches `limit`, if
                                     // at or before window_end.
};

// Projects the total of a quota window [window_start, window_end) at `now`.
// hourly_usage[i] is the usage in hour i, hour 0 starting at window_start
// floored to the UTC hour; the entry for the hour holding `now` is partial.
//
// With at least 3 complete hours, a line is fitted to the usage of the
// complete hours (each placed at its hour's midpoint), so the rate may grow or
// shrink; the remaining usage is the integral of that rate, clamped at 0, from
// now to window_end, with band +/-1.96 sqrt(h s^2 + h^2 s^2 / n) (s: residual
// sd, h: remaining hours, n: complete hours). With fewer, the rate is the mean
// over the time seen since window_start (all entries, the partial hour
// included) and the band is +/-100 % of the projected remainder.
//
// exhaustion: `now` if used_now >= *limit already; else the first instant in
// (now, window_end] at which used_now plus the projected usage reaches *limit
// (to the microsecond); else nullopt.
WindowForecast ForecastWindow(std::span<const int64_t> hourly_usage, Micros window_start,
                              Micros now, Micros window_end, int64_t used_now,
                              std::optional<int64_t> limit);

// The midrank percentile of x: 100 * (count below x + count equal / 2) / n.
// 0 for an empty population.
double PercentileRank(std::span<const double> population, double x);

}  // namespace tally

#endif  // TALLY_ANALYTICS_STATS_H_
