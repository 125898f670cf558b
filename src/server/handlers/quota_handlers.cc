// The decision endpoints: consume, check, and reservations (create, commit,
// release). Writes hand their durability wait to the server (DeferredWrite):
// the response goes out only once the event is on disk.
#include <string>
#include <utility>

#include "server/event_json.h"
#include "server/handlers/common.h"
#include "server/handlers/decision_result.h"
#include "server/json_encode.h"

namespace tally {
namespace json = boost::json;

namespace {

// Decodes the event body of consume and check; false with `error` filled.
bool ReadEvent(const HttpRequest& request, Event* event, HandlerResult* error,
               const EventDecodeOptions& options = {}) {
  json::object body;
  if (!ReadObject(request, &body, error)) return false;
  absl::StatusOr<Event> decoded = DecodeEvent(body, options);
  if (!decoded.ok()) {
    *error = ErrorResult(decoded.status());
    return false;
  }
  *event = *std::move(decoded);
  return true;
}

HandlerResult Consume(ServerContext& ctx, HttpRequest& request) {
  Event event;
  HandlerResult error;
  if (!ReadEvent(request, &event, &error)) return error;
  DeferredWrite deferred;
  absl::StatusOr<Decision> d = ctx.engine->Consume(std::move(event), &deferred);
  if (!d.ok()) return ErrorResult(d.status());
  ctx.metrics->RecordDecision("consume", *d);
  HandlerResult r = DecisionResult(*d, ctx.clock->Now(), 200, /*deny=*/true);
  r.durable = deferred;
  return r;
}

HandlerResult Check(ServerContext& ctx, HttpRequest& request) {
  Event event;
  HandlerResult error;
  if (!ReadEvent(request, &event, &error)) return error;
  absl::StatusOr<Decision> d = ctx.engine->Check(event);
  if (!d.ok()) return ErrorResult(d.status());
  ctx.metrics->RecordDecision("check", *d);
  return DecisionResult(*d, ctx.clock->Now(), 200, /*deny=*/false);
}

HandlerResult Reserve(ServerContext& ctx, HttpRequest& request) {
  json::object body;
  HandlerResult error;
  if (!ReadObject(request, &body, &error)) return error;
  absl::StatusOr<std::optional<int64_t>> ttl_s =
      OptionalInt(body, "ttl_s", "", 1, 366LL * 24 * 3600);
  if (!ttl_s.ok()) return ErrorResult(ttl_s.status());
  const EventDecodeOptions options{.extra_keys = {"ttl_s"}};
  absl::StatusOr<Event> event = DecodeEvent(body, options);
  if (!event.ok()) return ErrorResult(event.status());
  const Micros ttl = ttl_s->value_or(0) * kMicrosPerSecond;
  DeferredWrite deferred;
  absl::StatusOr<Decision> d = ctx.engine->Reserve(*std::move(event), ttl, &deferred);
  if (!d.ok()) return ErrorResult(d.status());
  ctx.metrics->RecordDecision("reserve", *d);
  HandlerResult r = DecisionResult(*d, ctx.clock->Now(), 201, /*deny=*/true);
  r.durable = deferred;
  return r;
}

HandlerResult Commit(ServerContext& ctx, HttpRequest& request) {
  const std::string& id = request.path_params[0];
  Event actual;
  HandlerResult error;
  EventDecodeOptions options;
  options.identity_optional = true;
  if (!ReadEvent(request, &actual, &error, options)) return error;
  DeferredWrite deferred;
  absl::StatusOr<Decision> d = ctx.engine->Commit(id, std::move(actual), &deferred);
  if (!d.ok()) return ErrorResult(d.status());
  ctx.metrics->RecordDecision("commit", *d);
  HandlerResult r = DecisionResult(*d, ctx.clock->Now(), 200, /*deny=*/true,
                                   json::object{{"reservation_id", id}, {"committed", true}});
  r.durable = deferred;
  return r;
}

HandlerResult Release(ServerContext& ctx, HttpRequest& request) {
  const std::string& id = request.path_params[0];
  DeferredWrite deferred;
  if (absl::Status s = ctx.engine->Release(id, &deferred); !s.ok()) return ErrorResult(s);
  HandlerResult r = JsonResult(200, json::object{{"reservation_id", id}, {"released", true}});
  r.durable = deferred;
  return r;
}

}  // namespace

void AddQuotaRoutes(Router& router, ServerContext& ctx) {
  auto bind = [&ctx](HandlerResult (*fn)(ServerContext&, HttpRequest&)) {
    return [&ctx, fn](HttpRequest& r) { return fn(ctx, r); };
  };
  router.Add({Method::kPost, "/api/quota/consume", Access::kService, true,
              "Enforce and record one event: 200, or 429 when a quota or rate limit denies it",
              bind(Consume)});
  router.Add({Method::kPost, "/api/quota/check", Access::kService, false,
              "Would this event fit? A dry run: always 200 with allowed", bind(Check)});
  router.Add({Method::kPost, "/api/quota/reservations", Access::kService, true,
              "Hold an estimate until commit or release: 201, or 429", bind(Reserve)});
  router.Add({Method::kPost, "/api/quota/reservations/{id}/commit", Access::kService, true,
              "Settle a reservation with the actual event", bind(Commit)});
  router.Add({Method::kDelete, "/api/quota/reservations/{id}", Access::kService, true,
              "Release a reservation's hold", bind(Release)});
}

}  // namespace tally
