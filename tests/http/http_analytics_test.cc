// Usage history and analytics of the real `tally serve` against a
// recomputation from the events the test sent (issue 4, items 2, 4 and 8).
//
// A seeded random event stream (several subjects in different IANA zones,
// event times over the past ~34 days, late events, events around the DST
// changes in range and on local midnights, error codes, several types,
// data.chars and data.tokens, context.endpoint and processing_ms) goes in
// through POST /api/usage/track. The test keeps every event it sent and
// recomputes each answer itself:
//
//   * GET /api/usage/history: every bucket (start, end, events, errors and
//     each meter), for every subject × granularity × zone × type/meter
//     filter, with bucket boundaries computed here from absl civil time
//     (local midnights, ISO Mondays, the 1st of the month, floored to the UTC
//     hour as analytics/buckets.h specifies) — independently of
//     analytics/buckets.cc. Then the same answers after a SIGTERM restart and
//     after a SIGKILL restart with events tracked just before the kill.
//   * GET /api/usage/analytics: trend and peak hours recomputed, forecast per
//     quota sane, tier standing in range, anomalies present; user tokens read
//     only their own subject.
//   * GET /api/admin/usage/system, /api/admin/usage/users, /api/admin/analytics:
//     totals, active subjects, error rate, processing_ms quantiles (within the
//     sketch's 1 %), paging, sorting, filters, percent of quota, tiers, limits
//     hit, upgrade candidates, error codes, endpoints.
//   * Bad parameters: 422 naming the parameter; roles: 403; unknown subject: 404.
//
// The server runs on the real clock, so "now" is taken here and every event
// lies in the past. Failures print the seed and the query.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "http_client.h"
#include "server_process.h"
#include "test_support.h"

namespace tally::http_test {
namespace {

using Micros = int64_t;
constexpr Micros kSecond = 1'000'000;
constexpr Micros kMinute = 60 * kSecond;
constexpr Micros kHour = 60 * kMinute;
constexpr Micros kDay = 24 * kHour;

// free: small monthly limits (the subject pushed past them); pro: the stream's
// subjects, limits they never reach. premium and enterprise come from the
// built-in configuration.
constexpr char kConfig[] = R"toml(
default_tier = "free"

[tiers.free]
quotas.requests = { limit = 20, overage = "allow" }
quotas.chars = { limit = 100000 }
quotas.tokens = { limit = 1000000 }

[tiers.pro]
quotas.requests = { limit = 1_000_000 }
quotas.chars = { limit = 100_000_000 }
quotas.tokens = { limit = "unlimited" }
pricing = { base_cents = 1000 }
)toml";

constexpr const char* kMeters[] = {"chars", "requests", "tokens"};
constexpr const char* kTypes[] = {"api_call", "chat", "embed", "tts"};
constexpr const char* kEndpoints[] = {"/v1/call", "/v1/chat", "/v1/embed", "/v1/speech"};
constexpr const char* kErrorCodes[] = {"timeout", "rate_limited", "bad_input", "upstream_5xx"};

struct SubjectSpec {
  std::string id;
  std::string tz;
  std::string tier;
};

// The stream's subjects, "idle" (no events at all, for all-zero series) and
// "capped" (free tier, pushed past its request limit).
const std::vector<SubjectSpec>& Subjects() {
  static const auto* kSubjects = new std::vector<SubjectSpec>{
      {"s-ny", "America/New_York", "pro"}, {"s-berlin", "Europe/Berlin", "pro"},
      {"s-tokyo", "Asia/Tokyo", "pro"},    {"s-utc", "UTC", "pro"},
      {"idle", "America/St_Johns", "pro"}, {"capped", "UTC", "free"},
  };
  return *kSubjects;
}
const std::vector<std::string> kStreamSubjects = {"s-ny", "s-berlin", "s-tokyo", "s-utc"};

// Zones asked for explicitly with ?tz=: half-hour and 45-minute offsets, a
// half-hour zone with a DST change in range, and two zones with DST.
const std::vector<std::string> kOtherZones = {"Asia/Kolkata", "America/St_Johns",
                                              "Europe/London", "Asia/Kathmandu",
                                              "America/Los_Angeles", "Australia/Lord_Howe"};

std::string SubjectZone(const std::string& id) {
  for (const SubjectSpec& s : Subjects()) {
    if (s.id == id) return s.tz;
  }
  return "UTC";
}

absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

// --- JSON helpers (At, Str, Int: test_support.h) -------------------------------

double Num(const json::value& v) {
  if (v.is_double()) return v.as_double();
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  return std::nan("");
}

const json::array& Arr(const json::value& v) {
  static const json::array kEmpty;
  return v.is_array() ? v.as_array() : kEmpty;
}

// --- Time helpers ---------------------------------------------------------------

Micros FloorHourUtc(Micros t) {
  Micros h = t / kHour;
  if (t % kHour < 0) --h;
  return h * kHour;
}

std::string Rfc3339(Micros t) {
  const absl::Time at = absl::FromUnixMicros(t);
  return t % kSecond == 0 ? absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", at, absl::UTCTimeZone())
                          : absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", at, absl::UTCTimeZone());
}

// An RFC 3339 time from the server, or INT64_MIN.
Micros ParseTime(const json::value& v) {
  if (!v.is_string()) return INT64_MIN;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(v.as_string()), &t, &err)) return INT64_MIN;
  return absl::ToUnixMicros(t);
}

// The instant a local civil time starts: a skipped one at the transition, a
// repeated one at its first occurrence; then floored to the UTC hour (rollups
// are UTC hours).
Micros LocalStart(const absl::CivilSecond& cs, const absl::TimeZone& tz) {
  const absl::TimeZone::TimeInfo info = tz.At(cs);
  const absl::Time t = info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
  return FloorHourUtc(absl::ToUnixMicros(t));
}

// Walks civil periods (days stepping `step`, or months) to the boundaries
// b[0] <= from < b[1] < ... < to <= b[n].
template <typename Civil>
std::vector<Micros> Walk(Civil first, int step, const absl::TimeZone& tz, Micros from, Micros to) {
  auto start = [&](const Civil& c) { return LocalStart(absl::CivilSecond(c), tz); };
  while (start(first) > from) first -= step;
  while (start(first + step) <= from) first += step;
  std::vector<Micros> b{start(first)};
  while (b.back() < to) {
    first += step;
    const Micros next = start(first);
    if (next > b.back()) b.push_back(next);  // (a period shorter than an hour)
  }
  return b;
}

// The test's own bucket boundaries (independent of analytics/buckets.cc).
std::vector<Micros> ExpectedBoundaries(const std::string& granularity, const absl::TimeZone& tz,
                                       Micros from, Micros to) {
  if (granularity == "hour") {
    std::vector<Micros> b;
    for (Micros t = FloorHourUtc(from);; t += kHour) {
      b.push_back(t);
      if (t >= to) break;
    }
    return b;
  }
  const absl::CivilDay day = absl::ToCivilDay(absl::FromUnixMicros(from), tz);
  if (granularity == "day") return Walk(day, 1, tz, from, to);
  if (granularity == "week") {
    absl::CivilDay monday = day;
    while (absl::GetWeekday(monday) != absl::Weekday::monday) monday -= 1;
    return Walk(monday, 7, tz, from, to);
  }
  return Walk(absl::CivilMonth(day), 1, tz, from, to);
}

// --- The event stream -----------------------------------------------------------

struct Ev {
  std::string id;
  std::string subject;
  std::string type;
  Micros time = 0;
  int64_t chars = -1;  // -1: not in data
  int64_t tokens = -1;
  std::string error_code;  // "": none
  std::string endpoint;    // "": none
  int64_t processing_ms = -1;

  json::object Json() const {
    json::object o{{"id", id}, {"subject", subject}, {"type", type}, {"time", Rfc3339(time)}};
    json::object data;
    if (chars >= 0) data["chars"] = chars;
    if (tokens >= 0) data["tokens"] = tokens;
    if (!data.empty()) o["data"] = std::move(data);
    json::object context;
    if (!error_code.empty()) context["error_code"] = error_code;
    if (!endpoint.empty()) context["endpoint"] = endpoint;
    if (processing_ms >= 0) context["processing_ms"] = processing_ms;
    if (!context.empty()) o["context"] = std::move(context);
    return o;
  }
};

struct Totals {
  int64_t events = 0, errors = 0, chars = 0, requests = 0, tokens = 0;
  void Add(const Ev& e) {
    ++events;
    errors += !e.error_code.empty();
    chars += std::max<int64_t>(e.chars, 0);
    tokens += std::max<int64_t>(e.tokens, 0);
    ++requests;  // the count meter
  }
  int64_t Meter(std::string_view m) const {
    return m == "chars" ? chars : m == "requests" ? requests : m == "tokens" ? tokens : -1;
  }
  void operator+=(const Totals& o) {
    events += o.events;
    errors += o.errors;
    chars += o.chars;
    requests += o.requests;
    tokens += o.tokens;
  }
};

// Usage of `subject` ("" = everyone) with `type` ("" = every type) per bucket.
std::vector<Totals> Recompute(const std::vector<Ev>& events, const std::string& subject,
                              const std::string& type, const std::vector<Micros>& b) {
  std::vector<Totals> out(b.size() - 1);
  for (const Ev& e : events) {
    if (!subject.empty() && e.subject != subject) continue;
    if (!type.empty() && e.type != type) continue;
    const auto it = std::upper_bound(b.begin(), b.end(), e.time);
    if (it == b.begin() || it == b.end()) continue;
    out[static_cast<size_t>(it - b.begin() - 1)].Add(e);
  }
  return out;
}

Totals Sum(const std::vector<Ev>& events, const std::string& subject, Micros from, Micros to) {
  return Recompute(events, subject, "", {from, to}).front();
}

// The UTC instants in [from, to) at which `tz`'s offset changes.
std::vector<Micros> Transitions(const absl::TimeZone& tz, Micros from, Micros to) {
  auto offset = [&](Micros t) { return tz.At(absl::FromUnixMicros(t)).offset; };
  std::vector<Micros> out;
  for (Micros h = FloorHourUtc(from); h < to; h += kHour) {
    if (offset(h) == offset(h + kHour)) continue;
    for (Micros m = h + kMinute; m <= h + kHour; m += kMinute) {
      if (offset(m) != offset(h)) {
        out.push_back(m);
        break;
      }
    }
  }
  return out;
}

class StreamGen {
 public:
  StreamGen(uint64_t seed, Micros now) : rng_(seed), now_(now) {}

  Ev Make(const std::string& subject, Micros time) {
    Ev e;
    e.id = "ev-" + std::to_string(next_id_++);
    e.subject = subject;
    const size_t t = Pick(4);
    e.type = kTypes[t];
    e.time = time;
    if (Chance(0.8)) e.chars = Uniform(0, 500);
    if (Chance(0.6)) e.tokens = Uniform(0, 3000);
    if (Chance(0.12)) e.error_code = kErrorCodes[Pick(4)];
    if (Chance(0.85)) e.endpoint = kEndpoints[t];
    if (Chance(0.7)) {
      e.processing_ms = static_cast<int64_t>(std::exp(std::uniform_real_distribution<double>(0, 8.5)(rng_)));
    }
    return e;
  }

  // A time uniformly in [now - oldest, now - newest], on a whole second or
  // (one in five) a whole microsecond.
  Micros TimeIn(Micros oldest, Micros newest) {
    Micros t = now_ - Uniform(newest, oldest);
    if (!Chance(0.2)) t -= t % kSecond;
    return t;
  }

  // The phase-A stream: `per_subject` random events per stream subject, plus
  // events around every DST change in range (of any zone the test asks
  // about) and on local midnights of each subject's zone.
  std::vector<Ev> PhaseA(int per_subject) {
    std::vector<Ev> out;
    const Micros oldest = now_ - 34 * kDay, newest = now_ - 2 * kMinute;
    for (const std::string& s : kStreamSubjects) {
      for (int i = 0; i < per_subject; ++i) out.push_back(Make(s, TimeIn(34 * kDay, 2 * kMinute)));
    }
    std::set<std::string> zones(kOtherZones.begin(), kOtherZones.end());
    for (const std::string& s : kStreamSubjects) zones.insert(SubjectZone(s));
    std::set<Micros> changes;
    for (const std::string& z : zones) {
      for (Micros t : Transitions(Zone(z), oldest, newest)) changes.insert(t);
    }
    for (Micros change : changes) {
      for (Micros d : {-3 * kHour, -61 * kMinute, -59 * kMinute, -kSecond, Micros{0}, kSecond,
                       59 * kMinute, 61 * kMinute, 3 * kHour}) {
        const Micros t = change + d;
        if (t < oldest || t > newest) continue;
        out.push_back(Make(kStreamSubjects[Pick(kStreamSubjects.size())], t));
      }
    }
    for (const std::string& s : kStreamSubjects) {
      const absl::TimeZone tz = Zone(SubjectZone(s));
      for (int i = 0; i < 8; ++i) {
        const absl::CivilDay day =
            absl::ToCivilDay(absl::FromUnixMicros(now_ - Uniform(kDay, 33 * kDay)), tz);
        const Micros midnight = absl::ToUnixMicros(tz.At(absl::CivilSecond(day)).pre);
        for (Micros d : {Micros{-1}, Micros{0}, Micros{1}}) {
          if (midnight + d <= newest) out.push_back(Make(s, midnight + d));
        }
      }
    }
    std::shuffle(out.begin(), out.end(), rng_);
    return out;
  }

  // More events later on, half of them late ones (30 to 34.9 days old).
  std::vector<Ev> PhaseB(int per_subject) {
    std::vector<Ev> out;
    for (const std::string& s : kStreamSubjects) {
      for (int i = 0; i < per_subject; ++i) {
        out.push_back(Make(s, i % 2 == 0 ? TimeIn(34 * kDay + 21 * kHour, 30 * kDay)
                                         : TimeIn(30 * kDay, 2 * kMinute)));
      }
    }
    std::shuffle(out.begin(), out.end(), rng_);
    return out;
  }

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  int64_t Uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  Micros now_;
  int next_id_ = 0;
};

// --- History checks ---------------------------------------------------------------

struct HistoryQuery {
  std::string subject;
  std::string granularity;
  std::string tz;  // "": the subject's own
  std::string type;
  std::string meter;
  Micros from = 0;
  Micros to = 0;

  std::string Target() const {
    std::string t = "/api/usage/history?user_id=" + subject + "&granularity=" + granularity +
                    "&from=" + Rfc3339(from) + "&to=" + Rfc3339(to);
    if (!tz.empty()) t += "&tz=" + tz;
    if (!type.empty()) t += "&type=" + type;
    if (!meter.empty()) t += "&meter=" + meter;
    return t;
  }
};

// Compares one answer of /api/usage/history with the recomputation. Returns
// the mismatches found (at most a few), "" when it matches.
std::string CompareHistory(const HistoryQuery& q, const Response& r, const std::vector<Ev>& events) {
  std::ostringstream out;
  if (r.status != 200) return "status: " + r.Describe();
  bool ok = false;
  const json::value& body = r.Json(&ok);
  if (!ok) return "not JSON: " + r.body.substr(0, 200);
  const std::string zone_name = q.tz.empty() ? SubjectZone(q.subject) : q.tz;
  const absl::TimeZone tz = Zone(zone_name);
  const std::vector<Micros> b = ExpectedBoundaries(q.granularity, tz, q.from, q.to);
  const std::vector<Totals> want = Recompute(events, q.subject, q.type, b);
  std::vector<std::string> meters;
  if (q.meter.empty()) {
    meters.assign(std::begin(kMeters), std::end(kMeters));
  } else {
    meters.push_back(q.meter);
  }
  int problems = 0;
  auto problem = [&]() -> std::ostream& {
    ++problems;
    return out << "\n  ";
  };
  if (Str(At(body, "user_id")) != q.subject) problem() << "user_id " << At(body, "user_id");
  if (Str(At(body, "granularity")) != q.granularity) problem() << "granularity " << At(body, "granularity");
  if (Str(At(body, "timezone")) != zone_name) problem() << "timezone " << At(body, "timezone");
  if (ParseTime(At(body, "from")) != b.front()) {
    problem() << "from " << At(body, "from") << ", want " << Rfc3339(b.front());
  }
  if (ParseTime(At(body, "to")) != b.back()) {
    problem() << "to " << At(body, "to") << ", want " << Rfc3339(b.back());
  }
  const json::array& buckets = Arr(At(body, "buckets"));
  if (buckets.size() != want.size()) {
    problem() << buckets.size() << " buckets, want " << want.size() << " (first "
              << (buckets.empty() ? json::value() : At(buckets.front(), "start")) << ", want "
              << Rfc3339(b.front()) << "; last "
              << (buckets.empty() ? json::value() : At(buckets.back(), "start")) << ", want "
              << Rfc3339(b[b.size() - 2]) << ")";
  }
  auto compare_usage = [&](const json::value& got, const Totals& w, const std::string& where) {
    if (Int(At(got, "events")) != w.events) {
      problem() << where << " events " << At(got, "events") << ", want " << w.events;
    }
    if (Int(At(got, "errors")) != w.errors) {
      problem() << where << " errors " << At(got, "errors") << ", want " << w.errors;
    }
    const json::value& usage = At(got, "usage");
    if (!usage.is_object() || usage.as_object().size() != meters.size()) {
      problem() << where << " usage " << usage << ", want the meters of the query only";
    }
    for (const std::string& m : meters) {
      if (Int(At(usage, m)) != w.Meter(m)) {
        problem() << where << " " << m << " " << At(usage, m) << ", want " << w.Meter(m);
      }
    }
  };
  Totals sum;
  for (size_t i = 0; i < want.size() && i < buckets.size() && problems < 6; ++i) {
    const json::value& got = buckets[i];
    const std::string where = "bucket " + std::to_string(i) + " [" + Rfc3339(b[i]) + ", " +
                              Rfc3339(b[i + 1]) + ")";
    if (ParseTime(At(got, "start")) != b[i] || ParseTime(At(got, "end")) != b[i + 1]) {
      problem() << where << ": got [" << At(got, "start") << ", " << At(got, "end") << ")";
    }
    compare_usage(got, want[i], where);
  }
  for (const Totals& w : want) sum += w;
  compare_usage(At(body, "totals"), sum, "totals");
  if (problems == 0) return "";
  return out.str();
}

// --- The fixture ------------------------------------------------------------------

class HttpAnalyticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = std::random_device{}();
    if (const char* s = std::getenv("TALLY_TEST_SEED")) seed_ = std::stoull(s);
    std::cerr << "seed " << seed_ << " (TALLY_TEST_SEED to repeat)\n";
    now_ = NowSeconds() * kSecond;
    server_ = std::make_unique<ServerProcess>(ServerSetup{.config = kConfig});
    ASSERT_TRUE(server_->Start());
    Connect();
    service_key_ = CreateKey(*admin_, "service", json::object{{"name", "analytics-test"}});
    ASSERT_FALSE(service_key_.empty());
    service_ = std::make_unique<HttpClient>(server_->Client(service_key_));
    for (const SubjectSpec& s : Subjects()) {
      const Response r = admin_->Put("/api/admin/users/" + s.id,
                                     json::value(json::object{{"tier", s.tier}, {"timezone", s.tz}}));
      ASSERT_EQ(r.status, 200) << r.Describe();
    }
  }

  void TearDown() override {
    if (server_ == nullptr || !server_->running()) return;
    admin_.reset();
    service_.reset();
    int signal = 0;
    const std::optional<int> code = server_->Stop(std::chrono::seconds(40), &signal);
    EXPECT_EQ(code, std::optional<int>(0)) << "signal " << signal << "; log:\n" << server_->Log();
  }

  void Connect() {
    admin_ = std::make_unique<HttpClient>(server_->Client());
    if (!service_key_.empty()) service_ = std::make_unique<HttpClient>(server_->Client(service_key_));
  }

  // Tracks `events` in batches and remembers them.
  void Track(const std::vector<Ev>& events, size_t batch = 400) {
    for (size_t i = 0; i < events.size(); i += batch) {
      json::array list;
      for (size_t j = i; j < std::min(events.size(), i + batch); ++j) list.push_back(events[j].Json());
      const size_t n = list.size();
      const Response r = service_->Post("/api/usage/track", json::value(json::object{{"events", std::move(list)}}));
      ASSERT_EQ(r.status, 200) << r.Describe();
      ASSERT_EQ(Int(At(r.Json(), "accepted")), static_cast<int64_t>(n)) << r.body;
    }
    sent_.insert(sent_.end(), events.begin(), events.end());
  }

  // Pushes "capped" (free tier, 20 requests a month) to 25 requests in the
  // current month.
  void PushCappedPastItsLimit(StreamGen& gen) {
    const absl::CivilMonth month = absl::ToCivilMonth(absl::FromUnixMicros(now_), absl::UTCTimeZone());
    const Micros month_start = absl::ToUnixMicros(absl::FromCivil(month, absl::UTCTimeZone()));
    std::vector<Ev> events;
    for (int i = 0; i < 25; ++i) {
      Ev e = gen.Make("capped", std::max(month_start, now_ - 2 * kSecond));
      e.chars = 10;
      e.tokens = -1;
      events.push_back(e);
    }
    Track(events);
  }

  // The history queries of a subject: hour over 2 days, day, week, month;
  // its own zone and explicit ones; with and without type / meter filters.
  std::vector<HistoryQuery> QueriesFor(const std::string& subject, size_t index) {
    std::vector<HistoryQuery> out;
    struct G {
      const char* name;
      Micros span;
    };
    const G grans[] = {{"hour", 2 * kDay}, {"day", 36 * kDay}, {"week", 36 * kDay}, {"month", 36 * kDay}};
    const std::string zones[] = {"", kOtherZones[index % kOtherZones.size()],
                                 kOtherZones[(index + 1) % kOtherZones.size()]};
    const std::string type = kTypes[index % 4];
    for (const G& g : grans) {
      for (const std::string& tz : zones) {
        // Whole-second ends, and (for one zone) a `from` in the middle of a day.
        const Micros to = now_;
        const Micros from = now_ - g.span - (tz.empty() ? 0 : 5 * kHour + 17 * kMinute);
        out.push_back({subject, g.name, tz, "", "", from, to});
        out.push_back({subject, g.name, tz, type, "", from, to});
        if (tz.empty()) {
          out.push_back({subject, g.name, tz, "", kMeters[index % 3], from, to});
          out.push_back({subject, g.name, tz, kTypes[(index + 1) % 4], "tokens", from, to});
        }
      }
    }
    return out;
  }

  std::vector<HistoryQuery> AllQueries() {
    std::vector<HistoryQuery> out;
    size_t i = 0;
    for (const SubjectSpec& s : Subjects()) {
      for (HistoryQuery& q : QueriesFor(s.id, i++)) out.push_back(std::move(q));
    }
    return out;
  }

  // Checks every query against the recomputation; returns the bodies.
  std::vector<std::string> CheckAllHistory(const std::string& when) {
    std::vector<std::string> bodies;
    int failures = 0;
    for (const HistoryQuery& q : AllQueries()) {
      const Response r = admin_->Get(q.Target());
      const std::string mismatch = CompareHistory(q, r, sent_);
      if (!mismatch.empty() && ++failures <= 8) {
        ADD_FAILURE() << when << ": GET " << q.Target() << " differs from the recomputation (seed "
                      << seed_ << "):" << mismatch;
      }
      bodies.push_back(r.body);
    }
    EXPECT_EQ(failures, 0) << when << ": " << failures << " history answers differ (seed " << seed_ << ")";
    return bodies;
  }

  // What the admin reports say about everything sent (fields that do not
  // depend on the wall clock), for comparison across restarts.
  std::string AdminSnapshot() {
    const std::string range = "from=" + Rfc3339(FloorHourUtc(now_ - 35 * kDay)) +
                              "&to=" + Rfc3339(FloorHourUtc(now_) + 2 * kHour);
    std::string out;
    Response r = admin_->Get("/api/admin/usage/system?" + range);
    EXPECT_EQ(r.status, 200) << r.Describe();
    json::value body = r.Json();
    for (const char* key : {"totals", "active_subjects", "error_rate", "processing_ms", "series", "peak_hours"}) {
      out += std::string(key) + "=" + json::serialize(At(body, key)) + "\n";
    }
    r = admin_->Get("/api/admin/analytics?" + range);
    EXPECT_EQ(r.status, 200) << r.Describe();
    body = r.Json();
    for (const char* key : {"tiers", "performance", "errors"}) {
      out += std::string(key) + "=" + json::serialize(At(body, key)) + "\n";
    }
    r = admin_->Get("/api/admin/usage/users?" + range + "&sort=chars");
    EXPECT_EQ(r.status, 200) << r.Describe();
    out += "users=" + json::serialize(At(r.Json(), "users")) + "\n";
    return out;
  }

  uint64_t seed_ = 0;
  Micros now_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> admin_;
  std::unique_ptr<HttpClient> service_;
  std::string service_key_;
  std::vector<Ev> sent_;
};

// --- 1 and 2: history against the recomputation, across restarts ---------------------

TEST_F(HttpAnalyticsTest, HistoryMatchesARecomputationAndSurvivesSigtermAndSigkill) {
  StreamGen gen(seed_, now_);
  ASSERT_NO_FATAL_FAILURE(Track(gen.PhaseA(350)));
  ASSERT_NO_FATAL_FAILURE(PushCappedPastItsLimit(gen));
  const std::vector<std::string> before = CheckAllHistory("after tracking");
  const std::string admin_before = AdminSnapshot();

  // SIGTERM and start again on the same data dir: the same answers.
  admin_.reset();
  service_.reset();
  int signal = 0;
  ASSERT_EQ(server_->Stop(std::chrono::seconds(40), &signal), std::optional<int>(0))
      << "signal " << signal << "; log:\n" << server_->Log();
  ASSERT_TRUE(server_->Start());
  Connect();
  const std::vector<std::string> after_term = CheckAllHistory("after a SIGTERM restart");
  EXPECT_EQ(AdminSnapshot(), admin_before) << "the admin reports changed across a SIGTERM restart";
  ASSERT_EQ(after_term.size(), before.size());
  int differ = 0;
  const std::vector<HistoryQuery> queries = AllQueries();
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] != after_term[i] && ++differ <= 3) {
      ADD_FAILURE() << "GET " << queries[i].Target() << " changed across a SIGTERM restart:\nbefore "
                    << before[i].substr(0, 400) << "\nafter  " << after_term[i].substr(0, 400);
    }
  }

  // More events (half of them late, into hours whose cells were persisted
  // before the restart), then SIGKILL at once: the rollups are rebuilt from
  // the events after the last persisted seq.
  ASSERT_NO_FATAL_FAILURE(Track(gen.PhaseB(60)));
  const std::vector<std::string> before_kill = CheckAllHistory("after tracking late events");
  const std::string admin_before_kill = AdminSnapshot();
  admin_.reset();
  service_.reset();
  server_->Kill();
  ASSERT_TRUE(server_->Start());
  Connect();
  const std::vector<std::string> after_kill = CheckAllHistory("after a SIGKILL restart");
  EXPECT_EQ(AdminSnapshot(), admin_before_kill) << "the admin reports changed across a SIGKILL restart";
  ASSERT_EQ(after_kill.size(), before_kill.size());
  for (size_t i = 0; i < before_kill.size(); ++i) {
    if (before_kill[i] != after_kill[i] && ++differ <= 6) {
      ADD_FAILURE() << "GET " << queries[i].Target() << " changed across a SIGKILL restart:\nbefore "
                    << before_kill[i].substr(0, 400) << "\nafter  " << after_kill[i].substr(0, 400);
    }
  }
  EXPECT_EQ(differ, 0);
}

// --- 3: per-subject analytics and user tokens ---------------------------------------

TEST_F(HttpAnalyticsTest, AnalyticsTrendPeakHoursForecastStandingAndUserTokens) {
  StreamGen gen(seed_, now_);
  ASSERT_NO_FATAL_FAILURE(Track(gen.PhaseA(150)));
  ASSERT_NO_FATAL_FAILURE(PushCappedPastItsLimit(gen));

  const std::string zones[] = {"", "Asia/Kolkata"};
  for (const std::string& subject : {std::string("s-ny"), std::string("s-tokyo"), std::string("idle")}) {
    for (const std::string& zone : zones) {
      const std::string target = "/api/usage/analytics?user_id=" + subject + (zone.empty() ? "" : "&tz=" + zone);
      SCOPED_TRACE("GET " + target + " seed " + std::to_string(seed_));
      const Response r = admin_->Get(target);
      ASSERT_EQ(r.status, 200) << r.Describe();
      const json::value& body = r.Json();
      const std::string zone_name = zone.empty() ? SubjectZone(subject) : zone;
      EXPECT_EQ(Str(At(body, "user_id")), subject);
      EXPECT_EQ(Str(At(body, "timezone")), zone_name);
      const Micros generated = ParseTime(At(body, "generated_at"));
      ASSERT_NE(generated, INT64_MIN) << r.body.substr(0, 300);
      // The series end: the end of the hour holding "now".
      const Micros end = FloorHourUtc(generated) + kHour;

      // Trend: the last 7 days against the 7 before.
      const json::value& trend = At(body, "trend");
      EXPECT_EQ(ParseTime(At(At(trend, "current"), "start")), end - 7 * kDay) << trend;
      EXPECT_EQ(ParseTime(At(At(trend, "current"), "end")), end) << trend;
      EXPECT_EQ(ParseTime(At(At(trend, "previous"), "start")), end - 14 * kDay) << trend;
      const Totals cur = Sum(sent_, subject, end - 7 * kDay, end);
      const Totals prev = Sum(sent_, subject, end - 14 * kDay, end - 7 * kDay);
      const json::value& tm = At(trend, "meters");
      EXPECT_EQ(Int(At(At(tm, "events"), "current")), cur.events) << tm;
      EXPECT_EQ(Int(At(At(tm, "events"), "previous")), prev.events) << tm;
      for (const char* m : kMeters) {
        EXPECT_EQ(Int(At(At(tm, m), "current")), cur.Meter(m)) << m << " " << tm;
        EXPECT_EQ(Int(At(At(tm, m), "previous")), prev.Meter(m)) << m << " " << tm;
        const json::value& change = At(At(tm, m), "change_percent");
        if (prev.Meter(m) == 0) {
          EXPECT_TRUE(change.is_null()) << m << " " << tm;
        } else {
          EXPECT_NEAR(Num(change), 100.0 * double(cur.Meter(m) - prev.Meter(m)) / double(prev.Meter(m)), 1e-6)
              << m << " " << tm;
        }
      }

      // Peak hours: events by local weekday × hour over the last 28 days
      // (each UTC hour at the local hour it starts in).
      int64_t grid[7][24] = {};
      const absl::TimeZone tz = Zone(zone_name);
      for (const Ev& e : sent_) {
        if (e.subject != subject || e.time < end - 28 * kDay || e.time >= end) continue;
        const absl::CivilHour local = absl::ToCivilHour(absl::FromUnixMicros(FloorHourUtc(e.time)), tz);
        const int weekday = static_cast<int>(absl::GetWeekday(absl::CivilDay(local)));  // monday = 0
        ++grid[weekday][local.hour()];
      }
      static constexpr const char* kDays[] = {"monday", "tuesday", "wednesday", "thursday",
                                              "friday", "saturday", "sunday"};
      const json::value& by_day = At(At(body, "peak_hours"), "by_weekday");
      int64_t best = 0;
      for (int d = 0; d < 7; ++d) {
        const json::array& hours = Arr(At(by_day, kDays[d]));
        ASSERT_EQ(hours.size(), 24u) << kDays[d] << " " << by_day;
        for (int h = 0; h < 24; ++h) {
          EXPECT_EQ(Int(hours[h]), grid[d][h]) << kDays[d] << " " << h << ":00 local";
          best = std::max(best, grid[d][h]);
        }
      }
      const json::array& top = Arr(At(At(body, "peak_hours"), "top"));
      if (best == 0) {
        EXPECT_TRUE(top.empty()) << At(body, "peak_hours");
      } else {
        ASSERT_FALSE(top.empty());
        EXPECT_EQ(Int(At(top[0], "events")), best) << At(body, "peak_hours");
        EXPECT_LE(top.size(), 3u);
      }

      // Forecast: one per quota of /api/quota/status, each sane.
      const Response status = admin_->Get("/api/quota/status?user_id=" + subject);
      ASSERT_EQ(status.status, 200) << status.Describe();
      const json::array& quotas = Arr(At(status.Json(), "quotas"));
      const json::array& forecast = Arr(At(body, "forecast"));
      EXPECT_EQ(forecast.size(), quotas.size()) << r.body.substr(0, 600);
      for (const json::value& q : quotas) {
        const json::value* f = nullptr;
        for (const json::value& x : forecast) {
          if (Str(At(x, "meter")) == Str(At(q, "meter")) && Str(At(x, "scope")) == Str(At(q, "scope"))) f = &x;
        }
        ASSERT_NE(f, nullptr) << "no forecast for " << q;
        EXPECT_EQ(Int(At(*f, "used")), Int(At(q, "used"))) << *f;
        const json::value& fc = At(*f, "forecast");
        ASSERT_TRUE(fc.is_object()) << "a monthly subject quota of a sum/count meter has a forecast: " << *f;
        const double low = Num(At(fc, "low")), expected = Num(At(fc, "expected")), high = Num(At(fc, "high"));
        EXPECT_LE(low, expected) << *f;
        EXPECT_LE(expected, high) << *f;
        EXPECT_GE(expected, Num(At(q, "used"))) << *f;
        EXPECT_GE(low, 0) << *f;
        EXPECT_GE(Num(At(fc, "rate_per_hour")), 0) << *f;
      }

      // Tier standing: percentiles in [0, 100], the subject's own value exact.
      const json::value& standing = At(body, "tier_standing");
      EXPECT_EQ(Str(At(standing, "tier")), "pro");
      EXPECT_EQ(Int(At(standing, "subjects_in_tier")), 5) << standing;
      const Totals month = Sum(sent_, subject, end - 30 * kDay, end);
      EXPECT_EQ(Num(At(At(At(standing, "meters"), "events"), "value")), double(month.events)) << standing;
      for (const char* m : {"events", "chars", "requests", "tokens"}) {
        const double p = Num(At(At(At(standing, "meters"), m), "percentile"));
        EXPECT_TRUE(p >= 0 && p <= 100) << m << " " << standing;
      }
      if (subject == "idle") {
        // 0 among {0 (idle), >0 x4}: midrank 100 * (0 + 1/2) / 5 = 10.
        EXPECT_DOUBLE_EQ(Num(At(At(At(standing, "meters"), "events"), "percentile")), 10.0) << standing;
      }

      // Anomalies: the last hour's scores and the recorded ones.
      EXPECT_TRUE(At(At(body, "anomalies"), "last_hour").is_array()) << At(body, "anomalies");
      EXPECT_TRUE(At(At(body, "anomalies"), "recorded").is_array()) << At(body, "anomalies");
    }
  }

  // ?meter= narrows the trend and the forecasts to that meter.
  {
    const Response r = admin_->Get("/api/usage/analytics?user_id=s-utc&meter=chars");
    ASSERT_EQ(r.status, 200) << r.Describe();
    const json::value& body = r.Json();
    const json::array& forecast = Arr(At(body, "forecast"));
    ASSERT_EQ(forecast.size(), 1u) << r.body.substr(0, 600);
    EXPECT_EQ(Str(At(forecast[0], "meter")), "chars");
    const json::value& tm = At(At(body, "trend"), "meters");
    EXPECT_TRUE(tm.is_object() && tm.as_object().size() == 2 && tm.as_object().contains("events") &&
                tm.as_object().contains("chars"))
        << tm;
  }
  // A type nobody sent: every bucket there, all zero.
  {
    const HistoryQuery q{"s-utc", "day", "", "never-sent", "", now_ - 5 * kDay, now_};
    EXPECT_EQ(CompareHistory(q, admin_->Get(q.Target()), sent_), "");
  }

  // A user token reads its own subject only.
  HttpClient ny(server_->address(), UserToken("s-ny"));
  Response r = ny.Get("/api/usage/analytics");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(Str(At(r.Json(), "user_id")), "s-ny");
  EXPECT_EQ(ny.Get("/api/usage/analytics?user_id=s-ny").status, 200);
  EXPECT_TRUE(IsError(ny.Get("/api/usage/analytics?user_id=s-berlin"), 403, "forbidden"));
  const HistoryQuery own{"s-ny", "day", "", "", "", now_ - 10 * kDay, now_};
  r = ny.Get("/api/usage/history?granularity=day&from=" + Rfc3339(own.from) + "&to=" + Rfc3339(own.to));
  EXPECT_EQ(CompareHistory(own, r, sent_), "") << "a user token's own history";
  EXPECT_TRUE(IsError(ny.Get("/api/usage/history?user_id=s-berlin"), 403, "forbidden"));
}

// --- 4: the operators' views --------------------------------------------------------

TEST_F(HttpAnalyticsTest, AdminSystemUsersAndAnalyticsMatchTheEventsSent) {
  StreamGen gen(seed_, now_);
  ASSERT_NO_FATAL_FAILURE(Track(gen.PhaseA(150)));
  ASSERT_NO_FATAL_FAILURE(PushCappedPastItsLimit(gen));
  const Micros from = FloorHourUtc(now_ - 35 * kDay);
  const Micros to = FloorHourUtc(now_) + 2 * kHour;
  const std::string range = "from=" + Rfc3339(from) + "&to=" + Rfc3339(to);
  SCOPED_TRACE("seed " + std::to_string(seed_) + ", " + range);
  const Totals all = Sum(sent_, "", from, to);

  // --- /api/admin/usage/system
  Response r = admin_->Get("/api/admin/usage/system?" + range);
  ASSERT_EQ(r.status, 200) << r.Describe();
  json::value body = r.Json();
  const json::value& totals = At(body, "totals");
  EXPECT_EQ(Int(At(totals, "events")), all.events) << totals;
  EXPECT_EQ(Int(At(totals, "errors")), all.errors) << totals;
  for (const char* m : kMeters) EXPECT_EQ(Int(At(At(totals, "usage"), m)), all.Meter(m)) << m << " " << totals;
  std::set<std::string> active;
  for (const Ev& e : sent_) {
    if (e.time >= from && e.time < to) active.insert(e.subject);
  }
  EXPECT_EQ(Int(At(body, "active_subjects")), static_cast<int64_t>(active.size())) << r.body.substr(0, 400);
  EXPECT_DOUBLE_EQ(Num(At(body, "error_rate")), double(all.errors) / double(all.events));
  std::vector<int64_t> ms;
  for (const Ev& e : sent_) {
    if (e.time >= from && e.time < to && e.processing_ms >= 0) ms.push_back(e.processing_ms);
  }
  std::sort(ms.begin(), ms.end());
  const json::value& latency = At(body, "processing_ms");
  EXPECT_EQ(Int(At(latency, "count")), static_cast<int64_t>(ms.size())) << latency;
  EXPECT_EQ(Num(At(latency, "max")), double(ms.back())) << latency;
  for (const auto& [name, q] : {std::pair{"p50", 0.50}, std::pair{"p95", 0.95}, std::pair{"p99", 0.99}}) {
    // The exact quantile lies between the order statistics around q·(n−1).
    const double pos = q * double(ms.size() - 1);
    const double lo = double(ms[size_t(std::floor(pos))]), hi = double(ms[size_t(std::ceil(pos))]);
    const double got = Num(At(latency, name));
    EXPECT_TRUE(got >= lo * 0.99 && got <= hi * 1.01)
        << name << " = " << got << ", exact between " << lo << " and " << hi << " (1 % allowed); n = " << ms.size();
  }
  // The series sums to the totals.
  int64_t series_events = 0;
  for (const json::value& p : Arr(At(At(body, "series"), "buckets"))) series_events += Int(At(p, "events"));
  EXPECT_EQ(series_events, all.events) << "the system series does not sum to its totals";

  // Over two days in a half-hour zone: an hourly series over whole UTC hours.
  {
    const Micros f = FloorHourUtc(now_ - 2 * kDay), t = FloorHourUtc(now_) + kHour;
    const std::string target = "/api/admin/usage/system?from=" + Rfc3339(f) + "&to=" + Rfc3339(t) + "&tz=Asia/Kolkata";
    const Response rs = admin_->Get(target);
    ASSERT_EQ(rs.status, 200) << rs.Describe();
    const json::value& b2 = rs.Json();
    EXPECT_EQ(Str(At(b2, "timezone")), "Asia/Kolkata");
    EXPECT_EQ(Str(At(At(b2, "series"), "granularity")), "hour") << target;
    std::vector<Micros> hours;
    for (Micros h = f; h <= t; h += kHour) hours.push_back(h);
    const std::vector<Totals> want = Recompute(sent_, "", "", hours);
    const json::array& points = Arr(At(At(b2, "series"), "buckets"));
    ASSERT_EQ(points.size(), want.size()) << target;
    Totals sum;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(ParseTime(At(points[i], "start")), hours[i]) << target;
      EXPECT_EQ(Int(At(points[i], "events")), want[i].events) << target << " hour " << Rfc3339(hours[i]);
      EXPECT_EQ(Int(At(At(points[i], "usage"), "tokens")), want[i].tokens) << target << " hour " << Rfc3339(hours[i]);
      sum += want[i];
    }
    EXPECT_EQ(Int(At(At(b2, "totals"), "events")), sum.events) << target;
    EXPECT_EQ(Int(At(At(b2, "totals"), "errors")), sum.errors) << target;
  }

  // --- /api/admin/usage/users: paging covers everyone exactly once, in order.
  std::map<std::string, Totals> per_subject;
  for (const SubjectSpec& s : Subjects()) per_subject[s.id] = Sum(sent_, s.id, from, to);
  std::map<std::string, json::array> status_quotas;
  for (const SubjectSpec& s : Subjects()) {
    const Response st = admin_->Get("/api/quota/status?user_id=" + s.id);
    ASSERT_EQ(st.status, 200) << st.Describe();
    status_quotas[s.id] = Arr(At(st.Json(), "quotas"));
  }
  struct Sort {
    std::string sort, order;
  };
  for (const Sort& s : {Sort{"events", "desc"}, Sort{"events", "asc"}, Sort{"chars", "desc"},
                        Sort{"chars", "asc"}, Sort{"percent", "desc"}, Sort{"percent", "asc"}}) {
    std::vector<std::string> ids;
    std::vector<double> keys;
    int64_t offset = 0;
    for (int page = 0; page < 10; ++page) {
      const std::string target = "/api/admin/usage/users?" + range + "&sort=" + s.sort + "&order=" + s.order +
                                 "&limit=4&offset=" + std::to_string(offset);
      r = admin_->Get(target);
      ASSERT_EQ(r.status, 200) << target << " " << r.Describe();
      body = r.Json();
      EXPECT_EQ(Int(At(body, "total")), static_cast<int64_t>(Subjects().size())) << target;
      for (const json::value& u : Arr(At(body, "users"))) {
        const std::string id = Str(At(u, "user_id"));
        ids.push_back(id);
        const Totals& want = per_subject[id];
        EXPECT_EQ(Int(At(u, "events")), want.events) << id << " " << target;
        EXPECT_EQ(Int(At(At(u, "usage"), "chars")), want.chars) << id << " " << target;
        // Each quota's percent is /api/quota/status's (which rounds to 0.01).
        double max_percent = 0;
        for (const json::value& q : Arr(At(u, "quotas"))) {
          const double* want_percent = nullptr;
          double found = 0;
          for (const json::value& sq : status_quotas[id]) {
            if (Str(At(sq, "meter")) == Str(At(q, "meter")) && Str(At(sq, "scope")) == Str(At(q, "scope"))) {
              found = Num(At(sq, "percent"));
              want_percent = &found;
            }
          }
          ASSERT_NE(want_percent, nullptr) << id << " " << q;
          EXPECT_NEAR(Num(At(q, "percent")), *want_percent, 0.0051) << id << " " << q;
          max_percent = std::max(max_percent, Num(At(q, "percent")));
        }
        EXPECT_EQ(Arr(At(u, "quotas")).size(), status_quotas[id].size()) << id;
        EXPECT_DOUBLE_EQ(Num(At(u, "max_percent")), max_percent) << id;
        keys.push_back(s.sort == "events"  ? Num(At(u, "events"))
                       : s.sort == "chars" ? Num(At(At(u, "usage"), "chars"))
                                           : Num(At(u, "max_percent")));
      }
      if (At(body, "next_offset").is_null()) break;
      EXPECT_EQ(Int(At(body, "next_offset")), offset + 4) << target;
      offset = Int(At(body, "next_offset"));
    }
    std::vector<std::string> sorted_ids = ids;
    std::sort(sorted_ids.begin(), sorted_ids.end());
    std::vector<std::string> want_ids;
    for (const SubjectSpec& sub : Subjects()) want_ids.push_back(sub.id);
    std::sort(want_ids.begin(), want_ids.end());
    EXPECT_EQ(sorted_ids, want_ids) << "paging by " << s.sort << " " << s.order << " does not list each subject once";
    for (size_t i = 1; i < keys.size(); ++i) {
      EXPECT_TRUE(s.order == "desc" ? keys[i - 1] >= keys[i] : keys[i - 1] <= keys[i])
          << s.sort << " " << s.order << ": " << ids[i - 1] << " (" << keys[i - 1] << ") before " << ids[i] << " ("
          << keys[i] << ")";
    }
  }
  // sort=user_id is ascending by default.
  {
    r = admin_->Get("/api/admin/usage/users?" + range + "&sort=user_id");
    ASSERT_EQ(r.status, 200) << r.Describe();
    std::vector<std::string> ids;
    for (const json::value& u : Arr(At(r.Json(), "users"))) ids.push_back(Str(At(u, "user_id")));
    EXPECT_EQ(ids, (std::vector<std::string>{"capped", "idle", "s-berlin", "s-ny", "s-tokyo", "s-utc"}));
    EXPECT_TRUE(At(r.Json(), "next_offset").is_null()) << r.body.substr(0, 300);
  }
  // Filters.
  auto listed = [&](const std::string& query) {
    std::set<std::string> out;
    const Response resp = admin_->Get("/api/admin/usage/users?" + range + "&" + query);
    EXPECT_EQ(resp.status, 200) << query << " " << resp.Describe();
    for (const json::value& u : Arr(At(resp.Json(), "users"))) out.insert(Str(At(u, "user_id")));
    return out;
  };
  EXPECT_EQ(listed("tier=free"), (std::set<std::string>{"capped"}));
  EXPECT_EQ(listed("tier=pro"), (std::set<std::string>{"idle", "s-berlin", "s-ny", "s-tokyo", "s-utc"}));
  EXPECT_EQ(listed("tier=premium"), (std::set<std::string>{}));
  EXPECT_EQ(listed("prefix=s-"), (std::set<std::string>{"s-berlin", "s-ny", "s-tokyo", "s-utc"}));
  EXPECT_EQ(listed("prefix=s-&tier=free"), (std::set<std::string>{}));
  EXPECT_EQ(listed("prefix=cap&tier=free"), (std::set<std::string>{"capped"}));

  // --- /api/admin/analytics
  r = admin_->Get("/api/admin/analytics?" + range);
  ASSERT_EQ(r.status, 200) << r.Describe();
  body = r.Json();
  std::map<std::string, const json::value*> tiers;
  for (const json::value& t : Arr(At(At(body, "tiers"), "tiers"))) tiers[Str(At(t, "tier"))] = &t;
  for (const char* name : {"free", "pro", "premium", "enterprise"}) {
    ASSERT_TRUE(tiers.count(name)) << "tier " << name << " not listed: " << At(body, "tiers");
  }
  EXPECT_EQ(Int(At(*tiers["free"], "subjects")), 1) << *tiers["free"];
  EXPECT_EQ(Int(At(*tiers["pro"], "subjects")), 5) << *tiers["pro"];
  EXPECT_EQ(Int(At(*tiers["pro"], "active_subjects")), 4) << *tiers["pro"];
  EXPECT_EQ(Int(At(*tiers["premium"], "subjects")), 0) << *tiers["premium"];
  EXPECT_EQ(Int(At(*tiers["enterprise"], "subjects")), 0) << *tiers["enterprise"];
  Totals pro;
  for (const std::string& s : kStreamSubjects) pro += per_subject[s];
  EXPECT_EQ(Int(At(*tiers["pro"], "events")), pro.events) << *tiers["pro"];
  EXPECT_EQ(Int(At(At(*tiers["pro"], "usage"), "tokens")), pro.tokens) << *tiers["pro"];
  EXPECT_EQ(Int(At(*tiers["free"], "events")), per_subject["capped"].events) << *tiers["free"];
  // "capped" used 25 of 20 requests: at its limit and an upgrade candidate.
  EXPECT_EQ(Int(At(*tiers["free"], "at_limit")), 1) << *tiers["free"];
  EXPECT_EQ(Int(At(*tiers["pro"], "at_limit")), 0) << *tiers["pro"];
  EXPECT_EQ(Str(At(*tiers["free"], "upgrade_to")), "pro") << *tiers["free"];
  const json::array& candidates = Arr(At(*tiers["free"], "upgrade_candidates"));
  ASSERT_EQ(candidates.size(), 1u) << *tiers["free"];
  EXPECT_EQ(Str(At(candidates[0], "user_id")), "capped");
  EXPECT_NEAR(Num(At(candidates[0], "max_percent")), 125.0, 1e-9) << candidates[0];

  // Top error codes.
  std::map<std::string, int64_t> codes;
  for (const Ev& e : sent_) {
    if (e.time >= from && e.time < to && !e.error_code.empty()) ++codes[e.error_code];
  }
  const json::array& top = Arr(At(At(body, "errors"), "top_codes"));
  std::map<std::string, int64_t> got_codes;
  for (size_t i = 0; i < top.size(); ++i) {
    got_codes[Str(At(top[i], "code"))] = Int(At(top[i], "count"));
    if (i > 0) {
      EXPECT_GE(Int(At(top[i - 1], "count")), Int(At(top[i], "count"))) << "top codes out of order";
    }
  }
  EXPECT_EQ(got_codes, codes);

  // Endpoint performance: every type × endpoint sent, with its counts.
  struct Perf {
    int64_t events = 0, errors = 0, timed = 0;
  };
  std::map<std::pair<std::string, std::string>, Perf> perf;
  for (const Ev& e : sent_) {
    if (e.time < from || e.time >= to) continue;
    Perf& p = perf[{e.type, e.endpoint}];
    ++p.events;
    p.errors += !e.error_code.empty();
    p.timed += e.processing_ms >= 0;
  }
  const json::array& endpoints = Arr(At(At(body, "performance"), "endpoints"));
  EXPECT_EQ(endpoints.size(), perf.size()) << At(body, "performance");
  for (const json::value& ep : endpoints) {
    const auto it = perf.find({Str(At(ep, "type")), Str(At(ep, "endpoint"))});
    if (it == perf.end()) {
      ADD_FAILURE() << "an endpoint nobody sent: " << ep;
      continue;
    }
    EXPECT_EQ(Int(At(ep, "events")), it->second.events) << ep;
    EXPECT_EQ(Int(At(ep, "errors")), it->second.errors) << ep;
    EXPECT_EQ(Int(At(At(ep, "processing_ms"), "count")), it->second.timed) << ep;
  }
  EXPECT_TRUE(At(body, "capacity").is_object());
  EXPECT_TRUE(At(body, "anomalies").is_array());
}

// --- 5: bad input, roles, unknown subjects ----------------------------------------

TEST_F(HttpAnalyticsTest, BadParametersAre422NamingThemAndRolesAreEnforced) {
  const std::string t0 = Rfc3339(FloorHourUtc(now_) - kDay), t1 = Rfc3339(FloorHourUtc(now_));
  struct Case {
    std::string target;
    std::string field;
  };
  const std::string h = "/api/usage/history?user_id=s-ny&";
  const std::string a = "/api/usage/analytics?user_id=s-ny&";
  const std::string sys = "/api/admin/usage/system?";
  const std::string users = "/api/admin/usage/users?";
  const std::string an = "/api/admin/analytics?";
  std::vector<Case> cases = {
      {h + "from=" + t1 + "&to=" + t0, "from"},
      {h + "from=" + t1 + "&to=" + t1, "from"},
      {h + "from=yesterday", "from"},
      {h + "from=2026-13-01T00:00:00Z", "from"},
      {h + "to=tomorrow", "to"},
      {h + "granularity=minute", "granularity"},
      {h + "granularity=", "granularity"},
      {h + "tz=Mars/Olympus", "tz"},
      {h + "meter=bogus", "meter"},
      {"/api/usage/history", "user_id"},
      {a + "tz=Mars/Olympus", "tz"},
      {a + "meter=bogus", "meter"},
      {a + "days=0", "days"},
      {sys + "from=" + t1 + "&to=" + t0, "from"},
      {sys + "from=" + t1 + "&to=" + t1, "from"},
      {sys + "from=noon", "from"},
      {sys + "to=noon", "to"},
      {sys + "tz=Mars/Olympus", "tz"},
      {users + "from=" + t1 + "&to=" + t0, "from"},
      {users + "from=noon", "from"},
      {users + "to=noon", "to"},
      {users + "sort=bogus", "sort"},
      {users + "sort=percent:bogus", "sort"},
      {users + "order=sideways", "order"},
      {users + "tier=nope", "tier"},
      {users + "limit=0", "limit"},
      {users + "limit=-1", "limit"},
      {users + "offset=-1", "offset"},
      {an + "from=" + t1 + "&to=" + t0, "from"},
      {an + "from=noon", "from"},
      {an + "to=noon", "to"},
  };
  for (const Case& c : cases) {
    EXPECT_TRUE(IsError(admin_->Get(c.target), 422, "invalid_request", c.field)) << "GET " << c.target;
  }

  // Unknown subjects.
  EXPECT_TRUE(IsError(admin_->Get("/api/usage/history?user_id=ghost"), 404, "not_found"));
  EXPECT_TRUE(IsError(admin_->Get("/api/usage/analytics?user_id=ghost"), 404, "not_found"));
  HttpClient ghost(server_->address(), UserToken("ghost"));
  EXPECT_TRUE(IsError(ghost.Get("/api/usage/history"), 404, "not_found"));
  EXPECT_TRUE(IsError(ghost.Get("/api/usage/analytics"), 404, "not_found"));

  // The admin reports are for the admin key only.
  HttpClient ny(server_->address(), UserToken("s-ny"));
  for (const std::string& target : {sys, users, an}) {
    EXPECT_TRUE(IsError(service_->Get(target), 403, "forbidden")) << "service key: GET " << target;
    EXPECT_TRUE(IsError(ny.Get(target), 403, "forbidden")) << "user token: GET " << target;
    EXPECT_EQ(admin_->Get(target).status, 200) << target;
  }
  // A service key reads any subject's history and analytics.
  EXPECT_EQ(service_->Get("/api/usage/history?user_id=s-ny").status, 200);
  EXPECT_EQ(service_->Get("/api/usage/analytics?user_id=s-ny").status, 200);
}

}  // namespace
}  // namespace tally::http_test
