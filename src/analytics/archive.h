// Retention: raw events older than a cutoff move from the store to
// zstd-compressed NDJSON files with a manifest (docs/storage.md, "Retention
// and archives"); rollups stay as they are; archives restore exactly.
//
// ArchiveEvents, in this order, so that a crash at any point loses nothing:
//   1. snapshot upto_seq = store.LastSeq() (or the caller's bound, below a
//      checkpoint) and Flush(), so that every event up to it is durable and
//      visible to ScanEvents;
//   2. stream the events with time < cutoff and seq <= upto_seq that the
//      manifest does not cover yet (analytics/archive_manifest.h) into
//      <dir>/events-<first_seq>-<last_seq>.ndjson.zst (a new file every
//      max_rows_per_file rows), through a .tmp name, fsync'd, renamed, the
//      directory fsync'd;
//   3. add the files to manifest.json (atomic replace);
//   4. only then store.DeleteEvents(cutoff, upto_seq).
// A crash before 3 leaves the events in the store (and at most an orphan file
// that the next run replaces); a crash between 3 and 4 leaves them archived
// and stored, and the next run skips them (they are covered) and deletes them.
//
// RestoreArchive puts a file's events back under their original seqs
// (Store::RestoreEvents skips those present, so restoring twice is a no-op).
// It reads the whole file once to check it — the SHA-256 against the manifest
// when the file is listed there, the zstd frame, every line — before it
// restores anything, so a corrupt or truncated file restores nothing.
//
// Thread-safety: ArchiveEvents takes <dir>/LOCK (flock) for its run, so runs
// on one directory, in any processes, never interleave. Both may run beside
// appends and reads of the store.
#ifndef TALLY_ANALYTICS_ARCHIVE_H_
#define TALLY_ANALYTICS_ARCHIVE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/archive_manifest.h"
#include "core/config.h"
#include "core/time.h"
#include "store/store.h"

namespace tally {

struct ArchiveOptions {
  // The archive directory; created if missing. Required.
  std::string dir;
  // Archive the events with event time < cutoff. Required.
  Micros cutoff = kBeginningOfTime;
  // Stamps the manifest's `created`. Required.
  Micros now = 0;
  // Archive only events with seq <= upto_seq; 0 = LastSeq() at the start.
  // The engine rebuilds its counters from the latest checkpoint plus the
  // events after it, so an event deleted before a checkpoint reflects it is
  // lost to them: callers with an engine take a checkpoint after reading
  // LastSeq() and pass that. Default: 0.
  uint64_t upto_seq = 0;
  // Rows per file at most. Default: 5,000,000.
  uint64_t max_rows_per_file = 5'000'000;
  // zstd level. Default: 3 (fast; NDJSON events compress ~8-10x).
  int zstd_level = 3;
  // Count what would be archived; write and delete nothing. Default: false.
  bool dry_run = false;
  // false stops after the manifest, before DeleteEvents (tests use it to
  // stand for a crash there). Default: true.
  bool delete_events = true;
  // When it turns true, the run stops soon: the files finished so far are
  // listed in the manifest (the next run deletes their events), the one being
  // written is dropped, and the result is CancelledError. Not owned; may be
  // null. Default: nullptr.
  const std::atomic<bool>* cancel = nullptr;
};

struct ArchiveResult {
  std::vector<ArchiveEntry> files;  // written by this run (none for a dry run)
  uint64_t archived = 0;          // events written (with dry_run: that would be)
  uint64_t already_archived = 0;  // events found still stored but covered by the manifest
  uint64_t deleted = 0;           // events DeleteEvents removed
  uint64_t compressed_bytes = 0;
  Micros min_time = 0;  // of the events archived; 0 when none
  Micros max_time = 0;
};

absl::StatusOr<ArchiveResult> ArchiveEvents(Store& store, const ArchiveOptions& options);

struct RestoreResult {
  uint64_t rows = 0;      // events in the file
  uint64_t restored = 0;  // put back
  uint64_t skipped = 0;   // already stored
  bool verified = false;  // the file is in the manifest and its SHA-256 matched
};

// Restores one archive file. `manifest_dir`: where to look the file up by its
// SHA-256 (default: the file's own directory); a listed file whose checksum
// differs is refused (DataLossError). InvalidArgumentError naming file:line
// for a line that is not an archive line (an export without effects cannot
// be restored exactly: import it instead).
absl::StatusOr<RestoreResult> RestoreArchive(Store& store, const std::string& path,
                                             const std::string& manifest_dir = "");

// retention.archive_dir, or <data_dir>/archive when it is empty.
std::string ArchiveDirFor(const RetentionOptions& retention, const std::string& data_dir);

// One line for the log and the CLI: "archived 1,234 events older than
// 2026-01-01T00:00:00Z to events-1-1300.ndjson.zst (0.4 MB, 0.2 s); deleted
// from the database", or "no events older than ... to archive".
std::string DescribeArchiveRun(const ArchiveResult& result, Micros cutoff, double seconds);

// How many rows RestoreArchive and the importer hand the store at a time.
inline constexpr size_t kRestoreBatch = 10'000;

}  // namespace tally

#endif  // TALLY_ANALYTICS_ARCHIVE_H_
