#include "analytics/anomaly.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "analytics/stats.h"

namespace tally {
namespace {

constexpr int kMinBaselineDays = 8;  // RobustZScore's minimum

Micros HourStart(Micros t) {
  Micros h = t / kMicrosPerHour;
  if (t % kMicrosPerHour < 0) --h;
  return h * kMicrosPerHour;
}

// JSON has no infinity: a score against a perfectly flat baseline is written
// as a large finite number.
double Finite(double z) {
  if (std::isinf(z)) return z > 0 ? 1e9 : -1e9;
  return z;
}

}  // namespace

std::vector<Anomaly> ScoreSubjectHour(const Rollups& rollups, const std::string& subject,
                                      Micros hour, const AnomalyOptions& options) {
  const Micros start = HourStart(hour);
  const int hours = options.baseline_days * 24;
  std::vector<Micros> boundaries;
  boundaries.reserve(hours + 2);
  for (int i = hours; i >= -1; --i) boundaries.push_back(start - static_cast<Micros>(i) * kMicrosPerHour);
  const std::vector<Bucket> series = rollups.SubjectSeries(subject, boundaries);
  if (series.size() < 2) return {};
  // The baseline: the same hour of each earlier day since the subject's first
  // event (the days before it existed say nothing about it).
  size_t first_active = 0;
  while (first_active + 1 < series.size() && series[first_active].usage.events == 0) ++first_active;
  std::vector<size_t> days;
  for (size_t i = 0; i + 1 < series.size(); i += 24) {
    if (i >= first_active) days.push_back(i);
  }
  if (days.size() < static_cast<size_t>(kMinBaselineDays)) return {};
  const std::vector<Meter>& meters = rollups.meters();

  std::vector<Anomaly> out;
  // The subject's own units per event, over the whole baseline span: a meter
  // must move by at least min_delta events' worth of it.
  double span_events = 0;
  for (size_t i = 0; i + 1 < series.size(); ++i) span_events += static_cast<double>(series[i].usage.events);
  auto score = [&](const std::string& name, auto value_of) {
    std::vector<double> baseline;
    baseline.reserve(days.size());
    for (size_t i : days) baseline.push_back(value_of(series[i].usage));
    double span_units = 0;
    for (size_t i = 0; i + 1 < series.size(); ++i) span_units += static_cast<double>(value_of(series[i].usage));
    const double per_event = span_events > 0 ? span_units / span_events : 1.0;
    const auto x = static_cast<double>(value_of(series.back().usage));
    const std::optional<RobustScore> s = RobustZScore(baseline, x);
    if (!s) return;
    Anomaly a;
    a.subject = subject;
    a.meter = name;
    a.hour = start;
    a.value = static_cast<int64_t>(x);
    a.median = s->median;
    a.mad = s->mad;
    a.z = Finite(s->z);
    const double delta = std::abs(x - s->median);
    // A subject idle most hours has median 0, and any use scores infinite:
    // then only an hour beyond twice its busiest hour of the baseline counts.
    const double busiest = *std::max_element(baseline.begin(), baseline.end());
    a.flagged = std::abs(s->z) >= options.threshold &&
                delta >= static_cast<double>(options.min_delta) * std::max(per_event, 1e-9) &&
                delta >= 0.5 * s->median &&
                (s->median > 0 || x > 2 * busiest);
    out.push_back(std::move(a));
  };
  score("events", [](const Usage& u) { return u.events; });
  for (size_t m = 0; m < meters.size(); ++m) {
    const Aggregation agg = meters[m].aggregation;
    if (agg != Aggregation::kSum && agg != Aggregation::kCount) continue;
    score(meters[m].name, [m](const Usage& u) { return u.meters[m]; });
  }
  return out;
}

std::vector<Anomaly> DetectAnomalies(const Rollups& rollups, Micros hour,
                                     const AnomalyOptions& options) {
  const Micros start = HourStart(hour);
  const Micros baseline_start = start - static_cast<Micros>(options.baseline_days) * kMicrosPerDay;
  std::vector<Anomaly> flagged;
  for (const auto& [subject, usage] :
       rollups.SubjectTotals(baseline_start, start + kMicrosPerHour)) {
    for (Anomaly& a : ScoreSubjectHour(rollups, subject, start, options)) {
      if (a.flagged) flagged.push_back(std::move(a));
    }
  }
  std::sort(flagged.begin(), flagged.end(), [](const Anomaly& a, const Anomaly& b) {
    return std::tie(a.subject, a.meter) < std::tie(b.subject, b.meter);
  });
  return flagged;
}

AlertRecord AnomalyAlert(const Anomaly& a, Micros now) {
  AlertRecord r;
  r.time = now;
  r.kind = "anomaly";
  r.subject = a.subject;
  r.meter = a.meter;
  r.hour = a.hour;
  r.detail = absl::StrCat("{\"value\":", a.value, ",\"median\":", a.median, ",\"mad\":", a.mad,
                          ",\"z\":", a.z, ",\"direction\":\"",
                          a.value > a.median ? "spike" : "drop", "\"}");
  return r;
}

}  // namespace tally
