// Export rows and their writers: events and usage buckets as CSV (RFC 4180),
// one JSON array, or NDJSON (one object per line), written incrementally into
// a caller's buffer so that an export of any size streams in flat memory.
//
// The event row is also the archive/import format, so it has a codec both ways:
//
//   JSON  {"seq":12,"id":"e1","subject":"alice","org":"acme","type":"api_call",
//          "time":"2026-03-08T07:00:00.5Z","received":"2026-03-08T07:00:01Z",
//          "origin":"track","reservation_id":"r1","data":{"chars":523,"tokens":10},
//          "context":{"session_id":"s1","ip":"203.0.113.9","user_agent":"curl/8",
//                     "endpoint":"/v1/fix","method":"POST","processing_ms":12,
//                     "error_code":"E_TIMEOUT"}}
//         Empty strings and an unreported processing_ms are left out (org,
//         reservation_id, each context field; "context" itself when empty);
//         "data" is always there, keys in the order stored. Times are RFC 3339
//         UTC with microseconds when non-zero. Strings are UTF-8 as stored.
//   CSV   kEventCsvHeader; data as "chars=523;tokens=10" (data keys match
//         [A-Za-z0-9_.-], so neither '=' nor ';' can occur in them); an empty
//         field is an empty string or an unreported processing_ms.
//
// The event's fingerprint and effects are not exported: they are recomputed
// when events are imported. Otherwise Parse*(Append*(r)) == r exactly.
//
// Usage rows (hourly, daily, monthly): one per subject × type × bucket,
//   CSV   subject,type,start,end,events,errors,<one column per meter>
//   JSON  {"subject","type","start","end","events","errors","meters":{name:value}}
//
// Thread-safety: the functions are pure; an ExportWriter is used by one thread.
#ifndef TALLY_ANALYTICS_EXPORT_WRITER_H_
#define TALLY_ANALYTICS_EXPORT_WRITER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "analytics/rollups.h"
#include "store/log_record.h"

namespace tally {

enum class ExportFormat { kCsv, kJson, kNdjson };
enum class ExportKind { kEvents, kHourly, kDaily, kMonthly };

// "csv", "json", "ndjson"; nullopt for anything else.
std::optional<ExportFormat> ParseExportFormat(std::string_view name);
std::string_view ExportFormatName(ExportFormat format);
// "events", "hourly", "daily", "monthly"; nullopt for anything else.
std::optional<ExportKind> ParseExportKind(std::string_view name);
std::string_view ExportKindName(ExportKind kind);
// "text/csv; charset=utf-8", "application/json", "application/x-ndjson".
std::string_view ExportContentType(ExportFormat format);

// --- The event row codec (shared with import) ---

inline constexpr std::string_view kEventCsvHeader =
    "seq,id,subject,org,type,time,received,origin,reservation_id,data,session_id,ip,"
    "user_agent,endpoint,method,processing_ms,error_code";

// "track", "consume", "commit".
std::string_view OriginName(EventRecord::Origin origin);

// Appends one JSON object (no newline).
void AppendEventJson(uint64_t seq, const EventRecord& record, std::string& out);
// One JSON object as AppendEventJson writes it (whitespace around tokens is
// fine; null is the same as absent; unknown keys and bad values are errors
// naming the field). id, subject, type and time are required; seq is 0 when
// absent.
absl::StatusOr<std::pair<uint64_t, EventRecord>> ParseEventJson(std::string_view line);

// Appends one CSV record, ending in CRLF.
void AppendEventCsv(uint64_t seq, const EventRecord& record, std::string& out);
// Reads one RFC 4180 record of `text` starting at *pos, through its line end
// (CRLF, LF or the end of the text), and moves *pos past it. Quoted fields
// may hold commas, doubled quotes, CR and LF. InvalidArgumentError for a
// quote inside an unquoted field, text after a closing quote, or an
// unterminated quoted field. REQUIRES: *pos < text.size().
absl::StatusOr<std::vector<std::string>> ParseCsvRecord(std::string_view text, size_t* pos);
// The event of one CSV record under kEventCsvHeader (17 fields).
absl::StatusOr<std::pair<uint64_t, EventRecord>> ParseEventCsv(const std::vector<std::string>& fields);

// Appends `field`, quoted when it holds a comma, a quote, CR or LF.
void AppendCsvField(std::string_view field, std::string& out);
// Appends `s` as a JSON string, quotes included: '"', '\\' and control
// characters escaped, everything else (UTF-8) as is.
void AppendJsonQuoted(std::string_view s, std::string& out);

// --- Writers ---

// A meter column of usage rows: its name and its index in Usage::meters.
struct MeterColumn {
  std::string name;
  size_t index = 0;
};

// Writes one export: Begin, then rows, then End, each appending to `out`
// (which the caller flushes whenever it likes). Events for kind kEvents,
// usage buckets for the others.
class ExportWriter {
 public:
  ExportWriter(ExportFormat format, ExportKind kind, std::vector<MeterColumn> meters = {});

  void Begin(std::string& out);
  void AddEvent(uint64_t seq, const EventRecord& record, std::string& out);
  void AddUsage(std::string_view subject, std::string_view type, const Bucket& bucket,
                std::string& out);
  void End(std::string& out);

  uint64_t rows() const { return rows_; }

 private:
  // Before each row: the separator of a JSON array.
  void RowStart(std::string& out);
  void RowEnd(std::string& out);

  const ExportFormat format_;
  const ExportKind kind_;
  const std::vector<MeterColumn> meters_;
  uint64_t rows_ = 0;
};

}  // namespace tally

#endif  // TALLY_ANALYTICS_EXPORT_WRITER_H_
