// Small helpers shared by the SQLite store's files: error statuses that name
// the file, a prepared statement that binds tally's types, column readers.
// Internal to store/sqlite; the Store interface is store/store.h.
//
// Thread-safety: as SQLite's; every connection is opened NOMUTEX and used by
// one thread at a time.
#ifndef TALLY_STORE_SQLITE_SQLITE_UTIL_H_
#define TALLY_STORE_SQLITE_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TALLY_SQLITE_RETURN_IF_ERROR(expr) \
  do {                                     \
    absl::Status status_ = (expr);         \
    if (!status_.ok()) return status_;     \
  } while (0)

namespace tally::sqlite_internal {

std::string ErrnoText(int err);

// "<sqlite message> (<errno text>)".
std::string SqliteMessage(sqlite3* db, int rc);

// An error while opening `path`, with a code that says what to do about it.
absl::Status OpenError(sqlite3* db, int rc, const std::string& path);

// A failed write: the store is failed from now on.
absl::Status WriteError(sqlite3* db, int rc, const std::string& path);

// DataLossError "<table> row <seq>: <status's message>".
absl::Status RowError(std::string_view table, uint64_t seq, const absl::Status& status);

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

// A prepared statement: prepared once, bound and reset per row.
class Statement {
 public:
  Statement() = default;

  static absl::StatusOr<Statement> Prepare(sqlite3* db, const char* sql, const std::string& path);

  sqlite3_stmt* get() const { return stmt_.get(); }

  void Int(int i, int64_t v) { sqlite3_bind_int64(stmt_.get(), i, v); }
  void Uint(int i, uint64_t v) { Int(i, static_cast<int64_t>(v)); }
  // 0 is stored as NULL (an unset optional integer).
  void IntOrNull(int i, int64_t v) {
    if (v == 0) {
      sqlite3_bind_null(stmt_.get(), i);
    } else {
      Int(i, v);
    }
  }
  void Text(int i, std::string_view s) {
    sqlite3_bind_text(stmt_.get(), i, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                      SQLITE_STATIC);
  }
  // "" is stored as NULL (an unset optional string).
  void TextOrNull(int i, std::string_view s) {
    if (s.empty()) {
      sqlite3_bind_null(stmt_.get(), i);
    } else {
      Text(i, s);
    }
  }
  void Blob(int i, std::string_view s) {
    sqlite3_bind_blob(stmt_.get(), i, s.empty() ? "" : s.data(), static_cast<int>(s.size()),
                      SQLITE_STATIC);
  }

 private:
  std::unique_ptr<sqlite3_stmt, StatementDeleter> stmt_;
};

// One sqlite3_column_value call, then two cheap reads of the value, rather
// than sqlite3_column_text and sqlite3_column_bytes, which each pay the API's
// entry and exit: ~12 % of a full events scan. (Every connection is opened
// NOMUTEX, where a column's value needs no protection.)
inline std::string_view ColumnText(sqlite3_stmt* s, int i) {
  sqlite3_value* value = sqlite3_column_value(s, i);
  const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(value));
  if (p == nullptr) return {};
  return {p, static_cast<size_t>(sqlite3_value_bytes(value))};
}

inline int64_t ColumnInt(sqlite3_stmt* s, int i) { return sqlite3_column_int64(s, i); }
inline uint64_t ColumnUint(sqlite3_stmt* s, int i) {
  return static_cast<uint64_t>(sqlite3_column_int64(s, i));
}

inline std::string_view ColumnBlob(sqlite3_stmt* s, int i) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
  if (p == nullptr) return {};
  return {p, static_cast<size_t>(sqlite3_column_bytes(s, i))};
}

// Runs `sql` (no rows expected).
absl::Status Exec(sqlite3* db, const char* sql, const std::string& path);

// The first column of the first row of `sql` as text ("" if none).
absl::StatusOr<std::string> QueryText(sqlite3* db, const char* sql, const std::string& path);

// The first column of the first row of `sql` as an integer (0 if none).
absl::StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql, const std::string& path);

// Steps `s`: true with a row, false at the end; errors become `*status`.
bool NextRow(sqlite3* db, sqlite3_stmt* s, const std::string& path, absl::Status* status);

}  // namespace tally::sqlite_internal

#endif  // TALLY_STORE_SQLITE_SQLITE_UTIL_H_
