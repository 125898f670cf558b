// HttpRequest and HttpResponse: what handlers see of HTTP, independent of the
// HTTP library (Boost.Beast lives only in http_server.cc), so handlers are
// plain functions that tests call directly.
//
// A response body is either `body`, sent at once, or `stream`: a producer
// the server runs on a thread of its own and sends as it comes
// (Transfer-Encoding: chunked), for exports of any size.
//
// Thread-safety: plain value types. A BodySink is used by its producer's
// thread only.
#ifndef TALLY_SERVER_HTTP_TYPES_H_
#define TALLY_SERVER_HTTP_TYPES_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
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

// Where a streamed body goes.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Hands `chunk` to the connection; blocks while a few chunks are already
  // queued (the client reads slower than the producer writes). Returns false
  // once the body is no longer wanted — the client went away or timed out, or
  // the server is stopping: the producer should return promptly.
  virtual bool Write(std::string chunk) = 0;
};

// Produces a streamed body through the sink, on a thread of its own (it may
// block, e.g. in Store::ScanEvents). Its result:
//   OK             the body is complete; the final chunk is sent.
//   an error, before any Write: answered as a normal JSON error (FromStatus).
//   an error after a Write: the connection is closed without the final
//                  chunk, so the client sees a truncated body, never one that
//                  looks complete.
using BodyProducer = std::function<absl::Status(BodySink& sink)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed from it and `body` is ignored.
  BodyProducer stream;
};

// What a handler returns: the response, and the write it must wait for before
// the response may be sent (a 2xx on a write means the event is on disk).
struct HandlerResult {
  HttpResponse response;
  DeferredWrite durable;
};

}  // namespace tally

#endif  // TALLY_SERVER_HTTP_TYPES_H_
