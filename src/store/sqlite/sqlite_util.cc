#include "store/sqlite/sqlite_util.h"

#include <cerrno>
#include <cstring>

namespace tally::sqlite_internal {

std::string ErrnoText(int err) { return err == 0 ? "" : std::strerror(err); }

std::string SqliteMessage(sqlite3* db, int rc) {
  std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const int err = db != nullptr ? sqlite3_system_errno(db) : 0;
  if (err != 0) msg += " (" + ErrnoText(err) + ")";
  return msg;
}

absl::Status OpenError(sqlite3* db, int rc, const std::string& path) {
  const std::string text = "cannot open " + path + ": " + SqliteMessage(db, rc);
  const int err = db != nullptr ? sqlite3_system_errno(db) : 0;
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::DataLossError(text + "; the file is corrupt or not a tally database");
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(text);
    case SQLITE_CANTOPEN:
      if (err == EACCES || err == EPERM || err == EROFS) {
        return absl::PermissionDeniedError(text);
      }
      return absl::UnavailableError(text);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(text + "; is another process using it?");
    case SQLITE_FULL:
      return absl::UnavailableError(text + " (disk full?)");
    default:
      return absl::UnavailableError(text);
  }
}

absl::Status WriteError(sqlite3* db, int rc, const std::string& path) {
  std::string text = "storage write failed: " + SqliteMessage(db, rc);
  if ((rc & 0xff) == SQLITE_IOERR) text += " (disk full or failing?)";
  return absl::UnavailableError(text + " at " + path);
}

absl::Status RowError(std::string_view table, uint64_t seq, const absl::Status& status) {
  return absl::DataLossError(std::string(table) + " row " + std::to_string(seq) + ": " +
                             std::string(status.message()));
}

absl::StatusOr<Statement> Statement::Prepare(sqlite3* db, const char* sql,
                                             const std::string& path) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  Statement s;
  s.stmt_.reset(raw);
  if (rc != SQLITE_OK) return OpenError(db, rc, path);
  return s;
}

absl::Status Exec(sqlite3* db, const char* sql, const std::string& path) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? absl::OkStatus() : OpenError(db, rc, path);
}

absl::StatusOr<std::string> QueryText(sqlite3* db, const char* sql, const std::string& path) {
  absl::StatusOr<Statement> s = Statement::Prepare(db, sql, path);
  if (!s.ok()) return s.status();
  const int rc = sqlite3_step(s->get());
  if (rc == SQLITE_ROW) return std::string(ColumnText(s->get(), 0));
  if (rc == SQLITE_DONE) return std::string();
  return OpenError(db, rc, path);
}

absl::StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql, const std::string& path) {
  absl::StatusOr<Statement> s = Statement::Prepare(db, sql, path);
  if (!s.ok()) return s.status();
  const int rc = sqlite3_step(s->get());
  if (rc == SQLITE_ROW) return ColumnInt(s->get(), 0);
  if (rc == SQLITE_DONE) return 0;
  return OpenError(db, rc, path);
}

bool NextRow(sqlite3* db, sqlite3_stmt* s, const std::string& path, absl::Status* status) {
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    *status = absl::DataLossError("reading " + path + " failed: " + SqliteMessage(db, rc));
  }
  return false;
}

}  // namespace tally::sqlite_internal
