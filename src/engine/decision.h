// What the engine answers: a Decision for each track, check, consume, reserve
// and commit, with a QuotaView of every quota the event touched.
//
// Thread-safety: plain value types.
#ifndef TALLY_ENGINE_DECISION_H_
#define TALLY_ENGINE_DECISION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/period.h"
#include "core/time.h"
#include "store/log_record.h"

namespace tally {

enum class QuotaStatus { kOk, kWarning, kExceeded };  // < 75 %, >= 75 %, >= 100 %
std::string_view QuotaStatusName(QuotaStatus s);

// One quota of one subject or org, as of one instant.
struct QuotaView {
  std::string meter;
  Scope scope = Scope::kSubject;
  std::string account;           // subject or org id
  std::optional<int64_t> limit;  // effective: plan limit + grants; nullopt = unlimited
  int64_t used = 0;
  int64_t reserved = 0;
  std::optional<int64_t> remaining;  // max(0, limit - used - reserved)
  double percent = 0;                // 100 * (used + reserved) / limit; 0 when unlimited
  QuotaStatus status = QuotaStatus::kOk;
  Window period;  // reset_at == period.end
};

// A warn_at threshold that this decision's usage crossed (once per window).
struct ThresholdCrossing {
  std::string meter;
  Scope scope = Scope::kSubject;
  std::string account;
  int percent = 0;
};

enum class DenyReason { kNone, kQuotaExceeded, kRateLimited };
std::string_view DenyReasonName(DenyReason r);

struct Decision {
  bool allowed = false;
  DenyReason reason = DenyReason::kNone;
  // The first quota or rate limit that denied, for the error message.
  std::string denied_meter;
  Scope denied_scope = Scope::kSubject;
  // When a denied request could succeed: the denying window's end, or the
  // rate limiter's next conforming instant.
  Micros retry_at = 0;
  // True when this answer repeats an earlier one for the same event id.
  bool replayed = false;
  // True when an admitted event went past a limit under an allow policy.
  bool over_limit = false;
  // Reservations: the hold's id and expiry.
  std::string reservation_id;
  Micros expires_at = 0;
  std::vector<QuotaView> quotas;
  std::vector<ThresholdCrossing> crossings;
};

}  // namespace tally

#endif  // TALLY_ENGINE_DECISION_H_
