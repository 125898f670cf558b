#include "analytics/sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tally {
namespace {

constexpr double kRelativeAccuracy = 0.01;
constexpr double kGamma = (1 + kRelativeAccuracy) / (1 - kRelativeAccuracy);
constexpr uint8_t kEncodingVersion = 1;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr uint64_t kUint64Max = std::numeric_limits<uint64_t>::max();

const double kLogGamma = std::log(kGamma);

// The bucket of x: ceil(log_gamma(x)), so bucket i holds (gamma^(i-1), gamma^i].
// REQUIRES: x >= 1.
int32_t IndexOf(int64_t x) {
  return static_cast<int32_t>(std::ceil(std::log(static_cast<double>(x)) / kLogGamma));
}

const int32_t kMaxIndex = IndexOf(kInt64Max);

// The value reported for bucket i: within 1 % of everything in the bucket.
double ValueOf(int32_t index) { return 2 * std::exp(index * kLogGamma) / (kGamma + 1); }

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > kUint64Max - b ? kUint64Max : a + b; }

// REQUIRES: a, b >= 0.
int64_t SaturatingAdd(int64_t a, int64_t b) { return a > kInt64Max - b ? kInt64Max : a + b; }

// REQUIRES: a >= 0.
int64_t SaturatingMul(int64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  if (b > static_cast<uint64_t>(kInt64Max / a)) return kInt64Max;
  return a * static_cast<int64_t>(b);
}

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Reads the shortest (canonical) LEB128 encoding of a uint64 from the front of
// `in`; nullopt if truncated, overlong or out of range.
std::optional<uint64_t> GetVarint(std::string_view* in) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in->empty()) return std::nullopt;
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    if (shift == 63 && byte > 1) return std::nullopt;
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift > 0) return std::nullopt;  // Overlong.
      return v;
    }
  }
  return std::nullopt;
}

std::optional<int64_t> GetNonNegative(std::string_view* in) {
  const std::optional<uint64_t> v = GetVarint(in);
  if (!v || *v > static_cast<uint64_t>(kInt64Max)) return std::nullopt;
  return static_cast<int64_t>(*v);
}

}  // namespace

void LatencySketch::Add(int64_t ms, uint64_t count) {
  if (ms < 0 || count == 0) return;
  if (ms == 0) {
    zero_count_ = SaturatingAdd(zero_count_, count);
  } else {
    const int32_t index = IndexOf(ms);
    auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                               [](const Bucket& b, int32_t i) { return b.index < i; });
    if (it != buckets_.end() && it->index == index) {
      it->count = SaturatingAdd(it->count, count);
    } else {
      buckets_.insert(it, Bucket{index, count});
    }
  }
  min_ = count_ == 0 ? ms : std::min(min_, ms);
  max_ = count_ == 0 ? ms : std::max(max_, ms);
  count_ = SaturatingAdd(count_, count);
  sum_ = SaturatingAdd(sum_, SaturatingMul(ms, count));
}

void LatencySketch::Merge(const LatencySketch& other) {
  if (other.count_ == 0) return;
  std::vector<Bucket> merged;
  merged.reserve(buckets_.size() + other.buckets_.size());
  auto a = buckets_.begin();
  auto b = other.buckets_.begin();
  while (a != buckets_.end() || b != other.buckets_.end()) {
    if (b == other.buckets_.end() || (a != buckets_.end() && a->index < b->index)) {
      merged.push_back(*a++);
    } else if (a == buckets_.end() || b->index < a->index) {
      merged.push_back(*b++);
    } else {
      merged.push_back(Bucket{a->index, SaturatingAdd(a->count, b->count)});
      ++a;
      ++b;
    }
  }
  buckets_ = std::move(merged);
  zero_count_ = SaturatingAdd(zero_count_, other.zero_count_);
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  count_ = SaturatingAdd(count_, other.count_);
  sum_ = SaturatingAdd(sum_, other.sum_);
}

double LatencySketch::Quantile(double q) const {
  if (count_ == 0) return 0;
  if (!(q > 0)) return static_cast<double>(min_);  // Also NaN.
  if (q >= 1) return static_cast<double>(max_);
  const double last = static_cast<double>(count_ - 1);
  const double position = std::floor(q * last);
  const uint64_t rank = position >= last ? count_ - 1 : static_cast<uint64_t>(position);
  uint64_t seen = zero_count_;
  if (rank < seen) return 0;
  for (const Bucket& bucket : buckets_) {
    seen = SaturatingAdd(seen, bucket.count);
    if (rank < seen) {
      return std::clamp(ValueOf(bucket.index), static_cast<double>(min_),
                        static_cast<double>(max_));
    }
  }
  return static_cast<double>(max_);  // Unreachable: counts sum to count_.
}

// Layout: version, zero_count, bucket count, then per bucket the index delta
// from the previous bucket (the first: the index) and its count; then, when
// not empty, min, max and sum. Every number is a varint.
std::string LatencySketch::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(kEncodingVersion));
  PutVarint(zero_count_, &out);
  PutVarint(buckets_.size(), &out);
  int32_t previous = 0;
  for (const Bucket& bucket : buckets_) {
    PutVarint(static_cast<uint64_t>(bucket.index - previous), &out);
    PutVarint(bucket.count, &out);
    previous = bucket.index;
  }
  if (count_ > 0) {
    PutVarint(static_cast<uint64_t>(min_), &out);
    PutVarint(static_cast<uint64_t>(max_), &out);
    PutVarint(static_cast<uint64_t>(sum_), &out);
  }
  return out;
}

std::optional<LatencySketch> LatencySketch::Decode(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes.front()) != kEncodingVersion) {
    return std::nullopt;
  }
  bytes.remove_prefix(1);
  LatencySketch sketch;
  const std::optional<uint64_t> zero_count = GetVarint(&bytes);
  const std::optional<uint64_t> num_buckets = GetVarint(&bytes);
  // Each bucket takes at least two bytes.
  if (!zero_count || !num_buckets || *num_buckets > static_cast<uint64_t>(kMaxIndex) + 1 ||
      *num_buckets > bytes.size() / 2) {
    return std::nullopt;
  }
  sketch.zero_count_ = *zero_count;
  sketch.count_ = *zero_count;
  sketch.buckets_.reserve(*num_buckets);
  for (uint64_t i = 0; i < *num_buckets; ++i) {
    const std::optional<uint64_t> delta = GetVarint(&bytes);
    const std::optional<uint64_t> count = GetVarint(&bytes);
    const int64_t previous = i == 0 ? 0 : sketch.buckets_.back().index;
    if (!delta || !count || *count == 0 || (i > 0 && *delta == 0) ||
        *delta > static_cast<uint64_t>(kMaxIndex - previous)) {
      return std::nullopt;
    }
    sketch.buckets_.push_back(Bucket{static_cast<int32_t>(previous + *delta), *count});
    sketch.count_ = SaturatingAdd(sketch.count_, *count);
  }
  if (sketch.count_ == 0) {
    if (!bytes.empty()) return std::nullopt;
    return sketch;
  }
  const std::optional<int64_t> min = GetNonNegative(&bytes);
  const std::optional<int64_t> max = GetNonNegative(&bytes);
  const std::optional<int64_t> sum = GetNonNegative(&bytes);
  if (!min || !max || !sum || !bytes.empty() || *min > *max) return std::nullopt;
  // min and max must fall in the first and last non-empty buckets.
  const bool has_zero = sketch.zero_count_ > 0;
  if (has_zero != (*min == 0)) return std::nullopt;
  if (sketch.buckets_.empty()) {
    if (*max != 0) return std::nullopt;
  } else if (*max == 0 || IndexOf(*max) != sketch.buckets_.back().index ||
             (!has_zero && IndexOf(*min) != sketch.buckets_.front().index)) {
    return std::nullopt;
  }
  if (*sum < *max || *sum > SaturatingMul(*max, sketch.count_)) return std::nullopt;
  sketch.min_ = *min;
  sketch.max_ = *max;
  sketch.sum_ = *sum;
  return sketch;
}

}  // namespace tally
