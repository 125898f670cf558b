#include "store/sqlite/event_rows.h"

#include <string>
#include <string_view>

#include "core/event.h"
#include "store/codec.h"
#include "store/sqlite/sqlite_util.h"

namespace tally::sqlite_internal {
namespace {

// Most optional columns are NULL: clear() is cheaper than assign("").
void Assign(std::string_view text, std::string* out) {
  if (text.empty()) {
    out->clear();
  } else {
    out->assign(text);
  }
}

}  // namespace

absl::Status ReadEventRow(sqlite3_stmt* s, EventRecord* r) {
  const uint64_t seq = ColumnUint(s, kEvSeq);
  Event& e = r->event;
  Assign(ColumnText(s, kEvId), &e.id);
  r->fingerprint = ColumnUint(s, kEvFingerprint);
  Assign(ColumnText(s, kEvSubject), &e.subject);
  Assign(ColumnText(s, kEvOrg), &r->org);
  Assign(ColumnText(s, kEvType), &e.type);
  e.time = ColumnInt(s, kEvTime);
  r->received = ColumnInt(s, kEvReceived);
  const int64_t origin = ColumnInt(s, kEvOrigin);
  if (origin < 0 || origin > static_cast<int64_t>(EventRecord::Origin::kCommit)) {
    return RowError("events", seq, absl::DataLossError("bad origin"));
  }
  r->origin = static_cast<EventRecord::Origin>(origin);
  Assign(ColumnText(s, kEvReservationId), &r->reservation_id);
  absl::Status status = DecodeDataInto(ColumnText(s, kEvData), &e.data);
  if (!status.ok()) return RowError("events", seq, status);
  status = DecodeEffectsInto(ColumnText(s, kEvEffects), &r->effects);
  if (!status.ok()) return RowError("events", seq, status);
  EventContext& c = e.context;
  Assign(ColumnText(s, kEvSessionId), &c.session_id);
  Assign(ColumnText(s, kEvIp), &c.ip);
  Assign(ColumnText(s, kEvUserAgent), &c.user_agent);
  Assign(ColumnText(s, kEvEndpoint), &c.endpoint);
  Assign(ColumnText(s, kEvMethod), &c.method);
  sqlite3_value* processing_ms = sqlite3_column_value(s, kEvProcessingMs);
  c.processing_ms =
      sqlite3_value_type(processing_ms) == SQLITE_NULL ? -1 : sqlite3_value_int64(processing_ms);
  Assign(ColumnText(s, kEvErrorCode), &c.error_code);
  return absl::OkStatus();
}

}  // namespace tally::sqlite_internal
