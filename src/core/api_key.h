// ApiKey: a credential of the product's backend (service) or of an operator
// (admin). The key itself is shown once, at creation; tally keeps only its
// SHA-256 hash, so a stolen database does not hand out working keys.
//
// Thread-safety: plain value type.
#ifndef TALLY_CORE_API_KEY_H_
#define TALLY_CORE_API_KEY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"

namespace tally {

// What a caller may do (DESIGN.md "HTTP API"): an admin everything; a service
// track, check, consume, reserve and read any subject; a user (a JWT, never a
// stored key) read only its own subject.
enum class Role : uint8_t { kAdmin = 0, kService = 1, kUser = 2 };

std::string_view RoleName(Role role);                    // "admin", "service", "user"
std::optional<Role> ParseRole(std::string_view name);    // inverse of RoleName

struct ApiKey {
  std::string id;      // public handle, e.g. "key_3f9a2c1b" (shown in lists and audit)
  std::string name;    // what the operator called it
  Role role = Role::kService;
  std::string hash;    // lowercase hex SHA-256 of the whole key
  std::string prefix;  // the role marker and first random characters, to recognise it
  Micros created = 0;
  Micros revoked = 0;  // 0: active
  // Per-key limit on write requests; 0 = the server's default.
  int64_t write_rate_per_s = 0;
  friend bool operator==(const ApiKey&, const ApiKey&) = default;
};

}  // namespace tally

#endif  // TALLY_CORE_API_KEY_H_
