// A deterministic generator of realistic usage events for the issue 4
// benchmarks (analytics_bench, rollup_ingest_bench):
//
//   - `subjects` subjects (user00000, user00001, ...) with Zipf(1) activity:
//     with 20,000 subjects user00000 sends ~9.5 % of all events, the lightest
//     a few hundred per 100M;
//   - `hours` hours of event time ending at `end`, in UTC-hour order (events
//     within an hour in random order); a diurnal curve (quiet 04-10 UTC, busy
//     14-22), weekends at 45 %, 0.8x -> 1.2x growth over the span;
//   - 4 types (correction 60 %, translation 25 %, summary 10 %, embedding 5 %)
//     on 5 endpoints; data.chars and data.tokens; processing_ms on 80 % of
//     events (log-normal around each endpoint's median); 1 % errors with 3
//     codes; in 5 % of hours one random subject bursts 300 events.
#ifndef TALLY_BENCH_SYNTHETIC_EVENTS_H_
#define TALLY_BENCH_SYNTHETIC_EVENTS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/time.h"
#include "store/log_record.h"

namespace tally::bench {

struct TypeSpec {
  const char* name;
  double share;
  const char* endpoint;
  const char* alt_endpoint;  // 10 % of this type's events, or null
  double median_ms;
};
inline constexpr TypeSpec kTypes[] = {
    {"correction", 0.60, "/v1/correct", "/v2/correct", 40},
    {"translation", 0.25, "/v1/translate", nullptr, 120},
    {"summary", 0.10, "/v1/summarize", nullptr, 650},
    {"embedding", 0.05, "/v1/embed", nullptr, 15},
};
inline constexpr const char* kErrorCodes[] = {"timeout", "rate_limited", "bad_input"};

inline std::string SubjectName(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "user%05d", i);
  return buf;
}

// RSS and peak RSS of this process, from /proc/self/status, in MB.
inline std::pair<double, double> MemoryMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  double rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atof(line.c_str() + 6) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atof(line.c_str() + 6) / 1024;
  }
  return {rss, hwm};
}

class SyntheticEvents {
 public:
  SyntheticEvents(int64_t events, int subjects, int hours, Micros end, uint64_t seed = 20261120)
      : subjects_(subjects), rng_(seed) {
    names_.reserve(subjects);
    for (int i = 0; i < subjects; ++i) names_.push_back(SubjectName(i));
    double sum = 0;
    cdf_.reserve(subjects);
    for (int i = 0; i < subjects; ++i) cdf_.push_back(sum += 1.0 / (i + 1));
    for (double& c : cdf_) c /= sum;
    double t = 0;
    for (const TypeSpec& spec : kTypes) type_cdf_.push_back(t += spec.share);
    // Events per hour: diurnal × weekly × growth, scaled to `events`.
    start_ = end - static_cast<Micros>(hours) * kMicrosPerHour;
    std::vector<double> weight;
    for (int h = 0; h < hours; ++h) {
      const absl::CivilHour utc =
          absl::ToCivilHour(absl::FromUnixMicros(start_ + h * kMicrosPerHour), absl::UTCTimeZone());
      const int hod = utc.hour();
      const double diurnal = 0.25 + 0.75 * std::pow(std::max(0.0, std::sin((hod - 8) * M_PI / 16)), 1.5);
      const absl::Weekday wd = absl::GetWeekday(absl::CivilDay(utc));
      const double weekly = wd == absl::Weekday::saturday || wd == absl::Weekday::sunday ? 0.45 : 1.0;
      const double growth = 0.8 + 0.4 * h / hours;
      weight.push_back(diurnal * weekly * growth);
    }
    double total = 0;
    for (double w : weight) total += w;
    int64_t assigned = 0;
    for (double w : weight) {
      per_hour_.push_back(static_cast<int64_t>(static_cast<double>(events) * w / total));
      assigned += per_hour_.back();
    }
    per_hour_.back() += events - assigned;
  }

  // Calls fn(record) for every event, in hour order. The record is reused:
  // copy what you keep. received = event time + 50 ms.
  template <typename Fn>
  void Run(Fn&& fn) {
    EventRecord r;
    r.event.data = {{"chars", 0}, {"tokens", 0}};
    std::uniform_real_distribution<double> unit(0, 1);
    std::normal_distribution<double> normal(0, 0.6);
    int64_t n = 0;
    for (size_t h = 0; h < per_hour_.size(); ++h) {
      const Micros hour = start_ + static_cast<Micros>(h) * kMicrosPerHour;
      const int64_t budget = per_hour_[h];
      int burst_subject = -1;
      int64_t burst = 0;
      if (unit(rng_) < 0.05) {
        burst_subject = static_cast<int>(rng_() % static_cast<uint64_t>(subjects_));
        burst = std::min<int64_t>(300, budget);
      }
      for (int64_t i = 0; i < budget; ++i) {
        const int subject = i < burst ? burst_subject : Zipf(unit(rng_));
        const double u = unit(rng_);
        const size_t type = static_cast<size_t>(
            std::lower_bound(type_cdf_.begin(), type_cdf_.end(), u) - type_cdf_.begin());
        const TypeSpec& spec = kTypes[std::min(type, std::size(kTypes) - 1)];
        Event& e = r.event;
        e.id.assign("ev-");
        e.id.append(std::to_string(n));
        e.subject.assign(names_[subject]);
        e.type.assign(spec.name);
        e.time = hour + static_cast<Micros>(rng_() % static_cast<uint64_t>(kMicrosPerHour));
        const int64_t chars = 1 + static_cast<int64_t>(rng_() % 2000);
        e.data[0].second = chars;
        e.data[1].second = chars / 4 + static_cast<int64_t>(rng_() % 100);
        e.context.endpoint.assign(spec.alt_endpoint != nullptr && rng_() % 10 == 0 ? spec.alt_endpoint
                                                                                   : spec.endpoint);
        e.context.processing_ms =
            rng_() % 5 == 0 ? -1 : static_cast<int64_t>(spec.median_ms * std::exp(normal(rng_)));
        if (rng_() % 100 == 0) {
          e.context.error_code.assign(kErrorCodes[rng_() % 3]);
        } else {
          e.context.error_code.clear();
        }
        r.received = e.time + 50'000;
        r.fingerprint = static_cast<uint64_t>(n) * 0x9E3779B97F4A7C15ULL;
        fn(r);
        ++n;
      }
    }
  }

 private:
  int Zipf(double u) const {
    return static_cast<int>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin()) % subjects_;
  }

  int subjects_;
  std::mt19937_64 rng_;
  std::vector<std::string> names_;
  std::vector<double> cdf_;
  std::vector<double> type_cdf_;
  std::vector<int64_t> per_hour_;
  Micros start_ = 0;
};

}  // namespace tally::bench

#endif  // TALLY_BENCH_SYNTHETIC_EVENTS_H_
