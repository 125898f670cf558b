#include "analytics/sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace tally {
namespace {

constexpr double kQuantiles[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};

LatencySketch SketchOf(const std::vector<int64_t>& values) {
  LatencySketch sketch;
  for (int64_t v : values) sketch.Add(v);
  return sketch;
}

// The lower quantile of the exact data: rank floor(q * (n - 1)).
double ExactQuantile(std::vector<int64_t> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  const auto rank = static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)));
  return static_cast<double>(sorted[rank]);
}

void ExpectWithinOnePercent(const std::vector<int64_t>& values) {
  const LatencySketch sketch = SketchOf(values);
  ASSERT_EQ(sketch.count(), values.size());
  for (double q : kQuantiles) {
    const double exact = ExactQuantile(values, q);
    EXPECT_LE(std::abs(sketch.Quantile(q) - exact), 0.01 * exact * (1 + 1e-9))
        << "q=" << q << " exact=" << exact;
  }
  EXPECT_EQ(sketch.Quantile(0),
            static_cast<double>(*std::min_element(values.begin(), values.end())));
  EXPECT_EQ(sketch.Quantile(1),
            static_cast<double>(*std::max_element(values.begin(), values.end())));
}

TEST(LatencySketchTest, EmptySketch) {
  const LatencySketch sketch;
  EXPECT_EQ(sketch.count(), 0u);
  EXPECT_EQ(sketch.sum(), 0);
  EXPECT_EQ(sketch.min(), 0);
  EXPECT_EQ(sketch.max(), 0);
  EXPECT_EQ(sketch.Quantile(0.5), 0);
  EXPECT_EQ(LatencySketch::Decode(sketch.Encode()), sketch);
}

TEST(LatencySketchTest, ZerosNegativesAndCounts) {
  LatencySketch sketch;
  sketch.Add(-5);  // Ignored.
  sketch.Add(0, 3);
  sketch.Add(100);
  sketch.Add(7, 0);  // Ignored.
  EXPECT_EQ(sketch.count(), 4u);
  EXPECT_EQ(sketch.sum(), 100);
  EXPECT_EQ(sketch.min(), 0);
  EXPECT_EQ(sketch.max(), 100);
  // Ranks: floor(q * 3): 0, 0, 0 fall in the zero bucket; rank 3 is 100.
  EXPECT_EQ(sketch.Quantile(0.5), 0);
  EXPECT_EQ(sketch.Quantile(0.99), 0);
  EXPECT_EQ(sketch.Quantile(1), 100);
}

TEST(LatencySketchTest, ReportsTheBucketValueWithinOnePercent) {
  // 1000 and 1005 share a bucket (gamma is ~1.0202), so ranks 0..2 report
  // one value, within 1 % of both.
  const LatencySketch sketch = SketchOf({1000, 1005, 1005, 5000});
  EXPECT_EQ(sketch.sum(), 8010);
  const double median = sketch.Quantile(0.5);  // Rank floor(0.5 * 3) = 1: 1005.
  EXPECT_NEAR(median, 1005, 10.05);
  EXPECT_NEAR(median, 1000, 10.00);
  EXPECT_EQ(sketch.Quantile(0.1), median);
  EXPECT_EQ(sketch.Quantile(0.9), median);  // Rank floor(0.9 * 3) = 2: 1005.
  EXPECT_EQ(sketch.Quantile(1), 5000);
}

TEST(LatencySketchTest, QuantilesOfRandomDistributions) {
  std::mt19937_64 rng(42);
  std::vector<int64_t> uniform, lognormal, exponential, few;
  std::uniform_int_distribution<int64_t> u(0, 10'000);
  std::lognormal_distribution<double> ln(4, 1.5);
  std::exponential_distribution<double> ex(1.0 / 200);
  std::uniform_int_distribution<int> pick(0, 3);
  for (int i = 0; i < 20'000; ++i) {
    uniform.push_back(u(rng));
    lognormal.push_back(static_cast<int64_t>(ln(rng)));
    exponential.push_back(static_cast<int64_t>(ex(rng)));
    few.push_back(std::vector<int64_t>{3, 40, 41, 9000}[pick(rng)]);
  }
  ExpectWithinOnePercent(uniform);
  ExpectWithinOnePercent(lognormal);
  ExpectWithinOnePercent(exponential);
  ExpectWithinOnePercent(few);
  ExpectWithinOnePercent({std::numeric_limits<int64_t>::max(), 1, 2});
}

TEST(LatencySketchTest, MergeEqualsSketchOfUnion) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> ln(3, 2);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<int64_t> a, b;
    const int n = trial * 13;
    for (int i = 0; i < n; ++i) {
      (rng() % 3 == 0 ? a : b).push_back(static_cast<int64_t>(ln(rng)));
    }
    std::vector<int64_t> all = a;
    all.insert(all.end(), b.begin(), b.end());
    LatencySketch merged = SketchOf(a);
    merged.Merge(SketchOf(b));
    EXPECT_EQ(merged, SketchOf(all));
    LatencySketch reversed = SketchOf(b);
    reversed.Merge(SketchOf(a));
    EXPECT_EQ(reversed, SketchOf(all));
  }
}

TEST(LatencySketchTest, SumSaturates) {
  LatencySketch sketch;
  sketch.Add(std::numeric_limits<int64_t>::max(), 3);
  sketch.Add(1);
  EXPECT_EQ(sketch.sum(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(sketch.count(), 4u);
  EXPECT_EQ(sketch.Quantile(1), static_cast<double>(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(LatencySketch::Decode(sketch.Encode()), sketch);
}

TEST(LatencySketchTest, EncodeRoundTripsAndIsCompact) {
  const LatencySketch few = SketchOf({12, 12, 13, 250, 0});
  // Version, zero count, bucket count, 3 x (delta, count), min, max, sum.
  EXPECT_LE(few.Encode().size(), 16u);
  EXPECT_EQ(LatencySketch::Decode(few.Encode()), few);

  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> ln(5, 2);
  LatencySketch many;
  for (int i = 0; i < 100'000; ++i) many.Add(static_cast<int64_t>(ln(rng)));
  const std::optional<LatencySketch> decoded = LatencySketch::Decode(many.Encode());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, many);
  EXPECT_EQ(decoded->Quantile(0.99), many.Quantile(0.99));
}

// A decoded sketch, if any, must behave: re-encode identically and answer
// quantiles inside [min, max].
void ExpectSaneIfDecoded(const std::string& bytes) {
  const std::optional<LatencySketch> sketch = LatencySketch::Decode(bytes);
  if (!sketch) return;
  EXPECT_EQ(sketch->Encode(), bytes);
  for (double q : kQuantiles) {
    const double v = sketch->Quantile(q);
    EXPECT_GE(v, static_cast<double>(sketch->min()));
    EXPECT_LE(v, static_cast<double>(sketch->max()));
  }
}

TEST(LatencySketchTest, DecodeRejectsTruncatedAndCorruptInput) {
  const std::string good = SketchOf({0, 1, 5, 5, 80, 81, 4000, 123456}).Encode();
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_FALSE(LatencySketch::Decode(good.substr(0, len)).has_value()) << len;
  }
  EXPECT_FALSE(LatencySketch::Decode(good + '\0').has_value());
  EXPECT_FALSE(LatencySketch::Decode("\x02").has_value());  // Unknown version.
  EXPECT_FALSE(LatencySketch::Decode(std::string("\x01\x80\x00\x00", 4)).has_value());  // Overlong.
  // Huge bucket count claims must not allocate.
  EXPECT_FALSE(LatencySketch::Decode("\x01\x00\xff\xff\xff\xff\x0f").has_value());

  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 20'000; ++trial) {
    std::string flipped = good;
    flipped[rng() % flipped.size()] ^= static_cast<char>(1 << (rng() % 8));
    ExpectSaneIfDecoded(flipped);
    std::string random(rng() % 24, '\0');
    for (char& c : random) c = static_cast<char>(rng());
    if (!random.empty()) random[0] = '\x01';
    ExpectSaneIfDecoded(random);
  }
}

}  // namespace
}  // namespace tally
