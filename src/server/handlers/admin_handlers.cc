// Administration: limits and resets, the subject registry, bulk updates,
// tiers, API keys and the audit trail. Every change is audited by the engine
// in the same transaction as the change (actor, address, before, after, reason).
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/auth/api_keys.h"
#include "server/event_json.h"
#include "server/handlers/admin_json.h"
#include "server/handlers/common.h"
#include "server/json_encode.h"

namespace tally {
namespace json = boost::json;

namespace {

constexpr size_t kMaxReason = 1024;
constexpr size_t kMaxBulk = 1000;

// The optional "reason" of an admin change.
absl::StatusOr<std::string> ReasonOf(const json::object& body) {
  absl::StatusOr<std::optional<std::string>> reason = OptionalString(body, "reason", "", kMaxReason);
  if (!reason.ok()) return reason.status();
  return reason->value_or("");
}

json::object SubjectWithQuotas(ServerContext& ctx, const Subject& s) {
  json::object o = SubjectJson(s);
  absl::StatusOr<std::vector<QuotaView>> quotas = ctx.engine->QuotaStatus(s.id);
  if (quotas.ok()) o["quotas"] = QuotasJson(*quotas);
  return o;
}

HandlerResult UpdateLimit(ServerContext& ctx, HttpRequest& request) {
  json::object body;
  HandlerResult error;
  if (!ReadObject(request, &body, &error)) return error;
  if (absl::Status s = RejectUnknownKeys(body, {"user_id", "quota_type", "limit", "reason"}, ""); !s.ok()) {
    return ErrorResult(s);
  }
  absl::StatusOr<std::string> user = RequiredString(body, "user_id", "", kMaxNameLength);
  if (!user.ok()) return ErrorResult(user.status());
  absl::StatusOr<std::string> meter = RequiredString(body, "quota_type", "", kMaxNameLength);
  if (!meter.ok()) return ErrorResult(meter.status());
  const json::value* limit_json = body.if_contains("limit");
  if (limit_json == nullptr) return ErrorResult(InvalidRequest("limit", "limit: is required (a number, or \"unlimited\")"));
  absl::StatusOr<std::optional<int64_t>> limit = DecodeLimit(*limit_json, "limit");
  if (!limit.ok()) return ErrorResult(limit.status());
  absl::StatusOr<std::string> reason = ReasonOf(body);
  if (!reason.ok()) return ErrorResult(reason.status());
  if (absl::Status s = ctx.engine->SetLimit(*user, *meter, *limit, ActorOf(request, *reason)); !s.ok()) {
    return ErrorResult(s);
  }
  LogChange(request, absl::StrCat("set the ", *meter, " limit of ", *user, " to ",
                                  limit->has_value() ? absl::StrCat(**limit) : "unlimited"), *reason);
  absl::StatusOr<Subject> subject = ctx.engine->GetSubject(*user);
  if (!subject.ok()) return ErrorResult(subject.status());
  return JsonResult(200, SubjectWithQuotas(ctx, *subject));
}

HandlerResult Reset(ServerContext& ctx, HttpRequest& request) {
  json::object body;
  HandlerResult error;
  if (!ReadObject(request, &body, &error)) return error;
  if (absl::Status s = RejectUnknownKeys(body, {"user_id", "quota_type", "reason"}, ""); !s.ok()) return ErrorResult(s);
  absl::StatusOr<std::string> user = RequiredString(body, "user_id", "", kMaxNameLength);
  if (!user.ok()) return ErrorResult(user.status());
  absl::StatusOr<std::optional<std::string>> meter = OptionalString(body, "quota_type", "", kMaxNameLength);
  if (!meter.ok()) return ErrorResult(meter.status());
  absl::StatusOr<std::string> reason = ReasonOf(body);
  if (!reason.ok()) return ErrorResult(reason.status());
  if (absl::Status s = ctx.engine->ResetWindow(*user, meter->value_or(""), ActorOf(request, *reason)); !s.ok()) {
    return ErrorResult(s);
  }
  LogChange(request, absl::StrCat("reset the ", meter->value_or("every"), " window of ", *user), *reason);
  absl::StatusOr<std::vector<QuotaView>> quotas = ctx.engine->QuotaStatus(*user);
  if (!quotas.ok()) return ErrorResult(quotas.status());
  return JsonResult(200, json::object{{"user_id", *user}, {"reset", true}, {"quotas", QuotasJson(*quotas)}});
}

HandlerResult ListUsers(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"prefix", "after", "limit"}); !s.ok()) return ErrorResult(s);
  absl::StatusOr<std::optional<int64_t>> limit = request.query.GetInt("limit", 1, 1000);
  if (!limit.ok()) return ErrorResult(limit.status());
  const size_t n = static_cast<size_t>(limit->value_or(100));
  std::vector<Subject> subjects = ctx.engine->ListSubjects(std::string(request.query.Get("prefix").value_or("")),
                                                           std::string(request.query.Get("after").value_or("")), n);
  json::array users;
  for (const Subject& s : subjects) users.push_back(SubjectJson(s));
  json::object body{{"users", std::move(users)}};
  if (subjects.size() == n) body["next_after"] = subjects.back().id;
  return JsonResult(200, body);
}

HandlerResult GetUser(ServerContext& ctx, HttpRequest& request) {
  absl::StatusOr<Subject> subject = ctx.engine->GetSubject(request.path_params[0]);
  if (!subject.ok()) return ErrorResult(subject.status());
  return JsonResult(200, SubjectWithQuotas(ctx, *subject));
}

// PUT /api/admin/users/{id} and PUT /api/admin/quota/user/{id}: a patch.
HandlerResult PatchUser(ServerContext& ctx, HttpRequest& request, const std::string& action,
                        std::initializer_list<std::string_view> only) {
  json::object body;
  HandlerResult error;
  if (!ReadObject(request, &body, &error)) return error;
  if (only.size() > 0) {
    if (absl::Status s = RejectUnknownKeys(body, only, ""); !s.ok()) return ErrorResult(s);
  }
  absl::StatusOr<SubjectPatch> patch = DecodeSubjectPatch(body, request.path_params[0], "", {"reason"});
  if (!patch.ok()) return ErrorResult(patch.status());
  if (patch->id.size() > kMaxNameLength) return ErrorResult(InvalidRequest("id", "id: must be 1 to 128 characters"));
  absl::StatusOr<std::string> reason = ReasonOf(body);
  if (!reason.ok()) return ErrorResult(reason.status());
  absl::StatusOr<std::vector<Subject>> after =
      ctx.engine->UpdateSubjects({*std::move(patch)}, ActorOf(request, *reason), action);
  if (!after.ok()) return ErrorResult(after.status());
  LogChange(request, absl::StrCat(action, " ", after->front().id), *reason);
  return JsonResult(200, SubjectWithQuotas(ctx, after->front()));
}

HandlerResult PutUser(ServerContext& ctx, HttpRequest& request) {
  return PatchUser(ctx, request, "subject.put", {});
}

HandlerResult PutUserQuota(ServerContext& ctx, HttpRequest& request) {
  return PatchUser(ctx, request, "subject.quota", {"tier", "overrides", "reason"});
}

// {"updates":[{"user_id", "tier"?, "overrides"?, "quota_type"?, "limit"?, ...}], "reason"}
HandlerResult Bulk(ServerContext& ctx, HttpRequest& request) {
  json::object body;
  HandlerResult error;
  if (!ReadObject(request, &body, &error)) return error;
  if (absl::Status s = RejectUnknownKeys(body, {"updates", "reason"}, ""); !s.ok()) return ErrorResult(s);
  const json::value* updates = body.if_contains("updates");
  if (updates == nullptr || !updates->is_array() || updates->as_array().empty() ||
      updates->as_array().size() > kMaxBulk) {
    return ErrorResult(InvalidRequest("updates", absl::StrCat("updates: must be a list of 1 to ", kMaxBulk,
                                                              " updates such as {\"user_id\":\"alice\",\"tier\":\"premium\"}")));
  }
  std::vector<SubjectPatch> patches;
  const json::array& list = updates->as_array();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string prefix = absl::StrCat("updates[", i, "].");
    if (!list[i].is_object()) {
      const std::string field = absl::StrCat("updates[", i, "]");
      return ErrorResult(InvalidRequest(field, field + ": must be an object such as {\"user_id\":\"alice\"}"));
    }
    const json::object& u = list[i].as_object();
    absl::StatusOr<std::string> user = RequiredString(u, "user_id", prefix, kMaxNameLength);
    if (!user.ok()) return ErrorResult(user.status());
    absl::StatusOr<SubjectPatch> patch = DecodeSubjectPatch(u, *user, prefix, {"user_id", "quota_type", "limit"});
    if (!patch.ok()) return ErrorResult(patch.status());
    absl::StatusOr<std::optional<std::string>> meter = OptionalString(u, "quota_type", prefix, kMaxNameLength);
    if (!meter.ok()) return ErrorResult(meter.status());
    if (*meter) {
      const json::value* limit_json = u.if_contains("limit");
      if (limit_json == nullptr) {
        return ErrorResult(InvalidRequest(prefix + "limit", prefix + "limit: is required with quota_type"));
      }
      absl::StatusOr<std::optional<int64_t>> limit = DecodeLimit(*limit_json, prefix + "limit");
      if (!limit.ok()) return ErrorResult(limit.status());
      patch->set_overrides[**meter] = *limit;
    }
    patch->create = false;
    patches.push_back(*std::move(patch));
  }
  absl::StatusOr<std::string> reason = ReasonOf(body);
  if (!reason.ok()) return ErrorResult(reason.status());
  absl::StatusOr<std::vector<Subject>> after =
      ctx.engine->UpdateSubjects(std::move(patches), ActorOf(request, *reason), "bulk");
  if (!after.ok()) return ErrorResult(after.status());
  LogChange(request, absl::StrCat("bulk update of ", after->size(), " subjects"), *reason);
  json::array users;
  for (const Subject& s : *after) users.push_back(SubjectJson(s));
  return JsonResult(200, json::object{{"updated", static_cast<int64_t>(after->size())}, {"users", std::move(users)}});
}

HandlerResult ListTiers(ServerContext& ctx, HttpRequest&) {
  json::array tiers;
  for (const Tier& t : ctx.engine->Tiers()) tiers.push_back(TierJson(t));
  return JsonResult(200, json::object{{"tiers", std::move(tiers)}});
}

HandlerResult GetTier(ServerContext& ctx, HttpRequest& request) {
  for (const Tier& t : ctx.engine->Tiers()) {
    if (t.name == request.path_params[0]) return JsonResult(200, TierJson(t));
  }
  return ErrorResult(NotFound(absl::StrCat("tier \"", request.path_params[0], "\" is not defined")));
}

HandlerResult PutTier(ServerContext& ctx, HttpRequest& request) {
  json::object body;
  HandlerResult error;
  if (!ReadObject(request, &body, &error)) return error;
  absl::StatusOr<std::string> reason = ReasonOf(body);
  if (!reason.ok()) return ErrorResult(reason.status());
  body.erase("reason");
  absl::StatusOr<Tier> tier = DecodeTier(body, request.path_params[0]);
  if (!tier.ok()) return ErrorResult(tier.status());
  if (absl::Status s = ctx.engine->PutTier(*tier, ActorOf(request, *reason)); !s.ok()) return ErrorResult(s);
  LogChange(request, absl::StrCat("put tier ", tier->name), *reason);
  return GetTier(ctx, request);
}

HandlerResult Audit(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"target", "actor", "from", "to", "limit", "before"}); !s.ok()) {
    return ErrorResult(s);
  }
  AuditQuery q;
  q.target = std::string(request.query.Get("target").value_or(""));
  q.actor = std::string(request.query.Get("actor").value_or(""));
  absl::StatusOr<std::optional<Micros>> from = request.query.GetTime("from");
  if (!from.ok()) return ErrorResult(from.status());
  absl::StatusOr<std::optional<Micros>> to = request.query.GetTime("to");
  if (!to.ok()) return ErrorResult(to.status());
  absl::StatusOr<std::optional<int64_t>> limit = request.query.GetInt("limit", 1, 1000);
  if (!limit.ok()) return ErrorResult(limit.status());
  absl::StatusOr<std::optional<int64_t>> before = request.query.GetInt("before", 1, INT64_MAX);
  if (!before.ok()) return ErrorResult(before.status());
  q.from = from->value_or(kBeginningOfTime);
  q.to = to->value_or(kEndOfTime);
  q.limit = static_cast<int>(limit->value_or(100));
  q.before_seq = static_cast<uint64_t>(before->value_or(0));
  absl::StatusOr<std::vector<AuditEntry>> entries = ctx.store->ReadAudit(q);
  if (!entries.ok()) return ErrorResult(entries.status());
  json::array out;
  for (const AuditEntry& e : *entries) out.push_back(AuditJson(e));
  json::object body{{"entries", std::move(out)}};
  if (static_cast<int>(entries->size()) == q.limit) body["next_before"] = entries->back().seq;
  return JsonResult(200, body);
}

HandlerResult CreateKey(ServerContext& ctx, HttpRequest& request) {
  json::object body;
  HandlerResult error;
  if (!ReadObject(request, &body, &error)) return error;
  if (absl::Status s = RejectUnknownKeys(body, {"role", "name", "write_rate_per_s", "reason"}, ""); !s.ok()) {
    return ErrorResult(s);
  }
  absl::StatusOr<std::string> role_name = RequiredString(body, "role", "", 16);
  if (!role_name.ok()) return ErrorResult(role_name.status());
  std::optional<Role> role = ParseRole(*role_name);
  if (!role || *role == Role::kUser) {
    return ErrorResult(InvalidRequest("role", "role: must be \"admin\" or \"service\" (users sign in with JWTs)"));
  }
  absl::StatusOr<std::optional<std::string>> name = OptionalString(body, "name", "", 128);
  if (!name.ok()) return ErrorResult(name.status());
  absl::StatusOr<std::optional<int64_t>> rate = OptionalInt(body, "write_rate_per_s", "", 0, 1'000'000'000);
  if (!rate.ok()) return ErrorResult(rate.status());
  absl::StatusOr<std::string> reason = ReasonOf(body);
  if (!reason.ok()) return ErrorResult(reason.status());
  NewKey key = GenerateApiKey(*role, name->value_or(""), ctx.clock->Now());
  key.key.write_rate_per_s = rate->value_or(0);
  if (absl::Status s = ctx.engine->PutApiKey(key.key, ActorOf(request, *reason), "key.create"); !s.ok()) {
    return ErrorResult(s);
  }
  ctx.keys->Put(key.key);
  LogChange(request, absl::StrCat("created ", std::string(RoleName(key.key.role)), " key ", key.key.id), *reason);
  json::object out = ApiKeyJson(key.key);
  out["key"] = key.secret;
  out["note"] = "the key is shown only now; tally keeps only its hash";
  return JsonResult(201, out);
}

HandlerResult ListKeys(ServerContext& ctx, HttpRequest&) {
  json::array keys;
  for (const ApiKey& k : ctx.keys->List()) keys.push_back(ApiKeyJson(k));
  return JsonResult(200, json::object{{"keys", std::move(keys)}});
}

HandlerResult RevokeKey(ServerContext& ctx, HttpRequest& request) {
  std::lock_guard<std::mutex> lock(ctx.key_changes_mu);
  std::optional<ApiKey> key = ctx.keys->Get(request.path_params[0]);
  if (!key) return ErrorResult(NotFound(absl::StrCat("API key \"", request.path_params[0], "\" is unknown")));
  if (key->revoked != 0) return JsonResult(200, ApiKeyJson(*key));
  if (key->role == Role::kAdmin && ctx.keys->CountActive(Role::kAdmin) <= 1) {
    return ErrorResult(FromStatus(absl::FailedPreconditionError(
        "this is the last active admin key; create another admin key before revoking it")));
  }
  key->revoked = ctx.clock->Now();
  if (absl::Status s = ctx.engine->PutApiKey(*key, ActorOf(request, ""), "key.revoke"); !s.ok()) {
    return ErrorResult(s);
  }
  ctx.keys->Put(*key);
  LogChange(request, absl::StrCat("revoked key ", key->id), "");
  return JsonResult(200, ApiKeyJson(*key));
}

}  // namespace

void AddAdminRoutes(Router& router, ServerContext& ctx) {
  auto bind = [&ctx](HandlerResult (*fn)(ServerContext&, HttpRequest&)) {
    return [&ctx, fn](HttpRequest& r) { return fn(ctx, r); };
  };
  router.Add({Method::kPut, "/api/quota/update", Access::kAdmin, true,
              "Set a subject's limit for one meter (audited, with reason)", bind(UpdateLimit)});
  router.Add({Method::kPost, "/api/quota/reset", Access::kAdmin, true,
              "Reset a subject's current window through a ledger entry (audited)", bind(Reset)});
  router.Add({Method::kGet, "/api/admin/users", Access::kAdmin, false,
              "Subjects in id order: ?prefix=, ?after=, ?limit=", bind(ListUsers)});
  router.Add({Method::kGet, "/api/admin/users/{id}", Access::kAdmin, false, "One subject and its quotas",
              bind(GetUser)});
  router.Add({Method::kPut, "/api/admin/users/{id}", Access::kAdmin, true,
              "Create or change a subject: any subset of its fields (audited)", bind(PutUser)});
  router.Add({Method::kPut, "/api/admin/quota/user/{id}", Access::kAdmin, true,
              "Set a subject's tier and overrides (audited)", bind(PutUserQuota)});
  router.Add({Method::kPost, "/api/admin/quota/bulk", Access::kAdmin, true,
              "Many subject updates in one transaction: all or nothing (audited)", bind(Bulk)});
  router.Add({Method::kGet, "/api/admin/tiers", Access::kAdmin, false, "Every tier, resolved", bind(ListTiers)});
  router.Add({Method::kGet, "/api/admin/tiers/{name}", Access::kAdmin, false, "One tier, resolved", bind(GetTier)});
  router.Add({Method::kPut, "/api/admin/tiers/{name}", Access::kAdmin, true,
              "Create or replace a tier definition (audited)", bind(PutTier)});
  router.Add({Method::kGet, "/api/admin/audit", Access::kAdmin, false,
              "Who changed what, when, from where, why, before and after; newest first", bind(Audit)});
  router.Add({Method::kPost, "/api/admin/keys", Access::kAdmin, true,
              "Create an API key (admin or service); the key is shown once", bind(CreateKey)});
  router.Add({Method::kGet, "/api/admin/keys", Access::kAdmin, false, "API keys (never their secrets)",
              bind(ListKeys)});
  router.Add({Method::kDelete, "/api/admin/keys/{id}", Access::kAdmin, true, "Revoke an API key (audited)",
              bind(RevokeKey)});
}

}  // namespace tally
