#include "core/api_key.h"

namespace tally {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kService:
      return "service";
    case Role::kUser:
      return "user";
  }
  return "unknown";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "service") return Role::kService;
  if (name == "user") return Role::kUser;
  return std::nullopt;
}

}  // namespace tally
