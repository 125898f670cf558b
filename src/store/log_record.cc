#include "store/log_record.h"

namespace tally {

std::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kSubject:
      return "subject";
    case Scope::kOrg:
      return "org";
  }
  return "unknown";
}

std::string_view LedgerKindName(LedgerRecord::Kind kind) {
  switch (kind) {
    case LedgerRecord::Kind::kHold:
      return "hold";
    case LedgerRecord::Kind::kRelease:
      return "release";
    case LedgerRecord::Kind::kExpire:
      return "expire";
    case LedgerRecord::Kind::kGrant:
      return "grant";
    case LedgerRecord::Kind::kReset:
      return "reset";
    case LedgerRecord::Kind::kRollover:
      return "rollover";
  }
  return "unknown";
}

}  // namespace tally
