// ApiError constructors, the absl::Status -> ApiError mapping and the JSON
// error body. See api_error.h.
//
// Thread-safety: pure functions.
#include "server/api_error.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <utility>

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

// Length of the well-formed UTF-8 sequence at s[i], or 0 (overlong, surrogate,
// past U+10FFFF, truncated or a stray continuation byte).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t len;
  char32_t cp;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

// `s` with each malformed UTF-8 byte replaced by U+FFFD, so that the
// serialized body is always valid JSON even if a message quotes raw input.
std::string ValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceLength(s, i);
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
