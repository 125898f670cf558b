#include "server/metrics.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tally {

Metrics::Metrics(std::vector<std::string> routes)
    : routes_(std::move(routes)), stats_(new RouteStats[routes_.size() + 1]) {}

size_t Metrics::StatusIndex(int status) {
  for (size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size() - 1;
}

void Metrics::RecordRequest(size_t route, int status, Micros latency) {
  RouteStats& s = stats_[std::min(route, routes_.size())];
  s.by_status[StatusIndex(status)].fetch_add(1, std::memory_order_relaxed);
  size_t b = 0;
  while (b < kBucketsUs.size() && latency > kBucketsUs[b]) ++b;
  s.buckets[b].fetch_add(1, std::memory_order_relaxed);
  s.sum_us.fetch_add(static_cast<uint64_t>(std::max<Micros>(latency, 0)), std::memory_order_relaxed);
}

void Metrics::RecordDecision(std::string_view op, const Decision& d) {
  for (size_t i = 0; i < kOps.size(); ++i) {
    if (op != kOps[i]) continue;
    if (d.allowed) {
      allowed_[i].fetch_add(1, std::memory_order_relaxed);
    } else if (d.reason == DenyReason::kRateLimited) {
      rate_denied_[i].fetch_add(1, std::memory_order_relaxed);
    } else {
      quota_denied_[i].fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
}

std::string Metrics::Render(const EngineStats& engine, const StoreStats& store) const {
  std::string out;
  auto load = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  absl::StrAppend(&out, "# HELP tally_http_requests_total HTTP requests by route and status.\n",
                  "# TYPE tally_http_requests_total counter\n");
  auto route_name = [this](size_t i) { return i < routes_.size() ? routes_[i] : std::string("unmatched"); };
  for (size_t r = 0; r <= routes_.size(); ++r) {
    for (size_t s = 0; s < kStatuses.size(); ++s) {
      const uint64_t n = load(stats_[r].by_status[s]);
      if (n == 0) continue;
      const std::string code = kStatuses[s] == 0 ? "other" : std::to_string(kStatuses[s]);
      absl::StrAppend(&out, "tally_http_requests_total{route=\"", route_name(r), "\",status=\"", code,
                      "\"} ", n, "\n");
    }
  }
  absl::StrAppend(&out, "# HELP tally_http_request_duration_seconds Time from request read to response queued.\n",
                  "# TYPE tally_http_request_duration_seconds histogram\n");
  for (size_t r = 0; r <= routes_.size(); ++r) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= kBucketsUs.size(); ++b) cumulative += load(stats_[r].buckets[b]);
    if (cumulative == 0) continue;
    const std::string label = absl::StrCat("route=\"", route_name(r), "\"");
    cumulative = 0;
    for (size_t b = 0; b <= kBucketsUs.size(); ++b) {
      cumulative += load(stats_[r].buckets[b]);
      const std::string le = b < kBucketsUs.size() ? absl::StrCat(static_cast<double>(kBucketsUs[b]) / 1e6) : "+Inf";
      absl::StrAppend(&out, "tally_http_request_duration_seconds_bucket{", label, ",le=\"", le, "\"} ",
                      cumulative, "\n");
    }
    absl::StrAppend(&out, "tally_http_request_duration_seconds_sum{", label, "} ",
                    static_cast<double>(load(stats_[r].sum_us)) / 1e6, "\n");
    absl::StrAppend(&out, "tally_http_request_duration_seconds_count{", label, "} ", cumulative, "\n");
  }
  absl::StrAppend(&out, "# HELP tally_decisions_total Decisions by operation and outcome.\n",
                  "# TYPE tally_decisions_total counter\n");
  for (size_t i = 0; i < kOps.size(); ++i) {
    absl::StrAppend(&out, "tally_decisions_total{op=\"", kOps[i], "\",outcome=\"allowed\"} ", load(allowed_[i]), "\n");
    absl::StrAppend(&out, "tally_decisions_total{op=\"", kOps[i], "\",outcome=\"quota_exceeded\"} ",
                    load(quota_denied_[i]), "\n");
    absl::StrAppend(&out, "tally_decisions_total{op=\"", kOps[i], "\",outcome=\"rate_limited\"} ",
                    load(rate_denied_[i]), "\n");
  }
  auto gauge = [&out](const char* name, const char* help, const char* type, auto value) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n", name, " ", value, "\n");
  };
  gauge("tally_denials_total", "Denied decisions (quota or rate limit), all operations.", "counter", engine.denials);
  gauge("tally_replays_total", "Writes answered again for a known event id.", "counter", engine.replays);
  gauge("tally_events_total", "Events accepted since start.", "counter", engine.events);
  gauge("tally_subjects", "Subjects known.", "gauge", engine.subjects);
  gauge("tally_open_reservations", "Reservations holding quota.", "gauge", engine.open_reservations);
  gauge("tally_dedup_entries", "Event ids in the dedup index.", "gauge", engine.dedup_entries);
  gauge("tally_store_appended_records_total", "Records appended to the store.", "counter", store.appended);
  gauge("tally_store_durable_records_total", "Records committed to disk.", "counter", store.durable);
  gauge("tally_store_fsyncs_total", "Store transactions committed (one fsync each under strict).", "counter",
        store.commits);
  gauge("tally_store_queue_depth", "Records appended and not yet committed.", "gauge", store.queue_depth);
  gauge("tally_http_connections", "Open HTTP connections.", "gauge", connections());
  gauge("tally_http_connections_refused_total", "Connections refused at the connection limit.", "counter",
        load(refused_));
  return out;
}

}  // namespace tally
