#include "analytics/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tally {
namespace {

constexpr double kZ95 = 1.96;

Micros FloorToHour(Micros t) {
  Micros hours = t / kMicrosPerHour;
  if (t % kMicrosPerHour < 0) --hours;
  return hours * kMicrosPerHour;
}

double HoursBetween(Micros from, Micros to) {
  return static_cast<double>(to - from) / static_cast<double>(kMicrosPerHour);
}

// A usage rate (per hour) that changes linearly in time: at `now` it is
// `at_now`, and it grows by `slope` per hour.
struct Rate {
  double at_now = 0;
  double slope = 0;

  // The integral of max(0, rate) over the first `hours` hours after now.
  double UsageWithin(double hours) const {
    if (hours <= 0) return 0;
    if (slope == 0) return std::max(at_now, 0.0) * hours;
    const double zero = -at_now / slope;  // Where the rate crosses 0.
    double from = 0, to = hours;
    if (slope > 0) {
      from = std::max(0.0, zero);
    } else {
      to = std::min(hours, zero);
    }
    if (from >= to) return 0;
    return at_now * (to - from) + slope / 2 * (to - from) * (to + from);
  }
};

// The first instant in (now, end] at which `rate` has added `needed`, if any.
std::optional<Micros> FirstReaching(const Rate& rate, Micros now, Micros end, double needed) {
  auto added_by = [&](Micros t) { return rate.UsageWithin(HoursBetween(now, t)); };
  if (end <= now || added_by(end) < needed) return std::nullopt;
  Micros low = now, high = end;  // added_by(low) < needed <= added_by(high).
  while (high - low > 1) {
    const Micros mid = low + (high - low) / 2;
    (added_by(mid) >= needed ? high : low) = mid;
  }
  return high;
}

}  // namespace

double Median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  if (v.size() % 2 == 1) return v[mid];
  const double upper = v[mid];
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return lower + (upper - lower) / 2;
}

std::optional<RobustScore> RobustZScore(std::span<const double> baseline, double x) {
  if (baseline.size() < 8) return std::nullopt;
  RobustScore score;
  score.median = Median({baseline.begin(), baseline.end()});
  std::vector<double> deviations;
  deviations.reserve(baseline.size());
  for (double v : baseline) deviations.push_back(std::abs(v - score.median));
  score.mad = Median(deviations);
  const double diff = x - score.median;
  if (score.mad > 0) {
    score.z = 0.6745 * diff / score.mad;
    return score;
  }
  double mean_deviation = 0;
  for (double d : deviations) mean_deviation += d;
  mean_deviation /= static_cast<double>(deviations.size());
  if (mean_deviation > 0) {
    score.z = diff / (1.253314 * mean_deviation);
  } else if (diff != 0) {
    score.z = std::copysign(std::numeric_limits<double>::infinity(), diff);
  }
  return score;
}

LinearFit FitLine(std::span<const double> xs, std::span<const double> ys) {
  LinearFit fit;
  const size_t n = std::min(xs.size(), ys.size());
  fit.n = static_cast<int>(n);
  if (n == 0) return fit;
  double mean_x = 0, mean_y = 0;
  for (size_t i = 0; i < n; ++i) {
    mean_x += xs[i];
    mean_y += ys[i];
  }
  mean_x /= static_cast<double>(n);
  mean_y /= static_cast<double>(n);
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (xs[i] - mean_x) * (xs[i] - mean_x);
    sxy += (xs[i] - mean_x) * (ys[i] - mean_y);
  }
  fit.slope = sxx > 0 ? sxy / sxx : 0;
  fit.intercept = mean_y - fit.slope * mean_x;
  if (n > 2) {
    double sse = 0;
    for (size_t i = 0; i < n; ++i) {
      const double residual = ys[i] - (fit.slope * xs[i] + fit.intercept);
      sse += residual * residual;
    }
    fit.residual_sd = std::sqrt(sse / static_cast<double>(n - 2));
  }
  return fit;
}

WindowForecast ForecastWindow(std::span<const int64_t> hourly_usage, Micros window_start,
                              Micros now, Micros window_end, int64_t used_now,
                              std::optional<int64_t> limit) {
  const Micros hour0 = FloorToHour(window_start);
  const int64_t current_hour = now < hour0 ? -1 : (now - hour0) / kMicrosPerHour;
  const size_t complete =
      std::min(hourly_usage.size(), static_cast<size_t>(std::max<int64_t>(current_hour, 0)));
  const double remaining_hours = std::max(0.0, HoursBetween(now, window_end));

  Rate rate;
  double projected = 0, half_band = 0;
  if (complete >= 3) {
    std::vector<double> xs, ys;
    for (size_t i = 0; i < complete; ++i) {
      xs.push_back(static_cast<double>(i) + 0.5);  // The hour's midpoint.
      ys.push_back(static_cast<double>(hourly_usage[i]));
    }
    const LinearFit fit = FitLine(xs, ys);
    rate = {fit.slope * HoursBetween(hour0, now) + fit.intercept, fit.slope};
    projected = rate.UsageWithin(remaining_hours);
    const double s2 = fit.residual_sd * fit.residual_sd;
    const double h = remaining_hours;
    half_band = kZ95 * std::sqrt(h * s2 + h * h * s2 / static_cast<double>(complete));
  } else {
    const size_t seen = std::min(hourly_usage.size(), static_cast<size_t>(current_hour + 1));
    double total = 0;
    for (size_t i = 0; i < seen; ++i) total += static_cast<double>(hourly_usage[i]);
    const double seen_hours = HoursBetween(window_start, now);
    rate.at_now = seen_hours > 0 ? total / seen_hours : 0;
    projected = rate.UsageWithin(remaining_hours);
    half_band = projected;
  }

  WindowForecast forecast;
  const auto used = static_cast<double>(used_now);
  forecast.expected = used + projected;
  forecast.low = std::max(used, forecast.expected - half_band);
  forecast.high = forecast.expected + half_band;
  forecast.rate_per_hour = std::max(0.0, rate.at_now);
  if (limit.has_value()) {
    if (used_now >= *limit) {
      forecast.exhaustion = now;
    } else {
      forecast.exhaustion =
          FirstReaching(rate, now, window_end, static_cast<double>(*limit) - used);
    }
  }
  return forecast;
}

double PercentileRank(std::span<const double> population, double x) {
  if (population.empty()) return 0;
  double below = 0, equal = 0;
  for (double v : population) {
    if (v < x) {
      ++below;
    } else if (v == x) {
      ++equal;
    }
  }
  return 100 * (below + equal / 2) / static_cast<double>(population.size());
}

}  // namespace tally
