// Operators' views of usage: the whole system (totals, rates, errors,
// latency percentiles, peak hours), every subject (paged, sorted, filtered)
// and analytics across tiers (limits hit, upgrade candidates, revenue),
// endpoints, error codes, capacity and anomalies.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "analytics/buckets.h"
#include "analytics/stats.h"
#include "server/handlers/common.h"
#include "server/handlers/usage_params.h"
#include "server/json_encode.h"

namespace tally {
namespace json = boost::json;

namespace {

constexpr Micros kDay = kMicrosPerDay;

json::object LatencyJson(const LatencySketch& s) {
  if (s.empty()) return json::object{{"count", 0}};
  return json::object{{"count", static_cast<int64_t>(s.count())},
                      {"p50", s.Quantile(0.5)},
                      {"p95", s.Quantile(0.95)},
                      {"p99", s.Quantile(0.99)},
                      {"max", s.max()}};
}

double Rate(int64_t errors, int64_t events) {
  return events == 0 ? 0.0 : static_cast<double>(errors) / static_cast<double>(events);
}

json::array AlertsJson(const std::vector<AlertEntry>& alerts) {
  json::array out;
  for (const AlertEntry& e : alerts) {
    out.push_back(json::object{{"subject", e.record.subject},
                               {"kind", e.record.kind},
                               {"meter", e.record.meter},
                               {"hour", TimeJson(e.record.hour)},
                               {"raised_at", TimeJson(e.record.time)},
                               {"detail", AlertDetailJson(e.record.detail)}});
  }
  return out;
}

// GET /api/admin/usage/system
HandlerResult SystemUsage(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"from", "to", "tz"}); !s.ok()) return ErrorResult(s);
  if (ctx.rollups == nullptr) return ErrorResult(RollupsUnavailable());
  const Rollups& rollups = *ctx.rollups;
  const Micros now = ctx.clock->Now();
  absl::StatusOr<TimeRange> range = RangeParam(request, now, kDay);
  if (!range.ok()) return ErrorResult(range.status());
  absl::StatusOr<Zone> zone = ZoneParam(request, "UTC");
  if (!zone.ok()) return ErrorResult(zone.status());
  const std::vector<int> all = AllMeters(rollups);

  const Micros from = FloorHour(range->from);
  const Micros to = CeilHour(range->to);
  const Granularity g = to - from <= 7 * kDay ? Granularity::kHour : Granularity::kDay;
  absl::StatusOr<std::vector<Micros>> boundaries = BucketBoundaries(g, zone->tz, from, to);
  if (!boundaries.ok()) return ErrorResult(InvalidRequest("from", std::string(boundaries.status().message())));
  const std::vector<Bucket> series = rollups.SystemSeries(*boundaries);
  const std::array<Micros, 2> whole = {from, to};
  const Usage total = rollups.SystemSeries(whole).front().usage;

  // Hourly events: the peak hour and the busiest hours of the day.
  std::vector<Micros> hours;
  for (Micros t = from; t <= to; t += kMicrosPerHour) hours.push_back(t);
  const std::vector<Bucket> hourly = rollups.SystemSeries(hours);
  const Bucket* peak = nullptr;
  std::array<int64_t, 24> by_hour{};
  for (const Bucket& b : hourly) {
    if (peak == nullptr || b.usage.events > peak->usage.events) peak = &b;
    by_hour[absl::ToCivilHour(absl::FromUnixMicros(b.start), zone->tz).hour()] += b.usage.events;
  }
  std::vector<int> order(24);
  for (int h = 0; h < 24; ++h) order[h] = h;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return by_hour[a] > by_hour[b]; });
  json::array peak_hours;
  for (int i = 0; i < 5 && by_hour[order[i]] > 0; ++i) {
    peak_hours.push_back(json::object{{"hour", order[i]}, {"events", by_hour[order[i]]}});
  }

  LatencySketch latency;
  for (const EndpointUsage& e : rollups.Endpoints(from, to)) latency.Merge(e.latency);
  const std::vector<int64_t> active_per_hour = rollups.ActiveSubjectsPerHour(from, to);

  json::object series_json;
  json::array points;
  for (const Bucket& b : series) {
    json::object p = UsageJson(b.usage, all, rollups);
    p.emplace("start", TimeJson(b.start));
    points.push_back(std::move(p));
  }
  json::object body{
      {"from", TimeJson(from)},
      {"to", TimeJson(to)},
      {"timezone", zone->name},
      {"totals", UsageJson(total, all, rollups)},
      {"active_subjects", rollups.CountActiveSubjects(from, to)},
      {"peak_active_subjects_per_hour",
       active_per_hour.empty() ? 0 : *std::max_element(active_per_hour.begin(), active_per_hour.end())},
      {"events_per_second",
       json::object{{"now", rollups.EventsPerSecond(now)},
                    {"peak_hour_average", peak ? static_cast<double>(peak->usage.events) / 3600.0 : 0.0},
                    {"peak_hour", peak && peak->usage.events > 0 ? TimeJson(peak->start) : json::value(nullptr)}}},
      {"error_rate", Rate(total.errors, total.events)},
      {"processing_ms", LatencyJson(latency)},
      {"peak_hours", std::move(peak_hours)},
      {"series", json::object{{"granularity", GranularityName(g)}, {"buckets", std::move(points)}}}};
  return JsonResult(200, body);
}

// One subject's row of the users report.
struct UserRow {
  Subject subject;
  Usage usage;
  std::vector<QuotaView> quotas;  // filled when needed
  bool have_quotas = false;
  double MaxPercent() const {
    double p = 0;
    for (const QuotaView& q : quotas) p = std::max(p, q.percent);
    return p;
  }
  double Percent(const std::string& meter) const {
    for (const QuotaView& q : quotas) {
      if (q.meter == meter && q.scope == Scope::kSubject) return q.percent;
    }
    return 0;
  }
};

// GET /api/admin/usage/users
HandlerResult UsersUsage(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"from", "to", "tier", "prefix", "sort", "order", "limit", "offset"});
      !s.ok()) {
    return ErrorResult(s);
  }
  if (ctx.rollups == nullptr) return ErrorResult(RollupsUnavailable());
  const Rollups& rollups = *ctx.rollups;
  absl::StatusOr<TimeRange> range = RangeParam(request, ctx.clock->Now(), 30 * kDay);
  if (!range.ok()) return ErrorResult(range.status());
  absl::StatusOr<std::optional<int64_t>> limit = request.query.GetInt("limit", 1, 1000);
  if (!limit.ok()) return ErrorResult(limit.status());
  absl::StatusOr<std::optional<int64_t>> offset = request.query.GetInt("offset", 0, INT32_MAX);
  if (!offset.ok()) return ErrorResult(offset.status());
  const std::string tier(request.query.Get("tier").value_or(""));
  const std::string prefix(request.query.Get("prefix").value_or(""));
  const std::string sort(request.query.Get("sort").value_or("events"));
  const std::string order(request.query.Get("order").value_or(sort == "user_id" ? "asc" : "desc"));
  if (order != "asc" && order != "desc") return ErrorResult(InvalidRequest("order", "order: must be asc or desc"));
  if (!tier.empty()) {
    bool known = false;
    for (const Tier& t : ctx.engine->Tiers()) known |= t.name == tier;
    if (!known) return ErrorResult(InvalidRequest("tier", absl::StrCat("tier: \"", tier, "\" is not a tier")));
  }
  // sort: user_id, events, errors, a meter, percent (the highest of any
  // quota), or percent:<meter>.
  int sort_meter = -1;
  std::string percent_meter;
  const bool by_percent = sort == "percent" || sort.starts_with("percent:");
  if (by_percent && sort.size() > 8) percent_meter = sort.substr(8);
  if (!by_percent && sort != "user_id" && sort != "events" && sort != "errors") {
    sort_meter = rollups.MeterIndex(sort);
  }
  if ((sort_meter < 0 && !by_percent && sort != "user_id" && sort != "events" && sort != "errors") ||
      (!percent_meter.empty() && rollups.MeterIndex(percent_meter) < 0)) {
    return ErrorResult(InvalidRequest(
        "sort", "sort: must be user_id, events, errors, a meter name, percent or percent:<meter>"));
  }

  absl::flat_hash_map<std::string, Usage> totals;
  for (auto& [id, u] : rollups.SubjectTotals(range->from, range->to)) totals.emplace(id, std::move(u));
  std::vector<UserRow> rows;
  for (Subject& s : ctx.engine->ListSubjects(prefix, "", SIZE_MAX)) {
    if (!tier.empty() && s.tier != tier) continue;
    UserRow row;
    auto it = totals.find(s.id);
    row.usage = it != totals.end() ? it->second : Usage{0, 0, std::vector<int64_t>(rollups.meters().size(), 0)};
    row.subject = std::move(s);
    rows.push_back(std::move(row));
  }
  auto load_quotas = [&ctx](UserRow& row) {
    if (row.have_quotas) return;
    absl::StatusOr<std::vector<QuotaView>> q = ctx.engine->QuotaStatus(row.subject.id);
    if (q.ok()) row.quotas = *std::move(q);
    row.have_quotas = true;
  };
  if (by_percent) {
    for (UserRow& row : rows) load_quotas(row);
  }
  auto key = [&](const UserRow& r) -> double {
    if (sort == "events") return static_cast<double>(r.usage.events);
    if (sort == "errors") return static_cast<double>(r.usage.errors);
    if (by_percent) return percent_meter.empty() ? r.MaxPercent() : r.Percent(percent_meter);
    return static_cast<double>(r.usage.meters[sort_meter]);
  };
  const bool desc = order == "desc";
  std::stable_sort(rows.begin(), rows.end(), [&](const UserRow& a, const UserRow& b) {
    if (sort != "user_id") {
      const double ka = key(a), kb = key(b);
      if (ka != kb) return desc ? ka > kb : ka < kb;
    } else if (a.subject.id != b.subject.id) {
      return desc ? a.subject.id > b.subject.id : a.subject.id < b.subject.id;
    }
    return a.subject.id < b.subject.id;
  });

  const std::vector<int> all = AllMeters(rollups);
  const size_t first = std::min(rows.size(), static_cast<size_t>(offset->value_or(0)));
  const size_t last = std::min(rows.size(), first + static_cast<size_t>(limit->value_or(50)));
  json::array users;
  for (size_t i = first; i < last; ++i) {
    UserRow& row = rows[i];
    load_quotas(row);
    json::object u = UsageJson(row.usage, all, rollups);
    u.emplace("user_id", row.subject.id);
    u.emplace("tier", row.subject.tier);
    u.emplace("org", row.subject.org.empty() ? json::value(nullptr) : json::value(row.subject.org));
    json::array quotas;
    for (const QuotaView& q : row.quotas) {
      quotas.push_back(json::object{{"meter", q.meter},
                                    {"scope", ScopeName(q.scope)},
                                    {"used", q.used},
                                    {"limit", q.limit ? json::value(*q.limit) : json::value(nullptr)},
                                    {"percent", q.percent},
                                    {"status", QuotaStatusName(q.status)}});
    }
    u.emplace("quotas", std::move(quotas));
    u.emplace("max_percent", row.MaxPercent());
    users.push_back(std::move(u));
  }
  json::object body{{"from", TimeJson(range->from)}, {"to", TimeJson(range->to)},
                    {"total", static_cast<int64_t>(rows.size())},
                    {"offset", static_cast<int64_t>(first)}, {"limit", limit->value_or(50)},
                    {"sort", sort}, {"order", order}, {"users", std::move(users)},
                    {"next_offset", last < rows.size() ? json::value(static_cast<int64_t>(last)) : json::value(nullptr)}};
  return JsonResult(200, body);
}

// Overage charges of one subject's current windows under its tier's prices.
int64_t OverageCents(const Tier& tier, const std::vector<QuotaView>& quotas) {
  int64_t cents = 0;
  for (const QuotaView& q : quotas) {
    if (q.scope != Scope::kSubject || !q.limit || q.used <= *q.limit) continue;
    auto price = tier.pricing.overage.find(q.meter);
    if (price == tier.pricing.overage.end() || price->second.per <= 0) continue;
    const int64_t over = q.used - *q.limit;
    const int64_t units = over / price->second.per + (over % price->second.per != 0);
    cents += units * price->second.cents;
  }
  return cents;
}

json::object TiersJson(ServerContext& ctx, const absl::flat_hash_map<std::string, Usage>& totals,
                       const std::vector<int>& all) {
  const Rollups& rollups = *ctx.rollups;
  std::vector<Tier> tiers = ctx.engine->Tiers();
  std::sort(tiers.begin(), tiers.end(),
            [](const Tier& a, const Tier& b) { return a.pricing.base_cents < b.pricing.base_cents; });
  struct Acc {
    int64_t subjects = 0, active = 0, at_limit = 0, near_limit = 0;
    int64_t base_cents = 0, overage_cents = 0, uplift_cents = 0;
    Usage usage;
    std::vector<std::pair<double, std::string>> candidates;
  };
  std::map<std::string, Acc> acc;
  for (const Tier& t : tiers) acc[t.name].usage.meters.assign(rollups.meters().size(), 0);
  auto next_tier = [&tiers](const Tier& t) -> const Tier* {
    for (const Tier& other : tiers) {
      if (other.pricing.base_cents > t.pricing.base_cents) return &other;
    }
    return nullptr;
  };
  for (const Subject& s : ctx.engine->ListSubjects("", "", SIZE_MAX)) {
    auto tier_it = std::find_if(tiers.begin(), tiers.end(), [&](const Tier& t) { return t.name == s.tier; });
    if (tier_it == tiers.end()) continue;
    Acc& a = acc[s.tier];
    a.subjects++;
    a.base_cents += tier_it->pricing.base_cents;
    if (auto it = totals.find(s.id); it != totals.end()) {
      a.active++;
      a.usage.events += it->second.events;
      a.usage.errors += it->second.errors;
      for (size_t m = 0; m < a.usage.meters.size(); ++m) {
        if (rollups.meters()[m].aggregation != Aggregation::kUniqueCount) a.usage.meters[m] += it->second.meters[m];
      }
    }
    absl::StatusOr<std::vector<QuotaView>> quotas = ctx.engine->QuotaStatus(s.id);
    if (!quotas.ok()) continue;
    double max_percent = 0;
    bool at_limit = false;
    for (const QuotaView& q : *quotas) {
      if (q.scope != Scope::kSubject || !q.limit) continue;
      max_percent = std::max(max_percent, q.percent);
      at_limit |= q.status == QuotaStatus::kExceeded;
    }
    a.at_limit += at_limit;
    a.near_limit += max_percent >= 90;
    a.overage_cents += OverageCents(*tier_it, *quotas);
    if (max_percent >= 90) {
      a.candidates.emplace_back(max_percent, s.id);
      if (const Tier* up = next_tier(*tier_it)) a.uplift_cents += up->pricing.base_cents - tier_it->pricing.base_cents;
    }
  }
  json::array out;
  int64_t revenue = 0, uplift = 0;
  for (const Tier& t : tiers) {
    Acc& a = acc[t.name];
    std::sort(a.candidates.begin(), a.candidates.end(), std::greater<>());
    json::array candidates;
    for (size_t i = 0; i < a.candidates.size() && i < 20; ++i) {
      candidates.push_back(json::object{{"user_id", a.candidates[i].second}, {"max_percent", a.candidates[i].first}});
    }
    const Tier* up = next_tier(t);
    revenue += a.base_cents + a.overage_cents;
    uplift += a.uplift_cents;
    json::object o = UsageJson(a.usage, all, rollups);
    o.emplace("tier", t.name);
    o.emplace("subjects", a.subjects);
    o.emplace("active_subjects", a.active);
    o.emplace("at_limit", a.at_limit);
    o.emplace("share_at_limit", Rate(a.at_limit, a.subjects));
    o.emplace("near_limit", a.near_limit);
    o.emplace("upgrade_to", up ? json::value(up->name) : json::value(nullptr));
    o.emplace("upgrade_candidates", std::move(candidates));
    o.emplace("revenue", json::object{{"currency", t.pricing.currency},
                                      {"base_cents", a.base_cents},
                                      {"overage_cents", a.overage_cents},
                                      {"upgrade_uplift_cents", a.uplift_cents}});
    out.push_back(std::move(o));
  }
  return json::object{{"tiers", std::move(out)},
                      {"revenue_cents_this_period", revenue},
                      {"upgrade_uplift_cents", uplift}};
}

json::object CapacityJson(const Rollups& rollups, Micros from, Micros to) {
  std::vector<Micros> days;
  for (Micros t = FloorHour(from); t <= to; t += kDay) days.push_back(t);
  if (days.size() < 2) days.push_back(days.back() + kDay);
  const std::vector<Bucket> daily = rollups.SystemSeries(days);
  std::vector<double> xs, ys;
  for (size_t i = 0; i < daily.size(); ++i) {
    xs.push_back(static_cast<double>(i));
    ys.push_back(static_cast<double>(daily[i].usage.events));
  }
  const LinearFit fit = FitLine(xs, ys);
  double mean = 0;
  for (double y : ys) mean += y;
  mean /= static_cast<double>(ys.size());
  std::vector<Micros> hours;
  for (Micros t = FloorHour(from); t <= to; t += kMicrosPerHour) hours.push_back(t);
  int64_t peak_hour_events = 0;
  for (const Bucket& b : rollups.SystemSeries(hours)) peak_hour_events = std::max(peak_hour_events, b.usage.events);
  const double in_30_days = std::max(0.0, fit.intercept + fit.slope * (static_cast<double>(ys.size()) + 30));
  const double growth = mean > 0 ? 7 * fit.slope / mean * 100 : 0;
  return json::object{
      {"daily_events_mean", mean},
      {"growth_percent_per_week", growth},
      {"daily_events_in_30_days", in_30_days},
      {"peak_events_per_second_hour_average", static_cast<double>(peak_hour_events) / 3600.0},
      {"projected_peak_events_per_second_in_30_days",
       mean > 0 ? static_cast<double>(peak_hour_events) / 3600.0 * in_30_days / mean : 0.0}};
}

// GET /api/admin/analytics
HandlerResult AdminAnalytics(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"from", "to"}); !s.ok()) return ErrorResult(s);
  if (ctx.rollups == nullptr) return ErrorResult(RollupsUnavailable());
  const Rollups& rollups = *ctx.rollups;
  absl::StatusOr<TimeRange> range = RangeParam(request, ctx.clock->Now(), 30 * kDay);
  if (!range.ok()) return ErrorResult(range.status());
  const std::vector<int> all = AllMeters(rollups);
  absl::flat_hash_map<std::string, Usage> totals;
  for (auto& [id, u] : rollups.SubjectTotals(range->from, range->to)) totals.emplace(id, std::move(u));

  json::array endpoints;
  for (const EndpointUsage& e : rollups.Endpoints(range->from, range->to)) {
    endpoints.push_back(json::object{{"type", e.type},
                                     {"endpoint", e.endpoint},
                                     {"events", e.events},
                                     {"errors", e.errors},
                                     {"error_rate", Rate(e.errors, e.events)},
                                     {"processing_ms", LatencyJson(e.latency)}});
  }
  json::array codes;
  for (const auto& [code, n] : rollups.ErrorCodes(range->from, range->to)) {
    if (codes.size() == 10) break;
    codes.push_back(json::object{{"code", code}, {"count", n}});
  }
  AlertQuery aq;
  aq.kind = "anomaly";
  aq.from = range->from;
  aq.to = range->to;
  aq.limit = 50;
  absl::StatusOr<std::vector<AlertEntry>> alerts = ctx.store->ReadAlerts(aq);
  if (!alerts.ok()) return ErrorResult(alerts.status());

  json::object body{{"from", TimeJson(range->from)},
                    {"to", TimeJson(range->to)},
                    {"tiers", TiersJson(ctx, totals, all)},
                    {"performance", json::object{{"endpoints", std::move(endpoints)}}},
                    {"errors", json::object{{"top_codes", std::move(codes)}}},
                    {"capacity", CapacityJson(rollups, range->from, range->to)},
                    {"anomalies", AlertsJson(*alerts)}};
  return JsonResult(200, body);
}

}  // namespace

void AddAdminUsageRoutes(Router& router, ServerContext& ctx) {
  auto bind = [&ctx](HandlerResult (*fn)(ServerContext&, HttpRequest&)) {
    return [&ctx, fn](HttpRequest& r) { return fn(ctx, r); };
  };
  router.Add({Method::kGet, "/api/admin/usage/system", Access::kAdmin, false,
              "System-wide totals, active subjects, event rates, error rate, processing_ms percentiles, peak hours",
              bind(SystemUsage)});
  router.Add({Method::kGet, "/api/admin/usage/users", Access::kAdmin, false,
              "Every subject's usage and percent of quota: paged (limit, offset), sorted, filtered by tier or prefix",
              bind(UsersUsage)});
  router.Add({Method::kGet, "/api/admin/analytics", Access::kAdmin, false,
              "Tier analysis and revenue, performance by endpoint, top error codes, capacity, anomalies",
              bind(AdminAnalytics)});
}

}  // namespace tally
