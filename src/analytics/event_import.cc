#include "analytics/event_import.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "analytics/archive.h"
#include "analytics/archive_io.h"
#include "analytics/archive_manifest.h"
#include "analytics/event_file.h"
#include "core/event.h"

namespace tally {
namespace {

// A row that tells against a mode: where and why.
struct Objection {
  uint64_t line = 0;
  std::string reason;
};

bool SameEvent(const EventRow& row, const EventRecord& stored) {
  if (row.exact) return row.record == stored;
  // An export carries neither fingerprint nor effects.
  EventRecord a = row.record;
  EventRecord b = stored;
  a.fingerprint = b.fingerprint = 0;
  a.effects.clear();
  b.effects.clear();
  return a == b;
}

// The first pass: reads every row and sorts them into what they say about the
// file's origin.
class Survey {
 public:
  Survey(Store& store, const ArchiveCoverage& coverage) : store_(store), coverage_(coverage), last_seq_(store.LastSeq()) {}

  absl::Status Run(EventFileReader& reader, const ImportOptions& options) {
    EventRow row;
    for (;;) {
      absl::StatusOr<bool> more = reader.Next(row);
      if (!more.ok()) return more.status();
      if (!*more) break;
      ++rows_;
      all_exact_ = all_exact_ && row.exact;
      if (!append_problem_) {
        if (absl::Status s = ValidateEvent(row.record.event); !s.ok()) {
          append_problem_ = Objection{reader.line_number(), std::string(s.message())};
        }
      }
      batch_.emplace_back(reader.line_number(), std::move(row));
      if (batch_.size() >= kRestoreBatch) {
        if (absl::Status s = Classify(); !s.ok()) return s;
        if (options.progress) options.progress(false, rows_);
      }
    }
    return Classify();
  }

  uint64_t rows() const { return rows_; }
  uint64_t stored() const { return stored_; }        // rows stored here, identical
  uint64_t archived() const { return archived_; }    // archive rows the manifest covers, not stored
  bool all_exact() const { return all_exact_; }
  // The first row that is neither stored here nor restorable.
  const std::optional<Objection>& not_ours() const { return not_ours_; }
  // The first row that forced restore cannot take.
  const std::optional<Objection>& restore_problem() const { return restore_problem_; }
  // The first row append cannot take.
  const std::optional<Objection>& append_problem() const { return append_problem_; }

 private:
  absl::Status Classify() {
    if (batch_.empty()) return absl::OkStatus();
    // The stored events with the batch's seqs, read in one scan of their range.
    absl::flat_hash_map<uint64_t, size_t> wanted;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < batch_.size(); ++i) {
      const uint64_t seq = batch_[i].second.seq;
      if (seq == 0 || seq > last_seq_) continue;
      wanted.emplace(seq, i);
      lo = std::min(lo, seq);
      hi = std::max(hi, seq);
    }
    absl::flat_hash_map<uint64_t, bool> same;  // seq -> stored identically
    if (!wanted.empty()) {
      EventQuery query;
      query.after_seq = lo - 1;
      query.upto_seq = hi;
      absl::Status s = store_.ScanEvents(query, [&](uint64_t seq, const EventRecord& stored) {
        if (auto it = wanted.find(seq); it != wanted.end()) {
          same[seq] = SameEvent(batch_[it->second].second, stored);
        }
        return true;
      });
      if (!s.ok()) return s;
    }
    for (const auto& [line, row] : batch_) {
      auto Object = [&](std::optional<Objection>& slot, std::string reason) {
        if (!slot) slot = Objection{line, std::move(reason)};
      };
      if (row.seq == 0) {
        Object(not_ours_, "the row has no seq");
        Object(restore_problem_, "the row has no seq");
        continue;
      }
      if (row.seq > last_seq_) {
        const std::string why = absl::StrCat("seq ", row.seq, " was never assigned here (the last is ", last_seq_, ")");
        Object(not_ours_, why);
        Object(restore_problem_, why);
        continue;
      }
      if (auto it = same.find(row.seq); it != same.end()) {
        if (it->second) {
          ++stored_;
        } else {
          const std::string why = absl::StrCat("seq ", row.seq, " holds a different event here");
          Object(not_ours_, why);
          Object(restore_problem_, why);
        }
        continue;
      }
      if (!row.exact) {
        const std::string why = absl::StrCat(
            "seq ", row.seq, " is not stored here, and an export (no fingerprint and effects) cannot restore it exactly");
        Object(not_ours_, why);
        Object(restore_problem_, why);
        continue;
      }
      if (coverage_.Covers(row.seq, row.record.event.time)) {
        ++archived_;
      } else {
        Object(not_ours_, absl::StrCat("seq ", row.seq, " is neither stored here nor in this database's archives"));
      }
    }
    batch_.clear();
    return absl::OkStatus();
  }

  Store& store_;
  const ArchiveCoverage& coverage_;
  const uint64_t last_seq_;
  std::vector<std::pair<uint64_t, EventRow>> batch_;  // (line, row)
  uint64_t rows_ = 0;
  uint64_t stored_ = 0;
  uint64_t archived_ = 0;
  bool all_exact_ = true;
  std::optional<Objection> not_ours_;
  std::optional<Objection> restore_problem_;
  std::optional<Objection> append_problem_;
};

absl::Status RowError(const std::string& path, const Objection& o, std::string_view mode) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ":", o.line, ": cannot ", std::string(mode), ": ", o.reason, "; nothing imported from this file"));
}

absl::Status Import(Store& store, EventFileReader& reader, const ImportOptions& options,
                    ImportResult& result) {
  std::vector<std::pair<uint64_t, EventRecord>> restore_batch;
  std::vector<LogRecord> append_batch;
  absl::flat_hash_set<uint64_t> seen_ids;  // StableHash(id) of the rows appended
  const bool restore = result.mode == ImportMode::kRestore;
  auto flush = [&]() -> absl::Status {
    if (restore && !restore_batch.empty()) {
      absl::StatusOr<uint64_t> n = store.RestoreEvents(restore_batch);
      if (!n.ok()) return n.status();
      result.imported += *n;
      result.skipped += restore_batch.size() - *n;
      restore_batch.clear();
    } else if (!restore && !append_batch.empty()) {
      const uint64_t n = append_batch.size();
      absl::StatusOr<uint64_t> ticket = store.Append(std::move(append_batch));
      append_batch.clear();
      if (!ticket.ok()) return ticket.status();
      if (absl::Status s = store.WaitDurable(*ticket); !s.ok()) return s;
      result.imported += n;
    }
    if (options.progress) options.progress(true, result.imported + result.skipped);
    return absl::OkStatus();
  };
  EventRow row;
  for (;;) {
    absl::StatusOr<bool> more = reader.Next(row);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (restore) {
      restore_batch.emplace_back(row.seq, std::move(row.record));
      if (restore_batch.size() >= kRestoreBatch) {
        if (absl::Status s = flush(); !s.ok()) return s;
      }
      continue;
    }
    if (!seen_ids.insert(StableHash(row.record.event.id)).second) {
      ++result.skipped;
      continue;
    }
    EventRecord& r = row.record;
    r.effects.clear();  // counted elsewhere: no quota counter moves here
    if (r.fingerprint == 0) r.fingerprint = Fingerprint(r.event);
    if (r.received == 0) r.received = options.now;
    append_batch.emplace_back(std::move(r));
    if (append_batch.size() >= kRestoreBatch) {
      if (absl::Status s = flush(); !s.ok()) return s;
    }
  }
  return flush();
}

}  // namespace

absl::StatusOr<ImportResult> ImportEventFile(Store& store, const std::string& path,
                                             const ImportOptions& options) {
  ImportResult result;
  if (!EventFileFormatOf(path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": unknown file type (expected .ndjson, .jsonl, .json or .csv, optionally .zst)"));
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  Manifest manifest;
  bool listed = false;
  if (!options.archive_dir.empty()) {
    absl::StatusOr<Manifest> loaded = LoadManifest(options.archive_dir);
    if (!loaded.ok()) return loaded.status();
    manifest = std::move(*loaded);
    if (!manifest.files.empty()) {
      absl::StatusOr<std::string> sha = Sha256File(path);
      if (!sha.ok()) return sha.status();
      listed = manifest.FindBySha256(*sha) != nullptr;
    }
  }
  const ArchiveCoverage coverage(manifest);

  absl::StatusOr<std::unique_ptr<EventFileReader>> first = EventFileReader::Open(path);
  if (!first.ok()) return first.status();
  Survey survey(store, coverage);
  if (absl::Status s = survey.Run(**first, options); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), "; nothing imported from this file"));
  }
  first->reset();
  result.rows = survey.rows();

  switch (options.mode) {
    case ImportMode::kRestore:
      if (survey.restore_problem()) return RowError(path, *survey.restore_problem(), "restore");
      result.mode = ImportMode::kRestore;
      result.why = "restore (--mode restore)";
      break;
    case ImportMode::kAppend:
      if (survey.append_problem()) return RowError(path, *survey.append_problem(), "append");
      result.mode = ImportMode::kAppend;
      result.why = "append (--mode append)";
      break;
    case ImportMode::kAuto:
      if (listed) {
        if (survey.restore_problem()) return RowError(path, *survey.restore_problem(), "restore");
        result.mode = ImportMode::kRestore;
        result.why = "restore: an archive of this database (listed in its manifest, checksum verified)";
      } else if (survey.rows() > 0 && !survey.not_ours() &&
                 (survey.stored() > 0 || survey.all_exact())) {
        result.mode = ImportMode::kRestore;
        result.why = absl::StrCat("restore: every row is this database's (", survey.stored(),
                                  " still stored, ", survey.archived(), " archived)");
      } else if (survey.stored() == 0) {
        if (survey.append_problem()) return RowError(path, *survey.append_problem(), "append");
        result.mode = ImportMode::kAppend;
        result.why = survey.rows() == 0 ? "append: the file has no events"
                                        : "append: events from elsewhere (new seqs, quota counters unchanged)";
      } else {
        const Objection& o = *survey.not_ours();
        return absl::InvalidArgumentError(absl::StrCat(
            path, ":", o.line, ": ", o.reason, ", yet ", survey.stored(),
            " rows are stored here: the file mixes this database's events with others; "
            "pass --mode restore or --mode append; nothing imported from this file"));
      }
      break;
  }
  if (result.mode == ImportMode::kAppend && options.now == 0) {
    return absl::InvalidArgumentError("ImportEventFile: options.now is required to append");
  }
  absl::StatusOr<std::unique_ptr<EventFileReader>> second = EventFileReader::Open(path);
  if (!second.ok()) return second.status();
  if (absl::Status s = Import(store, **second, options, result); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": imported ", result.imported, " of ", result.rows,
                                               " rows before an error: ", s.message()));
  }
  return result;
}

}  // namespace tally
