// ApiError: the one error shape of tally's HTTP API (DESIGN.md):
//   {"error":{"code":"invalid_request","message":"data.chars: must be ...","field":"data.chars"}}
//
// Library code reports problems as absl::Status with messages of the form
// "<field>: <what is wrong>"; FromStatus() maps the status code to the HTTP
// status and API code and lifts the field out of the message.
//
// Thread-safety: plain value type and pure functions.
#ifndef TALLY_SERVER_API_ERROR_H_
#define TALLY_SERVER_API_ERROR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace tally {

struct ApiError {
  int status = 500;
  std::string code;  // invalid_json, invalid_request, unauthorized, forbidden, not_found,
                     // method_not_allowed, conflict, payload_too_large, quota_exceeded,
                     // rate_limited, unavailable, internal
  std::string message;
  std::string field;  // empty: not about one field
};

ApiError InvalidJson(std::string message);                          // 400
ApiError InvalidRequest(std::string field, std::string message);    // 422
ApiError Unauthorized(std::string message);                         // 401
ApiError Forbidden(std::string message);                            // 403
ApiError NotFound(std::string message);                             // 404
ApiError MethodNotAllowed(std::string message);                     // 405
ApiError PayloadTooLarge(std::string message);                      // 413

// InvalidArgument/OutOfRange -> 422 invalid_request, NotFound -> 404,
// AlreadyExists/FailedPrecondition/Aborted -> 409 conflict, Unauthenticated ->
// 401, PermissionDenied -> 403, ResourceExhausted -> 429 rate_limited,
// Unavailable -> 503, anything else -> 500 internal. A message beginning with a
// field path ("events[2].data.chars: ...") sets `field`.
ApiError FromStatus(const absl::Status& status);

// The JSON body of `error`.
std::string ErrorBody(const ApiError& error);

}  // namespace tally

#endif  // TALLY_SERVER_API_ERROR_H_
