// Dispatch: one request through routing, authentication, authorization, the
// per-key write limit and the handler — everything between the bytes on the
// wire (http_server.cc) and the resource handlers (handlers/).
//
//   route    404 not_found, 405 method_not_allowed (with Allow)
//   auth     401 unauthorized: no, unknown, revoked or expired credentials
//            403 forbidden: valid credentials without the right role
//   limit    429 rate_limited on a write beyond the key's rate (Retry-After)
//   handler  whatever it answers; an exception becomes 500 internal, logged
//
// Thread-safety: Dispatch may run on many threads at once; everything it
// touches is thread-safe or constant.
#ifndef TALLY_SERVER_DISPATCH_H_
#define TALLY_SERVER_DISPATCH_H_

#include <cstddef>
#include <optional>

#include "server/auth/authenticator.h"
#include "server/auth/write_limiter.h"
#include "server/http_types.h"
#include "server/router.h"
#include "server/server_context.h"

namespace tally {

struct Dispatcher {
  ServerContext* ctx = nullptr;
  const Router* router = nullptr;
  const Authenticator* auth = nullptr;
  WriteLimiter* limiter = nullptr;

  // Everything that needs no body — route, authentication, role, the write
  // limit — from the request line and headers: the error to answer at once,
  // or nullopt (then request.principal is set and Dispatch skips these).
  // Fills `route_index` (router.routes().size() when unmatched) for metrics.
  std::optional<HandlerResult> Precheck(HttpRequest& request, size_t* route_index) const;

  // Prechecks (unless done) and runs the handler.
  HandlerResult Dispatch(HttpRequest& request, size_t* route_index) const;
};

}  // namespace tally

#endif  // TALLY_SERVER_DISPATCH_H_
