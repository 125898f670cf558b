#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>

#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/event.h"
#include "store/codec.h"
#include "store/sqlite/event_rows.h"
#include "store/sqlite/event_scan.h"
#include "store/sqlite/rollup_folder.h"
#include "store/sqlite/sqlite_util.h"

namespace tally {
namespace {

using sqlite_internal::ColumnBlob;
using sqlite_internal::ColumnInt;
using sqlite_internal::ColumnText;
using sqlite_internal::ColumnUint;
using sqlite_internal::ErrnoText;
using sqlite_internal::Exec;
using sqlite_internal::kSelectEventsSql;
using sqlite_internal::NextRow;
using sqlite_internal::OpenError;
using sqlite_internal::QueryInt;
using sqlite_internal::QueryText;
using sqlite_internal::ReadEventRow;
using sqlite_internal::RowError;
using sqlite_internal::ScanEventsIn;
using sqlite_internal::Statement;
using sqlite_internal::WriteError;
using enum sqlite_internal::EventColumn;

// 1: the first schema. 2: adds `dedup`, so that start-up reads narrow rows.
// 3: adds `api_keys`, `audit` and the indexes the API's reads need.
// 4: adds `rollups` and `alerts` (docs/storage.md, "Schema versions").
constexpr int64_t kSchemaVersion = 4;
constexpr int64_t kApplicationId = 0x54616c79;  // "Taly", in the file header

// docs/storage.md explains each table.
constexpr char kSchemaSql[] = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE events(
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, id_hash INTEGER NOT NULL,
  fingerprint INTEGER NOT NULL, subject TEXT NOT NULL, org TEXT, type TEXT NOT NULL,
  time_us INTEGER NOT NULL, received_us INTEGER NOT NULL, origin INTEGER NOT NULL,
  reservation_id TEXT, data TEXT NOT NULL, effects TEXT NOT NULL, session_id TEXT,
  ip TEXT, user_agent TEXT, endpoint TEXT, method TEXT, processing_ms INTEGER,
  error_code TEXT);
CREATE TABLE ledger(
  seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, time_us INTEGER NOT NULL,
  subject TEXT NOT NULL, org TEXT, reservation_id TEXT, expires_us INTEGER,
  request_id TEXT, request_id_hash INTEGER, request_fingerprint INTEGER,
  request_subject TEXT, request_type TEXT, request_time_us INTEGER, request_data TEXT,
  request_context TEXT, effects TEXT NOT NULL, actor TEXT, reason TEXT);
CREATE TABLE subjects(id TEXT PRIMARY KEY, definition TEXT NOT NULL,
                      updated_us INTEGER NOT NULL);
CREATE TABLE orgs(id TEXT PRIMARY KEY, definition TEXT NOT NULL,
                  updated_us INTEGER NOT NULL);
CREATE TABLE tiers(id TEXT PRIMARY KEY, definition TEXT NOT NULL,
                   updated_us INTEGER NOT NULL);
CREATE TABLE checkpoints(seq INTEGER PRIMARY KEY, created_us INTEGER NOT NULL,
                         blob BLOB NOT NULL);
)sql";

// Since version 2: what ScanDedup needs of the events and holds of one
// transaction, as one packed block (codec.h, ~18 bytes an entry instead of
// the ~195 of an events row), written in that same transaction.
constexpr char kDedupTableSql[] = R"sql(
CREATE TABLE dedup(last_seq INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL,
                   max_received_us INTEGER NOT NULL, entries BLOB NOT NULL);
)sql";

// Since version 3: API keys (a registry table like `subjects`), the audit
// trail, and an index each for the API's per-subject ledger and per-target
// audit reads (newest first, paged by seq).
constexpr char kVersion3Sql[] = R"sql(
CREATE TABLE api_keys(id TEXT PRIMARY KEY, definition TEXT NOT NULL,
                      updated_us INTEGER NOT NULL);
CREATE TABLE audit(
  seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, actor TEXT NOT NULL, address TEXT,
  action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT, reason TEXT);
CREATE INDEX ledger_by_subject ON ledger(subject, seq) WHERE kind >= 3;
CREATE INDEX audit_by_target ON audit(target, seq);
)sql";

// Since version 4: the rows of the RollupSink, persisted with meta
// `rollup_seq` (every event with a seq up to it is reflected in them), and
// the alerts, with an index for per-subject reads newest first.
constexpr char kVersion4Sql[] = R"sql(
CREATE TABLE rollups(family INTEGER NOT NULL, key TEXT NOT NULL, type TEXT NOT NULL,
                     hour INTEGER NOT NULL, cell BLOB NOT NULL,
                     PRIMARY KEY(family, key, hour, type)) WITHOUT ROWID;
CREATE TABLE alerts(seq INTEGER PRIMARY KEY, time_us INTEGER NOT NULL, kind TEXT NOT NULL,
                    subject TEXT NOT NULL, meter TEXT, hour_us INTEGER NOT NULL, detail TEXT);
CREATE INDEX alerts_by_subject ON alerts(subject, seq);
)sql";

constexpr char kInsertDedupSql[] =
    "INSERT INTO dedup(last_seq, first_seq, max_received_us, entries) VALUES(?1, ?2, ?3, ?4)";

// Every dedup entry of a version 1 database, in seq order (for the upgrade).
constexpr char kSelectV1DedupSql[] =
    "SELECT seq, id_hash, fingerprint, received_us FROM events"
    " UNION ALL SELECT seq, ifnull(request_id_hash, 0), ifnull(request_fingerprint, 0),"
    " time_us FROM ledger WHERE kind = 0 ORDER BY seq";

// The writer appends events with kInsertEventSql; RestoreEvents puts archived
// ones back with kRestoreEventSql, which skips a seq already present. Both
// are bound by BindEvent.
#define TALLY_INTO_EVENTS                                                               \
  " INTO events(seq, id, id_hash, fingerprint, subject, org, type, time_us,"            \
  " received_us, origin, reservation_id, data, effects, session_id, ip, user_agent,"    \
  " endpoint, method, processing_ms, error_code)"                                       \
  " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17," \
  " ?18, ?19, ?20)"
constexpr char kInsertEventSql[] = "INSERT" TALLY_INTO_EVENTS;
constexpr char kRestoreEventSql[] = "INSERT OR IGNORE" TALLY_INTO_EVENTS;
#undef TALLY_INTO_EVENTS

constexpr char kInsertLedgerSql[] =
    "INSERT INTO ledger(seq, kind, time_us, subject, org, reservation_id, expires_us,"
    " request_id, request_id_hash, request_fingerprint, request_subject, request_type,"
    " request_time_us, request_data, request_context, effects, actor, reason)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
    " ?18)";

constexpr char kInsertAlertSql[] =
    "INSERT INTO alerts(seq, time_us, kind, subject, meter, hour_us, detail)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";

constexpr char kUpsertRollupSql[] =
    "INSERT OR REPLACE INTO rollups(family, key, type, hour, cell) VALUES(?1, ?2, ?3, ?4, ?5)";

constexpr char kInsertAuditSql[] =
    "INSERT INTO audit(seq, time_us, actor, address, action, target, before, after, reason)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

// Replay and ReadLedger read these columns of `ledger`, in this order.
#define TALLY_SELECT_LEDGER                                                             \
  "SELECT seq, kind, time_us, subject, org, reservation_id, expires_us, request_id,"    \
  " request_fingerprint, request_subject, request_type, request_time_us, request_data," \
  " request_context, effects, actor, reason FROM ledger"
constexpr char kSelectLedgerSql[] = TALLY_SELECT_LEDGER " WHERE seq > ?1 ORDER BY seq";
// ReadLedger: ?1 before_seq, ?2 from, ?3 to, ?4 limit; ?5 the subject.
constexpr char kReadLedgerSql[] =
    TALLY_SELECT_LEDGER " WHERE kind >= 3 AND seq < ?1 AND time_us >= ?2 AND time_us < ?3"
                        " ORDER BY seq DESC LIMIT ?4";
constexpr char kReadLedgerBySubjectSql[] =
    TALLY_SELECT_LEDGER " WHERE subject = ?5 AND kind >= 3 AND seq < ?1 AND time_us >= ?2"
                        " AND time_us < ?3"
                        " ORDER BY seq DESC LIMIT ?4";
#undef TALLY_SELECT_LEDGER
enum LedgerColumn {
  kLgSeq, kLgKind, kLgTime, kLgSubject, kLgOrg, kLgReservationId, kLgExpires,
  kLgRequestId, kLgRequestFingerprint, kLgRequestSubject, kLgRequestType,
  kLgRequestTime, kLgRequestData, kLgRequestContext, kLgEffects, kLgActor, kLgReason,
};

// ReadAudit: ?1 before_seq, ?2 from, ?3 to, ?4 actor ('' = any), ?5 limit;
// ?6 the target.
#define TALLY_SELECT_AUDIT \
  "SELECT seq, time_us, actor, address, action, target, before, after, reason FROM audit"
constexpr char kReadAuditSql[] =
    TALLY_SELECT_AUDIT " WHERE seq < ?1 AND time_us >= ?2 AND time_us < ?3"
                       " AND (?4 = '' OR actor = ?4) ORDER BY seq DESC LIMIT ?5";
constexpr char kReadAuditByTargetSql[] =
    TALLY_SELECT_AUDIT " WHERE target = ?6 AND seq < ?1 AND time_us >= ?2 AND time_us < ?3"
                       " AND (?4 = '' OR actor = ?4) ORDER BY seq DESC LIMIT ?5";
#undef TALLY_SELECT_AUDIT
enum AuditColumn {
  kAuSeq, kAuTime, kAuActor, kAuAddress, kAuAction, kAuTarget, kAuBefore, kAuAfter, kAuReason,
};

// ReadAlerts: ?1 before_seq, ?2 from, ?3 to, ?4 kind ('' = any), ?5 limit;
// ?6 the subject.
#define TALLY_SELECT_ALERTS "SELECT seq, time_us, kind, subject, meter, hour_us, detail FROM alerts"
constexpr char kReadAlertsSql[] =
    TALLY_SELECT_ALERTS " WHERE seq < ?1 AND hour_us >= ?2 AND hour_us < ?3"
                        " AND (?4 = '' OR kind = ?4) ORDER BY seq DESC LIMIT ?5";
constexpr char kReadAlertsBySubjectSql[] =
    TALLY_SELECT_ALERTS " WHERE subject = ?6 AND seq < ?1 AND hour_us >= ?2 AND hour_us < ?3"
                        " AND (?4 = '' OR kind = ?4) ORDER BY seq DESC LIMIT ?5";
#undef TALLY_SELECT_ALERTS
enum AlertColumn { kAlSeq, kAlTime, kAlKind, kAlSubject, kAlMeter, kAlHour, kAlDetail };

// Binds `block` to kInsertDedupSql.
void BindDedupBlock(Statement& s, const DedupBlockWriter& block) {
  s.Uint(1, block.last_seq());
  s.Uint(2, block.first_seq());
  s.Int(3, block.max_received());
  s.Blob(4, block.bytes());
}

// --- opening ------------------------------------------------------------------------

absl::Status PrepareDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    const std::string text = "cannot create data directory " + dir + ": " + ec.message();
    if (ec == std::errc::permission_denied || ec == std::errc::read_only_file_system ||
        ec == std::errc::operation_not_permitted) {
      return absl::PermissionDeniedError(text);
    }
    return absl::FailedPreconditionError(text);
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::FailedPreconditionError("data directory " + dir + " is not a directory");
  }
  if (access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return absl::PermissionDeniedError("data directory " + dir +
                                       " is not writable: " + ErrnoText(errno));
  }
  return absl::OkStatus();
}

// Refuses, before SQLite touches it, a file that is not an SQLite database.
absl::Status CheckHeader(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) return absl::OkStatus();
  if (status.type() != std::filesystem::file_type::regular) {
    return absl::FailedPreconditionError(path + " is not a regular file");
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return absl::OkStatus();  // SQLite makes an empty file a database
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError("cannot read " + path + ": " + ErrnoText(errno));
  }
  char header[16] = {};
  in.read(header, sizeof(header));
  if (in.gcount() != sizeof(header) ||
      std::memcmp(header, "SQLite format 3", sizeof(header)) != 0) {
    return absl::DataLossError(path +
                               " is not an SQLite database (bad file header); it is "
                               "corrupt or not tally's");
  }
  return absl::OkStatus();
}

absl::Status Configure(sqlite3* db, bool strict, const std::string& path) {
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  absl::StatusOr<std::string> mode = QueryText(db, "PRAGMA journal_mode=WAL", path);
  if (!mode.ok()) return mode.status();
  if (*mode != "wal") {
    return absl::FailedPreconditionError("cannot open " + path + ": journal_mode is " + *mode +
                                         ", not wal");
  }
  TALLY_SQLITE_RETURN_IF_ERROR(
      Exec(db, strict ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", path));
  // 64 MiB of page cache: the hot pages are the tails of events and ledger.
  return Exec(db, "PRAGMA cache_size=-65536", path);
}

// Creates the current schema in an empty database.
absl::Status CreateSchema(sqlite3* db, const std::string& path) {
  TALLY_SQLITE_RETURN_IF_ERROR(Exec(db, kSchemaSql, path));
  TALLY_SQLITE_RETURN_IF_ERROR(Exec(db, kDedupTableSql, path));
  TALLY_SQLITE_RETURN_IF_ERROR(Exec(db, kVersion3Sql, path));
  TALLY_SQLITE_RETURN_IF_ERROR(Exec(db, kVersion4Sql, path));
  const std::string init = "PRAGMA application_id=" + std::to_string(kApplicationId) +
                           "; INSERT INTO meta VALUES('schema_version', " +
                           std::to_string(kSchemaVersion) + ")";
  return Exec(db, init.c_str(), path);
}

// Upgrades a version 1 database to version 2: packs the dedup entries of its
// events and holds into `dedup` blocks of 10,000. Runs once, inside
// InitSchema's transaction, so a crash leaves version 1 for the next open.
absl::Status MigrateFrom1(sqlite3* db, const std::string& path) {
  constexpr size_t kBlockEntries = 10000;
  TALLY_SQLITE_RETURN_IF_ERROR(Exec(db, kDedupTableSql, path));
  absl::StatusOr<Statement> select = Statement::Prepare(db, kSelectV1DedupSql, path);
  if (!select.ok()) return select.status();
  absl::StatusOr<Statement> insert = Statement::Prepare(db, kInsertDedupSql, path);
  if (!insert.ok()) return insert.status();
  DedupBlockWriter block;
  auto flush = [&]() -> absl::Status {
    if (block.empty()) return absl::OkStatus();
    BindDedupBlock(*insert, block);
    const int rc = sqlite3_step(insert->get());
    sqlite3_reset(insert->get());
    if (rc != SQLITE_DONE) return OpenError(db, rc, path);
    block.Clear();
    return absl::OkStatus();
  };
  sqlite3_stmt* s = select->get();
  absl::Status status;
  while (NextRow(db, s, path, &status)) {
    block.Add(DedupEntry{ColumnUint(s, 1), ColumnUint(s, 2), ColumnInt(s, 3), ColumnUint(s, 0)});
    if (block.count() == kBlockEntries) TALLY_SQLITE_RETURN_IF_ERROR(flush());
  }
  TALLY_SQLITE_RETURN_IF_ERROR(status);
  TALLY_SQLITE_RETURN_IF_ERROR(flush());
  return Exec(db, "UPDATE meta SET value = 2 WHERE key = 'schema_version'", path);
}

// Upgrades a version 2 database to version 3: creates `api_keys`, `audit`
// and the two indexes (indexing `ledger` reads it once). Runs inside
// InitSchema's transaction, so a crash leaves version 2 for the next open.
absl::Status MigrateFrom2(sqlite3* db, const std::string& path) {
  TALLY_SQLITE_RETURN_IF_ERROR(Exec(db, kVersion3Sql, path));
  return Exec(db, "UPDATE meta SET value = 3 WHERE key = 'schema_version'", path);
}

// Upgrades a version 3 database to version 4: creates `rollups` and `alerts`.
// meta rollup_seq stays unset (0), so the next open with a RollupSink folds
// every event: the rollups are rebuilt from the log. Runs inside InitSchema's
// transaction, so a crash leaves version 3 for the next open.
absl::Status MigrateFrom3(sqlite3* db, const std::string& path) {
  TALLY_SQLITE_RETURN_IF_ERROR(Exec(db, kVersion4Sql, path));
  return Exec(db, "UPDATE meta SET value = 4 WHERE key = 'schema_version'", path);
}

// Brings a database of an older schema `version` up to kSchemaVersion, one
// version after the other, all in the caller's transaction: on error the
// caller rolls back and nothing changed.
absl::Status MigrateSchema(sqlite3* db, int64_t version, const std::string& path) {
  absl::Status status;
  if (version == 1) status = MigrateFrom1(db, path);
  if (status.ok() && version <= 2) status = MigrateFrom2(db, path);
  if (status.ok() && version <= 3) status = MigrateFrom3(db, path);
  if (status.ok()) return status;
  return absl::Status(status.code(), "cannot upgrade " + path + " from schema version " +
                                         std::to_string(version) + " to " +
                                         std::to_string(kSchemaVersion) +
                                         " (it is left unchanged): " +
                                         std::string(status.message()));
}

// Creates the schema in an empty database, or checks that it is tally's and
// not newer than this code, and migrates an older one.
absl::Status InitSchema(sqlite3* db, const std::string& path) {
  TALLY_SQLITE_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", path));
  absl::Status status = [&]() -> absl::Status {
    absl::StatusOr<int64_t> app_id = QueryInt(db, "PRAGMA application_id", path);
    if (!app_id.ok()) return app_id.status();
    absl::StatusOr<int64_t> tables =
        QueryInt(db, "SELECT count(*) FROM sqlite_schema", path);
    if (!tables.ok()) return tables.status();
    if (*app_id == 0 && *tables == 0) return CreateSchema(db, path);
    if (*app_id != kApplicationId) {
      return absl::FailedPreconditionError(path + " is an SQLite database of another "
                                           "application, not tally's");
    }
    absl::StatusOr<int64_t> version =
        QueryInt(db, "SELECT value FROM meta WHERE key = 'schema_version'", path);
    if (!version.ok()) return version.status();
    if (*version > kSchemaVersion) {
      return absl::FailedPreconditionError(
          path + " has schema version " + std::to_string(*version) +
          ", newer than this tally understands (" + std::to_string(kSchemaVersion) +
          "); run a newer tally");
    }
    if (*version < 1) {
      return absl::DataLossError(path + " has no valid schema_version in table meta");
    }
    return MigrateSchema(db, *version, path);
  }();
  if (!status.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  }
  return Exec(db, "COMMIT", path);
}

// The highest sequence number ever assigned in this database.
absl::StatusOr<uint64_t> LoadLastSeq(sqlite3* db, const std::string& path) {
  int64_t last = 0;
  for (const char* sql : {"SELECT value FROM meta WHERE key = 'last_seq'",
                          "SELECT max(seq) FROM events", "SELECT max(seq) FROM ledger",
                          "SELECT max(seq) FROM checkpoints", "SELECT max(seq) FROM audit",
                          "SELECT max(seq) FROM alerts"}) {
    absl::StatusOr<int64_t> seq = QueryInt(db, sql, path);
    if (!seq.ok()) return seq.status();
    last = std::max(last, *seq);
  }
  return static_cast<uint64_t>(last);
}

// --- reading rows ---------------------------------------------------------------------

// Reads the current row of kSelectLedgerSql, kReadLedgerSql or
// kReadLedgerBySubjectSql into `r`, reusing its storage.
absl::Status ReadLedgerRow(sqlite3_stmt* s, LedgerRecord* r) {
  const uint64_t seq = ColumnUint(s, kLgSeq);
  const int64_t kind = ColumnInt(s, kLgKind);
  if (kind < 0 || kind > static_cast<int64_t>(LedgerRecord::Kind::kRollover)) {
    return RowError("ledger", seq, absl::DataLossError("bad kind"));
  }
  r->kind = static_cast<LedgerRecord::Kind>(kind);
  r->time = ColumnInt(s, kLgTime);
  r->subject.assign(ColumnText(s, kLgSubject));
  r->org.assign(ColumnText(s, kLgOrg));
  r->reservation_id.assign(ColumnText(s, kLgReservationId));
  r->expires_at = ColumnInt(s, kLgExpires);
  Event& q = r->request;
  q.id.assign(ColumnText(s, kLgRequestId));
  r->fingerprint = ColumnUint(s, kLgRequestFingerprint);
  q.subject.assign(ColumnText(s, kLgRequestSubject));
  q.type.assign(ColumnText(s, kLgRequestType));
  q.time = ColumnInt(s, kLgRequestTime);
  absl::Status status = DecodeDataInto(ColumnText(s, kLgRequestData), &q.data);
  if (!status.ok()) return RowError("ledger", seq, status);
  absl::StatusOr<EventContext> context = DecodeContext(ColumnText(s, kLgRequestContext));
  if (!context.ok()) return RowError("ledger", seq, context.status());
  q.context = *std::move(context);
  status = DecodeEffectsInto(ColumnText(s, kLgEffects), &r->effects);
  if (!status.ok()) return RowError("ledger", seq, status);
  r->actor.assign(ColumnText(s, kLgActor));
  r->reason.assign(ColumnText(s, kLgReason));
  return absl::OkStatus();
}

// Reads the current row of kReadAuditSql or kReadAuditByTargetSql.
void ReadAuditRow(sqlite3_stmt* s, AuditEntry* entry) {
  entry->seq = ColumnUint(s, kAuSeq);
  AuditRecord& r = entry->record;
  r.time = ColumnInt(s, kAuTime);
  r.actor.assign(ColumnText(s, kAuActor));
  r.address.assign(ColumnText(s, kAuAddress));
  r.action.assign(ColumnText(s, kAuAction));
  r.target.assign(ColumnText(s, kAuTarget));
  r.before.assign(ColumnText(s, kAuBefore));
  r.after.assign(ColumnText(s, kAuAfter));
  r.reason.assign(ColumnText(s, kAuReason));
}

// Reads the current row of kReadAlertsSql or kReadAlertsBySubjectSql.
void ReadAlertRow(sqlite3_stmt* s, AlertEntry* entry) {
  entry->seq = ColumnUint(s, kAlSeq);
  AlertRecord& r = entry->record;
  r.time = ColumnInt(s, kAlTime);
  r.kind.assign(ColumnText(s, kAlKind));
  r.subject.assign(ColumnText(s, kAlSubject));
  r.meter.assign(ColumnText(s, kAlMeter));
  r.hour = ColumnInt(s, kAlHour);
  r.detail.assign(ColumnText(s, kAlDetail));
}

// --- rollups at open --------------------------------------------------------------------

// meta rollup_seq: every event with a seq up to it is reflected in the
// `rollups` rows (0 when unset: none is).
absl::StatusOr<uint64_t> LoadRollupSeq(sqlite3* db, const std::string& path) {
  absl::StatusOr<int64_t> seq =
      QueryInt(db, "SELECT value FROM meta WHERE key = 'rollup_seq'", path);
  if (!seq.ok()) return seq.status();
  return static_cast<uint64_t>(std::max<int64_t>(*seq, 0));
}

// Hands every `rollups` row to `sink`, streaming them.
absl::Status LoadRollups(sqlite3* db, const std::string& path, RollupSink& sink) {
  absl::StatusOr<Statement> rows =
      Statement::Prepare(db, "SELECT family, key, type, hour, cell FROM rollups", path);
  if (!rows.ok()) return rows.status();
  sqlite3_stmt* s = rows->get();
  RollupRow row;
  absl::Status status;
  while (NextRow(db, s, path, &status)) {
    const int64_t family = ColumnInt(s, 0);
    row.family = static_cast<uint8_t>(family);
    row.key.assign(ColumnText(s, 1));
    row.type.assign(ColumnText(s, 2));
    row.hour = ColumnInt(s, 3);
    row.cell.assign(ColumnBlob(s, 4));
    absl::Status loaded =
        family < 0 || family > UINT8_MAX ? absl::DataLossError("bad family") : sink.Load(row);
    if (!loaded.ok()) {
      return absl::DataLossError(path + ": rollups row (family " + std::to_string(family) +
                                 ", key \"" + row.key + "\", type \"" + row.type + "\", hour " +
                                 std::to_string(row.hour) + "): " + std::string(loaded.message()));
    }
  }
  return status;
}

// The bound of `seq < ?` for a paging cursor (0: no bound).
int64_t SeqBound(uint64_t before_seq) {
  return before_seq == 0 || before_seq > INT64_MAX ? INT64_MAX
                                                    : static_cast<int64_t>(before_seq);
}

absl::Status CheckLimit(int limit, std::string_view what) {
  if (limit >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(what) + ": limit must be >= 1, not " +
                                    std::to_string(limit));
}

const Clock* ClockOf(const SqliteStoreOptions& options) {
  return options.clock != nullptr ? options.clock : SystemClock::Default();
}

}  // namespace

// --- Writer: the writer thread's statements -----------------------------------------

class SqliteStore::Writer {
 public:
  // Rows per transaction of DeleteEvents and RestoreEvents.
  static constexpr int64_t kRetentionChunk = 10000;

  // `sink` (may be null) gets every event written, and its dirty rows are
  // persisted at most every `flush_interval`. `committed_seq` is the last seq
  // in the database, `rollup_seq` its meta rollup_seq.
  static absl::StatusOr<std::unique_ptr<Writer>> Create(sqlite3* db, const Clock* clock,
                                                        const std::string& path,
                                                        RollupSink* sink, Micros flush_interval,
                                                        uint64_t committed_seq,
                                                        uint64_t rollup_seq) {
    auto w = std::unique_ptr<Writer>(new Writer(db, clock, path, sink, flush_interval));
    w->committed_seq_ = committed_seq;
    w->rollup_seq_ = rollup_seq;
    const std::pair<Statement*, const char*> statements[] = {
        {&w->begin_, "BEGIN IMMEDIATE"},
        {&w->commit_, "COMMIT"},
        {&w->insert_event_, kInsertEventSql},
        {&w->restore_event_, kRestoreEventSql},
        {&w->insert_alert_, kInsertAlertSql},
        {&w->upsert_rollup_, kUpsertRollupSql},
        {&w->set_rollup_seq_,
         "INSERT OR REPLACE INTO meta(key, value) VALUES('rollup_seq', ?1)"},
        // DeleteEvents: the end of the next chunk (?3 = chunk - 1), its delete.
        {&w->chunk_end_,
         "SELECT seq FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT 1 OFFSET ?3"},
        {&w->delete_events_, "DELETE FROM events WHERE seq > ?1 AND seq <= ?2 AND time_us < ?3"},
        {&w->insert_ledger_, kInsertLedgerSql},
        {&w->insert_dedup_, kInsertDedupSql},
        {&w->upsert_subject_,
         "INSERT OR REPLACE INTO subjects(id, definition, updated_us) VALUES(?1, ?2, ?3)"},
        {&w->upsert_org_,
         "INSERT OR REPLACE INTO orgs(id, definition, updated_us) VALUES(?1, ?2, ?3)"},
        {&w->upsert_tier_,
         "INSERT OR REPLACE INTO tiers(id, definition, updated_us) VALUES(?1, ?2, ?3)"},
        {&w->upsert_key_,
         "INSERT OR REPLACE INTO api_keys(id, definition, updated_us) VALUES(?1, ?2, ?3)"},
        {&w->insert_audit_, kInsertAuditSql},
        {&w->insert_checkpoint_,
         "INSERT INTO checkpoints(seq, created_us, blob) VALUES(?1, ?2, ?3)"},
        {&w->prune_checkpoints_,
         "DELETE FROM checkpoints WHERE seq < (SELECT seq FROM checkpoints"
         " ORDER BY seq DESC LIMIT 1 OFFSET 1)"},
        {&w->set_last_seq_, "INSERT OR REPLACE INTO meta(key, value) VALUES('last_seq', ?1)"},
    };
    for (const auto& [stmt, sql] : statements) {
      absl::StatusOr<Statement> prepared = Statement::Prepare(db, sql, path);
      if (!prepared.ok()) return prepared.status();
      *stmt = *std::move(prepared);
    }
    return w;
  }

  // Writes `batch` (and the new last_seq) in one transaction; rolls back on
  // any error, after which the writer refuses to persist rollups (the sink
  // has folded events that were not committed).
  absl::Status WriteBatch(const std::vector<PendingAppend>& batch) {
    persisted_rollups_ = false;
    uint64_t last_seq = 0;
    if (folder_) {  // fold on the folder's thread while this thread writes
      std::vector<RollupFolder::Append> appends;
      appends.reserve(batch.size());
      for (const PendingAppend& append : batch) appends.emplace_back(append.first_seq, &append.records);
      folder_->Start(std::move(appends));
    }
    absl::Status status = Transaction([&] { return WriteRecords(batch, &last_seq); });
    if (folder_) folder_->Wait();  // before the batch is freed
    if (!status.ok()) {
      failed_ = true;
      return status;
    }
    committed_seq_ = last_seq;
    if (persisted_rollups_) RollupsPersisted(last_seq);
    return status;
  }

  // With a sink, persists its dirty rows and rollup_seq = the last committed
  // seq in a transaction of their own, unless nothing was committed since the
  // last persist.
  absl::Status FlushRollups() {
    if (sink_ == nullptr || rollup_seq_ == committed_seq_) return absl::OkStatus();
    if (failed_) return absl::FailedPreconditionError("storage at " + path_ + " has failed");
    const absl::Status status = Transaction([&] { return PersistRollups(committed_seq_); });
    if (status.ok()) RollupsPersisted(committed_seq_);
    return status;
  }

  // Every event with seq <= rollup_seq() is reflected in the persisted rows.
  uint64_t rollup_seq() const { return rollup_seq_; }

  // One transaction of DeleteEvents: deletes the events with time_us < before
  // among the next kRetentionChunk after `after` (and <= upto). Sets `*end`
  // to the last seq examined (upto when none is left) and `*deleted`.
  absl::Status DeleteEventsChunk(uint64_t after, uint64_t upto, Micros before, uint64_t* end,
                                 uint64_t* deleted) {
    return Transaction([&]() -> absl::Status {
      chunk_end_.Uint(1, after);
      chunk_end_.Uint(2, upto);
      chunk_end_.Int(3, kRetentionChunk - 1);
      const int rc = sqlite3_step(chunk_end_.get());
      absl::Status status = rc == SQLITE_ROW || rc == SQLITE_DONE ? absl::OkStatus()
                                                                  : WriteError(db_, rc, path_);
      *end = rc == SQLITE_ROW ? ColumnUint(chunk_end_.get(), 0) : upto;
      sqlite3_reset(chunk_end_.get());
      if (!status.ok()) return status;
      delete_events_.Uint(1, after);
      delete_events_.Uint(2, *end);
      delete_events_.Int(3, before);
      TALLY_SQLITE_RETURN_IF_ERROR(Run(delete_events_));
      *deleted = static_cast<uint64_t>(sqlite3_changes64(db_));
      return absl::OkStatus();
    });
  }

  // One transaction of RestoreEvents: inserts `events` (skipping seqs already
  // in `events`), without folding them; adds how many to `*inserted`.
  absl::Status RestoreEventsChunk(const std::pair<uint64_t, EventRecord>* events, size_t n,
                                  uint64_t* inserted) {
    uint64_t count = 0;
    const absl::Status status = Transaction([&]() -> absl::Status {
      for (size_t i = 0; i < n; ++i) {
        BindEvent(restore_event_, events[i].first, events[i].second);
        TALLY_SQLITE_RETURN_IF_ERROR(Run(restore_event_));
        count += static_cast<uint64_t>(sqlite3_changes64(db_));
      }
      return absl::OkStatus();
    });
    if (status.ok()) *inserted += count;
    return status;
  }

 private:
  Writer(sqlite3* db, const Clock* clock, std::string path, RollupSink* sink,
         Micros flush_interval)
      : db_(db),
        clock_(clock),
        path_(std::move(path)),
        sink_(sink),
        flush_interval_(flush_interval),
        folder_(sink != nullptr ? std::make_unique<RollupFolder>(sink) : nullptr) {}

  // Runs `body` in a BEGIN IMMEDIATE ... COMMIT transaction; rolls back if
  // anything fails.
  template <typename Body>
  absl::Status Transaction(Body body) {
    absl::Status status = Run(begin_);
    if (!status.ok()) return status;
    status = body();
    if (status.ok()) status = Run(commit_);
    if (!status.ok() && sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    return status;
  }

  absl::Status WriteRecords(const std::vector<PendingAppend>& batch, uint64_t* last_seq) {
    bool checkpointed = false;
    dedup_.Clear();
    for (const PendingAppend& append : batch) {
      uint64_t seq = append.first_seq;
      for (const LogRecord& record : append.records) {
        TALLY_SQLITE_RETURN_IF_ERROR(Write(seq, record));
        checkpointed |= std::holds_alternative<CheckpointRecord>(record);
        *last_seq = seq++;
      }
    }
    if (!dedup_.empty()) {
      BindDedupBlock(insert_dedup_, dedup_);
      TALLY_SQLITE_RETURN_IF_ERROR(Run(insert_dedup_));
    }
    if (checkpointed) TALLY_SQLITE_RETURN_IF_ERROR(Run(prune_checkpoints_));
    if (sink_ != nullptr && clock_->Now() >= next_rollup_flush_) {
      if (folder_) folder_->Wait();  // the persist reflects every event up to last_seq
      TALLY_SQLITE_RETURN_IF_ERROR(PersistRollups(*last_seq));
      persisted_rollups_ = true;
    }
    set_last_seq_.Uint(1, *last_seq);
    return Run(set_last_seq_);
  }

  // In the current transaction: upserts the rows the sink changed and sets
  // meta rollup_seq = `seq`. REQUIRES: every event up to `seq` is folded.
  // Rows taken by an earlier attempt that did not commit are written again
  // first (a newer version of a row, taken later, comes after and wins).
  absl::Status PersistRollups(uint64_t seq) {
    sink_->TakeDirty(rollup_rows_);
    Statement& s = upsert_rollup_;
    for (const RollupRow& row : rollup_rows_) {
      s.Int(1, row.family);
      s.Text(2, row.key);
      s.Text(3, row.type);
      s.Int(4, row.hour);
      s.Blob(5, row.cell);
      TALLY_SQLITE_RETURN_IF_ERROR(Run(s));
    }
    set_rollup_seq_.Uint(1, seq);
    return Run(set_rollup_seq_);
  }

  // After the commit of a PersistRollups(seq).
  void RollupsPersisted(uint64_t seq) {
    rollup_rows_.clear();
    // After a big fold (the first persist after open) give the memory back.
    if (rollup_rows_.capacity() > 4096) std::vector<RollupRow>().swap(rollup_rows_);
    rollup_seq_ = seq;
    const Micros now = clock_->Now();
    next_rollup_flush_ =
        now > INT64_MAX - flush_interval_ ? INT64_MAX : now + flush_interval_;
  }

  // Steps `s` (no rows expected) and resets it; the error is read before the
  // reset so that it keeps the OS error.
  absl::Status Run(Statement& s) {
    const int rc = sqlite3_step(s.get());
    absl::Status status =
        rc == SQLITE_DONE ? absl::OkStatus() : WriteError(db_, rc, path_);
    sqlite3_reset(s.get());
    return status;
  }

  absl::Status Write(uint64_t seq, const LogRecord& record) {
    if (const auto* e = std::get_if<EventRecord>(&record)) return WriteEvent(seq, *e);
    if (const auto* l = std::get_if<LedgerRecord>(&record)) return WriteLedger(seq, *l);
    if (const auto* s = std::get_if<SubjectRecord>(&record)) {
      return Upsert(upsert_subject_, s->subject.id, EncodeSubject(s->subject));
    }
    if (const auto* o = std::get_if<OrgRecord>(&record)) {
      return Upsert(upsert_org_, o->org.id, EncodeOrg(o->org));
    }
    if (const auto* t = std::get_if<TierRecord>(&record)) {
      return Upsert(upsert_tier_, t->tier.name, EncodeTier(t->tier));
    }
    if (const auto* k = std::get_if<KeyRecord>(&record)) {
      return Upsert(upsert_key_, k->key.id, EncodeApiKey(k->key));
    }
    if (const auto* a = std::get_if<AuditRecord>(&record)) return WriteAudit(seq, *a);
    if (const auto* a = std::get_if<AlertRecord>(&record)) return WriteAlert(seq, *a);
    static_assert(std::variant_size_v<LogRecord> == 9, "Write() must handle every record kind");
    return WriteCheckpoint(seq, std::get<CheckpointRecord>(record));
  }

  absl::Status WriteAudit(uint64_t seq, const AuditRecord& r) {
    Statement& s = insert_audit_;
    s.Uint(1, seq);
    s.Int(2, r.time);
    s.Text(3, r.actor);
    s.TextOrNull(4, r.address);
    s.Text(5, r.action);
    s.Text(6, r.target);
    s.TextOrNull(7, r.before);
    s.TextOrNull(8, r.after);
    s.TextOrNull(9, r.reason);
    return Run(s);
  }

  absl::Status WriteAlert(uint64_t seq, const AlertRecord& r) {
    Statement& s = insert_alert_;
    s.Uint(1, seq);
    s.Int(2, r.time);
    s.Text(3, r.kind);
    s.Text(4, r.subject);
    s.TextOrNull(5, r.meter);
    s.Int(6, r.hour);
    s.TextOrNull(7, r.detail);
    return Run(s);
  }

  absl::Status WriteEvent(uint64_t seq, const EventRecord& r) {
    const uint64_t id_hash = BindEvent(insert_event_, seq, r);
    dedup_.Add(DedupEntry{id_hash, r.fingerprint, r.received, seq});
    return Run(insert_event_);  // folded by folder_, beside this transaction
  }

  // Binds event `r` numbered `seq` to kInsertEventSql or kRestoreEventSql
  // (the bindings point into data_ and effects_ until the next call); returns
  // StableHash of its id.
  uint64_t BindEvent(Statement& s, uint64_t seq, const EventRecord& r) {
    const Event& e = r.event;
    data_.clear();
    AppendData(e.data, &data_);
    effects_.clear();
    AppendEffects(r.effects, &effects_);
    const uint64_t id_hash = StableHash(e.id);
    s.Uint(1, seq);
    s.Text(2, e.id);
    s.Uint(3, id_hash);
    s.Uint(4, r.fingerprint);
    s.Text(5, e.subject);
    s.TextOrNull(6, r.org);
    s.Text(7, e.type);
    s.Int(8, e.time);
    s.Int(9, r.received);
    s.Int(10, static_cast<int64_t>(r.origin));
    s.TextOrNull(11, r.reservation_id);
    s.Text(12, data_);
    s.Text(13, effects_);
    const EventContext& c = e.context;
    s.TextOrNull(14, c.session_id);
    s.TextOrNull(15, c.ip);
    s.TextOrNull(16, c.user_agent);
    s.TextOrNull(17, c.endpoint);
    s.TextOrNull(18, c.method);
    if (c.processing_ms == -1) {
      sqlite3_bind_null(s.get(), 19);
    } else {
      s.Int(19, c.processing_ms);
    }
    s.TextOrNull(20, c.error_code);
    return id_hash;
  }

  absl::Status WriteLedger(uint64_t seq, const LedgerRecord& r) {
    const Event& q = r.request;
    data_.clear();
    AppendData(q.data, &data_);
    effects_.clear();
    AppendEffects(r.effects, &effects_);
    context_ = EncodeContext(q.context);
    Statement& s = insert_ledger_;
    s.Uint(1, seq);
    s.Int(2, static_cast<int64_t>(r.kind));
    s.Int(3, r.time);
    s.Text(4, r.subject);
    s.TextOrNull(5, r.org);
    s.TextOrNull(6, r.reservation_id);
    s.IntOrNull(7, r.expires_at);
    s.TextOrNull(8, q.id);
    if (q.id.empty()) {
      sqlite3_bind_null(s.get(), 9);
    } else {
      s.Uint(9, StableHash(q.id));
    }
    s.IntOrNull(10, static_cast<int64_t>(r.fingerprint));
    s.TextOrNull(11, q.subject);
    s.TextOrNull(12, q.type);
    s.IntOrNull(13, q.time);
    s.TextOrNull(14, data_);
    s.TextOrNull(15, context_);
    s.Text(16, effects_);
    s.TextOrNull(17, r.actor);
    s.TextOrNull(18, r.reason);
    if (r.kind == LedgerRecord::Kind::kHold) {
      dedup_.Add(DedupEntry{q.id.empty() ? 0 : StableHash(q.id), r.fingerprint, r.time, seq});
    }
    return Run(s);
  }

  absl::Status Upsert(Statement& s, const std::string& id, const std::string& definition) {
    s.Text(1, id);
    s.Text(2, definition);
    s.Int(3, clock_->Now());
    return Run(s);
  }

  absl::Status WriteCheckpoint(uint64_t seq, const CheckpointRecord& r) {
    insert_checkpoint_.Uint(1, seq);
    insert_checkpoint_.Int(2, clock_->Now());
    insert_checkpoint_.Blob(3, r.blob);
    return Run(insert_checkpoint_);
  }

  sqlite3* const db_;
  const Clock* const clock_;
  const std::string path_;
  RollupSink* const sink_;  // may be null
  const Micros flush_interval_;
  // Folds each batch into sink_ while the batch is written (null without a sink).
  const std::unique_ptr<RollupFolder> folder_;
  Statement begin_, commit_, insert_event_, restore_event_, insert_ledger_, insert_dedup_,
      upsert_subject_, upsert_org_, upsert_tier_, upsert_key_, insert_audit_, insert_alert_,
      insert_checkpoint_, prune_checkpoints_, set_last_seq_, upsert_rollup_, set_rollup_seq_,
      chunk_end_, delete_events_;
  // Encoding buffers, reused row after row.
  std::string data_, effects_, context_;
  DedupBlockWriter dedup_;  // the dedup entries of the current transaction
  // The sink's dirty rows, from TakeDirty until their transaction commits.
  std::vector<RollupRow> rollup_rows_;

  uint64_t committed_seq_ = 0;  // the last seq committed
  uint64_t rollup_seq_ = 0;     // meta rollup_seq as committed
  // The first commit after open persists the rollups, then at most one every
  // flush_interval_.
  Micros next_rollup_flush_ = INT64_MIN;
  bool persisted_rollups_ = false;  // by the transaction WriteBatch is writing
  bool failed_ = false;             // a WriteBatch failed: the sink is ahead of the database
};

// --- Reader: the read-only connection of ReadAudit, ReadLedger and ReadAlerts -------

class SqliteStore::Reader {
 public:
  // Opens a second, read-only connection to `path` (which exists, with the
  // current schema) and prepares the queries.
  static absl::StatusOr<std::unique_ptr<Reader>> Open(const std::string& path) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    DbHandle db(raw);
    if (rc != SQLITE_OK) return OpenError(db.get(), rc, path);
    sqlite3_extended_result_codes(db.get(), 1);
    sqlite3_busy_timeout(db.get(), 5000);
    auto r = std::unique_ptr<Reader>(new Reader(std::move(db), path));
    const std::pair<Statement*, const char*> statements[] = {
        {&r->audit_, kReadAuditSql},
        {&r->audit_by_target_, kReadAuditByTargetSql},
        {&r->ledger_, kReadLedgerSql},
        {&r->ledger_by_subject_, kReadLedgerBySubjectSql},
        {&r->alerts_, kReadAlertsSql},
        {&r->alerts_by_subject_, kReadAlertsBySubjectSql},
    };
    for (const auto& [stmt, sql] : statements) {
      absl::StatusOr<Statement> prepared = Statement::Prepare(r->db_.get(), sql, path);
      if (!prepared.ok()) return prepared.status();
      *stmt = *std::move(prepared);
    }
    return r;
  }

  absl::StatusOr<std::vector<AuditEntry>> ReadAudit(const AuditQuery& q) {
    Statement& s = q.target.empty() ? audit_ : audit_by_target_;
    s.Int(1, SeqBound(q.before_seq));
    s.Int(2, q.from);
    s.Int(3, q.to);
    s.Text(4, q.actor);
    s.Int(5, q.limit);
    if (!q.target.empty()) s.Text(6, q.target);
    std::vector<AuditEntry> out;
    const absl::Status status = Rows(s, [&](sqlite3_stmt* row) -> absl::Status {
      ReadAuditRow(row, &out.emplace_back());
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return out;
  }

  absl::StatusOr<std::vector<LedgerEntry>> ReadLedger(const LedgerQuery& q) {
    Statement& s = q.subject.empty() ? ledger_ : ledger_by_subject_;
    s.Int(1, SeqBound(q.before_seq));
    s.Int(2, q.from);
    s.Int(3, q.to);
    s.Int(4, q.limit);
    if (!q.subject.empty()) s.Text(5, q.subject);
    std::vector<LedgerEntry> out;
    const absl::Status status = Rows(s, [&](sqlite3_stmt* row) -> absl::Status {
      LedgerEntry& entry = out.emplace_back();
      entry.seq = ColumnUint(row, kLgSeq);
      return ReadLedgerRow(row, &entry.record);
    });
    if (!status.ok()) return status;
    return out;
  }

  absl::StatusOr<std::vector<AlertEntry>> ReadAlerts(const AlertQuery& q) {
    Statement& s = q.subject.empty() ? alerts_ : alerts_by_subject_;
    s.Int(1, SeqBound(q.before_seq));
    s.Int(2, q.from);
    s.Int(3, q.to);
    s.Text(4, q.kind);
    s.Int(5, q.limit);
    if (!q.subject.empty()) s.Text(6, q.subject);
    std::vector<AlertEntry> out;
    const absl::Status status = Rows(s, [&](sqlite3_stmt* row) -> absl::Status {
      ReadAlertRow(row, &out.emplace_back());
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return out;
  }

 private:
  Reader(DbHandle db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}

  // Calls `fn` for each row of the bound `s`, then resets it and clears its
  // bindings (ending the read transaction, so the WAL can be checkpointed past
  // it, and dropping the pointers to the caller's strings).
  template <typename Fn>
  absl::Status Rows(Statement& s, Fn fn) {
    absl::Status status;
    while (status.ok() && NextRow(db_.get(), s.get(), path_, &status)) status = fn(s.get());
    sqlite3_reset(s.get());
    sqlite3_clear_bindings(s.get());
    return status;
  }

  const DbHandle db_;
  const std::string path_;
  Statement audit_, audit_by_target_, ledger_, ledger_by_subject_, alerts_, alerts_by_subject_;
};

// --- SqliteStore ----------------------------------------------------------------------

void SqliteStore::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(
    const SqliteStoreOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("SqliteStore: dir is empty");
  if (options.max_batch_records < 1) {
    return absl::InvalidArgumentError("SqliteStore: max_batch_records must be >= 1");
  }
  if (options.scan_window < 1 || options.scan_threads < 1) {
    return absl::InvalidArgumentError("SqliteStore: scan_window and scan_threads must be >= 1");
  }
  if (options.rollup_flush_interval < 0) {
    return absl::InvalidArgumentError("SqliteStore: rollup_flush_interval must be >= 0");
  }
  TALLY_SQLITE_RETURN_IF_ERROR(PrepareDirectory(options.dir));
  // One process per data directory: a second writer would interleave
  // sequence numbers. The lock dies with the process, kill -9 included.
  const std::string lock_path = options.dir + "/LOCK";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return absl::PermissionDeniedError("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return absl::FailedPreconditionError("data directory " + options.dir +
                                         " is in use by another tally process (" + lock_path +
                                         " is locked)");
  }
  struct LockGuard {
    int fd;
    ~LockGuard() {
      if (fd >= 0) ::close(fd);
    }
  } guard{lock_fd};
  std::string path = options.dir + "/tally.db";
  TALLY_SQLITE_RETURN_IF_ERROR(CheckHeader(path));

  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) return OpenError(db.get(), rc, path);
  if (sqlite3_db_readonly(db.get(), "main") == 1) {
    return absl::PermissionDeniedError("cannot open " + path + ": read-only");
  }
  TALLY_SQLITE_RETURN_IF_ERROR(Configure(db.get(), options.strict, path));
  TALLY_SQLITE_RETURN_IF_ERROR(InitSchema(db.get(), path));
  absl::StatusOr<uint64_t> last_seq = LoadLastSeq(db.get(), path);
  if (!last_seq.ok()) return last_seq.status();
  absl::StatusOr<uint64_t> rollup_seq = LoadRollupSeq(db.get(), path);
  if (!rollup_seq.ok()) return rollup_seq.status();
  if (options.rollups != nullptr) {
    // The persisted rows reflect the events up to rollup_seq; fold the rest.
    TALLY_SQLITE_RETURN_IF_ERROR(LoadRollups(db.get(), path, *options.rollups));
    RollupSink& sink = *options.rollups;
    const absl::Status folded = ScanEventsIn(
        path, {.after_seq = *rollup_seq}, options.scan_window, options.scan_threads,
        [&sink](uint64_t seq, const EventRecord& event) {
          sink.Fold(seq, event);
          return true;
        });
    if (!folded.ok()) {
      return absl::Status(folded.code(), "cannot fold the events of " + path +
                                             " after rollup_seq " +
                                             std::to_string(*rollup_seq) + ": " +
                                             std::string(folded.message()));
    }
  }

  absl::StatusOr<std::unique_ptr<Writer>> writer =
      Writer::Create(db.get(), ClockOf(options), path, options.rollups,
                     options.rollup_flush_interval, *last_seq, *rollup_seq);
  if (!writer.ok()) return writer.status();
  absl::StatusOr<std::unique_ptr<Reader>> reader = Reader::Open(path);
  if (!reader.ok()) return reader.status();
  std::unique_ptr<SqliteStore> store(new SqliteStore(options, std::move(path), std::move(db),
                                                     *std::move(writer), *std::move(reader),
                                                     *last_seq));
  store->lock_fd_ = guard.fd;
  guard.fd = -1;
  return store;
}

SqliteStore::SqliteStore(const SqliteStoreOptions& options, std::string path, DbHandle db,
                         std::unique_ptr<Writer> writer, std::unique_ptr<Reader> reader,
                         uint64_t last_seq)
    : options_(options),
      path_(std::move(path)),
      db_(std::move(db)),
      writer_(std::move(writer)),
      reader_(std::move(reader)),
      last_seq_(last_seq),
      durable_seq_(last_seq),
      callbacks_(last_seq) {
  thread_ = std::thread([this] { WriterLoop(); });
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  thread_.join();
  if (Failure().ok()) {
    std::lock_guard<std::mutex> lock(db_mu_);
    // Best effort: if it fails, rollup_seq stays behind and the next open
    // folds the events after it again.
    writer_->FlushRollups().IgnoreError();
  }
  // The writer committed (or failed) everything queued and called those
  // callbacks; this catches any registered too late for it.
  callbacks_.Close(absl::AbortedError("storage at " + path_ +
                                      " was closed before the write was durable"));
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

absl::StatusOr<uint64_t> SqliteStore::Append(std::vector<LogRecord> records) {
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!failure_.ok()) return failure_;
    if (records.empty()) return last_seq_;
    const size_t n = records.size();
    queue_.push_back(PendingAppend{last_seq_ + 1, std::move(records)});
    last_seq_ += n;
    ticket = last_seq_;
    appended_.fetch_add(n, std::memory_order_relaxed);
  }
  queue_cv_.notify_one();
  return ticket;
}

absl::Status SqliteStore::WaitDurable(uint64_t ticket) {
  std::unique_lock<std::mutex> lock(queue_mu_);
  if (ticket > last_seq_) {
    return absl::InvalidArgumentError("WaitDurable: ticket " + std::to_string(ticket) +
                                      " was never issued");
  }
  durable_cv_.wait(lock, [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return durable_seq_ >= ticket || !failure_.ok();
  });
  if (durable_seq_ >= ticket) return absl::OkStatus();
  return failure_;
}

void SqliteStore::WhenDurable(uint64_t ticket, std::function<void(const absl::Status&)> done) {
  bool never_issued = false;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    never_issued = ticket > last_seq_;
  }
  if (never_issued) {
    done(absl::InvalidArgumentError("WhenDurable: ticket " + std::to_string(ticket) +
                                    " was never issued"));
    return;
  }
  // `callbacks_` learns of each commit just after queue_mu_ is released, so a
  // ticket durable here but not yet there waits for the writer to call it.
  callbacks_.Add(ticket, std::move(done));
}

absl::Status SqliteStore::Flush() { return WaitDurable(LastSeq()); }

absl::Status SqliteStore::Failure() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return failure_;
}

uint64_t SqliteStore::LastSeq() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return last_seq_;
}

StoreStats SqliteStore::Stats() const {
  StoreStats stats;
  stats.appended = appended_.load(std::memory_order_relaxed);
  stats.durable = durable_.load(std::memory_order_relaxed);
  stats.commits = commits_.load(std::memory_order_relaxed);
  stats.queue_depth = stats.appended - std::min(stats.appended, stats.durable);
  return stats;
}

void SqliteStore::WriterLoop() {
  while (true) {
    std::vector<PendingAppend> batch = NextBatch();
    if (batch.empty()) return;
    size_t records = 0;
    for (const PendingAppend& append : batch) records += append.records.size();
    const uint64_t last_seq = batch.back().first_seq + batch.back().records.size() - 1;
    const absl::Status status = CommitBatch(batch);
    Publish(last_seq, records, status);
    if (!status.ok()) return;
  }
}

std::vector<SqliteStore::PendingAppend> SqliteStore::NextBatch() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  queue_cv_.wait(lock, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return !queue_.empty() || stopping_;
  });
  std::vector<PendingAppend> batch;
  size_t records = 0;
  const auto max = static_cast<size_t>(options_.max_batch_records);
  while (!queue_.empty() &&
         (batch.empty() || records + queue_.front().records.size() <= max)) {
    records += queue_.front().records.size();
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

absl::Status SqliteStore::CommitBatch(const std::vector<PendingAppend>& batch) {
  std::lock_guard<std::mutex> lock(db_mu_);
  return writer_->WriteBatch(batch);
}

void SqliteStore::Publish(uint64_t last_seq, size_t records, const absl::Status& status) {
  // The WhenDurable callbacks first, outside queue_mu_ (they may call Append
  // or WhenDurable), and before WaitDurable returns for these tickets, so that
  // a WhenDurable after a WaitDurable of the same ticket is called inline.
  if (status.ok()) {
    callbacks_.Durable(last_seq);
  } else {
    callbacks_.SetFailure(status);
  }
  std::deque<PendingAppend> dropped;  // freed outside the lock
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (status.ok()) {
      durable_seq_ = last_seq;
      durable_.fetch_add(records, std::memory_order_relaxed);
      commits_.fetch_add(1, std::memory_order_relaxed);
    } else {
      failure_ = status;
      dropped.swap(queue_);  // never written: their waiters get `failure_`
    }
  }
  durable_cv_.notify_all();
}

absl::StatusOr<std::vector<AuditEntry>> SqliteStore::ReadAudit(const AuditQuery& query) {
  TALLY_SQLITE_RETURN_IF_ERROR(CheckLimit(query.limit, "ReadAudit"));
  std::lock_guard<std::mutex> lock(read_mu_);
  return reader_->ReadAudit(query);
}

absl::StatusOr<std::vector<LedgerEntry>> SqliteStore::ReadLedger(const LedgerQuery& query) {
  TALLY_SQLITE_RETURN_IF_ERROR(CheckLimit(query.limit, "ReadLedger"));
  std::lock_guard<std::mutex> lock(read_mu_);
  return reader_->ReadLedger(query);
}

absl::StatusOr<std::vector<AlertEntry>> SqliteStore::ReadAlerts(const AlertQuery& query) {
  TALLY_SQLITE_RETURN_IF_ERROR(CheckLimit(query.limit, "ReadAlerts"));
  std::lock_guard<std::mutex> lock(read_mu_);
  return reader_->ReadAlerts(query);
}

absl::Status SqliteStore::ScanEvents(
    const EventQuery& query, const std::function<bool(uint64_t seq, const EventRecord&)>& fn) {
  return ScanEventsIn(path_, query, options_.scan_window, options_.scan_threads, fn);
}

// --- retention ----------------------------------------------------------------------

absl::StatusOr<uint64_t> SqliteStore::DeleteEvents(Micros before, uint64_t upto_seq) {
  TALLY_SQLITE_RETURN_IF_ERROR(Failure());
  uint64_t limit = 0;
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    // An event deleted before the persisted rollups reflect it would be
    // missing from them after the next open with a sink: persist them first
    // (with a sink), and never go past rollup_seq. rollup_seq 0: the rollups
    // were never persisted, so there is nothing to keep in step.
    TALLY_SQLITE_RETURN_IF_ERROR(writer_->FlushRollups());
    limit = std::min<uint64_t>(upto_seq, INT64_MAX);
    if (writer_->rollup_seq() > 0) limit = std::min(limit, writer_->rollup_seq());
  }
  uint64_t cursor = 0;
  uint64_t total = 0;
  while (cursor < limit) {
    // db_mu_ per chunk only, so that the writer's transactions interleave.
    std::lock_guard<std::mutex> lock(db_mu_);
    uint64_t deleted = 0;
    TALLY_SQLITE_RETURN_IF_ERROR(
        writer_->DeleteEventsChunk(cursor, limit, before, &cursor, &deleted));
    total += deleted;
  }
  if (total > 0) {
    // The log no longer holds every event up to `limit`: a replay from
    // before it would count too little, so Replay refuses one (see there).
    std::lock_guard<std::mutex> lock(db_mu_);
    const std::string sql = absl::StrCat(
        "INSERT OR REPLACE INTO meta(key, value) VALUES('events_deleted_upto', max(", limit,
        ", ifnull((SELECT value FROM meta WHERE key = 'events_deleted_upto'), 0)));"
        " INSERT OR REPLACE INTO meta(key, value) VALUES('events_deleted', ", total,
        " + ifnull((SELECT value FROM meta WHERE key = 'events_deleted'), 0))");
    if (const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return WriteError(db_.get(), rc, path_);
    }
  }
  return total;
}

// Only an archived event fits back where it was: at or below the latest
// checkpoint, if any (so Replay never applies its effects again), at or below
// rollup_seq when the rollups were ever persisted (they still hold it, and the
// next open would fold it again), and never over a record of another kind.
absl::Status SqliteStore::CheckRestorable(
    const std::vector<std::pair<uint64_t, EventRecord>>& events) {
  std::lock_guard<std::mutex> lock(db_mu_);
  sqlite3* db = db_.get();
  absl::StatusOr<Statement> checkpoint =
      Statement::Prepare(db, "SELECT ifnull(max(seq), 0) FROM checkpoints", path_);
  if (!checkpoint.ok()) return checkpoint.status();
  uint64_t bound = LastSeq();
  if (sqlite3_step(checkpoint->get()) == SQLITE_ROW && sqlite3_column_int64(checkpoint->get(), 0) > 0) {
    bound = std::min(bound, static_cast<uint64_t>(sqlite3_column_int64(checkpoint->get(), 0)));
  }
  if (writer_->rollup_seq() > 0) bound = std::min(bound, writer_->rollup_seq());
  absl::StatusOr<Statement> taken = Statement::Prepare(
      db,
      "SELECT 1 FROM ledger WHERE seq = ?1 UNION ALL SELECT 1 FROM audit WHERE seq = ?1"
      " UNION ALL SELECT 1 FROM alerts WHERE seq = ?1"
      " UNION ALL SELECT 1 FROM checkpoints WHERE seq = ?1",
      path_);
  if (!taken.ok()) return taken.status();
  for (const auto& [seq, record] : events) {
    if (seq > bound) {
      return absl::InvalidArgumentError(absl::StrCat(
          "RestoreEvents: seq ", seq, " is after the latest checkpoint and persisted rollups (seq ",
          bound, "): only archived events can be put back; import other events as new ones"));
    }
    taken->Uint(1, seq);
    const int rc = sqlite3_step(taken->get());
    sqlite3_reset(taken->get());
    if (rc == SQLITE_ROW) {
      return absl::InvalidArgumentError(absl::StrCat(
          "RestoreEvents: seq ", seq, " holds another kind of record, not an archived event"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SqliteStore::RestoreEvents(
    const std::vector<std::pair<uint64_t, EventRecord>>& events) {
  TALLY_SQLITE_RETURN_IF_ERROR(Failure());
  const uint64_t last = LastSeq();
  uint64_t max_seq = 0;
  for (const auto& [seq, record] : events) {
    if (seq == 0 || seq > last) {
      return absl::InvalidArgumentError("RestoreEvents: seq " + std::to_string(seq) +
                                        " was never assigned (the last is " +
                                        std::to_string(last) + ")");
    }
    max_seq = std::max(max_seq, seq);
  }
  if (events.empty()) return 0;
  // A seq still queued is committed first, so that it is skipped here rather
  // than colliding with the writer's insert.
  TALLY_SQLITE_RETURN_IF_ERROR(WaitDurable(max_seq));
  TALLY_SQLITE_RETURN_IF_ERROR(CheckRestorable(events));
  uint64_t inserted = 0;
  const auto chunk = static_cast<size_t>(Writer::kRetentionChunk);
  for (size_t i = 0; i < events.size(); i += chunk) {
    std::lock_guard<std::mutex> lock(db_mu_);
    TALLY_SQLITE_RETURN_IF_ERROR(writer_->RestoreEventsChunk(
        events.data() + i, std::min(chunk, events.size() - i), &inserted));
  }
  if (inserted > 0) {
    // Once every deleted event is back, the log is whole again (Replay).
    std::lock_guard<std::mutex> lock(db_mu_);
    const std::string sql = absl::StrCat(
        "UPDATE meta SET value = max(0, value - ", inserted, ") WHERE key = 'events_deleted'");
    if (const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
      return WriteError(db_.get(), rc, path_);
    }
  }
  return inserted;
}

// --- recovery ---------------------------------------------------------------------------

absl::StatusOr<Registry> SqliteStore::LoadRegistry() {
  std::lock_guard<std::mutex> lock(db_mu_);
  Registry registry;
  auto load = [&](const char* table, auto decode, auto* out) -> absl::Status {
    const std::string sql = std::string("SELECT id, definition FROM ") + table + " ORDER BY id";
    absl::StatusOr<Statement> s = Statement::Prepare(db_.get(), sql.c_str(), path_);
    if (!s.ok()) return s.status();
    absl::Status status;
    while (NextRow(db_.get(), s->get(), path_, &status)) {
      auto value = decode(ColumnText(s->get(), 1));
      if (!value.ok()) {
        return absl::DataLossError(std::string(table) + " row \"" +
                                   std::string(ColumnText(s->get(), 0)) +
                                   "\": " + std::string(value.status().message()));
      }
      out->push_back(*std::move(value));
    }
    return status;
  };
  TALLY_SQLITE_RETURN_IF_ERROR(load("subjects", DecodeSubject, &registry.subjects));
  TALLY_SQLITE_RETURN_IF_ERROR(load("orgs", DecodeOrg, &registry.orgs));
  TALLY_SQLITE_RETURN_IF_ERROR(load("tiers", DecodeTier, &registry.tiers));
  TALLY_SQLITE_RETURN_IF_ERROR(load("api_keys", DecodeApiKey, &registry.keys));
  return registry;
}

absl::StatusOr<std::optional<Checkpoint>> SqliteStore::LoadCheckpoint() {
  std::lock_guard<std::mutex> lock(db_mu_);
  absl::StatusOr<Statement> s = Statement::Prepare(
      db_.get(), "SELECT seq, blob FROM checkpoints ORDER BY seq DESC LIMIT 1", path_);
  if (!s.ok()) return s.status();
  absl::Status status;
  if (!NextRow(db_.get(), s->get(), path_, &status)) {
    if (!status.ok()) return status;
    return std::optional<Checkpoint>();
  }
  Checkpoint checkpoint;
  checkpoint.seq = ColumnUint(s->get(), 0);
  const void* blob = sqlite3_column_blob(s->get(), 1);
  const int size = sqlite3_column_bytes(s->get(), 1);
  if (blob != nullptr) checkpoint.blob.assign(static_cast<const char*>(blob), size);
  return std::optional<Checkpoint>(std::move(checkpoint));
}

absl::Status SqliteStore::Replay(
    uint64_t after_seq,
    const std::function<absl::Status(uint64_t seq, const LogRecord&)>& fn) {
  std::lock_guard<std::mutex> lock(db_mu_);
  sqlite3* db = db_.get();
  {
    absl::StatusOr<Statement> floor = Statement::Prepare(
        db,
        "SELECT value FROM meta WHERE key = 'events_deleted_upto'"
        " AND (SELECT value FROM meta WHERE key = 'events_deleted') > 0",
        path_);
    if (!floor.ok()) return floor.status();
    if (sqlite3_step(floor->get()) == SQLITE_ROW) {
      const auto deleted_upto = static_cast<uint64_t>(sqlite3_column_int64(floor->get(), 0));
      if (after_seq < deleted_upto) {
        return absl::DataLossError(absl::StrCat(
            path_, ": cannot replay the log from seq ", after_seq, ": events up to seq ",
            deleted_upto, " were archived and deleted (retention), so the counters would come out "
            "too low. Restore the archives first (tally import <archive-dir>/*.ndjson.zst), or "
            "start from an intact checkpoint"));
      }
    }
  }
  absl::StatusOr<Statement> events = Statement::Prepare(db, kSelectEventsSql, path_);
  if (!events.ok()) return events.status();
  absl::StatusOr<Statement> ledger = Statement::Prepare(db, kSelectLedgerSql, path_);
  if (!ledger.ok()) return ledger.status();
  events->Uint(1, after_seq);
  ledger->Uint(1, after_seq);

  // Two cursors in seq order, merged; one record of each kind reused per row.
  LogRecord event_slot{EventRecord{}};
  LogRecord ledger_slot{LedgerRecord{}};
  absl::Status status;
  bool has_event = NextRow(db, events->get(), path_, &status);
  bool has_ledger = status.ok() && NextRow(db, ledger->get(), path_, &status);
  while (status.ok() && (has_event || has_ledger)) {
    const uint64_t event_seq = has_event ? ColumnUint(events->get(), kEvSeq) : UINT64_MAX;
    const uint64_t ledger_seq = has_ledger ? ColumnUint(ledger->get(), kLgSeq) : UINT64_MAX;
    if (event_seq < ledger_seq) {
      TALLY_SQLITE_RETURN_IF_ERROR(
          ReadEventRow(events->get(), &std::get<EventRecord>(event_slot)));
      TALLY_SQLITE_RETURN_IF_ERROR(fn(event_seq, event_slot));
      has_event = NextRow(db, events->get(), path_, &status);
    } else {
      TALLY_SQLITE_RETURN_IF_ERROR(
          ReadLedgerRow(ledger->get(), &std::get<LedgerRecord>(ledger_slot)));
      TALLY_SQLITE_RETURN_IF_ERROR(fn(ledger_seq, ledger_slot));
      has_ledger = NextRow(db, ledger->get(), path_, &status);
    }
  }
  return status;
}

absl::Status SqliteStore::ScanDedup(Micros since, uint64_t upto_seq,
                                    const std::function<void(const DedupEntry&)>& fn) {
  std::lock_guard<std::mutex> lock(db_mu_);
  sqlite3* db = db_.get();
  // One block per transaction, in seq order; a block received entirely before
  // `since` is skipped without reading its entries.
  absl::StatusOr<Statement> blocks = Statement::Prepare(
      db,
      "SELECT last_seq, entries FROM dedup"
      " WHERE max_received_us >= ?1 AND first_seq <= ?2 ORDER BY last_seq",
      path_);
  if (!blocks.ok()) return blocks.status();
  blocks->Int(1, since);
  blocks->Uint(2, std::min<uint64_t>(upto_seq, INT64_MAX));
  sqlite3_stmt* s = blocks->get();
  absl::Status status;
  while (NextRow(db, s, path_, &status)) {
    const auto* bytes = static_cast<const char*>(sqlite3_column_blob(s, 1));
    DedupBlockReader reader(
        std::string_view(bytes == nullptr ? "" : bytes, sqlite3_column_bytes(s, 1)));
    DedupEntry entry;
    while (reader.Next(&entry) && entry.seq <= upto_seq) {
      if (entry.received >= since) fn(entry);
    }
    if (!reader.status().ok()) return RowError("dedup", ColumnUint(s, 0), reader.status());
  }
  return status;
}

}  // namespace tally
