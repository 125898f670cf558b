#include "analytics/archive_scheduler.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "analytics/archive.h"
#include "core/log.h"

namespace tally {

ArchiveScheduler::ArchiveScheduler(Store& store, const Clock& clock, RetentionOptions retention,
                                   const std::string& data_dir, CheckpointFn checkpoint)
    : store_(store),
      clock_(clock),
      retention_(std::move(retention)),
      dir_(ArchiveDirFor(retention_, data_dir)),
      checkpoint_(std::move(checkpoint)),
      thread_([this] { Loop(); }) {
  LogInfo(absl::StrCat("retention: raw events older than ", retention_.events_days, " days go to ", dir_,
                       ", checked every ", retention_.check_every / 1'000'000, " s"));
}

ArchiveScheduler::~ArchiveScheduler() { Stop(); }

void ArchiveScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cancel_.store(true);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ArchiveScheduler::Loop() {
  for (;;) {
    RunOnce();
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, std::chrono::microseconds(retention_.check_every), [this] { return stop_; })) {
      return;
    }
  }
}

void ArchiveScheduler::RunOnce() {
  ArchiveOptions options;
  options.dir = dir_;
  options.now = clock_.Now();
  options.cutoff = options.now - retention_.events_days * kMicrosPerDay;
  options.cancel = &cancel_;
  options.upto_seq = store_.LastSeq();
  if (absl::Status s = checkpoint_(); !s.ok()) {
    LogWarning(absl::StrCat("retention: not archiving: the checkpoint before it failed: ", s.message()));
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ArchiveResult> result = ArchiveEvents(store_, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.ok()) {
    if (absl::IsCancelled(result.status())) return;
    LogWarning(absl::StrCat("retention: archiving failed (the next run retries): ", result.status().message()));
    return;
  }
  LogInfo(absl::StrCat("retention: ", DescribeArchiveRun(*result, options.cutoff, seconds)));
}

}  // namespace tally
