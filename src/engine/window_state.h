// WindowState: one account's balance for one meter in its current window, and
// the pure rules that admit usage against a QuotaRule.
//
//   used      usage counted in the window (for max/latest: the current value)
//   reserved  units held by open reservations
//   granted   credit on top of the plan's limit (admin grants, rollover)
//
// Thread-safety: plain data; the engine's stripe mutex guards each instance.
#ifndef TALLY_ENGINE_WINDOW_STATE_H_
#define TALLY_ENGINE_WINDOW_STATE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "core/meter.h"
#include "core/period.h"
#include "engine/decision.h"
#include "engine/plan.h"

namespace tally {

struct WindowState {
  Window window{0, 0};  // empty until first used
  int64_t used = 0;
  int64_t reserved = 0;
  int64_t granted = 0;
  Micros latest_time = kBeginningOfTime;  // latest: the event time of `used`
  std::unique_ptr<absl::flat_hash_set<uint64_t>> uniques;  // unique_count only
  // The account's calendar or the quota's period changed since `window` was
  // computed: the next touch recomputes it (see Relate()).
  bool recalendar = false;

  bool Covers(Micros t) const { return window.Contains(t); }
  // Clears the balance and moves to `w`.
  void Reset(const Window& w, int64_t carry);
};

// How a window computed now relates to the one an account holds.
enum class WindowRelation {
  kSame,         // equal
  kNewer,        // starts at or after the held one's end (or none is held): roll over
  kOlder,        // ends at or before the held one's start: a closed window
  kOverlapping,  // overlaps it: the calendar or period changed
};
WindowRelation Relate(const WindowState& held, const Window& w);

// The window of `rule` containing an instant, for one account.
using WindowAt = std::function<Window(Micros)>;

// Unused units carried from `prev` into `next` under `rule` (0 without
// rollover, or when `prev` never started). Walks the empty windows between them.
int64_t CarryInto(const WindowState& prev, const QuotaRule& rule, const Window& next,
                  const WindowAt& window_at);

// What admitting one input would do to a window.
struct Admission {
  bool allowed = true;
  bool over_limit = false;  // allowed past the limit (allow / allow_up_to)
  int64_t new_used = 0;     // `used` after applying
  int64_t delta = 0;        // units added (sum/count/unique_count; 0 for max/latest)
  bool overflow = false;    // the sum would pass INT64_MAX: reject the event
};

// Evaluates `input` (from Meter::InputOf) at `event_time` against `w` and `rule`.
Admission Admit(const WindowState& w, const QuotaRule& rule, Aggregation agg, uint64_t input,
                Micros event_time);

// Applies an admitted input.
void ApplyUsage(WindowState& w, Aggregation agg, const Admission& a, uint64_t input,
                Micros event_time);

// The effective limit (plan limit + granted), nullopt when unlimited.
std::optional<int64_t> EffectiveLimit(const WindowState& w, const QuotaRule& rule);

// The view of `w` that decisions and status report.
QuotaView ViewOf(const WindowState& w, const QuotaRule& rule);

// Appends to `out` the warn_at thresholds crossed going from `before` to `after` used units.
void CrossedThresholds(const WindowState& w, const QuotaRule& rule, int64_t before,
                       int64_t after, std::vector<int>& out);

}  // namespace tally

#endif  // TALLY_ENGINE_WINDOW_STATE_H_
