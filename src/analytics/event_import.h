// Importing a file of events (`tally import`): any format EventFileReader
// reads, in one of two modes, chosen per file.
//
//   restore  the file holds events of THIS database (an archive, or an export
//            of it): they go back under their original seqs through
//            Store::RestoreEvents, which skips those still stored, so importing
//            twice is a no-op. Rollups are not touched (they never lost them).
//   append   events from elsewhere: appended as new EventRecords (new seqs)
//            through Store::Append, effects cleared so that no quota counter
//            moves, folded into the rollups by the store; an id seen earlier in
//            the same file is skipped. Importing the same file twice appends
//            it twice.
//
// kAuto picks restore when the file's SHA-256 is in the archive manifest, or
// when every row is either stored here identically or an archive line whose
// (seq, time) the manifest covers and at least one row is stored here or the
// file is an archive; append when no row matches this database; and refuses a
// file that mixes both (pass the mode explicitly then).
//
// The file is read twice: once to check every row and choose the mode, once
// to import. So a bad row (reported as file:line) imports nothing of its file.
//
// Thread-safety: one call at a time per store is the intent (a CLI command);
// safe beside appends and reads.
#ifndef TALLY_ANALYTICS_EVENT_IMPORT_H_
#define TALLY_ANALYTICS_EVENT_IMPORT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "core/time.h"
#include "store/store.h"

namespace tally {

enum class ImportMode { kAuto, kRestore, kAppend };

struct ImportOptions {
  ImportMode mode = ImportMode::kAuto;  // Default: kAuto
  // The archive directory whose manifest identifies this database's archives.
  // Default: none (then restore is chosen only from rows still stored).
  std::string archive_dir;
  // received time for appended rows that have none. Required for append.
  Micros now = 0;
  // Called now and then with the rows checked (first pass) or imported so far.
  // Default: none.
  std::function<void(bool importing, uint64_t rows)> progress;
};

struct ImportResult {
  ImportMode mode = ImportMode::kAuto;  // the mode used: kRestore or kAppend
  std::string why;        // how the mode was chosen, for the operator
  uint64_t rows = 0;      // events in the file
  uint64_t imported = 0;  // restored or appended
  uint64_t skipped = 0;   // already stored (restore) or a repeated id (append)
};

absl::StatusOr<ImportResult> ImportEventFile(Store& store, const std::string& path,
                                             const ImportOptions& options);

}  // namespace tally

#endif  // TALLY_ANALYTICS_EVENT_IMPORT_H_
