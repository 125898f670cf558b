// Clock: the one source of "now" (the time seam, like leveldb's Env or envoy's
// TimeSource). Quota logic never reads the system clock itself; tests drive a
// SimulatedClock across month ends, leap days and DST changes.
//
// Thread-safety: Now() may be called from any thread on both implementations.
#ifndef TALLY_CORE_CLOCK_H_
#define TALLY_CORE_CLOCK_H_

#include <atomic>

#include "core/time.h"

namespace tally {

class Clock {
 public:
  virtual ~Clock() = default;
  // The current instant.
  virtual Micros Now() const = 0;
};

// Wall-clock time from the operating system.
class SystemClock final : public Clock {
 public:
  Micros Now() const override;
  // A process-wide instance.
  static SystemClock* Default();
};

// A clock that moves only when told to.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(Micros start) : now_(start) {}
  Micros Now() const override { return now_.load(std::memory_order_acquire); }
  void Set(Micros t) { now_.store(t, std::memory_order_release); }
  void Advance(Micros d) { now_.fetch_add(d, std::memory_order_acq_rel); }

 private:
  std::atomic<Micros> now_;
};

}  // namespace tally

#endif  // TALLY_CORE_CLOCK_H_
