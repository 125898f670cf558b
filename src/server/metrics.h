// Metrics: the figures /metrics serves in the Prometheus text format —
// requests by route and status, request latency histograms by route,
// decisions and denials, plus the engine's and the store's own counters.
//
// Thread-safety: Record* are lock-free (relaxed atomics, fixed arrays sized at
// construction); Render reads them while they move, which Prometheus allows.
#ifndef TALLY_SERVER_METRICS_H_
#define TALLY_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/time.h"
#include "engine/decision.h"
#include "engine/engine.h"
#include "store/store.h"

namespace tally {

class Metrics {
 public:
  // `routes`: the route patterns with their methods ("POST /api/quota/consume");
  // index routes.size() counts requests that matched no route.
  explicit Metrics(std::vector<std::string> routes);

  void RecordRequest(size_t route, int status, Micros latency);
  void RecordDecision(std::string_view op, const Decision& d);
  void ConnectionOpened() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void ConnectionClosed() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  void ConnectionRefused() { refused_.fetch_add(1, std::memory_order_relaxed); }
  int64_t connections() const { return connections_.load(std::memory_order_relaxed); }

  std::string Render(const EngineStats& engine, const StoreStats& store) const;

 private:
  static constexpr std::array<int, 14> kStatuses = {200, 201, 400, 401, 403, 404, 405,
                                                    409, 413, 422, 429, 500, 503, 0};
  static constexpr std::array<Micros, 12> kBucketsUs = {100,   250,    500,    1000,   2500,    5000,
                                                        10000, 25000,  50000,  100000, 500000, 1000000};
  struct RouteStats {
    std::array<std::atomic<uint64_t>, kStatuses.size()> by_status{};
    std::array<std::atomic<uint64_t>, kBucketsUs.size() + 1> buckets{};
    std::atomic<uint64_t> sum_us{0};
  };
  static size_t StatusIndex(int status);

  const std::vector<std::string> routes_;
  std::unique_ptr<RouteStats[]> stats_;  // routes_.size() + 1
  // decisions by op (track, check, consume, reserve, commit) x outcome.
  static constexpr std::array<const char*, 5> kOps = {"track", "check", "consume", "reserve", "commit"};
  std::array<std::atomic<uint64_t>, kOps.size()> allowed_{};
  std::array<std::atomic<uint64_t>, kOps.size()> quota_denied_{};
  std::array<std::atomic<uint64_t>, kOps.size()> rate_denied_{};
  std::atomic<int64_t> connections_{0};
  std::atomic<uint64_t> refused_{0};
};

}  // namespace tally

#endif  // TALLY_SERVER_METRICS_H_
