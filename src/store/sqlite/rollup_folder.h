// RollupFolder: folds a batch's events into the RollupSink on a thread of its
// own while the writer inserts the same batch's rows and commits them, so that
// keeping the rollups costs ingest almost nothing when a core is free.
//
// The writer calls Start(batch) before its transaction and Wait() before the
// batch may be freed and before any TakeDirty (so a persist reflects every
// event up to its seq). Batches are folded one at a time, in seq order.
//
// Thread-safety: Start and Wait from the writer thread only; they hand the
// batch over under mu_.
#ifndef TALLY_STORE_SQLITE_ROLLUP_FOLDER_H_
#define TALLY_STORE_SQLITE_ROLLUP_FOLDER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "store/store.h"

namespace tally {

class RollupFolder {
 public:
  // One append's records and the seq of the first.
  using Append = std::pair<uint64_t, const std::vector<LogRecord>*>;

  explicit RollupFolder(RollupSink* sink) : sink_(sink), thread_([this] { Loop(); }) {}
  ~RollupFolder() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  RollupFolder(const RollupFolder&) = delete;
  RollupFolder& operator=(const RollupFolder&) = delete;

  // Starts folding `appends` (which must stay alive until Wait returns).
  void Start(std::vector<Append> appends) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      work_ = std::move(appends);
      busy_ = true;
    }
    cv_.notify_all();
  }

  // Returns once the batch given to Start is folded (at once if none).
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !busy_; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return busy_ || stopping_; });
      if (busy_) {
        std::vector<Append> appends = std::move(work_);
        lock.unlock();
        for (const auto& [first_seq, records] : appends) {
          uint64_t seq = first_seq;
          for (const LogRecord& record : *records) {
            if (const auto* e = std::get_if<EventRecord>(&record)) sink_->Fold(seq, *e);
            ++seq;
          }
        }
        lock.lock();
        busy_ = false;
        cv_.notify_all();
        continue;
      }
      if (stopping_) return;
    }
  }

  RollupSink* const sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Append> work_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace tally

#endif  // TALLY_STORE_SQLITE_ROLLUP_FOLDER_H_
