// JSON request bodies: parsing with limits, typed field accessors that every
// handler uses, and the event decoder (DESIGN.md "HTTP API"):
//   {"id","subject","type","time"?,"data":{...}?,"context":{...}?}
//
// Errors are absl::InvalidArgumentError("<prefix><field>: <what to fix>"), so
// FromStatus() (api_error.h) reports them as 422 with the field path, e.g.
// "events[3].data.chars: must be a non-negative integer".
//
// Duplicate keys: RFC 8259 leaves their meaning open and Boost.JSON would keep
// the last silently, so ParseJsonBody rejects a key given twice in any object
// of the body ("events[3].subject: given more than once"). An object built in
// code cannot hold duplicates, so the accessors below need not check.
//
// Thread-safety: pure functions. A parsed value owns a private arena (a
// monotonic resource), so read it from many threads but mutate it from one.
#ifndef TALLY_SERVER_EVENT_JSON_H_
#define TALLY_SERVER_EVENT_JSON_H_

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/event.h"
#include "server/api_error.h"

namespace tally {

inline constexpr size_t kMaxJsonDepth = 32;  // nested objects and arrays

// Parses a request body holding exactly one JSON value (whitespace around it
// is fine) nested at most kMaxJsonDepth deep, with valid UTF-8 strings and no
// key twice in one object. Errors say what and where: "invalid JSON at byte
// 17: syntax error near '}'", "request body is empty; expected a JSON object",
// "events[0].subject: given more than once".
absl::StatusOr<boost::json::value> ParseJsonBody(std::string_view body);

// The API error for a ParseJsonBody failure: 400 invalid_json, with `field`
// set for a duplicate key.
ApiError JsonBodyError(const absl::Status& status);

// Field accessors. `prefix` is prepended to the key in messages ("" or
// "events[3]."). A JSON null is the same as an absent key.

// Fails on the first key of `o` not in `allowed`: "<prefix><key>: unknown
// field; expected one of a, b, c" and, when an allowed name is within two
// edits, "; did you mean \"subject\"?".
absl::Status RejectUnknownKeys(const boost::json::object& o,
                               std::initializer_list<std::string_view> allowed,
                               std::string_view prefix);

// A string of at most `max_len` bytes, or nullopt if absent.
absl::StatusOr<std::optional<std::string>> OptionalString(const boost::json::object& o,
                                                          std::string_view key,
                                                          std::string_view prefix, size_t max_len);

// A non-empty string of at most `max_len` bytes; "<key>: is required" if absent.
absl::StatusOr<std::string> RequiredString(const boost::json::object& o, std::string_view key,
                                           std::string_view prefix, size_t max_len);

// A JSON integer in [min, max], or nullopt if absent. Numbers written with a
// fraction or exponent (1.0, 1e3) are rejected: clients send exact counts.
absl::StatusOr<std::optional<int64_t>> OptionalInt(const boost::json::object& o,
                                                   std::string_view key, std::string_view prefix,
                                                   int64_t min, int64_t max);

// true or false, or nullopt if absent.
absl::StatusOr<std::optional<bool>> OptionalBool(const boost::json::object& o, std::string_view key,
                                                 std::string_view prefix);

// The object under `key`, or nullptr if absent. Points into `o`.
absl::StatusOr<const boost::json::object*> OptionalObject(const boost::json::object& o,
                                                          std::string_view key,
                                                          std::string_view prefix);

struct EventDecodeOptions {
  // Lets id, subject and type be absent (left empty): a reservation's commit
  // body, whose identity comes from the reservation. Default: false.
  bool identity_optional = false;
  // Prepended to every field in messages, e.g. "events[3].". Default: "".
  std::string_view prefix;
  // Top-level keys the caller reads itself (e.g. "ttl_s"); DecodeEvent only
  // lets them through. Default: none.
  std::initializer_list<std::string_view> extra_keys = {};
};

// Decodes and validates (ValidateEvent) one event. `user_id` is accepted as
// another name for `subject`. `time` is RFC 3339 (absent: 0, "when received");
// `data` values are integers in [0, INT64_MAX]; `context` takes session_id,
// ip, user_agent, endpoint, method, error_code (strings) and processing_ms.
// Unknown keys are rejected, except options.extra_keys.
absl::StatusOr<Event> DecodeEvent(const boost::json::value& v,
                                  const EventDecodeOptions& options = {});

// Decodes {"events":[...]} holding 1 to `max_events` events; the first bad
// event fails the whole batch, its fields named "events[i].<field>".
absl::StatusOr<std::vector<Event>> DecodeEventBatch(const boost::json::object& body,
                                                    size_t max_events);

}  // namespace tally

#endif  // TALLY_SERVER_EVENT_JSON_H_
