// Request targets and query strings of the GET endpoints:
//   "/api/usage/history?user_id=u1&granularity=day&from=2026-03-01T00:00:00Z"
// SplitTarget() splits and decodes the path; QueryParams parses what follows
// '?' and reads typed parameters with errors a client can act on.
//
// Every error is absl::InvalidArgumentError("<field>: <problem>"), where the
// field is the parameter's name, "query" or "path"; FromStatus() (api_error.h)
// turns it into a 422 naming that field.
//
// Thread-safety: pure functions; a QueryParams is an immutable value, safe to
// read from many threads.
#ifndef TALLY_SERVER_QUERY_H_
#define TALLY_SERVER_QUERY_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/time.h"

namespace tally {

inline constexpr size_t kMaxTargetLength = 8 * 1024;  // bytes, as sent
inline constexpr size_t kMaxQueryParams = 64;

// Decodes %XX escapes and, if `plus_is_space`, '+' as ' '. Rejects a '%' not
// followed by two hex digits, a NUL byte, and output that is not valid UTF-8.
// The error message is the problem alone ("has a bad percent escape ..."); callers
// prefix it with the field.
absl::StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space);

struct RequestTarget {
  std::string path;   // percent-decoded ('+' stays '+')
  std::string query;  // raw, after the first '?' (empty if none)
};

// Splits an origin-form request target. The target must start with '/' and be
// at most kMaxTargetLength bytes; the decoded path must be valid UTF-8 without
// NUL bytes, an encoded '/' (%2F) or a ".." segment.
absl::StatusOr<RequestTarget> SplitTarget(std::string_view target);

// The parameters of a query string, in the order given.
class QueryParams {
 public:
  // Parses the raw text after '?': "name=value" pairs separated by '&', with
  // '+' meaning ' ' and %XX escapes decoded. A name without '=' has an empty
  // value; empty pairs ("a=1&&b=2") are skipped. Rejects empty names, a name
  // given twice and more than kMaxQueryParams parameters.
  static absl::StatusOr<QueryParams> Parse(std::string_view raw);

  QueryParams() = default;

  // The decoded value of `name`, or nullopt if absent. The view lives as long
  // as this object.
  std::optional<std::string_view> Get(std::string_view name) const;

  // `name` as a decimal integer in [min, max] (an optional '-', then digits
  // only), or nullopt if absent. A present but empty value is an error.
  absl::StatusOr<std::optional<int64_t>> GetInt(std::string_view name, int64_t min,
                                                int64_t max) const;

  // `name` as an RFC 3339 time, or nullopt if absent. Since '+' in a query
  // means ' ', and a space can never appear in an RFC 3339 time, a space is
  // read as '+': "...T02:30:00 05:00" is "...T02:30:00+05:00".
  absl::StatusOr<std::optional<Micros>> GetTime(std::string_view name) const;

  // Fails on the first parameter not in `names`, listing the expected ones.
  absl::Status AllowOnly(std::initializer_list<std::string_view> names) const;

  const std::vector<std::pair<std::string, std::string>>& all() const { return params_; }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// A client-supplied name as it should appear before ": " in an error message:
// as is if it is made of [A-Za-z0-9_.-] (so FromStatus lifts it as the field),
// otherwise quoted, with control characters escaped, cut at 64 bytes.
std::string NameForMessage(std::string_view name);

}  // namespace tally

#endif  // TALLY_SERVER_QUERY_H_
