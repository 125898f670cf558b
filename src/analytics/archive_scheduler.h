// ArchiveScheduler: the server's retention job. A background thread runs
// ArchiveEvents (analytics/archive.h) once at start and then every
// retention.check_every, archiving events older than retention.events_days,
// and logs one line per run that did something (or failed).
//
// Thread-safety: construct and destroy from one thread; the job runs on its
// own thread. Stop() (or the destructor) cancels a run in progress (files
// already finished stay listed) and joins.
#ifndef TALLY_ANALYTICS_ARCHIVE_SCHEDULER_H_
#define TALLY_ANALYTICS_ARCHIVE_SCHEDULER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "core/clock.h"
#include "core/config.h"
#include "store/store.h"

namespace tally {

class ArchiveScheduler {
 public:
  // Before each run: checkpoint the counters (Engine::Checkpoint), so that
  // no event is deleted that recovery would still replay.
  using CheckpointFn = std::function<absl::Status()>;

  // REQUIRES: retention.events_days > 0. `store` and `clock` must outlive it.
  ArchiveScheduler(Store& store, const Clock& clock, RetentionOptions retention,
                   const std::string& data_dir, CheckpointFn checkpoint);
  ~ArchiveScheduler();
  ArchiveScheduler(const ArchiveScheduler&) = delete;
  ArchiveScheduler& operator=(const ArchiveScheduler&) = delete;

  void Stop();

 private:
  void Loop();
  void RunOnce();

  Store& store_;
  const Clock& clock_;
  const RetentionOptions retention_;
  const std::string dir_;
  const CheckpointFn checkpoint_;
  std::atomic<bool> cancel_{false};
  std::mutex mu_;  // guards stop_
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the rest is set
};

}  // namespace tally

#endif  // TALLY_ANALYTICS_ARCHIVE_SCHEDULER_H_
