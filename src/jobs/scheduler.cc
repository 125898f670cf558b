#include "jobs/scheduler.h"

#include <algorithm>

namespace tally {

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Every(std::string name, std::chrono::milliseconds interval,
                      std::function<void()> job) {
  jobs_.push_back(Job{std::move(name), interval, std::move(job), {}});
}

void Scheduler::Start() {
  const auto now = std::chrono::steady_clock::now();
  for (Job& job : jobs_) job.due = now + job.interval;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Scheduler::Loop() {
  if (jobs_.empty()) return;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto next = std::min_element(jobs_.begin(), jobs_.end(),
                                 [](const Job& a, const Job& b) { return a.due < b.due; });
    if (cv_.wait_until(lock, next->due, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; })) {
      return;
    }
    lock.unlock();
    next->run();
    next->due = std::chrono::steady_clock::now() + next->interval;
    lock.lock();
  }
}

}  // namespace tally
