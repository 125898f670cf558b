#include "analytics/archive.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "analytics/archive_io.h"
#include "analytics/event_file.h"
#include "core/log.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

constexpr size_t kWriteChunk = 1 << 20;  // bytes of NDJSON handed to zstd at a time

// An exclusive flock on <dir>/LOCK for one run.
class DirLock {
 public:
  static absl::StatusOr<std::unique_ptr<DirLock>> Take(const std::string& dir) {
    const std::string path = (fs::path(dir) / "LOCK").string();
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("archive directory ", dir, " is in use by another archive run (", path, " is locked)"));
    }
    return std::unique_ptr<DirLock>(new DirLock(fd));
  }
  ~DirLock() { ::close(fd_); }
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  const int fd_;
};

// The file being written by a run: its entry grows with each event.
struct OpenFile {
  std::unique_ptr<ZstdFileWriter> writer;
  std::string tmp_path;
  ArchiveEntry entry;
  std::string pending;  // NDJSON not yet handed to the writer
};

std::string ArchiveFileName(uint64_t first_seq, uint64_t last_seq) {
  return absl::StrCat("events-", first_seq, "-", last_seq, ".ndjson.zst");
}

// Leftovers of a run that died while writing: never listed, never complete.
void RemoveTempFiles(const std::string& dir) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("events-") && name.ends_with(".tmp")) fs::remove(e.path(), ec);
  }
}

class ArchiveRun {
 public:
  ArchiveRun(Store& store, const ArchiveOptions& options, Manifest manifest)
      : store_(store), options_(options), manifest_(std::move(manifest)), coverage_(manifest_) {}

  absl::StatusOr<ArchiveResult> Run() {
    upto_seq_ = options_.upto_seq != 0 ? std::min(options_.upto_seq, store_.LastSeq()) : store_.LastSeq();
    if (absl::Status s = store_.Flush(); !s.ok()) return s;
    EventQuery query;
    query.to = options_.cutoff;
    query.upto_seq = upto_seq_;
    absl::Status scan = store_.ScanEvents(query, [this](uint64_t seq, const EventRecord& record) {
      if (options_.cancel != nullptr && options_.cancel->load(std::memory_order_relaxed)) {
        error_ = absl::CancelledError("archiving stopped (shutting down)");
        return false;
      }
      error_ = Add(seq, record);
      return error_.ok();
    });
    if (!scan.ok()) return scan;
    if (absl::IsCancelled(error_)) {
      file_.reset();  // drops the unfinished file
      if (!result_.files.empty()) {
        if (absl::Status s = SaveManifest(options_.dir, manifest_); !s.ok()) return s;
      }
      return error_;
    }
    if (!error_.ok()) return error_;
    if (file_) {
      if (absl::Status s = Close(/*last=*/true); !s.ok()) return s;
    }
    if (options_.dry_run) return result_;
    if (!result_.files.empty()) {
      if (absl::Status s = SaveManifest(options_.dir, manifest_); !s.ok()) return s;
    }
    if (options_.delete_events && result_.archived + result_.already_archived > 0) {
      absl::StatusOr<uint64_t> deleted = store_.DeleteEvents(options_.cutoff, upto_seq_);
      if (!deleted.ok()) {
        return absl::Status(deleted.status().code(),
                            absl::StrCat("the events are archived, but deleting them failed (the next run "
                                         "deletes them): ",
                                         deleted.status().message()));
      }
      result_.deleted = *deleted;
    }
    return result_;
  }

 private:
  absl::Status Add(uint64_t seq, const EventRecord& record) {
    if (coverage_.Covers(seq, record.event.time)) {
      ++result_.already_archived;
      return absl::OkStatus();
    }
    const Micros t = record.event.time;
    result_.min_time = result_.archived == 0 ? t : std::min(result_.min_time, t);
    result_.max_time = result_.archived == 0 ? t : std::max(result_.max_time, t);
    ++result_.archived;
    if (options_.dry_run) return absl::OkStatus();
    if (!file_) {
      if (absl::Status s = Open(seq); !s.ok()) return s;
    }
    ArchiveEntry& e = file_->entry;
    e.min_time = e.rows == 0 ? t : std::min(e.min_time, t);
    e.max_time = e.rows == 0 ? t : std::max(e.max_time, t);
    e.last_seq = seq;
    ++e.rows;
    AppendArchiveLine(seq, record, file_->pending);
    if (file_->pending.size() >= kWriteChunk) {
      if (absl::Status s = file_->writer->Write(file_->pending); !s.ok()) return s;
      file_->pending.clear();
    }
    if (e.rows >= options_.max_rows_per_file) return Close(/*last=*/false);
    return absl::OkStatus();
  }

  absl::Status Open(uint64_t first_seq) {
    file_ = std::make_unique<OpenFile>();
    file_->tmp_path = (fs::path(options_.dir) / absl::StrCat("events-", first_seq, ".ndjson.zst.tmp")).string();
    absl::StatusOr<std::unique_ptr<ZstdFileWriter>> writer =
        ZstdFileWriter::Create(file_->tmp_path, options_.zstd_level);
    if (!writer.ok()) return writer.status();
    file_->writer = std::move(*writer);
    ArchiveEntry& e = file_->entry;
    e.first_seq = first_seq;
    e.created = options_.now;
    e.cutoff = options_.cutoff;
    e.after_seq = covered_upto_;
    return absl::OkStatus();
  }

  // Finishes the open file and lists it in manifest_ (saved by Run). The last
  // file of a run covers up to upto_seq_; the others up to their last seq.
  absl::Status Close(bool last) {
    OpenFile& f = *file_;
    if (!f.pending.empty()) {
      if (absl::Status s = f.writer->Write(f.pending); !s.ok()) return s;
    }
    if (absl::Status s = f.writer->Finish(); !s.ok()) return s;
    ArchiveEntry& e = f.entry;
    e.upto_seq = last ? upto_seq_ : e.last_seq;
    e.file = ArchiveFileName(e.first_seq, e.last_seq);
    e.bytes = f.writer->compressed_bytes();
    e.sha256 = f.writer->sha256();
    const std::string path = (fs::path(options_.dir) / e.file).string();
    if (std::rename(f.tmp_path.c_str(), path.c_str()) != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot rename ", f.tmp_path, " to ", path, ": ", std::strerror(errno)));
    }
    if (absl::Status s = FsyncDir(options_.dir); !s.ok()) return s;
    covered_upto_ = e.upto_seq;
    result_.compressed_bytes += e.bytes;
    result_.files.push_back(e);
    manifest_.files.push_back(e);
    file_.reset();
    return absl::OkStatus();
  }

  Store& store_;
  const ArchiveOptions& options_;
  Manifest manifest_;
  const ArchiveCoverage coverage_;  // of the manifest as the run found it
  uint64_t upto_seq_ = 0;
  uint64_t covered_upto_ = 0;  // the next file's after_seq
  std::unique_ptr<OpenFile> file_;
  ArchiveResult result_;
  absl::Status error_;
};

}  // namespace

std::string ArchiveDirFor(const RetentionOptions& retention, const std::string& data_dir) {
  if (!retention.archive_dir.empty()) return retention.archive_dir;
  return (fs::path(data_dir) / "archive").string();
}


std::string DescribeArchiveRun(const ArchiveResult& result, Micros cutoff, double seconds) {
  const std::string date = FormatRfc3339(cutoff);
  if (result.files.empty()) {
    if (result.archived > 0) {  // a dry run
      return absl::StrCat("would archive ", WithThousands(result.archived), " events older than ", date,
                          " (event times ", FormatRfc3339(result.min_time), " to ",
                          FormatRfc3339(result.max_time), ")");
    }
    std::string out = absl::StrCat("no events older than ", date, " to archive");
    if (result.already_archived > 0) {
      absl::StrAppend(&out, "; deleted ", WithThousands(result.deleted),
                      " events archived by an earlier run that stopped before its delete");
    }
    return out;
  }
  std::string names = result.files.front().file;
  if (result.files.size() > 1) absl::StrAppend(&names, " ... ", result.files.back().file);
  char size[64];
  std::snprintf(size, sizeof size, "%.1f MB, %.1f s", static_cast<double>(result.compressed_bytes) / 1e6,
                seconds);
  return absl::StrCat("archived ", WithThousands(result.archived), " events older than ", date, " to ",
                      names, " (", size, "); ",
                      result.deleted > 0 ? absl::StrCat("deleted ", WithThousands(result.deleted),
                                                        " from the database")
                                         : std::string("not deleted from the database yet"));
}

absl::StatusOr<ArchiveResult> ArchiveEvents(Store& store, const ArchiveOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("ArchiveEvents: no archive directory");
  if (options.max_rows_per_file < 1) {
    return absl::InvalidArgumentError("ArchiveEvents: max_rows_per_file must be >= 1");
  }
  std::error_code ec;
  if (!options.dry_run) {
    fs::create_directories(options.dir, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create archive directory ", options.dir, ": ", ec.message()));
    }
  }
  std::unique_ptr<DirLock> lock;
  if (fs::is_directory(options.dir, ec)) {
    absl::StatusOr<std::unique_ptr<DirLock>> taken = DirLock::Take(options.dir);
    if (!taken.ok()) return taken.status();
    lock = std::move(*taken);
    if (!options.dry_run) RemoveTempFiles(options.dir);
  }
  absl::StatusOr<Manifest> manifest = LoadManifest(options.dir);
  if (!manifest.ok()) return manifest.status();
  ArchiveRun run(store, options, std::move(*manifest));
  return run.Run();
}

absl::StatusOr<RestoreResult> RestoreArchive(Store& store, const std::string& path,
                                             const std::string& manifest_dir) {
  RestoreResult result;
  const std::string dir = !manifest_dir.empty() ? manifest_dir : fs::path(path).parent_path().string();
  absl::StatusOr<Manifest> manifest = LoadManifest(dir.empty() ? "." : dir);
  if (!manifest.ok()) return manifest.status();
  absl::StatusOr<std::string> sha = Sha256File(path);
  if (!sha.ok()) return sha.status();
  if (manifest->FindBySha256(*sha) != nullptr) {
    result.verified = true;
  } else if (const ArchiveEntry* listed = manifest->FindByName(fs::path(path).filename().string())) {
    return absl::DataLossError(absl::StrCat(path, ": SHA-256 ", *sha, " differs from the manifest's ",
                                            listed->sha256, " (the file is damaged); nothing restored"));
  }
  // Pass 1: every line parses, the frame is whole. Pass 2: restore.
  for (int pass = 1; pass <= 2; ++pass) {
    absl::StatusOr<std::unique_ptr<EventFileReader>> reader = EventFileReader::Open(path);
    if (!reader.ok()) return reader.status();
    std::vector<std::pair<uint64_t, EventRecord>> batch;
    const uint64_t last_seq = store.LastSeq();
    auto flush = [&]() -> absl::Status {
      absl::StatusOr<uint64_t> restored = store.RestoreEvents(batch);
      if (!restored.ok()) {
        return absl::Status(restored.status().code(),
                            absl::StrCat(path, ": restored ", result.restored, " events before: ",
                                         restored.status().message()));
      }
      result.restored += *restored;
      result.skipped += batch.size() - *restored;
      batch.clear();
      return absl::OkStatus();
    };
    EventRow row;
    for (;;) {
      absl::StatusOr<bool> more = (*reader)->Next(row);
      if (!more.ok()) return absl::Status(more.status().code(), absl::StrCat(more.status().message(), "; nothing restored"));
      if (!*more) break;
      if (pass == 1) {
        const uint64_t line = (*reader)->line_number();
        if (!row.exact || row.seq == 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ":", line, ": not an archive line (no seq, fingerprint or effects); "
              "nothing restored. Use `tally import` for exports"));
        }
        if (row.seq > last_seq) {
          return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": seq ", row.seq,
                                                         " was never assigned by this database (its "
                                                         "last is ", last_seq, "); nothing restored"));
        }
        ++result.rows;
        continue;
      }
      batch.emplace_back(row.seq, std::move(row.record));
      if (batch.size() >= kRestoreBatch) {
        if (absl::Status s = flush(); !s.ok()) return s;
      }
    }
    if (pass == 2 && !batch.empty()) {
      if (absl::Status s = flush(); !s.ok()) return s;
    }
  }
  return result;
}

}  // namespace tally
