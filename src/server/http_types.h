// HttpRequest and HttpResponse: what handlers see of HTTP, independent of the
// HTTP library (Boost.Beast lives only in http_server.cc), so handlers are
// plain functions that tests call directly.
//
// Thread-safety: plain value types.
#ifndef TALLY_SERVER_HTTP_TYPES_H_
#define TALLY_SERVER_HTTP_TYPES_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"
#include "engine/engine.h"
#include "server/auth/authenticator.h"
#include "server/query.h"

namespace tally {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kOptions, kOther };
std::string_view MethodName(Method m);

struct HttpRequest {
  Method method = Method::kGet;
  std::string path;                      // percent-decoded, without the query
  QueryParams query;
  std::vector<std::string> path_params;  // the {id} parts of the route, in order
  std::string body;
  std::string authorization;
  std::string remote_address;            // "203.0.113.9"
  Micros received = 0;
  Principal principal;                   // set once authenticated
  const struct Route* route = nullptr;   // set once routed and checked (Dispatcher::Precheck)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// What a handler returns: the response, and the write it must wait for before
// the response may be sent (a 2xx on a write means the event is on disk).
struct HandlerResult {
  HttpResponse response;
  DeferredWrite durable;
};

}  // namespace tally

#endif  // TALLY_SERVER_HTTP_TYPES_H_
