// Scheduler: runs background jobs (anomaly scoring, archiving, ...) each at
// its own interval on one thread of its own, so that no job ever runs on an
// I/O thread or on the store's writer.
//
// Jobs run one at a time, in the order they fall due; a job that overruns
// delays the others but never runs twice at once. Stop() (or the destructor)
// wakes the thread, lets the running job finish and joins.
//
// Thread-safety: Every() before Start(); Stop() from any thread.
#ifndef TALLY_JOBS_SCHEDULER_H_
#define TALLY_JOBS_SCHEDULER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace tally {

class Scheduler {
 public:
  Scheduler() = default;
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs `job` every `interval`, the first time one interval after Start().
  void Every(std::string name, std::chrono::milliseconds interval, std::function<void()> job);
  void Start();
  void Stop();

 private:
  struct Job {
    std::string name;
    std::chrono::milliseconds interval;
    std::function<void()> run;
    std::chrono::steady_clock::time_point due;
  };
  void Loop();

  std::vector<Job> jobs_;  // set before Start(), then owned by the thread
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace tally

#endif  // TALLY_JOBS_SCHEDULER_H_
