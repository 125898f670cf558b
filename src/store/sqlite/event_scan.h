// ScanEvents of SqliteStore (docs/storage.md, "Reads for the API"): streams
// the events of a query from read-only connections of its own, in windows of
// seqs, each its own read transaction; a large scan is read and decoded on
// worker threads while the caller's thread calls `fn` in seq order. Internal
// to store/sqlite.
//
// Thread-safety: ScanEventsIn may be called from any thread, concurrently;
// `fn` runs on the calling thread.
#ifndef TALLY_STORE_SQLITE_EVENT_SCAN_H_
#define TALLY_STORE_SQLITE_EVENT_SCAN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "store/store.h"

namespace tally::sqlite_internal {

// Calls `fn` for each event of the database at `path` matching `query`, in
// seq order, until it returns false: the events durable when it starts
// (upto_seq 0 stands for the last of them). Reads windows of `window` seqs;
// a scan of more than one window on `threads` threads (1: the caller's).
// SqliteStore::ScanEvents, and the fold of a RollupSink at open.
absl::Status ScanEventsIn(const std::string& path, const EventQuery& query, uint64_t window,
                          int threads,
                          const std::function<bool(uint64_t seq, const EventRecord&)>& fn);

}  // namespace tally::sqlite_internal

#endif  // TALLY_STORE_SQLITE_EVENT_SCAN_H_
