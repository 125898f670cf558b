// The manifest of an archive directory (manifest.json): one entry per archive
// file, and from them the set of events already archived (ArchiveCoverage).
//
// An entry's file holds every event that was stored when it was written with
// seq in (after_seq, upto_seq] and time < cutoff, except those an earlier
// entry already covered. So "archived" is a property of (seq, time), and a
// later run never archives an event twice, even when events with later times
// sit between archived seqs (late events) or a run died before its delete.
//
// The file: {"version":1,"files":[{"file":"events-1-500.ndjson.zst",
//   "first_seq":1,"last_seq":500,"rows":480,"min_time":"...","max_time":"...",
//   "bytes":12345,"sha256":"...","created":"...","cutoff":"...",
//   "after_seq":0,"upto_seq":612}, ...]}   (times are RFC 3339, UTC)
//
// Thread-safety: plain value types and functions; callers serialise access to
// one directory (ArchiveEvents takes <dir>/LOCK).
#ifndef TALLY_ANALYTICS_ARCHIVE_MANIFEST_H_
#define TALLY_ANALYTICS_ARCHIVE_MANIFEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/time.h"

namespace tally {

inline constexpr char kManifestName[] = "manifest.json";

struct ArchiveEntry {
  std::string file;        // name inside the archive directory
  uint64_t first_seq = 0;  // the smallest and largest seq in the file
  uint64_t last_seq = 0;
  uint64_t rows = 0;
  Micros min_time = 0;  // the earliest and latest event time in the file
  Micros max_time = 0;
  uint64_t bytes = 0;   // size of the compressed file
  std::string sha256;   // of the compressed file, lower-case hex
  Micros created = 0;
  Micros cutoff = 0;    // the file holds events with time < cutoff ...
  uint64_t after_seq = 0;  // ... and seq in (after_seq, upto_seq]
  uint64_t upto_seq = 0;
  friend bool operator==(const ArchiveEntry&, const ArchiveEntry&) = default;
};

struct Manifest {
  std::vector<ArchiveEntry> files;  // in the order written
  const ArchiveEntry* FindBySha256(const std::string& sha256) const;
  const ArchiveEntry* FindByName(const std::string& file) const;
};

// Reads <dir>/manifest.json; an empty manifest if the file does not exist.
// DataLossError naming the file for one that does not parse.
absl::StatusOr<Manifest> LoadManifest(const std::string& dir);

// Writes <dir>/manifest.json atomically (temp file, fsync, rename, directory fsync).
absl::Status SaveManifest(const std::string& dir, const Manifest& manifest);

std::string ManifestToJson(const Manifest& manifest);
absl::StatusOr<Manifest> ManifestFromJson(const std::string& text);

// Which (seq, time) the entries of a manifest cover. Built once, O(n log n);
// each question is a binary search.
class ArchiveCoverage {
 public:
  explicit ArchiveCoverage(const Manifest& manifest);
  bool Covers(uint64_t seq, Micros time) const;
  bool empty() const { return cutoffs_.empty(); }

 private:
  // Segment i is seqs in (bounds_[i], bounds_[i+1]]; an event in it is covered
  // iff its time < cutoffs_[i].
  std::vector<uint64_t> bounds_;
  std::vector<Micros> cutoffs_;
};

}  // namespace tally

#endif  // TALLY_ANALYTICS_ARCHIVE_MANIFEST_H_
