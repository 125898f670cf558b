#include "server/json_encode.h"

#include <charconv>
#include <string>

#include "absl/strings/str_cat.h"

#include "core/period.h"
#include "core/time.h"
#include "server/json_writer.h"

namespace tally {
namespace json = boost::json;

namespace {

json::value Limit(const std::optional<int64_t>& v) {
  if (!v) return nullptr;
  return *v;
}

json::object OverridesJson(const Overrides& overrides) {
  json::object o;
  for (const auto& [meter, limit] : overrides) o[meter] = Limit(limit);
  return o;
}

// Audit before/after are JSON text written by the engine; embed them as JSON.
json::value EmbeddedJson(const std::string& text) {
  if (text.empty()) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::string(text);
  if (v.is_object()) v.as_object().erase("hash");  // never show key hashes
  return v;
}

}  // namespace

json::value TimeJson(Micros t) {
  if (t == kBeginningOfTime || t == kEndOfTime) return nullptr;
  return json::string(FormatRfc3339(t));
}

void AppendQuotaJson(const QuotaView& q, std::string* out) {
  auto time = [out](Micros t) {
    if (t == kBeginningOfTime || t == kEndOfTime) {
      out->append("null");
    } else {
      out->push_back('"');
      out->append(FormatRfc3339(t));
      out->push_back('"');
    }
  };
  auto limit = [out](const std::optional<int64_t>& v) {
    if (v) {
      absl::StrAppend(out, *v);
    } else {
      out->append("null");
    }
  };
  out->append("{\"meter\":");
  AppendJsonString(q.meter, out);
  absl::StrAppend(out, ",\"scope\":\"", std::string(ScopeName(q.scope)), "\",\"account\":");
  AppendJsonString(q.account, out);
  out->append(",\"limit\":");
  limit(q.limit);
  absl::StrAppend(out, ",\"used\":", q.used, ",\"reserved\":", q.reserved, ",\"remaining\":");
  limit(q.remaining);
  // Percent to two decimals, shortest form ("5", "12.5", "33.33").
  char buf[32];
  const double percent = static_cast<double>(static_cast<int64_t>(q.percent * 100 + 0.5)) / 100;
  auto r = std::to_chars(buf, buf + sizeof buf, percent);
  out->append(",\"percent\":");
  out->append(buf, r.ptr);
  absl::StrAppend(out, ",\"status\":\"", std::string(QuotaStatusName(q.status)), "\",\"period\":{\"start\":");
  time(q.period.start);
  out->append(",\"end\":");
  time(q.period.end);
  out->append("},\"reset_at\":");
  time(q.period.end);
  out->push_back('}');
}

json::object QuotaJson(const QuotaView& q) {
  // One writer for both forms, so they cannot drift apart.
  std::string text;
  AppendQuotaJson(q, &text);
  return json::parse(text).as_object();
}

json::array QuotasJson(const std::vector<QuotaView>& quotas) {
  json::array a;
  a.reserve(quotas.size());
  for (const QuotaView& q : quotas) a.push_back(QuotaJson(q));
  return a;
}

std::string_view WorstStatus(const std::vector<QuotaView>& quotas) {
  QuotaStatus worst = QuotaStatus::kOk;
  for (const QuotaView& q : quotas) worst = std::max(worst, q.status);
  return QuotaStatusName(worst);
}

void AppendDecisionFields(const Decision& d, std::string* out) {
  absl::StrAppend(out, "{\"allowed\":", d.allowed ? "true" : "false", ",\"replayed\":",
                  d.replayed ? "true" : "false", ",\"over_limit\":", d.over_limit ? "true" : "false");
  if (!d.reservation_id.empty()) {
    out->append(",\"reservation_id\":");
    AppendJsonString(d.reservation_id, out);
    absl::StrAppend(out, ",\"expires_at\":\"", FormatRfc3339(d.expires_at), "\"");
  }
  out->append(",\"quotas\":[");
  for (size_t i = 0; i < d.quotas.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendQuotaJson(d.quotas[i], out);
  }
  out->append("],\"thresholds\":[");
  for (size_t i = 0; i < d.crossings.size(); ++i) {
    const ThresholdCrossing& t = d.crossings[i];
    if (i > 0) out->push_back(',');
    out->append("{\"meter\":");
    AppendJsonString(t.meter, out);
    absl::StrAppend(out, ",\"scope\":\"", std::string(ScopeName(t.scope)), "\",\"account\":");
    AppendJsonString(t.account, out);
    absl::StrAppend(out, ",\"percent\":", t.percent, "}");
  }
  out->push_back(']');
}

json::object DecisionJson(const Decision& d) {
  std::string text;
  AppendDecisionFields(d, &text);
  text.push_back('}');
  return json::parse(text).as_object();
}

json::object SubjectJson(const Subject& s) {
  json::object o;
  o["id"] = s.id;
  o["tier"] = s.tier;
  o["org"] = s.org.empty() ? json::value(nullptr) : json::value(s.org);
  o["email"] = s.email;
  o["timezone"] = s.timezone;
  o["anchor_day"] = s.anchor_day;
  o["overrides"] = OverridesJson(s.overrides);
  o["stripe_customer_id"] = s.stripe_customer_id;
  o["notify"] = {{"email", s.notify.email}, {"webhook", s.notify.webhook}, {"in_app", s.notify.in_app}};
  o["created"] = TimeJson(s.created);
  return o;
}

json::object OrgJson(const Org& org) {
  json::object o;
  o["id"] = org.id;
  o["tier"] = org.tier;
  o["timezone"] = org.timezone;
  o["anchor_day"] = org.anchor_day;
  o["overrides"] = OverridesJson(org.overrides);
  return o;
}

json::object TierJson(const Tier& t) {
  json::object o;
  o["name"] = t.name;
  if (!t.inherits.empty()) o["inherits"] = t.inherits;
  json::object quotas;
  for (const Quota& q : t.quotas) {
    json::object qo;
    qo["limit"] = q.limit ? json::value(*q.limit) : json::value("unlimited");
    qo["period"] = PeriodUnitName(q.period);
    qo["overage"] = OverageName(q.overage);
    if (q.overage == Overage::kAllowUpTo) qo["allow_up_to"] = q.allow_up_to;
    qo["rollover_cap"] = q.rollover_cap;
    json::array warn;
    for (int w : q.warn_at) warn.push_back(w);
    qo["warn_at"] = std::move(warn);
    quotas[q.meter] = std::move(qo);
  }
  o["quotas"] = std::move(quotas);
  json::array rates;
  for (const RateLimit& r : t.rate_limits) {
    rates.push_back({{"meter", r.meter},
                     {"rate", r.rate},
                     {"per_ms", r.per / kMicrosPerMilli},
                     {"burst", r.burst == 0 ? r.rate : r.burst}});
  }
  o["rate_limits"] = std::move(rates);
  json::object overage;
  for (const auto& [meter, price] : t.pricing.overage) {
    overage[meter] = {{"cents", price.cents}, {"per", price.per}};
  }
  o["pricing"] = {{"base_cents", t.pricing.base_cents},
                  {"currency", t.pricing.currency},
                  {"overage", std::move(overage)}};
  return o;
}

json::object ApiKeyJson(const ApiKey& k) {
  json::object o;
  o["id"] = k.id;
  o["name"] = k.name;
  o["role"] = RoleName(k.role);
  o["prefix"] = k.prefix;
  o["created"] = TimeJson(k.created);
  o["revoked"] = k.revoked == 0 ? json::value(nullptr) : TimeJson(k.revoked);
  o["write_rate_per_s"] = k.write_rate_per_s;
  return o;
}

json::object LedgerJson(const LedgerEntry& e) {
  const LedgerRecord& r = e.record;
  json::object o;
  o["seq"] = e.seq;
  o["kind"] = LedgerKindName(r.kind);
  o["time"] = TimeJson(r.time);
  if (!r.reservation_id.empty()) o["reservation_id"] = r.reservation_id;
  if (!r.actor.empty()) o["actor"] = r.actor;
  if (!r.reason.empty()) o["reason"] = r.reason;
  json::array effects;
  for (const Effect& f : r.effects) {
    effects.push_back({{"meter", f.meter},
                       {"scope", ScopeName(f.scope)},
                       {"amount", f.amount},
                       {"window", {{"start", TimeJson(f.window_start)}, {"end", TimeJson(f.window_end)}}}});
  }
  o["effects"] = std::move(effects);
  return o;
}

json::object AuditJson(const AuditEntry& e) {
  const AuditRecord& r = e.record;
  json::object o;
  o["seq"] = e.seq;
  o["time"] = TimeJson(r.time);
  o["actor"] = r.actor;
  o["address"] = r.address;
  o["action"] = r.action;
  o["target"] = r.target;
  o["before"] = EmbeddedJson(r.before);
  o["after"] = EmbeddedJson(r.after);
  o["reason"] = r.reason;
  return o;
}

}  // namespace tally
