#include "server/dispatch.h"

#include <exception>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "server/api_error.h"
#include "server/handlers/common.h"
#include "server/quota_headers.h"

namespace tally {

namespace {

bool Permits(Access access, Role role) {
  switch (access) {
    case Access::kPublic:
    case Access::kUser:
      return true;
    case Access::kService:
      return role == Role::kService || role == Role::kAdmin;
    case Access::kAdmin:
      return role == Role::kAdmin;
  }
  return false;
}

}  // namespace

std::optional<HandlerResult> Dispatcher::Precheck(HttpRequest& request, size_t* route_index) const {
  *route_index = router->routes().size();
  Router::Match match = router->Find(request.method, request.path);
  if (match.route == nullptr) {
    if (match.allowed.empty()) {
      return ErrorResult(NotFound(absl::StrCat("no such endpoint: ", std::string(MethodName(request.method)), " ",
                                               request.path, " (GET /openapi.json lists them)")));
    }
    std::string allow;
    for (Method m : match.allowed) absl::StrAppend(&allow, allow.empty() ? "" : ", ", std::string(MethodName(m)));
    HandlerResult r = ErrorResult(MethodNotAllowed(
        absl::StrCat(request.path, " takes ", allow, ", not ", std::string(MethodName(request.method)))));
    r.response.headers.emplace_back("Allow", allow);
    return r;
  }
  const Route& route = *match.route;
  *route_index = static_cast<size_t>(match.route - router->routes().data());
  request.path_params = std::move(match.params);
  request.route = &route;

  if (route.access != Access::kPublic) {
    absl::StatusOr<Principal> who = auth->Authenticate(request.authorization, request.received);
    if (!who.ok()) {
      HandlerResult r = ErrorResult(Unauthorized(std::string(who.status().message())));
      r.response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"tally\"");
      return r;
    }
    request.principal = *std::move(who);
    if (!Permits(route.access, request.principal.role)) {
      return ErrorResult(Forbidden(absl::StrCat(std::string(RoleName(request.principal.role)), " credentials may not ",
                                                std::string(MethodName(request.method)), " ", route.pattern,
                                                "; it needs ",
                                                route.access == Access::kAdmin ? "an admin key" : "a service or admin key")));
    }
    if (route.write && !request.principal.key_id.empty()) {
      WriteLimiter::Result admitted =
          limiter->Admit(request.principal.key_id, request.principal.write_rate_per_s, request.received);
      if (!admitted.allowed) {
        HandlerResult r = ErrorResult(ApiError{429, "rate_limited",
                                               absl::StrCat("API key ", request.principal.key_id,
                                                            " is over its write rate limit; slow down"),
                                               ""});
        AddRetryAfter(admitted.retry_at, request.received, &r.response);
        return r;
      }
    }
  }
  return std::nullopt;
}

HandlerResult Dispatcher::Dispatch(HttpRequest& request, size_t* route_index) const {
  if (request.route == nullptr) {
    if (std::optional<HandlerResult> early = Precheck(request, route_index)) return *std::move(early);
  }
  const Route& route = *request.route;
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    LogError(absl::StrCat("handler ", route.pattern, " threw: ", e.what()));
    return ErrorResult(ApiError{500, "internal", "internal error; it has been logged", ""});
  }
}

}  // namespace tally
