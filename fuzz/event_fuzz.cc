// libFuzzer target: request bodies, as POST /api/usage/track and the quota
// endpoints receive them. Feeds the bytes to ParseJsonBody, then DecodeEvent
// (plain, as a batch element and as a commit body) and DecodeEventBatch, and
// turns every failure into an error body. Beyond "no crash, no leak, no UB" it
// checks that:
//   - every decoding error is InvalidArgument and its error body is valid JSON;
//   - every decoded event passes ValidateEvent;
//   - a decoded event, written back as JSON, decodes to the same event.
//
// Thread-safety: libFuzzer calls it from one thread.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/time.h"
#include "server/api_error.h"
#include "server/event_json.h"

namespace tally {
namespace {

void Require(bool condition, const char* what, std::string_view detail = "") {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// The API error body for `error` must itself parse as JSON.
void CheckErrorBody(const ApiError& error) {
  const std::string body = ErrorBody(error);
  absl::StatusOr<boost::json::value> parsed = ParseJsonBody(body);
  Require(parsed.ok(), "error body is not JSON", body);
  Require(parsed->is_object() && parsed->as_object().contains("error"), "error body shape", body);
}

void CheckDecodeError(const absl::Status& status) {
  Require(status.code() == absl::StatusCode::kInvalidArgument, "decode error code",
          std::string(status.message()));
  Require(!status.message().empty(), "empty decode error");
  CheckErrorBody(FromStatus(status));
}

// `event` as the JSON a client would send for it.
boost::json::object ToJson(const Event& event) {
  boost::json::object o;
  if (!event.id.empty()) o["id"] = event.id;
  if (!event.subject.empty()) o["subject"] = event.subject;
  if (!event.type.empty()) o["type"] = event.type;
  if (event.time != 0) o["time"] = FormatRfc3339(event.time);
  boost::json::object data;
  for (const auto& [key, value] : event.data) data[key] = value;
  o["data"] = std::move(data);
  const EventContext& c = event.context;
  boost::json::object context;
  for (const char* name : {"session_id", "ip", "user_agent", "endpoint", "method", "error_code"}) {
    if (std::string text = c.Field(name); !text.empty()) context[name] = text;
  }
  if (c.processing_ms >= 0) context["processing_ms"] = c.processing_ms;
  o["context"] = std::move(context);
  return o;
}

// A decoded event is valid and survives a round trip through JSON.
void CheckEvent(const Event& event, const EventDecodeOptions& options) {
  if (!options.identity_optional) {
    Require(ValidateEvent(event).ok(), "decoded event fails ValidateEvent", event.id);
  }
  const std::string json = boost::json::serialize(ToJson(event));
  absl::StatusOr<boost::json::value> reparsed = ParseJsonBody(json);
  Require(reparsed.ok(), "re-encoded event does not parse", json);
  absl::StatusOr<Event> again = DecodeEvent(*reparsed, options);
  Require(again.ok(), "re-encoded event does not decode",
          again.ok() ? json : std::string(again.status().message()) + " in " + json);
  Require(*again == event, "round trip changed the event", json);
}

void Decode(const boost::json::value& v, const EventDecodeOptions& options) {
  absl::StatusOr<Event> event = DecodeEvent(v, options);
  if (event.ok()) {
    CheckEvent(*event, options);
  } else {
    CheckDecodeError(event.status());
  }
}

}  // namespace
}  // namespace tally

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tally;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<boost::json::value> v = ParseJsonBody(body);
  if (!v.ok()) {
    Require(v.status().code() == absl::StatusCode::kInvalidArgument, "parse error code",
            std::string(v.status().message()));
    CheckErrorBody(JsonBodyError(v.status()));
    return 0;
  }
  Decode(*v, {});
  Decode(*v, {.prefix = "events[7]."});
  Decode(*v, {.identity_optional = true, .extra_keys = {"ttl_s"}});
  if (const boost::json::object* o = v->if_object(); o != nullptr && o->contains("events")) {
    absl::StatusOr<std::vector<Event>> events = DecodeEventBatch(*o, 100);
    if (events.ok()) {
      Require(!events->empty() && events->size() <= 100, "batch size");
      for (const Event& event : *events) CheckEvent(event, {});
    } else {
      CheckDecodeError(events.status());
    }
  }
  return 0;
}
