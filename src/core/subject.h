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

// A partial change to a subject (PUT /api/admin/users/{id}, quota updates):
// what is set replaces the stored value; what is unset is kept.
struct SubjectPatch {
  std::string id;
  std::optional<std::string> tier;
  std::optional<std::string> org;  // "" removes the org
  std::optional<std::string> email;
  std::optional<std::string> timezone;
  std::optional<int> anchor_day;
  std::optional<Overrides> overrides;  // replaces every override
  Overrides set_overrides;             // merged in, meter by meter
  std::optional<std::string> stripe_customer_id;
  std::optional<NotifyPrefs> notify;
  bool create = true;  // false: an unknown id is NotFound
};

}  // namespace tally

#endif  // TALLY_CORE_SUBJECT_H_
