// Helpers for the engine's tests: a small config, events, and an engine over a
// MemoryStore driven by a SimulatedClock.
#ifndef TALLY_ENGINE_ENGINE_TEST_UTIL_H_
#define TALLY_ENGINE_ENGINE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "engine/engine.h"
#include "store/memory_store.h"

namespace tally::testing {

inline Micros At(const char* rfc3339) { return ParseRfc3339(rfc3339).value(); }

inline Quota MonthlyQuota(std::string meter, std::optional<int64_t> limit,
                          Overage overage = Overage::kBlock) {
  Quota q;
  q.meter = std::move(meter);
  q.limit = limit;
  q.overage = overage;
  return q;
}

// Meters chars/requests/tokens plus "sessions" (unique_count of
// context.session_id) and "peak" (max of data.jobs); a tier "free" with
// requests 10, chars 1000, tokens 5000 per month; "open" unlimited; "team" for
// orgs with 20 requests.
inline Config TestConfig() {
  Config c;
  c.meters = DefaultMeters();
  c.meters.push_back(Meter{"sessions", Aggregation::kUniqueCount, "context.session_id", {}});
  c.meters.push_back(Meter{"peak", Aggregation::kMax, "jobs", {}});
  Tier free;
  free.name = "free";
  free.quotas = {MonthlyQuota("requests", 10), MonthlyQuota("chars", 1000),
                 MonthlyQuota("tokens", 5000)};
  Tier open;
  open.name = "open";
  Tier team;
  team.name = "team";
  team.quotas = {MonthlyQuota("requests", 20)};
  c.tiers = {free, open, team};
  c.default_tier = "free";
  c.storage.checkpoint_every = 1'000'000'000;
  return c;
}

inline Event Ev(std::string id, std::string subject,
                std::vector<std::pair<std::string, int64_t>> data = {}, std::string type = "api") {
  Event e;
  e.id = std::move(id);
  e.subject = std::move(subject);
  e.type = std::move(type);
  e.data = std::move(data);
  return e;
}

inline const QuotaView* Find(const std::vector<QuotaView>& views, const std::string& meter,
                             Scope scope = Scope::kSubject) {
  for (const QuotaView& v : views) {
    if (v.meter == meter && v.scope == scope) return &v;
  }
  return nullptr;
}

struct EngineFixture {
  explicit EngineFixture(Config c = TestConfig(), Micros start = At("2026-03-10T12:00:00Z"))
      : config(std::move(c)), clock(start) {
    Reopen();
  }
  void Reopen() {
    engine.reset();
    auto opened = Engine::Open(config, &store, &clock);
    if (!opened.ok()) throw std::runtime_error(std::string(opened.status().message()));
    engine = *std::move(opened);
  }
  int64_t Used(const std::string& subject, const std::string& meter,
               Scope scope = Scope::kSubject) {
    auto views = engine->QuotaStatus(subject);
    if (!views.ok()) return -1;
    const QuotaView* v = Find(*views, meter, scope);
    return v == nullptr ? -1 : v->used;
  }

  Config config;
  SimulatedClock clock;
  MemoryStore store;
  std::unique_ptr<Engine> engine;
};

}  // namespace tally::testing

#endif  // TALLY_ENGINE_ENGINE_TEST_UTIL_H_
