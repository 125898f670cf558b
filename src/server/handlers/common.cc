#include "server/handlers/common.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "server/event_json.h"
#include "server/json_writer.h"

namespace tally {
namespace json = boost::json;

HandlerResult JsonResult(int status, const json::value& body) {
  HandlerResult r;
  r.response.status = status;
  r.response.body = SerializeJson(body);
  return r;
}

HandlerResult ErrorResult(const ApiError& error) {
  HandlerResult r;
  r.response.status = error.status;
  r.response.body = ErrorBody(error);
  return r;
}

bool ReadObject(const HttpRequest& request, json::object* out, HandlerResult* error) {
  absl::StatusOr<json::value> parsed = ParseJsonBody(request.body);
  if (!parsed.ok()) {
    *error = ErrorResult(JsonBodyError(parsed.status()));
    return false;
  }
  if (!parsed->is_object()) {
    *error = ErrorResult(InvalidRequest("body", "body: must be a JSON object"));
    return false;
  }
  *out = std::move(parsed->as_object());
  return true;
}

absl::StatusOr<std::string> SubjectOf(const HttpRequest& request) {
  std::optional<std::string_view> asked = request.query.Get("user_id");
  if (request.principal.role == Role::kUser) {
    if (asked && *asked != request.principal.subject) {
      return absl::PermissionDeniedError(
          "user_id: a user token reads only its own subject; leave user_id out");
    }
    return request.principal.subject;
  }
  if (!asked || asked->empty()) {
    return absl::InvalidArgumentError("user_id: is required with a service or admin key (?user_id=...)");
  }
  return std::string(*asked);
}

void LogChange(const HttpRequest& request, const std::string& what, const std::string& reason) {
  LogInfo(absl::StrCat(request.principal.actor, " from ", request.remote_address, ": ", what,
                       reason.empty() ? std::string() : absl::StrCat(" (reason: ", reason, ")")));
}

Actor ActorOf(const HttpRequest& request, std::string reason) {
  return Actor{request.principal.actor, std::move(reason), request.remote_address};
}

}  // namespace tally
