#include "store/durable_callbacks.h"

#include <utility>
#include <vector>

namespace tally {

DurableCallbacks::~DurableCallbacks() {
  Close(absl::AbortedError("the store was closed before the write was durable"));
}

void DurableCallbacks::Add(uint64_t ticket, Callback done) {
  absl::Status status;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // While a thread delivers, earlier callbacks may still be waiting for
    // it: queue behind them rather than overtake.
    if (delivering_ || !Due(ticket)) {
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
  if (delivering_) return;  // that thread will call what is due now
  delivering_ = true;
  std::vector<std::pair<Callback, absl::Status>> due;
  while (true) {
    for (auto it = pending_.begin(); it != pending_.end() && Due(it->first);
         it = pending_.erase(it)) {
      due.emplace_back(std::move(it->second),
                       it->first <= durable_seq_ ? absl::OkStatus() : failure_);
    }
    if (due.empty()) break;
    lock.unlock();
    for (auto& [done, status] : due) done(status);
    due.clear();  // the callbacks' captures are destroyed outside the lock too
    lock.lock();
  }
  delivering_ = false;
}

}  // namespace tally
