// Helpers every handler uses: JSON results and errors, request bodies, the
// subject a request reads, and the actor of an admin change.
//
// Thread-safety: pure functions of their arguments.
#ifndef TALLY_SERVER_HANDLERS_COMMON_H_
#define TALLY_SERVER_HANDLERS_COMMON_H_

#include <string>

#include <boost/json.hpp>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "server/api_error.h"
#include "server/http_types.h"
#include "server/router.h"
#include "server/server_context.h"

namespace tally {

HandlerResult JsonResult(int status, const boost::json::value& body);
HandlerResult ErrorResult(const ApiError& error);
inline HandlerResult ErrorResult(const absl::Status& status) { return ErrorResult(FromStatus(status)); }

// Parses the body as a JSON object; on failure fills `error` (400 invalid_json,
// or 422 when it is JSON but not an object) and returns false.
bool ReadObject(const HttpRequest& request, boost::json::object* out, HandlerResult* error);

// The subject a read is about: a user token's own subject (a different
// ?user_id= is 403), else the required ?user_id=.
absl::StatusOr<std::string> SubjectOf(const HttpRequest& request);

// Who is making an admin change, from where, and why.
Actor ActorOf(const HttpRequest& request, std::string reason);

// One log line for an admin change: who, from where, what, why.
void LogChange(const HttpRequest& request, const std::string& what, const std::string& reason);

// Registers each resource's routes (handlers/*.cc).
void AddQuotaRoutes(Router& router, ServerContext& ctx);
void AddUsageRoutes(Router& router, ServerContext& ctx);
void AddAdminRoutes(Router& router, ServerContext& ctx);
void AddSystemRoutes(Router& router, ServerContext& ctx);
void AddAnalyticsRoutes(Router& router, ServerContext& ctx);  // analytics_handlers.cc
void AddExportRoutes(Router& router, ServerContext& ctx);     // export_handlers.cc
void AddAdminUsageRoutes(Router& router, ServerContext& ctx);  // admin_usage_handlers.cc

}  // namespace tally

#endif  // TALLY_SERVER_HANDLERS_COMMON_H_
