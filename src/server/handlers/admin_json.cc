#include "server/handlers/admin_json.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/config.h"
#include "core/event.h"
#include "core/period.h"
#include "server/event_json.h"

namespace tally {
namespace json = boost::json;

namespace {

absl::Status Bad(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", std::string(problem)));
}

#define TALLY_ASSIGN_OR_RETURN(lhs, expr) \
  auto lhs##_or = (expr);                  \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

absl::StatusOr<Quota> DecodeQuota(const json::value& v, std::string meter, const std::string& field) {
  if (!v.is_object()) return Bad(field, "must be an object such as {\"limit\": 10000, \"period\": \"month\"}");
  const json::object& o = v.as_object();
  if (absl::Status s = RejectUnknownKeys(o, {"limit", "period", "overage", "allow_up_to", "rollover_cap", "warn_at"},
                                         field + ".");
      !s.ok()) {
    return s;
  }
  Quota q;
  q.meter = std::move(meter);
  if (const json::value* limit = o.if_contains("limit")) {
    TALLY_ASSIGN_OR_RETURN(l, DecodeLimit(*limit, field + ".limit"));
    q.limit = l;
  } else {
    return Bad(field + ".limit", "is required (a number, or \"unlimited\")");
  }
  TALLY_ASSIGN_OR_RETURN(period, OptionalString(o, "period", field + ".", 16));
  if (period) {
    std::optional<PeriodUnit> p = ParsePeriodUnit(*period);
    if (!p) return Bad(field + ".period", "must be day, week, month, year or never");
    q.period = *p;
  }
  TALLY_ASSIGN_OR_RETURN(overage, OptionalString(o, "overage", field + ".", 16));
  if (overage) {
    std::optional<Overage> ov = ParseOverage(*overage);
    if (!ov) return Bad(field + ".overage", "must be block, allow or allow_up_to");
    q.overage = *ov;
  }
  TALLY_ASSIGN_OR_RETURN(up_to, OptionalInt(o, "allow_up_to", field + ".", 0, INT64_MAX));
  if (up_to) q.allow_up_to = *up_to;
  TALLY_ASSIGN_OR_RETURN(cap, OptionalInt(o, "rollover_cap", field + ".", 0, INT64_MAX));
  if (cap) q.rollover_cap = *cap;
  if (const json::value* warn = o.if_contains("warn_at")) {
    if (!warn->is_array()) return Bad(field + ".warn_at", "must be a list of percentages such as [50, 75, 90, 100]");
    q.warn_at.clear();
    int last = 0;
    for (const json::value& w : warn->as_array()) {
      if (!w.is_int64() || w.as_int64() < 1 || w.as_int64() > 1000 || w.as_int64() <= last) {
        return Bad(field + ".warn_at", "must be ascending whole percentages from 1 to 1000");
      }
      last = static_cast<int>(w.as_int64());
      q.warn_at.push_back(last);
    }
  }
  return q;
}

absl::StatusOr<RateLimit> DecodeRateLimit(const json::value& v, const std::string& field) {
  if (!v.is_object()) return Bad(field, "must be an object such as {\"meter\":\"requests\",\"rate\":10,\"per\":\"1s\"}");
  const json::object& o = v.as_object();
  if (absl::Status s = RejectUnknownKeys(o, {"meter", "rate", "per", "burst"}, field + "."); !s.ok()) return s;
  RateLimit r;
  TALLY_ASSIGN_OR_RETURN(meter, RequiredString(o, "meter", field + ".", kMaxNameLength));
  r.meter = meter;
  TALLY_ASSIGN_OR_RETURN(rate, OptionalInt(o, "rate", field + ".", 1, INT64_MAX / 2));
  if (!rate) return Bad(field + ".rate", "is required");
  r.rate = *rate;
  TALLY_ASSIGN_OR_RETURN(per, OptionalString(o, "per", field + ".", 16));
  if (per) {
    std::optional<Micros> d = ParseDuration(*per);
    if (!d || *d <= 0) return Bad(field + ".per", "must be a duration such as \"1s\", \"250ms\", \"1m\"");
    r.per = *d;
  }
  TALLY_ASSIGN_OR_RETURN(burst, OptionalInt(o, "burst", field + ".", 0, INT64_MAX / 2));
  if (burst) r.burst = *burst;
  return r;
}

}  // namespace

absl::StatusOr<std::optional<int64_t>> DecodeLimit(const json::value& v, std::string_view field) {
  if (v.is_null()) return std::optional<int64_t>();
  if (v.is_string() && v.as_string() == "unlimited") return std::optional<int64_t>();
  if (v.is_int64() && v.as_int64() >= 0) return std::optional<int64_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return std::optional<int64_t>(static_cast<int64_t>(v.as_uint64()));
  }
  return Bad(field, "must be a non-negative integer or \"unlimited\"");
}

absl::StatusOr<Overrides> DecodeOverrides(const json::value& v, std::string_view field) {
  if (!v.is_object()) return Bad(field, "must be an object of meter: limit");
  Overrides out;
  for (const auto& [meter, limit] : v.as_object()) {
    const std::string f = absl::StrCat(std::string(field), ".", std::string(meter));
    if (meter.empty() || meter.size() > kMaxNameLength) return Bad(field, "meter names must be 1 to 128 characters");
    TALLY_ASSIGN_OR_RETURN(l, DecodeLimit(limit, f));
    out[std::string(meter)] = l;
  }
  return out;
}

absl::StatusOr<SubjectPatch> DecodeSubjectPatch(const json::object& body, std::string id,
                                                std::string_view prefix,
                                                std::initializer_list<std::string_view> allowed) {
  std::vector<std::string_view> keys = {"tier", "org", "email", "timezone", "anchor_day",
                                        "overrides", "stripe_customer_id", "notify"};
  for (const auto& [key, unused] : body) {
    const std::string_view k = key;
    if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
    if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
    std::string expected;
    for (std::string_view e : keys) absl::StrAppend(&expected, expected.empty() ? "" : ", ", std::string(e));
    for (std::string_view e : allowed) absl::StrAppend(&expected, ", ", std::string(e));
    return Bad(absl::StrCat(std::string(prefix), std::string(k)), absl::StrCat("unknown field; expected one of ", expected));
  }
  const std::string p(prefix);
  SubjectPatch patch;
  patch.id = std::move(id);
  TALLY_ASSIGN_OR_RETURN(tier, OptionalString(body, "tier", p, kMaxNameLength));
  patch.tier = tier;
  if (const json::value* org = body.if_contains("org"); org != nullptr && org->is_null()) {
    patch.org = "";
  } else {
    TALLY_ASSIGN_OR_RETURN(o, OptionalString(body, "org", p, kMaxNameLength));
    patch.org = o;
  }
  TALLY_ASSIGN_OR_RETURN(email, OptionalString(body, "email", p, 320));
  patch.email = email;
  TALLY_ASSIGN_OR_RETURN(tz, OptionalString(body, "timezone", p, 64));
  patch.timezone = tz;
  TALLY_ASSIGN_OR_RETURN(anchor, OptionalInt(body, "anchor_day", p, 1, 31));
  if (anchor) patch.anchor_day = static_cast<int>(*anchor);
  if (const json::value* o = body.if_contains("overrides")) {
    TALLY_ASSIGN_OR_RETURN(ov, DecodeOverrides(*o, p + "overrides"));
    patch.overrides = std::move(ov);
  }
  TALLY_ASSIGN_OR_RETURN(stripe, OptionalString(body, "stripe_customer_id", p, 255));
  patch.stripe_customer_id = stripe;
  TALLY_ASSIGN_OR_RETURN(notify, OptionalObject(body, "notify", p));
  if (notify != nullptr) {
    if (absl::Status s = RejectUnknownKeys(*notify, {"email", "webhook", "in_app"}, p + "notify."); !s.ok()) return s;
    NotifyPrefs prefs;
    TALLY_ASSIGN_OR_RETURN(e, OptionalBool(*notify, "email", p + "notify."));
    TALLY_ASSIGN_OR_RETURN(w, OptionalBool(*notify, "webhook", p + "notify."));
    TALLY_ASSIGN_OR_RETURN(a, OptionalBool(*notify, "in_app", p + "notify."));
    prefs.email = e.value_or(true);
    prefs.webhook = w.value_or(true);
    prefs.in_app = a.value_or(true);
    patch.notify = prefs;
  }
  return patch;
}

absl::StatusOr<Tier> DecodeTier(const json::object& body, std::string name) {
  if (absl::Status s = RejectUnknownKeys(body, {"name", "inherits", "quotas", "rate_limits", "pricing"}, "");
      !s.ok()) {
    return s;
  }
  Tier t;
  t.name = std::move(name);
  TALLY_ASSIGN_OR_RETURN(given, OptionalString(body, "name", "", kMaxNameLength));
  if (given && *given != t.name) return Bad("name", "must match the tier named in the path (or be left out)");
  TALLY_ASSIGN_OR_RETURN(inherits, OptionalString(body, "inherits", "", kMaxNameLength));
  if (inherits) t.inherits = *inherits;
  TALLY_ASSIGN_OR_RETURN(quotas, OptionalObject(body, "quotas", ""));
  if (quotas != nullptr) {
    for (const auto& [meter, q] : *quotas) {
      TALLY_ASSIGN_OR_RETURN(quota, DecodeQuota(q, std::string(meter), absl::StrCat("quotas.", std::string(meter))));
      t.quotas.push_back(std::move(quota));
    }
  }
  if (const json::value* rates = body.if_contains("rate_limits")) {
    if (!rates->is_array()) return Bad("rate_limits", "must be a list");
    const json::array& a = rates->as_array();
    for (size_t i = 0; i < a.size(); ++i) {
      TALLY_ASSIGN_OR_RETURN(r, DecodeRateLimit(a[i], absl::StrCat("rate_limits[", i, "]")));
      t.rate_limits.push_back(std::move(r));
    }
  }
  TALLY_ASSIGN_OR_RETURN(pricing, OptionalObject(body, "pricing", ""));
  if (pricing != nullptr) {
    if (absl::Status s = RejectUnknownKeys(*pricing, {"base_cents", "currency", "overage"}, "pricing."); !s.ok()) {
      return s;
    }
    TALLY_ASSIGN_OR_RETURN(base, OptionalInt(*pricing, "base_cents", "pricing.", 0, INT64_MAX));
    if (base) t.pricing.base_cents = *base;
    TALLY_ASSIGN_OR_RETURN(currency, OptionalString(*pricing, "currency", "pricing.", 8));
    if (currency) t.pricing.currency = *currency;
    TALLY_ASSIGN_OR_RETURN(overage, OptionalObject(*pricing, "overage", "pricing."));
    if (overage != nullptr) {
      for (const auto& [meter, price] : *overage) {
        const std::string f = absl::StrCat("pricing.overage.", std::string(meter));
        if (!price.is_object()) return Bad(f, "must be {\"cents\": N, \"per\": M}");
        TALLY_ASSIGN_OR_RETURN(cents, OptionalInt(price.as_object(), "cents", f + ".", 0, INT64_MAX));
        TALLY_ASSIGN_OR_RETURN(per, OptionalInt(price.as_object(), "per", f + ".", 1, INT64_MAX));
        t.pricing.overage[std::string(meter)] = UnitPrice{cents.value_or(0), per.value_or(1)};
      }
    }
  }
  return t;
}

}  // namespace tally
