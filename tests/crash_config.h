// The configuration shared by crash_writer (the process the crash test kills)
// and crash_test (which restarts on its data dir): both must see the same
// tiers, orgs and subjects for the counters to be comparable.
//
//   tier "free"   requests 1,000,000,000 and chars 10^15 a month (never denies)
//   tier "small"  requests 300 a month: org "crew" pools its members' usage,
//                 so Consume on crew-0..crew-3 is denied once the pool is full
//   users user-0..user-7 (free, auto-created on their first event)
//   crew-0..crew-3 (free, members of org "crew")
#ifndef TALLY_TESTS_CRASH_CONFIG_H_
#define TALLY_TESTS_CRASH_CONFIG_H_

#include <string>

#include "core/config.h"

namespace tally::crash {

inline constexpr int kThreads = 4;
inline constexpr int64_t kCrewRequestLimit = 300;

inline std::string UserId(int i) { return "user-" + std::to_string(i); }
inline std::string CrewId(int i) { return "crew-" + std::to_string(i); }

inline Config CrashConfig() {
  Config c;
  c.meters = DefaultMeters();
  auto monthly = [](std::string meter, int64_t limit) {
    Quota q;
    q.meter = std::move(meter);
    q.limit = limit;
    q.period = PeriodUnit::kMonth;
    q.overage = Overage::kBlock;
    return q;
  };
  Tier free;
  free.name = "free";
  free.quotas = {monthly("requests", 1'000'000'000), monthly("chars", 1'000'000'000'000'000)};
  Tier small;
  small.name = "small";
  small.quotas = {monthly("requests", kCrewRequestLimit)};
  c.tiers = {free, small};
  c.default_tier = "free";
  Org crew;
  crew.id = "crew";
  crew.tier = "small";
  c.orgs = {crew};
  for (int i = 0; i < kThreads; ++i) {
    Subject s;
    s.id = CrewId(i);
    s.tier = "free";
    s.org = "crew";
    c.subjects.push_back(s);
  }
  c.storage.durability = Durability::kStrict;
  c.storage.checkpoint_every = 5000;  // the engine's own checkpoints, on top of crash_writer's
  return c;
}

}  // namespace tally::crash

#endif  // TALLY_TESTS_CRASH_CONFIG_H_
