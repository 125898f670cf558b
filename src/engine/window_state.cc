#include "engine/window_state.h"

#include <algorithm>
#include <limits>

namespace tally {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? (b > 0 ? kMax : std::numeric_limits<int64_t>::min())
                                          : r;
}

// The most `used + reserved` may reach under the rule's overage policy.
int64_t Ceiling(const WindowState& w, const QuotaRule& rule) {
  if (!rule.limit) return kMax;
  switch (rule.overage) {
    case Overage::kBlock:
      return SaturatingAdd(*rule.limit, w.granted);
    case Overage::kAllowUpTo:
      return SaturatingAdd(SaturatingAdd(*rule.limit, w.granted), rule.allow_up_to);
    case Overage::kAllow:
      return kMax;
  }
  return kMax;
}

}  // namespace

void WindowState::Reset(const Window& w, int64_t carry) {
  window = w;
  used = 0;
  reserved = 0;
  granted = carry;
  latest_time = kBeginningOfTime;
  if (uniques) uniques->clear();
  recalendar = false;
}

WindowRelation Relate(const WindowState& held, const Window& w) {
  if (held.window.start == held.window.end) return WindowRelation::kNewer;
  if (held.window == w) return WindowRelation::kSame;
  if (w.start >= held.window.end) return WindowRelation::kNewer;
  if (w.end <= held.window.start) return WindowRelation::kOlder;
  return WindowRelation::kOverlapping;
}

int64_t CarryInto(const WindowState& prev, const QuotaRule& rule, const Window& next,
                  const WindowAt& window_at) {
  if (rule.rollover_cap <= 0 || !rule.limit || prev.window.start == prev.window.end) return 0;
  if (prev.window.end > next.start) return 0;
  int64_t carry = std::min(rule.rollover_cap,
                           std::max<int64_t>(0, SaturatingAdd(*rule.limit, prev.granted) - prev.used));
  // Every window between prev and next was empty: each carries its whole limit.
  Window w = prev.window;
  for (int steps = 0; w.end < next.start && steps < 64; ++steps) {
    w = window_at(w.end);
    carry = std::min(rule.rollover_cap, SaturatingAdd(*rule.limit, carry));
  }
  return carry;
}

Admission Admit(const WindowState& w, const QuotaRule& rule, Aggregation agg, uint64_t input,
                Micros event_time) {
  Admission a;
  const int64_t value = static_cast<int64_t>(std::min<uint64_t>(input, kMax));
  const int64_t ceiling = Ceiling(w, rule);
  const std::optional<int64_t> limit = EffectiveLimit(w, rule);
  switch (agg) {
    case Aggregation::kSum:
    case Aggregation::kCount:
    case Aggregation::kUniqueCount: {
      a.delta = value;
      if (agg == Aggregation::kUniqueCount) a.delta = w.uniques && w.uniques->contains(input) ? 0 : 1;
      if (__builtin_add_overflow(w.used, a.delta, &a.new_used)) {
        a.overflow = true;
        a.allowed = false;
        return a;
      }
      int64_t committed = SaturatingAdd(a.new_used, w.reserved);
      a.allowed = committed <= ceiling;
      a.over_limit = limit && committed > *limit;
      break;
    }
    case Aggregation::kMax:
      a.new_used = std::max(w.used, value);
      a.allowed = value <= ceiling;
      a.over_limit = limit && a.new_used > *limit;
      break;
    case Aggregation::kLatest:
      a.new_used = event_time >= w.latest_time ? value : w.used;
      a.allowed = value <= ceiling;
      a.over_limit = limit && a.new_used > *limit;
      break;
  }
  return a;
}

void ApplyUsage(WindowState& w, Aggregation agg, const Admission& a, uint64_t input,
                Micros event_time) {
  w.used = a.new_used;
  if (agg == Aggregation::kLatest && event_time >= w.latest_time) w.latest_time = event_time;
  if (agg == Aggregation::kUniqueCount && a.delta > 0) {
    if (!w.uniques) w.uniques = std::make_unique<absl::flat_hash_set<uint64_t>>();
    w.uniques->insert(input);
  }
}

std::optional<int64_t> EffectiveLimit(const WindowState& w, const QuotaRule& rule) {
  if (!rule.limit) return std::nullopt;
  return std::max<int64_t>(0, SaturatingAdd(*rule.limit, w.granted));
}

QuotaView ViewOf(const WindowState& w, const QuotaRule& rule) {
  QuotaView v;
  v.limit = EffectiveLimit(w, rule);
  v.used = w.used;
  v.reserved = w.reserved;
  v.period = w.window;
  if (v.limit) {
    const int64_t committed = SaturatingAdd(w.used, w.reserved);
    v.remaining = std::max<int64_t>(0, *v.limit - committed);
    v.percent = *v.limit == 0 ? (committed > 0 ? 100.0 : 0.0)
                              : 100.0 * static_cast<double>(committed) / static_cast<double>(*v.limit);
    if (committed >= *v.limit && (committed > 0 || *v.limit == 0)) {
      v.status = QuotaStatus::kExceeded;
    } else if (static_cast<__int128>(committed) * 100 >= static_cast<__int128>(*v.limit) * 75) {
      v.status = QuotaStatus::kWarning;
    }
  }
  return v;
}

void CrossedThresholds(const WindowState& w, const QuotaRule& rule, int64_t before,
                       int64_t after, std::vector<int>& out) {
  const std::optional<int64_t> limit = EffectiveLimit(w, rule);
  if (!limit || *limit == 0 || after <= before) return;
  for (int t : rule.warn_at) {
    const __int128 mark = static_cast<__int128>(*limit) * t;
    if (static_cast<__int128>(before) * 100 < mark && static_cast<__int128>(after) * 100 >= mark) {
      out.push_back(t);
    }
  }
}

}  // namespace tally
