#include "analytics/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace tally {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// 2026-03-01T00:00:00Z, a whole UTC hour.
constexpr Micros kStart = 1'772'323'200 * kMicrosPerSecond;

Micros Hours(double h) { return static_cast<Micros>(h * static_cast<double>(kMicrosPerHour)); }

TEST(MedianTest, OddEvenSingle) {
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
  EXPECT_EQ(Median({-7}), -7);
  EXPECT_TRUE(std::isnan(Median({})));
}

TEST(RobustZScoreTest, UsesMedianAbsoluteDeviation) {
  // Median 11; deviations 1,1,0,2,2,1,0,1 -> MAD 1.
  const std::vector<double> baseline = {10, 12, 11, 13, 9, 10, 11, 12};
  const std::optional<RobustScore> score = RobustZScore(baseline, 20);
  ASSERT_TRUE(score.has_value());
  EXPECT_EQ(score->median, 11);
  EXPECT_EQ(score->mad, 1);
  EXPECT_NEAR(score->z, 0.6745 * 9, 1e-12);
  EXPECT_NEAR(RobustZScore(baseline, 9)->z, -0.6745 * 2, 1e-12);
}

TEST(RobustZScoreTest, FallsBackToMeanAbsoluteDeviationWhenMadIsZero) {
  // Median 5, MAD 0; mean absolute deviation (3 + 3) / 8 = 0.75.
  const std::vector<double> baseline = {5, 5, 5, 5, 5, 5, 8, 2};
  const std::optional<RobustScore> score = RobustZScore(baseline, 8);
  ASSERT_TRUE(score.has_value());
  EXPECT_EQ(score->mad, 0);
  EXPECT_NEAR(score->z, 3 / (1.253314 * 0.75), 1e-12);
}

TEST(RobustZScoreTest, ConstantBaseline) {
  const std::vector<double> baseline(8, 5.0);
  EXPECT_EQ(RobustZScore(baseline, 5)->z, 0);
  EXPECT_EQ(RobustZScore(baseline, 6)->z, kInf);
  EXPECT_EQ(RobustZScore(baseline, 4)->z, -kInf);
}

TEST(RobustZScoreTest, NeedsEightPoints) {
  const std::vector<double> seven = {1, 2, 3, 4, 5, 6, 7};
  EXPECT_FALSE(RobustZScore(seven, 3).has_value());
}

TEST(FitLineTest, HandComputed) {
  const std::vector<double> xs = {0, 1, 2, 3}, ys = {1, 3, 2, 4};
  // Sxx = 5, Sxy = 4; residuals -0.3, 0.9, -0.9, 0.3 -> SSE 1.8.
  const LinearFit fit = FitLine(xs, ys);
  EXPECT_NEAR(fit.slope, 0.8, 1e-12);
  EXPECT_NEAR(fit.intercept, 1.3, 1e-12);
  EXPECT_NEAR(fit.residual_sd, std::sqrt(0.9), 1e-12);
  EXPECT_EQ(fit.n, 4);
}

TEST(FitLineTest, ExactLineAndDegenerateInputs) {
  const std::vector<double> xs = {0, 1, 2, 3, 4}, ys = {1, 3, 5, 7, 9};
  const LinearFit fit = FitLine(xs, ys);
  EXPECT_NEAR(fit.slope, 2, 1e-12);
  EXPECT_NEAR(fit.intercept, 1, 1e-12);
  EXPECT_NEAR(fit.residual_sd, 0, 1e-12);

  const std::vector<double> one_x = {3}, one_y = {5};
  EXPECT_EQ(FitLine(one_x, one_y).slope, 0);
  EXPECT_EQ(FitLine(one_x, one_y).intercept, 5);
  EXPECT_EQ(FitLine({}, {}).intercept, 0);
  const std::vector<double> same_x = {2, 2, 2}, some_y = {1, 2, 6};
  EXPECT_EQ(FitLine(same_x, some_y).slope, 0);
  EXPECT_EQ(FitLine(same_x, some_y).intercept, 3);
}

TEST(FitLineTest, ResidualsAreOrthogonalToTheDesign) {
  // The normal equations of least squares: sum(r) = 0 and sum(x * r) = 0.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 10);
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<double> xs, ys;
    for (int i = 0; i < 3 + trial; ++i) {
      xs.push_back(i * 0.5 + noise(rng) / 20);
      ys.push_back(3 * xs.back() - 7 + noise(rng));
    }
    const LinearFit fit = FitLine(xs, ys);
    double sum_r = 0, sum_xr = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double r = ys[i] - (fit.slope * xs[i] + fit.intercept);
      sum_r += r;
      sum_xr += xs[i] * r;
    }
    EXPECT_NEAR(sum_r, 0, 1e-8);
    EXPECT_NEAR(sum_xr, 0, 1e-7);
  }
}

TEST(ForecastWindowTest, ConstantRate) {
  // 10 complete hours of 100, half of hour 10 gone with 50: 1050 used.
  std::vector<int64_t> usage(10, 100);
  usage.push_back(50);
  const WindowForecast f =
      ForecastWindow(usage, kStart, kStart + Hours(10.5), kStart + Hours(24), 1050, 2000);
  EXPECT_NEAR(f.rate_per_hour, 100, 1e-9);
  EXPECT_NEAR(f.expected, 1050 + 13.5 * 100, 1e-6);
  EXPECT_NEAR(f.low, f.expected, 1e-6);  // A perfect fit: no residual spread.
  EXPECT_NEAR(f.high, f.expected, 1e-6);
  // 950 more at 100/h: 9.5 hours after now.
  ASSERT_TRUE(f.exhaustion.has_value());
  EXPECT_NEAR(*f.exhaustion, kStart + Hours(20), 10);
}

TEST(ForecastWindowTest, GrowingRate) {
  // Hour i used 10 i: rate(t) = 10 t - 5 at hour midpoints. 150 used by t = 6.
  const std::vector<int64_t> usage = {0, 10, 20, 30, 40, 50, 0};
  const WindowForecast f =
      ForecastWindow(usage, kStart, kStart + Hours(6), kStart + Hours(10), 150, 300);
  EXPECT_NEAR(f.rate_per_hour, 55, 1e-9);
  // integral_6^10 (10t - 5) dt = 5 (100 - 36) - 5 * 4 = 300.
  EXPECT_NEAR(f.expected, 450, 1e-6);
  // 150 more: 5 (T^2 - 36) - 5 (T - 6) = 150  ->  T^2 - T - 60 = 0.
  ASSERT_TRUE(f.exhaustion.has_value());
  EXPECT_NEAR(*f.exhaustion, kStart + Hours((1 + std::sqrt(241.0)) / 2), 10);
}

TEST(ForecastWindowTest, ShrinkingRateStopsAtZero) {
  // Hour i used 50 - 10 i: rate(t) = 55 - 10 t, which reaches 0 at t = 5.5.
  const std::vector<int64_t> usage = {50, 40, 30, 20, 10, 0};
  const WindowForecast f =
      ForecastWindow(usage, kStart, kStart + Hours(5), kStart + Hours(10), 150, 152);
  EXPECT_NEAR(f.rate_per_hour, 5, 1e-9);
  // integral_5^5.5 (55 - 10 t) dt = 27.5 - 26.25; nothing after.
  EXPECT_NEAR(f.expected, 151.25, 1e-6);
  EXPECT_FALSE(f.exhaustion.has_value());
}

TEST(ForecastWindowTest, PredictionBandFromResiduals) {
  // Flat 100 +/- 10: slope 0, SSE 800, s^2 = 800 / 6; h = 16, n = 8:
  // 1.96 sqrt(16 s^2 + 256 s^2 / 8) = 1.96 sqrt(6400) = 156.8.
  const std::vector<int64_t> usage = {90, 110, 110, 90, 90, 110, 110, 90, 0};
  const WindowForecast f =
      ForecastWindow(usage, kStart, kStart + Hours(8), kStart + Hours(24), 800, std::nullopt);
  EXPECT_NEAR(f.expected, 2400, 1e-6);
  EXPECT_NEAR(f.low, 2400 - 156.8, 1e-6);
  EXPECT_NEAR(f.high, 2400 + 156.8, 1e-6);
  EXPECT_FALSE(f.exhaustion.has_value());
}

TEST(ForecastWindowTest, ZeroUsageNeverExhausts) {
  const std::vector<int64_t> usage(6, 0);
  const WindowForecast f =
      ForecastWindow(usage, kStart, kStart + Hours(5.5), kStart + Hours(24), 0, 1);
  EXPECT_EQ(f.expected, 0);
  EXPECT_EQ(f.low, 0);
  EXPECT_EQ(f.high, 0);
  EXPECT_EQ(f.rate_per_hour, 0);
  EXPECT_FALSE(f.exhaustion.has_value());
}

TEST(ForecastWindowTest, AlreadyExceeded) {
  const std::vector<int64_t> usage = {300, 200, 0, 10};
  const Micros now = kStart + Hours(3.25);
  const WindowForecast f = ForecastWindow(usage, kStart, now, kStart + Hours(24), 510, 400);
  ASSERT_TRUE(f.exhaustion.has_value());
  EXPECT_EQ(*f.exhaustion, now);
  EXPECT_GE(f.low, 510);
}

TEST(ForecastWindowTest, TooLittleDataUsesMeanRateAndWideBand) {
  // Two complete hours and half of the third: 250 in 2.5 hours = 100/h.
  const std::vector<int64_t> usage = {100, 100, 50};
  const WindowForecast f =
      ForecastWindow(usage, kStart, kStart + Hours(2.5), kStart + Hours(10), 250, 500);
  EXPECT_NEAR(f.rate_per_hour, 100, 1e-9);
  EXPECT_NEAR(f.expected, 250 + 750, 1e-6);
  EXPECT_NEAR(f.low, 250, 1e-6);  // -100 % of the remainder.
  EXPECT_NEAR(f.high, 1750, 1e-6);
  ASSERT_TRUE(f.exhaustion.has_value());
  EXPECT_NEAR(*f.exhaustion, kStart + Hours(5), 10);
}

TEST(ForecastWindowTest, LimitBeyondWindowEnd) {
  const std::vector<int64_t> usage = {100, 100, 100, 100, 0};
  const WindowForecast f =
      ForecastWindow(usage, kStart, kStart + Hours(4), kStart + Hours(6), 400, 601);
  EXPECT_NEAR(f.expected, 600, 1e-6);
  EXPECT_FALSE(f.exhaustion.has_value());
  // Exactly reachable at the window's end.
  const WindowForecast g =
      ForecastWindow(usage, kStart, kStart + Hours(4), kStart + Hours(6), 400, 600);
  ASSERT_TRUE(g.exhaustion.has_value());
  EXPECT_NEAR(*g.exhaustion, kStart + Hours(6), 10);
}

TEST(PercentileRankTest, Midrank) {
  const std::vector<double> population = {1, 2, 2, 3};
  EXPECT_EQ(PercentileRank(population, 2), 50);    // (1 + 2 / 2) / 4.
  EXPECT_EQ(PercentileRank(population, 2.5), 75);  // 3 below.
  EXPECT_EQ(PercentileRank(population, 0), 0);
  EXPECT_EQ(PercentileRank(population, 3), 87.5);  // (3 + 0.5) / 4.
  EXPECT_EQ(PercentileRank(population, 9), 100);
  EXPECT_EQ(PercentileRank({}, 1), 0);
}

}  // namespace
}  // namespace tally
