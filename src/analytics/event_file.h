// Files of events: the archive line format, and a reader for every format
// `tally export` writes (kind=events), plain or zstd-compressed.
//
// An archive line is the export's event JSON (analytics/export_writer.h)
// followed by the two fields the export leaves out, so that an archived event
// comes back exactly (operator==):
//
//   {"seq":12,"id":"e1",...,"data":{...},"fingerprint":"9876543210","effects":"s|chars|...|523"}
//
// `fingerprint` is a decimal string (a uint64 does not fit a JSON double);
// `effects` is the store's column encoding (store/codec.h), which never holds
// '"' or '\'. Both come last, in that order, so the reader takes them off the
// end and hands the rest to ParseEventJson.
//
// Thread-safety: functions are pure; an EventFileReader is used by one thread.
#ifndef TALLY_ANALYTICS_EVENT_FILE_H_
#define TALLY_ANALYTICS_EVENT_FILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "analytics/archive_io.h"
#include "store/log_record.h"

namespace tally {

// Appends one archive line, '\n' included.
void AppendArchiveLine(uint64_t seq, const EventRecord& record, std::string& out);

// One event read from a file.
struct EventRow {
  uint64_t seq = 0;      // 0 when the file has none
  EventRecord record;
  bool exact = false;    // the line carried fingerprint and effects (an archive line)
};

// Parses an archive line or an export's JSON event object.
absl::StatusOr<EventRow> ParseEventLine(std::string_view line);

enum class EventFileFormat {
  kNdjson,     // .ndjson, .jsonl (archives are NDJSON)
  kJsonArray,  // .json: "[", one object per line with "," after all but the last, "]"
  kCsv,        // .csv: kEventCsvHeader, then one RFC 4180 record per event
};

// The format a file name says, after dropping a ".zst" ending; nullopt for an
// unknown extension.
std::optional<EventFileFormat> EventFileFormatOf(const std::string& path);

// Reads the events of one file in order.
class EventFileReader {
 public:
  // InvalidArgumentError for an extension not listed above.
  static absl::StatusOr<std::unique_ptr<EventFileReader>> Open(const std::string& path);

  // The next event in `row`: true; false at the end. Errors name the file and
  // the line ("events.csv:12: data: ..."), or the zstd problem.
  absl::StatusOr<bool> Next(EventRow& row);

  // The line the last row ended on.
  uint64_t line_number() const { return lines_->line_number(); }
  uint64_t bytes_read() const { return lines_->bytes_read(); }
  EventFileFormat format() const { return format_; }
  const std::string& path() const { return path_; }

 private:
  EventFileReader(std::string path, EventFileFormat format, std::unique_ptr<LineReader> lines)
      : path_(std::move(path)), format_(format), lines_(std::move(lines)) {}
  absl::Status RowError(uint64_t line, std::string_view message) const;
  absl::StatusOr<bool> NextJson(EventRow& row);
  absl::StatusOr<bool> NextCsv(EventRow& row);

  const std::string path_;
  const EventFileFormat format_;
  std::unique_ptr<LineReader> lines_;
  bool started_ = false;  // the CSV header or the JSON "[" was read
  bool ended_ = false;    // the JSON "]" was read
  std::string line_;
};

}  // namespace tally

#endif  // TALLY_ANALYTICS_EVENT_FILE_H_
