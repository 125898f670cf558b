// Liveness, readiness, Prometheus metrics and the OpenAPI description.
#include <string>

#include "server/handlers/common.h"
#include "server/openapi.h"

namespace tally {
namespace json = boost::json;

namespace {

HandlerResult Healthz(ServerContext&, HttpRequest&) { return JsonResult(200, json::object{{"status", "ok"}}); }

// Ready while serving; 503 once draining (SIGTERM) so load balancers move on.
HandlerResult Readyz(ServerContext& ctx, HttpRequest&) {
  if (ctx.draining.load()) {
    HandlerResult r = JsonResult(503, json::object{{"status", "draining"}});
    return r;
  }
  const EngineStats stats = ctx.engine->Stats();
  return JsonResult(200, json::object{{"status", "ready"},
                                      {"version", ctx.options->version},
                                      {"subjects", stats.subjects},
                                      {"events", stats.events}});
}

HandlerResult MetricsText(ServerContext& ctx, HttpRequest&) {
  HandlerResult r;
  r.response.content_type = "text/plain; version=0.0.4";
  r.response.body = ctx.metrics->Render(ctx.engine->Stats(), ctx.store->Stats());
  return r;
}

HandlerResult OpenApi(ServerContext& ctx, HttpRequest&) {
  HandlerResult r;
  r.response.body = OpenApiJson(*ctx.router, ctx.options->version);
  return r;
}

}  // namespace

void AddSystemRoutes(Router& router, ServerContext& ctx) {
  auto bind = [&ctx](HandlerResult (*fn)(ServerContext&, HttpRequest&)) {
    return [&ctx, fn](HttpRequest& r) { return fn(ctx, r); };
  };
  router.Add({Method::kGet, "/healthz", Access::kPublic, false, "Liveness: 200 while the process serves", bind(Healthz)});
  router.Add({Method::kGet, "/readyz", Access::kPublic, false, "Readiness: 200 when serving, 503 while draining",
              bind(Readyz)});
  router.Add({Method::kGet, "/metrics", Access::kPublic, false, "Prometheus text: requests, decisions, latency, store",
              bind(MetricsText)});
  router.Add({Method::kGet, "/openapi.json", Access::kPublic, false, "This API's OpenAPI 3.1 description",
              bind(OpenApi)});
}

}  // namespace tally
