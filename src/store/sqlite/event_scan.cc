#include "store/sqlite/event_scan.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "store/sqlite/event_rows.h"
#include "store/sqlite/sqlite_util.h"

namespace tally::sqlite_internal {
namespace {

// One read-only connection of a ScanEvents call and its statements: the
// events of the query in a window of seqs, and the first event after a seq.
// Each window is a read transaction of its own (statement-long), so that a
// long scan holds back neither the reads nor WAL checkpoints.
class EventScanConnection {
 public:
  static absl::StatusOr<std::unique_ptr<EventScanConnection>> Open(const std::string& path,
                                                                   const EventQuery& query) {
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    Connection db(raw);
    if (rc != SQLITE_OK) return OpenError(db.get(), rc, path);
    sqlite3_extended_result_codes(db.get(), 1);
    sqlite3_busy_timeout(db.get(), 5000);
    auto c = std::unique_ptr<EventScanConnection>(new EventScanConnection(std::move(db), path));
    // Only the filters given, so that SQLite tests nothing else per row.
    std::string sql = std::string(kSelectEventColumns) + " WHERE seq > ?1 AND seq <= ?2";
    if (query.from != kBeginningOfTime) sql += " AND time_us >= ?3";
    if (query.to != kEndOfTime) sql += " AND time_us < ?4";
    if (!query.subject.empty()) sql += " AND subject = ?5";
    if (!query.type.empty()) sql += " AND type = ?6";
    sql += " ORDER BY seq";
    absl::StatusOr<Statement> rows = Statement::Prepare(c->db_.get(), sql.c_str(), path);
    if (!rows.ok()) return rows.status();
    c->rows_ = *std::move(rows);
    absl::StatusOr<Statement> first =
        Statement::Prepare(c->db_.get(), "SELECT min(seq) FROM events WHERE seq > ?1", path);
    if (!first.ok()) return first.status();
    c->first_after_ = *std::move(first);
    // The statement keeps pointers to the query's strings: copy them.
    c->subject_ = query.subject;
    c->type_ = query.type;
    if (query.from != kBeginningOfTime) c->rows_.Int(3, query.from);
    if (query.to != kEndOfTime) c->rows_.Int(4, query.to);
    if (!c->subject_.empty()) c->rows_.Text(5, c->subject_);
    if (!c->type_.empty()) c->rows_.Text(6, c->type_);
    return c;
  }

  // The first event's seq after `after`; 0 if there is none.
  absl::StatusOr<uint64_t> FirstEventAfter(uint64_t after) {
    first_after_.Uint(1, std::min<uint64_t>(after, INT64_MAX));
    absl::Status status;
    uint64_t seq = 0;
    if (NextRow(db_.get(), first_after_.get(), path_, &status)) {
      seq = ColumnUint(first_after_.get(), 0);  // NULL (no event) reads as 0
    }
    sqlite3_reset(first_after_.get());
    if (!status.ok()) return status;
    return seq;
  }

  // The last event's seq; 0 if there is none.
  absl::StatusOr<uint64_t> LastEvent() {
    absl::StatusOr<int64_t> max = QueryInt(db_.get(), "SELECT max(seq) FROM events", path_);
    if (!max.ok()) return max.status();
    return static_cast<uint64_t>(*max);
  }

  // Calls `fn(row)` for each event of the query with seq in (lo, hi], in seq
  // order, while it returns true; false if `fn` stopped the window.
  template <typename Fn>
  absl::StatusOr<bool> ReadWindow(uint64_t lo, uint64_t hi, Fn fn) {
    rows_.Uint(1, lo);
    rows_.Uint(2, hi);
    absl::Status status;
    bool more = true;
    while (more && NextRow(db_.get(), rows_.get(), path_, &status)) more = fn(rows_.get());
    sqlite3_reset(rows_.get());  // ends the window's read transaction
    if (!status.ok()) return status;
    return more;
  }

 private:
  EventScanConnection(Connection db, std::string path)
      : db_(std::move(db)), path_(std::move(path)) {}

  // Declared first so that it closes last, after the statements.
  const Connection db_;
  const std::string path_;
  std::string subject_, type_;  // bound to rows_
  Statement rows_, first_after_;
};

// ScanEvents on the caller's thread: the windows (start + k * window, ...]
// up to `upto`, one after the other.
absl::Status ScanWindowsInline(EventScanConnection& scan, uint64_t start, uint64_t upto,
                               uint64_t window, const std::function<bool()>& keep_going,
                               const std::function<bool(uint64_t, const EventRecord&)>& fn) {
  EventRecord record;
  absl::Status decoded;
  for (uint64_t lo = start; lo < upto;) {
    if (keep_going && !keep_going()) return absl::OkStatus();
    const uint64_t hi = lo + std::min(upto - lo, window);
    absl::StatusOr<bool> more = scan.ReadWindow(lo, hi, [&](sqlite3_stmt* row) {
      decoded = ReadEventRow(row, &record);
      return decoded.ok() && fn(ColumnUint(row, kEvSeq), record);
    });
    if (!more.ok()) return more.status();
    if (!decoded.ok()) return decoded;
    if (!*more) return absl::OkStatus();
    // Skips a gap (a run of other records, events deleted) in one step.
    absl::StatusOr<uint64_t> next = scan.FirstEventAfter(hi);
    if (!next.ok()) return next.status();
    if (*next == 0) break;
    lo = std::max(hi, *next - 1);
  }
  return absl::OkStatus();
}

// ScanEvents on `threads` threads, each with its own connection: thread t
// reads and decodes the windows k = t, t + threads, ... into batches, and
// the caller's thread takes them window by window, in order, and calls `fn`.
// SQLite's stepping and the decoding, ~0.8 us a row on one core, run beside
// `fn` and each other. Memory is bounded: each thread has at most
// kBatchesPerThread batches of kBatchRows events out, reused.
// REQUIRES: upto > start, window >= 1, threads >= 1.
class ParallelEventScan {
 public:
  ParallelEventScan(std::string path, EventQuery query, uint64_t start, uint64_t upto,
                    uint64_t window, int threads)
      : path_(std::move(path)),
        query_(std::move(query)),
        start_(start),
        upto_(upto),
        window_(window),
        windows_((upto - start - 1) / window + 1),
        workers_(static_cast<size_t>(threads)) {}

  ~ParallelEventScan() { Stop(); }

  absl::Status Run(const std::function<bool(uint64_t, const EventRecord&)>& fn) {
    for (size_t t = 0; t < workers_.size(); ++t) {
      for (int b = 0; b < kBatchesPerThread; ++b) {
        workers_[t].free.push_back(std::make_unique<Batch>());
      }
      workers_[t].thread = std::thread([this, t] { Work(t); });
    }
    for (uint64_t k = 0; k < windows_; ++k) {
      // Asked here, on the caller's thread, between windows.
      if (query_.keep_going && !query_.keep_going()) return absl::OkStatus();
      Worker& worker = workers_[k % workers_.size()];
      bool window_done = false;
      while (!window_done) {
        std::unique_ptr<Batch> batch;
        {
          std::unique_lock<std::mutex> lock(mu_);
          ready_cv_.wait(lock, [&] { return !worker.ready.empty(); });
          batch = std::move(worker.ready.front());
          worker.ready.pop_front();
        }
        if (!batch->status.ok()) return batch->status;
        for (size_t i = 0; i < batch->size; ++i) {
          if (!fn(batch->rows[i].first, batch->rows[i].second)) return absl::OkStatus();
        }
        window_done = batch->window_end;
        {
          std::lock_guard<std::mutex> lock(mu_);
          worker.free.push_back(std::move(batch));
        }
        free_cv_.notify_all();
      }
    }
    return absl::OkStatus();
  }

 private:
  static constexpr size_t kBatchRows = 256;
  static constexpr int kBatchesPerThread = 4;

  struct Batch {
    std::vector<std::pair<uint64_t, EventRecord>> rows;  // the first `size` are filled
    size_t size = 0;
    bool window_end = false;  // the last batch of its window
    absl::Status status;      // an error ends the scan
  };
  struct Worker {
    std::thread thread;
    // Guarded by mu_: batches for the caller, in order, and empty ones.
    std::deque<std::unique_ptr<Batch>> ready, free;
  };

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    free_cv_.notify_all();
    for (Worker& worker : workers_) {
      if (worker.thread.joinable()) worker.thread.join();
    }
  }

  // An empty batch to fill, or null when the scan is stopping.
  std::unique_ptr<Batch> TakeFree(Worker& worker) {
    std::unique_lock<std::mutex> lock(mu_);
    free_cv_.wait(lock, [&] { return stopping_ || !worker.free.empty(); });
    if (stopping_) return nullptr;
    std::unique_ptr<Batch> batch = std::move(worker.free.front());
    worker.free.pop_front();
    batch->size = 0;
    batch->window_end = false;
    return batch;
  }

  void Hand(Worker& worker, std::unique_ptr<Batch> batch) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      worker.ready.push_back(std::move(batch));
    }
    ready_cv_.notify_all();
  }

  void Work(size_t t) {
    Worker& worker = workers_[t];
    std::unique_ptr<Batch> batch = TakeFree(worker);
    if (batch == nullptr) return;
    absl::StatusOr<std::unique_ptr<EventScanConnection>> scan =
        EventScanConnection::Open(path_, query_);
    if (!scan.ok()) {
      batch->status = scan.status();
      Hand(worker, std::move(batch));
      return;
    }
    for (uint64_t k = t; k < windows_; k += workers_.size()) {
      const uint64_t lo = start_ + k * window_;  // < upto_, as k < windows_
      const uint64_t hi = lo + std::min(upto_ - lo, window_);
      absl::Status decoded;
      absl::StatusOr<bool> more = (*scan)->ReadWindow(lo, hi, [&](sqlite3_stmt* row) {
        if (batch->size == kBatchRows) {
          Hand(worker, std::move(batch));
          batch = TakeFree(worker);
          if (batch == nullptr) return false;
        }
        if (batch->size == batch->rows.size()) batch->rows.emplace_back();
        auto& [seq, record] = batch->rows[batch->size];
        seq = ColumnUint(row, kEvSeq);
        decoded = ReadEventRow(row, &record);
        ++batch->size;
        return decoded.ok();
      });
      if (batch == nullptr) return;  // stopping
      if (!more.ok() || !decoded.ok()) {
        batch->status = !more.ok() ? more.status() : decoded;
        Hand(worker, std::move(batch));
        return;
      }
      batch->window_end = true;
      Hand(worker, std::move(batch));
      batch = TakeFree(worker);
      if (batch == nullptr) return;
    }
  }

  const std::string path_;
  const EventQuery query_;
  const uint64_t start_, upto_, window_;
  const uint64_t windows_;  // (start_ + k * window_, ...] for k < windows_ cover up to upto_

  std::mutex mu_;                     // guards every Worker's `ready` and `free`, and stopping_
  std::condition_variable ready_cv_;  // a batch was handed to the caller
  std::condition_variable free_cv_;   // a batch was given back, or stopping_
  bool stopping_ = false;
  std::vector<Worker> workers_;
};

}  // namespace

absl::Status ScanEventsIn(const std::string& path, const EventQuery& query, uint64_t window,
                          int threads,
                          const std::function<bool(uint64_t, const EventRecord&)>& fn) {
  if (query.from >= query.to) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<EventScanConnection>> scan =
      EventScanConnection::Open(path, query);
  if (!scan.ok()) return scan.status();
  // Bounded by the events durable now, so that a scan ends even under load.
  uint64_t upto = std::min<uint64_t>(query.upto_seq, INT64_MAX);
  if (upto == 0) {
    absl::StatusOr<uint64_t> last = (*scan)->LastEvent();
    if (!last.ok()) return last.status();
    upto = *last;
  }
  // Starts at the first event, skipping a gap that retention left.
  absl::StatusOr<uint64_t> first = (*scan)->FirstEventAfter(query.after_seq);
  if (!first.ok()) return first.status();
  if (*first == 0 || *first > upto) return absl::OkStatus();
  const uint64_t start = *first - 1;
  if (threads <= 1 || upto - start <= window) {
    return ScanWindowsInline(**scan, start, upto, window, query.keep_going, fn);
  }
  scan->reset();  // each thread opens its own
  return ParallelEventScan(path, query, start, upto, window, threads).Run(fn);
}

}  // namespace tally::sqlite_internal
