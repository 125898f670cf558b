// Subject and Org: who uses the product, and the organisation whose pooled
// quota also applies to its members.
//
// Thread-safety: plain value types.
#ifndef TALLY_CORE_SUBJECT_H_
#define TALLY_CORE_SUBJECT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/time.h"

namespace tally {

// A per-meter limit override; nullopt limit = unlimited.
using Overrides = std::map<std::string, std::optional<int64_t>>;

struct NotifyPrefs {
  bool email = true;
  bool webhook = true;
  bool in_app = true;
  friend bool operator==(const NotifyPrefs&, const NotifyPrefs&) = default;
};

struct Subject {
  std::string id;
  std::string tier;
  std::string org;  // empty: none
  std::string email;
  std::string timezone = "UTC";  // IANA
  int anchor_day = 1;            // 1..31, billing day of month
  Overrides overrides;
  std::string stripe_customer_id;
  NotifyPrefs notify;
  Micros created = 0;
  friend bool operator==(const Subject&, const Subject&) = default;
};

struct Org {
  std::string id;
  std::string tier;
  std::string timezone = "UTC";
  int anchor_day = 1;
  Overrides overrides;
  friend bool operator==(const Org&, const Org&) = default;
};

}  // namespace tally

#endif  // TALLY_CORE_SUBJECT_H_
