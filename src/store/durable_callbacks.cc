#include "store/durable_callbacks.h"

#include <utility>

namespace tally {

DurableCallbacks::~DurableCallbacks() {
  Close(absl::AbortedError("the store was closed before the write was durable"));
}

void DurableCallbacks::Add(uint64_t ticket, Callback done) {
  absl::Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Queued if undecided, or behind a callback for an earlier (or the same)
    // ticket that is still to be called, or while another thread is calling
    // one (it may hold an earlier ticket's callback): never overtake it.
    if (!Due(ticket) || delivering_ || (!pending_.empty() && pending_.begin()->first <= ticket)) {
      pending_.emplace(ticket, std::move(done));
      return;
    }
    if (ticket > durable_seq_) status = failure_;
  }
  done(status);
}

void DurableCallbacks::Durable(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mu_);
  if (seq > durable_seq_) durable_seq_ = seq;
  Deliver(lock);
}

void DurableCallbacks::SetFailure(absl::Status status) {
  std::unique_lock<std::mutex> lock(mu_);
  failure_ = std::move(status);
  Deliver(lock);
}

void DurableCallbacks::Close(absl::Status status) {
  std::unique_lock<std::mutex> lock(mu_);
  if (failure_.ok()) failure_ = std::move(status);
  Deliver(lock);
}

void DurableCallbacks::Deliver(std::unique_lock<std::mutex>& lock) {
  if (delivering_) return;  // that thread calls what is due now too
  delivering_ = true;
  // One at a time, so that an Add() inline may follow as soon as every
  // callback before it has been called.
  while (!pending_.empty() && Due(pending_.begin()->first)) {
    const auto first = pending_.begin();
    const absl::Status status = first->first <= durable_seq_ ? absl::OkStatus() : failure_;
    Callback done = std::move(first->second);
    pending_.erase(first);
    lock.unlock();
    done(status);
    done = nullptr;  // its captures are destroyed outside the lock too
    lock.lock();
  }
  delivering_ = false;
}

}  // namespace tally
