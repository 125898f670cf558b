// DurableCallbacks: the bookkeeping behind Store::WhenDurable, shared by the
// stores: callbacks waiting for a ticket to become durable, called in ticket
// order, each exactly once.
//
// The store reports progress from the thread that commits: Durable(seq) after
// a commit, SetFailure(status) after a failed one, Close(status) when it goes
// away. The thread that makes callbacks due calls them, one at a time, outside
// the lock, in ticket order (equal tickets: in the order added); a thread that
// finds another one already calling leaves the new ones to it. Add() calls a
// callback inline when its outcome is known, no callback for an earlier
// (or the same) ticket is still waiting to be called and no thread is calling
// one; else it queues it behind them (the calling thread picks it up). So no callback starts before one registered earlier for an
// earlier or equal ticket.
//
// Thread-safety: every method may be called from any thread, also from inside
// a callback. Callbacks must not throw.
#ifndef TALLY_STORE_DURABLE_CALLBACKS_H_
#define TALLY_STORE_DURABLE_CALLBACKS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"

namespace tally {

class DurableCallbacks {
 public:
  using Callback = std::function<void(const absl::Status&)>;

  // Everything up to `durable_seq` is durable already.
  explicit DurableCallbacks(uint64_t durable_seq) : durable_seq_(durable_seq) {}

  // Calls what is still pending with AbortedError (Close() first for a
  // better message).
  ~DurableCallbacks();

  DurableCallbacks(const DurableCallbacks&) = delete;
  DurableCallbacks& operator=(const DurableCallbacks&) = delete;

  // Calls `done` once `ticket` is durable (OkStatus) or the store failed
  // before it was (the failure).
  void Add(uint64_t ticket, Callback done) ABSL_LOCKS_EXCLUDED(mu_);

  // Everything up to `seq` is durable: calls the callbacks now due.
  void Durable(uint64_t seq) ABSL_LOCKS_EXCLUDED(mu_);

  // From now on tickets not yet durable fail with `status`: calls the pending
  // callbacks with it. OkStatus() clears the failure (MemoryStore::FailWrites).
  void SetFailure(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  // The store is going away: calls every pending callback with `status`
  // (or with the earlier failure, if any), as do later Add()s.
  void Close(absl::Status status) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Calls every due callback, unless another thread already is.
  void Deliver(std::unique_lock<std::mutex>& lock) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Due(uint64_t ticket) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return ticket <= durable_seq_ || !failure_.ok();
  }

  // Guards every member below. Never held while a callback runs.
  std::mutex mu_;
  uint64_t durable_seq_ ABSL_GUARDED_BY(mu_);
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  // By ticket; equal tickets in the order added (multimap inserts at the end
  // of an equal range).
  std::multimap<uint64_t, Callback> pending_ ABSL_GUARDED_BY(mu_);
  // A thread is calling the due callbacks (with mu_ released between them);
  // it also calls what becomes due meanwhile before clearing this. While it
  // is false, no pending callback is due.
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tally

#endif  // TALLY_STORE_DURABLE_CALLBACKS_H_
