// ApiError constructors, the absl::Status -> ApiError mapping and the JSON
// error body. See api_error.h.
//
// Thread-safety: pure functions.
#include "server/api_error.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <utility>

#include "core/utf8.h"

namespace tally {
namespace {

ApiError Make(int status, std::string code, std::string message, std::string field = "") {
  return ApiError{status, std::move(code), std::move(message), std::move(field)};
}

bool IsFieldChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '[' || c == ']' || c == '-';
}

// The field path a message begins with ("events[2].data.chars: ..."), or "".
std::string LeadingField(std::string_view message) {
  size_t n = 0;
  while (n < message.size() && IsFieldChar(message[n])) ++n;
  if (n == 0 || message.substr(n, 2) != ": ") return "";
  return std::string(message.substr(0, n));
}

// `s` with each malformed UTF-8 byte replaced by U+FFFD, so that the
// serialized body is always valid JSON even if a message quotes raw input.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace

ApiError InvalidJson(std::string message) { return Make(400, "invalid_json", std::move(message)); }

ApiError InvalidRequest(std::string field, std::string message) {
  return Make(422, "invalid_request", std::move(message), std::move(field));
}

ApiError Unauthorized(std::string message) { return Make(401, "unauthorized", std::move(message)); }

ApiError Forbidden(std::string message) { return Make(403, "forbidden", std::move(message)); }

ApiError NotFound(std::string message) { return Make(404, "not_found", std::move(message)); }

ApiError MethodNotAllowed(std::string message) {
  return Make(405, "method_not_allowed", std::move(message));
}

ApiError PayloadTooLarge(std::string message) {
  return Make(413, "payload_too_large", std::move(message));
}

ApiError FromStatus(const absl::Status& status) {
  std::string message(status.message());
  std::string field = LeadingField(message);
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return Make(422, "invalid_request", std::move(message), std::move(field));
    case absl::StatusCode::kNotFound:
      return Make(404, "not_found", std::move(message), std::move(field));
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return Make(409, "conflict", std::move(message), std::move(field));
    case absl::StatusCode::kUnauthenticated:
      return Make(401, "unauthorized", std::move(message), std::move(field));
    case absl::StatusCode::kPermissionDenied:
      return Make(403, "forbidden", std::move(message), std::move(field));
    case absl::StatusCode::kResourceExhausted:
      return Make(429, "rate_limited", std::move(message), std::move(field));
    case absl::StatusCode::kUnavailable:
      return Make(503, "unavailable", std::move(message), std::move(field));
    default:
      return Make(500, "internal", std::move(message), std::move(field));
  }
}

std::string ErrorBody(const ApiError& error) {
  boost::json::object inner;
  inner["code"] = ValidUtf8(error.code);
  inner["message"] = ValidUtf8(error.message);
  if (!error.field.empty()) inner["field"] = ValidUtf8(error.field);
  boost::json::object body;
  body["error"] = std::move(inner);
  return boost::json::serialize(body);
}

}  // namespace tally
