// Private pieces of Engine shared by its .cc files (engine.cc, decide.cc,
// reservations.cc, checkpoint.cc). Not for use outside src/engine.
#ifndef TALLY_ENGINE_ENGINE_INTERNAL_H_
#define TALLY_ENGINE_ENGINE_INTERNAL_H_

#include <bit>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/engine.h"

namespace tally {

// A mutex that spins briefly before sleeping: stripe critical sections last
// about a microsecond, far less than a sleep and wake-up.
class SpinThenBlockMutex {
 public:
  void lock() {
    for (int i = 0; i < 200; ++i) {
      if (mu_.try_lock()) return;
      __builtin_ia32_pause();
    }
    mu_.lock();
  }
  bool try_lock() { return mu_.try_lock(); }
  void unlock() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

struct Engine::Stripe {
  // Guards everything below.
  SpinThenBlockMutex mu;
  absl::flat_hash_map<std::string, std::unique_ptr<SubjectEntry>> subjects ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, std::unique_ptr<OrgEntry>> orgs ABSL_GUARDED_BY(mu);
  DedupIndex dedup ABSL_GUARDED_BY(mu);  // ids whose StableHash maps to this stripe
};

struct Engine::Reservation {
  enum class State : uint8_t { kOpen, kCommitted, kReleased, kExpired };
  std::string id;
  std::string subject;
  std::string org;
  std::string type;
  Micros expires_at = 0;
  Micros closed_at = 0;
  State state = State::kOpen;
  std::vector<Effect> holds;
};

// One (account, meter) window an event touches, evaluated before anything is
// applied so that a denial or an error leaves no trace.
struct Engine::Touch {
  Account* account = nullptr;
  Scope scope = Scope::kSubject;
  int meter = 0;
  uint64_t input = 0;
  bool late = false;    // the event's window closed already: recorded, not enforced
  bool rewindow = false;  // the calendar changed: the balance moves to `new_window`
  Window new_window;
  bool rolled = false;  // the account's window is older: `scratch` is the new one
  int64_t carry = 0;    // rollover into the new window
  WindowState scratch;
  Admission admission;

  const WindowState& state() const {
    return rolled || late ? scratch : account->windows[meter];
  }
  Window window() const { return rewindow ? new_window : state().window; }
};

// Everything one event would do, ready to apply.
struct Engine::Prepared {
  std::vector<Touch> touches;
  std::vector<std::pair<int, Micros>> new_tats;  // rate rule index -> TAT
};

// Locks a set of stripes in index order (so two operations can never wait on
// each other) and unlocks them on destruction.
class Engine::StripeLocks {
 public:
  explicit StripeLocks(Engine* engine) : engine_(engine) {}
  ~StripeLocks() { Unlock(); }
  StripeLocks(const StripeLocks&) = delete;
  StripeLocks& operator=(const StripeLocks&) = delete;

  void Add(int index) { wanted_ |= uint64_t{1} << index; }
  void AddAll() { wanted_ = ~uint64_t{0}; }
  bool Holds(int index) const { return (held_ >> index) & 1; }
  // Locks every stripe added so far. Stripes already held are released and
  // taken again in order, so callers must look their entries up again.
  void Lock() {
    const uint64_t all = wanted_ | held_;
    Unlock();
    for (uint64_t m = all; m != 0; m &= m - 1) {
      engine_->stripes_[std::countr_zero(m)]->mu.lock();
    }
    held_ = wanted_ = all;
  }
  void Unlock() {
    for (uint64_t m = held_; m != 0; m &= m - 1) {
      engine_->stripes_[std::countr_zero(m)]->mu.unlock();
    }
    held_ = 0;
  }

 private:
  static_assert(Engine::kStripes == 64, "one bit per stripe");
  Engine* const engine_;
  uint64_t wanted_ = 0;
  uint64_t held_ = 0;
};

// Whether a checkpoint blob's checksum matches (version 2 and later; a
// version 1 blob has none and counts as intact).
bool CheckpointBlobIntact(std::string_view blob);

// The index of a meter by name, or -1.
int MeterIndexOf(const std::vector<Meter>& meters, const std::string& name);

}  // namespace tally

#endif  // TALLY_ENGINE_ENGINE_INTERNAL_H_
