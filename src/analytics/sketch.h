// LatencySketch: a mergeable quantile sketch of latencies in whole milliseconds.
//
// A DDSketch (Masson, Rim, Lee, VLDB 2019) with relative accuracy 1 %: a value
// x > 0 is counted in bucket ceil(log_gamma(x)), gamma = 1.01 / 0.99, and every
// quantile it reports is within 1 % of the value of that rank in the data
// (q = 0 and q = 1 return the exact min and max). Zero has its own bucket.
// Buckets are stored sparsely, so an hour with a handful of distinct latencies
// costs a handful of entries; the whole int64 range needs at most ~2,200.
//
// Merging is exact: Merge(a, b) equals the sketch of the union of their values,
// so per-hour sketches roll up into days and months without loss.
//
// Thread-safety: a value type; const methods may be called concurrently,
// mutation needs external synchronization.
#ifndef TALLY_ANALYTICS_SKETCH_H_
#define TALLY_ANALYTICS_SKETCH_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tally {

class LatencySketch {
 public:
  // Records `count` occurrences of `ms`. Negative values are ignored.
  void Add(int64_t ms, uint64_t count = 1);

  // Adds every value recorded in `other`.
  void Merge(const LatencySketch& other);

  // Counts and sum saturate at their type's maximum instead of wrapping.
  uint64_t count() const { return count_; }
  int64_t sum() const { return sum_; }
  // 0 when empty.
  int64_t min() const { return min_; }
  int64_t max() const { return max_; }
  bool empty() const { return count_ == 0; }

  // The lower q-quantile: the value of rank floor(q * (count - 1)) in sorted
  // order, within 1 % relative error. 0 when empty. q is clamped to [0, 1].
  double Quantile(double q) const;

  // A compact byte encoding (LEB128 varints; buckets as index deltas and
  // counts). Decode returns nullopt for truncated, overlong or inconsistent
  // input (never crashes); a sketch it returns re-encodes to the same bytes.
  std::string Encode() const;
  static std::optional<LatencySketch> Decode(std::string_view bytes);

  friend bool operator==(const LatencySketch&, const LatencySketch&) = default;

 private:
  struct Bucket {
    int32_t index;
    uint64_t count;
    friend bool operator==(const Bucket&, const Bucket&) = default;
  };

  // Sorted by index, each count > 0.
  std::vector<Bucket> buckets_;
  uint64_t zero_count_ = 0;
  uint64_t count_ = 0;
  int64_t sum_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

}  // namespace tally

#endif  // TALLY_ANALYTICS_SKETCH_H_
