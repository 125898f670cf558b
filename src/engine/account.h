// Account: the live quota state of one subject or one org — its plan, its
// time zone and anchor, one WindowState per meter and one GCRA TAT per rate
// limit — and the registry entries that own one.
//
// Thread-safety: plain data; guarded by the engine stripe that holds it.
#ifndef TALLY_ENGINE_ACCOUNT_H_
#define TALLY_ENGINE_ACCOUNT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/subject.h"
#include "engine/plan.h"
#include "engine/window_state.h"
#include "store/log_record.h"

namespace tally {

struct Account {
  Scope scope = Scope::kSubject;
  std::string id;
  absl::TimeZone tz;
  int anchor_day = 1;
  std::shared_ptr<const Plan> plan;
  std::vector<WindowState> windows;  // by meter index
  std::vector<Micros> tats;          // by plan->rates index

  Window WindowAt(int meter, Micros t) const {
    return WindowFor(plan->quotas[meter].period, anchor_day, tz, t);
  }
};

struct SubjectEntry {
  Subject def;
  Account account;
};

struct OrgEntry {
  Org def;
  Account account;
};

}  // namespace tally

#endif  // TALLY_ENGINE_ACCOUNT_H_
