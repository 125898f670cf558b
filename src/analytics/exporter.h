// Export runs: what GET /api/usage/export and `tally export` share. An
// ExportRequest (validated once, with errors naming the parameter) is run
// over the store's events (kind events) or the rollups' hours (hourly, daily,
// monthly), written by an ExportWriter and handed out in chunks of about
// kExportChunkBytes, so memory stays flat whatever the number of rows.
//
//   events   every stored event with time in [from, to), in seq (append)
//            order; `type` and `subject` filter; `meters` keeps the events at
//            least one of the named meters applies to (core/meter.h Applies)
//   hourly   one row per subject × type × bucket with events (empty buckets
//   daily    are skipped), ordered by subject, bucket start, type. Buckets are
//   monthly  whole: the first one may start before `from`, the last end after
//            `to`. Hours are UTC; days and months are in `tz`, or else each
//            subject's own time zone, floored to whole UTC hours
//            (analytics/buckets.h). `meters` picks the meter columns.
//
// Thread-safety: RunExport may run on many threads at once (the store and the
// rollups are thread-safe); one call uses its own writer and buffer.
#ifndef TALLY_ANALYTICS_EXPORTER_H_
#define TALLY_ANALYTICS_EXPORTER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "analytics/export_writer.h"
#include "analytics/rollups.h"
#include "core/meter.h"
#include "store/store.h"

namespace tally {

inline constexpr size_t kExportChunkBytes = 64 * 1024;
// The most buckets one usage export may span per subject.
inline constexpr int64_t kMaxExportBuckets = 1'000'000;

struct ExportRequest {
  ExportFormat format = ExportFormat::kCsv;
  ExportKind kind = ExportKind::kEvents;
  // Events: event time in [from, to); open ends by default. Usage kinds: the
  // buckets overlapping [from, to); `to` defaults to now, `from` to 31 days
  // (hourly), 366 days (daily) or 5 × 366 days (monthly) before `to`.
  Micros from = kBeginningOfTime;
  Micros to = kEndOfTime;
  std::string subject;              // empty: every subject
  std::string type;                 // empty: every type
  std::vector<std::string> meters;  // meter names; empty: every meter
  std::string tz;                   // IANA zone for daily/monthly; empty: each subject's own
};

// Splits a comma-separated list of meter names ("chars,tokens") into
// `out`; InvalidArgumentError("meter: ...") for a name that is not one of
// `meters` or a name given twice.
absl::Status ParseMeterList(std::string_view text, const std::vector<Meter>& meters,
                            std::vector<std::string>* out);

// Applies the defaults above and checks the request: from < to, the meters
// exist, tz is a known IANA zone, the range is not more than
// kMaxExportBuckets buckets. Errors are InvalidArgumentError("<param>: ...")
// with param one of from, to, meter, tz.
absl::Status ValidateExportRequest(ExportRequest& request, const std::vector<Meter>& meters,
                                   Micros now);

// What an export reads.
struct ExportSources {
  Store* store = nullptr;            // events
  const Rollups* rollups = nullptr;  // usage kinds; null: they fail with UnavailableError
  std::vector<Meter> meters;         // the configured meters (the events' meter filter)
  // A subject's IANA time zone (Subject::timezone); "UTC" when unknown.
  std::function<std::string(const std::string& subject)> timezone_of;
};

// Receives each chunk of the export, and the rows written so far; returns
// false to stop the export. An empty chunk (sent between stretches of work
// that write nothing) only asks whether to go on.
using ExportEmit = std::function<bool(std::string chunk, uint64_t rows)>;

// Runs a validated request. OK once the last chunk (with the closing of a
// JSON array) was emitted; CancelledError when `emit` returned false; the
// store's error if reading failed (chunks may have been emitted before).
absl::Status RunExport(const ExportRequest& request, const ExportSources& sources,
                       const ExportEmit& emit);

// "tally-events-20260301-20260401.csv": the kind, the range's dates (UTC),
// the format's extension. Open ends are left out ("tally-events.csv").
std::string ExportFileName(const ExportRequest& request);

}  // namespace tally

#endif  // TALLY_ANALYTICS_EXPORTER_H_
