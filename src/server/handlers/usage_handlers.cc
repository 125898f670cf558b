// Usage: track (one event or an all-or-nothing batch), and the reads of a
// subject's quotas — current usage, quota status, quota history.
#include <string>

#include "absl/strings/str_cat.h"
#include <utility>

#include "server/event_json.h"
#include "server/handlers/common.h"
#include "server/handlers/decision_result.h"
#include "server/json_encode.h"
#include "server/quota_headers.h"

namespace tally {
namespace json = boost::json;

namespace {

HandlerResult Track(ServerContext& ctx, HttpRequest& request) {
  json::object body;
  HandlerResult error;
  if (!ReadObject(request, &body, &error)) return error;
  DeferredWrite deferred;
  if (body.contains("events")) {
    if (absl::Status s = RejectUnknownKeys(body, {"events"}, ""); !s.ok()) return ErrorResult(s);
    absl::StatusOr<std::vector<Event>> events = DecodeEventBatch(body, ctx.options->max_batch_events);
    if (!events.ok()) return ErrorResult(events.status());
    const size_t n = events->size();
    absl::StatusOr<std::vector<Decision>> ds = ctx.engine->TrackBatch(*std::move(events), &deferred, /*with_quotas=*/false);
    if (!ds.ok()) return ErrorResult(ds.status());
    int64_t replayed = 0;
    for (const Decision& d : *ds) {
      replayed += d.replayed;
      ctx.metrics->RecordDecision("track", d);
    }
    HandlerResult r = JsonResult(200, json::object{{"accepted", static_cast<int64_t>(n) - replayed},
                                                   {"replayed", replayed},
                                                   {"count", static_cast<int64_t>(n)}});
    r.durable = deferred;
    return r;
  }
  absl::StatusOr<Event> event = DecodeEvent(body);
  if (!event.ok()) return ErrorResult(event.status());
  absl::StatusOr<Decision> d = ctx.engine->Track(*std::move(event), &deferred);
  if (!d.ok()) return ErrorResult(d.status());
  ctx.metrics->RecordDecision("track", *d);
  HandlerResult r = DecisionResult(*d, ctx.clock->Now(), 200, /*deny=*/false);
  r.durable = deferred;
  return r;
}

HandlerResult Current(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"user_id"}); !s.ok()) return ErrorResult(s);
  absl::StatusOr<std::string> id = SubjectOf(request);
  if (!id.ok()) return ErrorResult(id.status());
  absl::StatusOr<Subject> subject = ctx.engine->GetSubject(*id);
  if (!subject.ok()) return ErrorResult(subject.status());
  absl::StatusOr<std::vector<QuotaView>> quotas = ctx.engine->QuotaStatus(*id);
  if (!quotas.ok()) return ErrorResult(quotas.status());
  json::object body{{"user_id", *id},
                    {"tier", subject->tier},
                    {"org", subject->org.empty() ? json::value(nullptr) : json::value(subject->org)},
                    {"timezone", subject->timezone},
                    {"anchor_day", subject->anchor_day},
                    {"status", WorstStatus(*quotas)},
                    {"quotas", QuotasJson(*quotas)}};
  HandlerResult r = JsonResult(200, body);
  AddQuotaHeaders(*quotas, ctx.clock->Now(), &r.response);
  return r;
}

HandlerResult Status(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"user_id", "quota_type"}); !s.ok()) return ErrorResult(s);
  absl::StatusOr<std::string> id = SubjectOf(request);
  if (!id.ok()) return ErrorResult(id.status());
  absl::StatusOr<std::vector<QuotaView>> quotas = ctx.engine->QuotaStatus(*id);
  if (!quotas.ok()) return ErrorResult(quotas.status());
  if (std::optional<std::string_view> only = request.query.Get("quota_type")) {
    std::vector<QuotaView> kept;
    for (QuotaView& q : *quotas) {
      if (q.meter == *only) kept.push_back(std::move(q));
    }
    if (kept.empty()) {
      return ErrorResult(InvalidRequest("quota_type", absl::StrCat("quota_type: \"", std::string(*only),
                                                                   "\" is not a meter")));
    }
    *quotas = std::move(kept);
  }
  HandlerResult r = JsonResult(
      200, json::object{{"user_id", *id}, {"status", WorstStatus(*quotas)}, {"quotas", QuotasJson(*quotas)}});
  AddQuotaHeaders(*quotas, ctx.clock->Now(), &r.response);
  return r;
}

// The current windows, the subject's adjustments (grants, resets, rollovers;
// not reservation holds and releases) and its audited changes, newest first.
HandlerResult History(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"user_id", "from", "to", "limit", "before"}); !s.ok()) {
    return ErrorResult(s);
  }
  absl::StatusOr<std::string> id = SubjectOf(request);
  if (!id.ok()) return ErrorResult(id.status());
  absl::StatusOr<std::optional<Micros>> from = request.query.GetTime("from");
  if (!from.ok()) return ErrorResult(from.status());
  absl::StatusOr<std::optional<Micros>> to = request.query.GetTime("to");
  if (!to.ok()) return ErrorResult(to.status());
  absl::StatusOr<std::optional<int64_t>> limit = request.query.GetInt("limit", 1, 1000);
  if (!limit.ok()) return ErrorResult(limit.status());
  absl::StatusOr<std::optional<int64_t>> before = request.query.GetInt("before", 1, INT64_MAX);
  if (!before.ok()) return ErrorResult(before.status());
  absl::StatusOr<std::vector<QuotaView>> quotas = ctx.engine->QuotaStatus(*id);
  if (!quotas.ok()) return ErrorResult(quotas.status());

  LedgerQuery lq;
  lq.subject = *id;
  lq.from = from->value_or(kBeginningOfTime);
  lq.to = to->value_or(kEndOfTime);
  lq.limit = static_cast<int>(limit->value_or(100));
  lq.before_seq = static_cast<uint64_t>(before->value_or(0));
  absl::StatusOr<std::vector<LedgerEntry>> ledger = ctx.store->ReadLedger(lq);
  if (!ledger.ok()) return ErrorResult(ledger.status());
  json::array entries;
  for (const LedgerEntry& e : *ledger) entries.push_back(LedgerJson(e));

  AuditQuery aq;
  aq.target = "subject:" + *id;
  aq.from = lq.from;
  aq.to = lq.to;
  aq.limit = lq.limit;
  absl::StatusOr<std::vector<AuditEntry>> audit = ctx.store->ReadAudit(aq);
  if (!audit.ok()) return ErrorResult(audit.status());
  json::array changes;
  for (const AuditEntry& e : *audit) {
    json::object change = AuditJson(e);
    if (request.principal.role == Role::kUser) {  // operators' identities stay private
      change.erase("actor");
      change.erase("address");
    }
    changes.push_back(std::move(change));
  }

  json::object body{{"user_id", *id},
                    {"windows", QuotasJson(*quotas)},
                    {"ledger", std::move(entries)},
                    {"changes", std::move(changes)}};
  if (!ledger->empty() && static_cast<int>(ledger->size()) == lq.limit) {
    body["next_before"] = ledger->back().seq;
  }
  return JsonResult(200, body);
}

}  // namespace

void AddUsageRoutes(Router& router, ServerContext& ctx) {
  auto bind = [&ctx](HandlerResult (*fn)(ServerContext&, HttpRequest&)) {
    return [&ctx, fn](HttpRequest& r) { return fn(ctx, r); };
  };
  router.Add({Method::kPost, "/api/usage/track", Access::kService, true,
              "Record usage without enforcement: one event, or {\"events\":[...]} all or nothing",
              bind(Track)});
  router.Add({Method::kGet, "/api/usage/current", Access::kUser, false,
              "This period's usage and quotas of a subject", bind(Current)});
  router.Add({Method::kGet, "/api/quota/status", Access::kUser, false,
              "Quota status per meter (ok below 75 %, warning from 75 %, exceeded at 100 %)",
              bind(Status)});
  router.Add({Method::kGet, "/api/quota/history", Access::kUser, false,
              "Current windows, ledger entries and audited changes of a subject, newest first",
              bind(History)});
}

}  // namespace tally
