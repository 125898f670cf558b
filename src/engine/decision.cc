#include "engine/decision.h"

namespace tally {

std::string_view QuotaStatusName(QuotaStatus s) {
  switch (s) {
    case QuotaStatus::kOk:
      return "ok";
    case QuotaStatus::kWarning:
      return "warning";
    case QuotaStatus::kExceeded:
      return "exceeded";
  }
  return "ok";
}

std::string_view DenyReasonName(DenyReason r) {
  switch (r) {
    case DenyReason::kNone:
      return "none";
    case DenyReason::kQuotaExceeded:
      return "quota_exceeded";
    case DenyReason::kRateLimited:
      return "rate_limited";
  }
  return "none";
}

}  // namespace tally
