// The `events` rows as Replay, ScanEvents and the rollups' fold at open read
// them: one column list, one decoder, so that every reader gets exactly the
// EventRecord that was appended. Internal to store/sqlite.
//
// Thread-safety: plain functions.
#ifndef TALLY_STORE_SQLITE_EVENT_ROWS_H_
#define TALLY_STORE_SQLITE_EVENT_ROWS_H_

#include <sqlite3.h>

#include "absl/status/status.h"
#include "store/log_record.h"

namespace tally::sqlite_internal {

// Replay, the rollups' fold at open and ScanEvents read these columns of
// `events`, in this order (EventColumn), and decode them with ReadEventRow.
#define TALLY_SELECT_EVENTS                                                              \
  "SELECT seq, id, fingerprint, subject, org, type, time_us, received_us, origin,"       \
  " reservation_id, data, effects, session_id, ip, user_agent, endpoint, method,"        \
  " processing_ms, error_code FROM events"
inline constexpr char kSelectEventsSql[] = TALLY_SELECT_EVENTS " WHERE seq > ?1 ORDER BY seq";
// ScanEvents appends its filters to this.
inline constexpr char kSelectEventColumns[] = TALLY_SELECT_EVENTS;
#undef TALLY_SELECT_EVENTS
enum EventColumn {
  kEvSeq, kEvId, kEvFingerprint, kEvSubject, kEvOrg, kEvType, kEvTime, kEvReceived,
  kEvOrigin, kEvReservationId, kEvData, kEvEffects, kEvSessionId, kEvIp, kEvUserAgent,
  kEvEndpoint, kEvMethod, kEvProcessingMs, kEvErrorCode,
};

// Reads the current row of a statement selecting kSelectEventColumns into
// `r`, reusing its storage. DataLossError "events row <seq>: ..." for a
// column that does not decode.
absl::Status ReadEventRow(sqlite3_stmt* s, EventRecord* r);

}  // namespace tally::sqlite_internal

#endif  // TALLY_STORE_SQLITE_EVENT_ROWS_H_
