// WriteLimiter: a per-API-key cap on write requests (track, consume,
// reserve...), so one misbehaving backend cannot flood the ingest path.
//
// Each key has a GCRA bucket (engine/gcra.h) of `rate` requests per second
// with bursts of rate * burst_seconds, kept as one theoretical arrival time
// (in nanosecond ticks, so rates up to 1M/s hold to within 0.1%).
//
// Thread-safety: Admit may be called concurrently; keys are spread over 16
// stripes, each guarded by its own mutex.
#ifndef TALLY_SERVER_AUTH_WRITE_LIMITER_H_
#define TALLY_SERVER_AUTH_WRITE_LIMITER_H_

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "core/time.h"

namespace tally {

class WriteLimiter {
 public:
  // `default_rate_per_s`: requests per second per key when the key sets no
  // rate of its own; 0 = unlimited. `burst_seconds`: how many seconds' worth
  // of requests may arrive at once (values below 1 count as 1). Default: 1.
  explicit WriteLimiter(int64_t default_rate_per_s, int64_t burst_seconds = 1);
  WriteLimiter(const WriteLimiter&) = delete;
  WriteLimiter& operator=(const WriteLimiter&) = delete;

  struct Result {
    bool allowed = true;
    Micros retry_at = 0;  // when denied: the first instant a retry would be admitted
  };

  // Admits one write by `key_id` at `now`, or says when to retry.
  // `rate_override_per_s` > 0 replaces the default for this key (the key's
  // ApiKey::write_rate_per_s); 0 uses the default.
  [[nodiscard]] Result Admit(const std::string& key_id, int64_t rate_override_per_s, Micros now);

 private:
  static constexpr size_t kStripes = 16;
  // Above this many keys, a stripe drops buckets that are full again (TAT in
  // the past), which behave exactly like absent ones.
  static constexpr size_t kPruneAbove = 4096;

  struct Stripe {
    std::mutex mu;  // guards tats
    absl::flat_hash_map<std::string, int64_t> tats ABSL_GUARDED_BY(mu);  // key id -> TAT, ns
  };

  // Constant after construction.
  const int64_t default_rate_per_s_;
  const int64_t burst_seconds_;

  std::array<Stripe, kStripes> stripes_;
};

}  // namespace tally

#endif  // TALLY_SERVER_AUTH_WRITE_LIMITER_H_
