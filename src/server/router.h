// Router: maps a method and a path to a route, and holds the route table that
// the server, /openapi.json and the tests all read.
//
// Patterns are literal segments and "{name}" segments ("/api/admin/users/{id}");
// a "{name}" matches one non-empty segment, handed to the handler in order.
// Lookup is a linear scan over ~40 routes: ~1 us, measured small beside JSON.
//
// Thread-safety: built once at start-up; read-only afterwards.
#ifndef TALLY_SERVER_ROUTER_H_
#define TALLY_SERVER_ROUTER_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_types.h"

namespace tally {

// Who may call a route (DESIGN.md "HTTP API").
enum class Access {
  kPublic,   // anyone, no token
  kUser,     // a user token (its own subject), a service key or an admin key
  kService,  // a service key or an admin key
  kAdmin,    // an admin key
};

using Handler = std::function<HandlerResult(HttpRequest&)>;

struct Route {
  Method method = Method::kGet;
  std::string pattern;
  Access access = Access::kPublic;
  bool write = false;  // counts against the caller's per-key write limit
  std::string summary;  // one line, for /openapi.json
  Handler handler;
};

class Router {
 public:
  void Add(Route route);

  struct Match {
    const Route* route = nullptr;      // null: no route for this method and path
    std::vector<std::string> params;
    std::vector<Method> allowed;       // when the path matched under other methods (405)
  };
  Match Find(Method method, std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace tally

#endif  // TALLY_SERVER_ROUTER_H_
