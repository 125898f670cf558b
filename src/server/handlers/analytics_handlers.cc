// A subject's usage over time: history (a series with every bucket, zeros
// included) and analytics (trend, peak hours, forecast per quota, standing in
// its tier, unusual hours). Both read the rollups, never the raw events.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "analytics/anomaly.h"
#include "analytics/buckets.h"
#include "analytics/stats.h"
#include "server/handlers/common.h"
#include "server/handlers/usage_params.h"
#include "server/json_encode.h"

namespace tally {
namespace json = boost::json;

namespace {

constexpr Micros kTierSpan = 30 * kMicrosPerDay;  // the span tier standings compare
constexpr Micros kPeakSpan = 28 * kMicrosPerDay;  // four of each weekday

json::array BucketsJson(const std::vector<Bucket>& series, const std::vector<int>& meters,
                        const Rollups& rollups) {
  json::array out;
  out.reserve(series.size());
  for (const Bucket& b : series) {
    json::object o = UsageJson(b.usage, meters, rollups);
    o.emplace("start", TimeJson(b.start));
    o.emplace("end", TimeJson(b.end));
    out.push_back(std::move(o));
  }
  return out;
}

json::array MeterNames(const std::vector<int>& meters, const Rollups& rollups) {
  json::array names;
  for (int m : meters) names.push_back(json::string(rollups.meters()[m].name));
  return names;
}

// GET /api/usage/history
HandlerResult UsageHistory(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"user_id", "from", "to", "granularity", "meter", "type", "tz"});
      !s.ok()) {
    return ErrorResult(s);
  }
  if (ctx.rollups == nullptr) return ErrorResult(RollupsUnavailable());
  const Rollups& rollups = *ctx.rollups;
  absl::StatusOr<std::string> id = SubjectOf(request);
  if (!id.ok()) return ErrorResult(id.status());
  absl::StatusOr<Subject> subject = ctx.engine->GetSubject(*id);
  if (!subject.ok()) return ErrorResult(subject.status());

  Granularity granularity = Granularity::kDay;
  if (std::optional<std::string_view> g = request.query.Get("granularity")) {
    std::optional<Granularity> parsed = ParseGranularity(*g);
    if (!parsed) {
      return ErrorResult(InvalidRequest("granularity", "granularity: must be hour, day, week or month"));
    }
    granularity = *parsed;
  }
  constexpr Micros kDefaultSpan[] = {2 * kMicrosPerDay, 30 * kMicrosPerDay, 12 * 7 * kMicrosPerDay,
                                     365 * kMicrosPerDay};
  absl::StatusOr<TimeRange> range =
      RangeParam(request, ctx.clock->Now(), kDefaultSpan[static_cast<int>(granularity)]);
  if (!range.ok()) return ErrorResult(range.status());
  absl::StatusOr<Zone> zone = ZoneParam(request, subject->timezone);
  if (!zone.ok()) return ErrorResult(zone.status());
  absl::StatusOr<std::vector<int>> meters = MetersParam(request, rollups);
  if (!meters.ok()) return ErrorResult(meters.status());
  absl::StatusOr<std::string> type = TypeParam(request);
  if (!type.ok()) return ErrorResult(type.status());
  absl::StatusOr<std::vector<Micros>> boundaries =
      BucketBoundaries(granularity, zone->tz, range->from, range->to);
  if (!boundaries.ok()) {
    return ErrorResult(InvalidRequest("from", absl::StrCat("from: ", boundaries.status().message())));
  }

  const std::vector<Bucket> series = rollups.SubjectSeries(*id, *boundaries, *type);
  const std::array<Micros, 2> whole = {boundaries->front(), boundaries->back()};
  const std::vector<Bucket> total = rollups.SubjectSeries(*id, whole, *type);
  json::object body{{"user_id", *id},
                    {"granularity", GranularityName(granularity)},
                    {"timezone", zone->name},
                    {"from", TimeJson(boundaries->front())},
                    {"to", TimeJson(boundaries->back())},
                    {"type", type->empty() ? json::value(nullptr) : json::value(*type)},
                    {"meters", MeterNames(*meters, rollups)},
                    {"buckets", BucketsJson(series, *meters, rollups)},
                    {"totals", UsageJson(total.front().usage, *meters, rollups)}};
  return JsonResult(200, body);
}

// Usage this span against the span before it, per meter.
json::object TrendJson(const Rollups& rollups, const std::string& id, const std::vector<int>& meters,
                       Micros end, Micros span) {
  const std::array<Micros, 3> b = {end - 2 * span, end - span, end};
  const std::vector<Bucket> series = rollups.SubjectSeries(id, b);
  auto change = [](int64_t now, int64_t before) {
    if (before == 0) return json::value(nullptr);
    return json::value(100.0 * static_cast<double>(now - before) / static_cast<double>(before));
  };
  json::object per_meter;
  const Usage& prev = series[0].usage;
  const Usage& cur = series[1].usage;
  per_meter["events"] = json::object{{"current", cur.events},
                                     {"previous", prev.events},
                                     {"change_percent", change(cur.events, prev.events)}};
  for (int m : meters) {
    per_meter[rollups.meters()[m].name] =
        json::object{{"current", cur.meters[m]},
                     {"previous", prev.meters[m]},
                     {"change_percent", change(cur.meters[m], prev.meters[m])}};
  }
  return json::object{{"current", json::object{{"start", TimeJson(b[1])}, {"end", TimeJson(b[2])}}},
                      {"previous", json::object{{"start", TimeJson(b[0])}, {"end", TimeJson(b[1])}}},
                      {"meters", std::move(per_meter)}};
}

// Events by local weekday (Monday first) × hour of day over the last four weeks.
json::object PeakHoursJson(const std::vector<Bucket>& hourly, const absl::TimeZone& tz) {
  std::array<std::array<int64_t, 24>, 7> grid{};
  for (const Bucket& b : hourly) {
    if (b.usage.events == 0) continue;
    const absl::CivilHour local = absl::ToCivilHour(absl::FromUnixMicros(b.start), tz);
    const int weekday = (static_cast<int>(absl::GetWeekday(absl::CivilDay(local))) + 7) % 7;  // Monday = 0
    grid[weekday][local.hour()] += b.usage.events;
  }
  std::vector<std::tuple<int64_t, int, int>> slots;
  json::array rows;
  static constexpr std::string_view kDays[] = {"monday", "tuesday", "wednesday", "thursday",
                                               "friday", "saturday", "sunday"};
  json::object by_day;
  for (int d = 0; d < 7; ++d) {
    json::array hours;
    for (int h = 0; h < 24; ++h) {
      hours.push_back(grid[d][h]);
      if (grid[d][h] > 0) slots.emplace_back(grid[d][h], d, h);
    }
    by_day[kDays[d]] = std::move(hours);
  }
  std::sort(slots.begin(), slots.end(), [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  json::array top;
  for (size_t i = 0; i < slots.size() && i < 3; ++i) {
    const auto& [events, d, h] = slots[i];
    top.push_back(json::object{{"weekday", kDays[d]}, {"hour", h}, {"events", events}});
  }
  return json::object{{"by_weekday", std::move(by_day)}, {"top", std::move(top)}};
}

// A forecast of each quota window's total, from the hourly usage so far.
json::array ForecastsJson(const Rollups& rollups, const std::string& id, const std::vector<QuotaView>& quotas,
                          Micros now) {
  json::array out;
  for (const QuotaView& q : quotas) {
    json::object o{{"meter", q.meter},
                   {"scope", ScopeName(q.scope)},
                   {"period", json::object{{"start", TimeJson(q.period.start)}, {"end", TimeJson(q.period.end)}}},
                   {"used", q.used},
                   {"limit", q.limit ? json::value(*q.limit) : json::value(nullptr)}};
    const int m = rollups.MeterIndex(q.meter);
    const bool additive = m >= 0 && (rollups.meters()[m].aggregation == Aggregation::kSum ||
                                     rollups.meters()[m].aggregation == Aggregation::kCount);
    if (q.period.start == kBeginningOfTime || q.period.end == kEndOfTime || !additive ||
        q.scope != Scope::kSubject) {
      o["forecast"] = nullptr;
      o["why_no_forecast"] = !additive ? "only sum and count meters are forecast"
                             : q.scope != Scope::kSubject ? "pooled org quotas are not forecast per subject"
                                                          : "the quota never resets";
      out.push_back(std::move(o));
      continue;
    }
    std::vector<Micros> hours;
    for (Micros t = FloorHour(q.period.start); t < CeilHour(now + 1) + 1; t += kMicrosPerHour) hours.push_back(t);
    std::vector<int64_t> hourly;
    for (const Bucket& b : rollups.SubjectSeries(id, hours)) hourly.push_back(b.usage.meters[m]);
    const WindowForecast f = ForecastWindow(hourly, q.period.start, now, q.period.end, q.used, q.limit);
    o["forecast"] = json::object{
        {"expected", std::llround(f.expected)},
        {"low", std::llround(f.low)},
        {"high", std::llround(f.high)},
        {"confidence", 0.95},
        {"rate_per_hour", f.rate_per_hour},
        {"exhaustion_at", f.exhaustion ? TimeJson(*f.exhaustion) : json::value(nullptr)},
        {"will_exceed", q.limit.has_value() && f.expected > static_cast<double>(*q.limit)}};
    out.push_back(std::move(o));
  }
  return out;
}

// Where the subject's last 30 days stand among the subjects of its tier.
json::object TierStandingJson(ServerContext& ctx, const Subject& subject, const std::vector<int>& meters,
                              Micros end) {
  const Rollups& rollups = *ctx.rollups;
  absl::flat_hash_map<std::string, Usage> usage;
  for (auto& [id, u] : rollups.SubjectTotals(end - kTierSpan, end)) usage.emplace(id, std::move(u));
  std::vector<std::string> peers;
  for (const Subject& s : ctx.engine->ListSubjects("", "", SIZE_MAX)) {
    if (s.tier == subject.tier) peers.push_back(s.id);
  }
  auto value_of = [&](const std::string& id, int m) -> double {
    auto it = usage.find(id);
    if (it == usage.end()) return 0;
    return static_cast<double>(m < 0 ? it->second.events : it->second.meters[m]);
  };
  json::object per_meter;
  auto stand = [&](const std::string& name, int m) {
    std::vector<double> population;
    population.reserve(peers.size());
    for (const std::string& id : peers) population.push_back(value_of(id, m));
    const double mine = value_of(subject.id, m);
    std::vector<double> sorted = population;
    std::sort(sorted.begin(), sorted.end());
    auto at = [&sorted](double q) {
      return sorted.empty() ? 0.0 : sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))];
    };
    per_meter[name] = json::object{{"value", mine},
                                   {"percentile", PercentileRank(population, mine)},
                                   {"tier_median", population.empty() ? 0.0 : Median(population)},
                                   {"tier_p90", at(0.9)}};
  };
  stand("events", -1);
  for (int m : meters) {
    if (rollups.meters()[m].aggregation == Aggregation::kUniqueCount) continue;
    stand(rollups.meters()[m].name, m);
  }
  return json::object{{"tier", subject.tier},
                      {"subjects_in_tier", static_cast<int64_t>(peers.size())},
                      {"span", json::object{{"start", TimeJson(end - kTierSpan)}, {"end", TimeJson(end)}}},
                      {"meters", std::move(per_meter)}};
}

json::object AnomalyJson(const Anomaly& a) {
  return json::object{{"meter", a.meter},       {"hour", TimeJson(a.hour)}, {"value", a.value},
                      {"median", a.median},     {"mad", a.mad},
                      {"z", a.z},
                      {"direction", a.value > a.median ? "spike" : "drop"}};
}

// GET /api/usage/analytics
HandlerResult UsageAnalytics(ServerContext& ctx, HttpRequest& request) {
  if (absl::Status s = request.query.AllowOnly({"user_id", "tz", "meter", "days"}); !s.ok()) return ErrorResult(s);
  if (ctx.rollups == nullptr) return ErrorResult(RollupsUnavailable());
  const Rollups& rollups = *ctx.rollups;
  absl::StatusOr<std::string> id = SubjectOf(request);
  if (!id.ok()) return ErrorResult(id.status());
  absl::StatusOr<Subject> subject = ctx.engine->GetSubject(*id);
  if (!subject.ok()) return ErrorResult(subject.status());
  absl::StatusOr<Zone> zone = ZoneParam(request, subject->timezone);
  if (!zone.ok()) return ErrorResult(zone.status());
  absl::StatusOr<std::vector<int>> meters = MetersParam(request, rollups);
  if (!meters.ok()) return ErrorResult(meters.status());
  absl::StatusOr<std::optional<int64_t>> days = request.query.GetInt("days", 1, 90);
  if (!days.ok()) return ErrorResult(days.status());
  absl::StatusOr<std::vector<QuotaView>> quotas = ctx.engine->QuotaStatus(*id);
  if (!quotas.ok()) return ErrorResult(quotas.status());
  if (request.query.Get("meter")) {
    std::erase_if(*quotas, [&](const QuotaView& q) { return q.meter != rollups.meters()[meters->front()].name; });
  }

  const Micros now = ctx.clock->Now();
  const Micros end = CeilHour(now + 1);
  std::vector<Micros> hours;
  for (Micros t = end - kPeakSpan; t <= end; t += kMicrosPerHour) hours.push_back(t);
  const std::vector<Bucket> hourly = rollups.SubjectSeries(*id, hours);

  json::array unusual;
  const Micros last_hour = FloorHour(now) - kMicrosPerHour;
  for (const Anomaly& a : ScoreSubjectHour(rollups, *id, last_hour)) {
    if (a.flagged) unusual.push_back(AnomalyJson(a));
  }
  AlertQuery aq;
  aq.subject = *id;
  aq.kind = "anomaly";
  aq.from = now - kTierSpan;
  aq.limit = 50;
  absl::StatusOr<std::vector<AlertEntry>> alerts = ctx.store->ReadAlerts(aq);
  if (!alerts.ok()) return ErrorResult(alerts.status());
  json::array recorded;
  for (const AlertEntry& e : *alerts) {
    json::value detail = AlertDetailJson(e.record.detail);
    recorded.push_back(json::object{{"meter", e.record.meter},
                                    {"hour", TimeJson(e.record.hour)},
                                    {"raised_at", TimeJson(e.record.time)},
                                    {"detail", std::move(detail)}});
  }

  json::object body{
      {"user_id", *id},
      {"timezone", zone->name},
      {"generated_at", TimeJson(now)},
      {"trend", TrendJson(rollups, *id, *meters, end, days->value_or(7) * kMicrosPerDay)},
      {"peak_hours", PeakHoursJson(hourly, zone->tz)},
      {"forecast", ForecastsJson(rollups, *id, *quotas, now)},
      {"tier_standing", TierStandingJson(ctx, *subject, *meters, end)},
      {"anomalies", json::object{{"last_hour", std::move(unusual)}, {"recorded", std::move(recorded)}}}};
  return JsonResult(200, body);
}

}  // namespace

void AddAnalyticsRoutes(Router& router, ServerContext& ctx) {
  auto bind = [&ctx](HandlerResult (*fn)(ServerContext&, HttpRequest&)) {
    return [&ctx, fn](HttpRequest& r) { return fn(ctx, r); };
  };
  router.Add({Method::kGet, "/api/usage/history", Access::kUser, false,
              "A subject's usage per hour, day, week or month (every bucket, zeros included)",
              bind(UsageHistory)});
  router.Add({Method::kGet, "/api/usage/analytics", Access::kUser, false,
              "Trend, peak hours, forecast per quota, standing in the tier and unusual usage of a subject",
              bind(UsageAnalytics)});
  AddAdminUsageRoutes(router, ctx);
}

}  // namespace tally
