// Event: something a subject did, as reported by the product.
//
// `id` is the idempotency key: the same id with the same body counts once; the
// same id with another body is a conflict. `data` holds the non-negative integer
// inputs that meters read; `context` what the seeds ask to log with each event.
//
// Thread-safety: plain value type.
#ifndef TALLY_CORE_EVENT_H_
#define TALLY_CORE_EVENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "core/time.h"

namespace tally {

struct EventContext {
  std::string session_id;
  std::string ip;
  std::string user_agent;
  std::string endpoint;
  std::string method;
  int64_t processing_ms = -1;  // -1: not reported
  std::string error_code;

  // The named field ("session_id", "ip", ..., "processing_ms" in decimal) as
  // text; empty if unknown or unset. A copy, since processing_ms is formatted.
  std::string Field(std::string_view name) const;
  friend bool operator==(const EventContext&, const EventContext&) = default;
};

struct Event {
  std::string id;
  std::string subject;
  std::string type;
  // Event time; 0 means "when tally received it".
  Micros time = 0;
  // Meter inputs, field name -> value. Values are in [0, INT64_MAX].
  std::vector<std::pair<std::string, int64_t>> data;
  EventContext context;

  // data[field], or nullopt.
  const int64_t* Find(std::string_view field) const;
  friend bool operator==(const Event&, const Event&) = default;
};

// Limits on what an event may carry; longer input is rejected, not truncated.
inline constexpr size_t kMaxIdLength = 256;
inline constexpr size_t kMaxNameLength = 128;      // subject, type, data keys
inline constexpr size_t kMaxContextLength = 1024;  // each context string
inline constexpr size_t kMaxDataFields = 64;

// Checks ids, lengths, duplicate data keys and value ranges; the message and
// field name say what is wrong. Times are checked by the engine (it has the clock).
absl::Status ValidateEvent(const Event& event);

// A 64-bit fingerprint of everything the client sent (id, subject, type, time as
// given, data in any key order, context). Equal bodies have equal fingerprints.
uint64_t Fingerprint(const Event& event);

// A stable 64-bit hash of a string (used for ids and unique_count values).
uint64_t StableHash(std::string_view s);

}  // namespace tally

#endif  // TALLY_CORE_EVENT_H_
