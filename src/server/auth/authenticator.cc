// Authenticator (see authenticator.h). Stateless; thread-safe.
#include "server/auth/authenticator.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/auth/api_keys.h"

namespace tally {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

absl::StatusOr<Principal> KeyPrincipal(const ApiKey& key) {
  if (key.role == Role::kUser) {
    // Users authenticate with JWTs; a stored key claiming the user role has
    // no subject to be confined to, so it must not get in.
    return absl::UnauthenticatedError(
        absl::StrCat("API key ", key.id, " has role user, which API keys cannot hold"));
  }
  Principal principal;
  principal.role = key.role;
  principal.actor = key.name.empty() ? key.id : absl::StrCat(key.id, " (", key.name, ")");
  principal.key_id = key.id;
  principal.write_rate_per_s = key.write_rate_per_s;
  return principal;
}

}  // namespace

Authenticator::Authenticator(const KeyRing* keys, const JwtVerifier* jwt) : keys_(keys), jwt_(jwt) {}

absl::StatusOr<Principal> Authenticator::Authenticate(std::string_view authorization_header, Micros now) const {
  const std::string_view header = Trim(authorization_header);
  if (header.empty()) {
    return absl::UnauthenticatedError(
        "missing Authorization header; send Authorization: Bearer <key or token>");
  }
  size_t scheme_end = 0;
  while (scheme_end < header.size() && !IsSpace(header[scheme_end])) ++scheme_end;
  if (!EqualsIgnoreCase(header.substr(0, scheme_end), "Bearer")) {
    return absl::UnauthenticatedError(
        "Authorization header must use the Bearer scheme; send Authorization: Bearer <key or token>");
  }
  const std::string_view token = Trim(header.substr(scheme_end));
  if (token.empty()) {
    return absl::UnauthenticatedError(
        "Authorization header has no token after \"Bearer\"; send Authorization: Bearer <key or token>");
  }
  for (const char c : token) {
    if (IsSpace(c)) {
      return absl::UnauthenticatedError("Authorization header has more than one token after \"Bearer\"");
    }
  }

  const bool looks_like_key = token.substr(0, kApiKeyMarker.size()) == kApiKeyMarker;
  if (keys_ != nullptr) {
    if (std::optional<ApiKey> key = keys_->FindBySecret(token); key.has_value()) return KeyPrincipal(*key);
  }
  if (looks_like_key) return absl::UnauthenticatedError("unknown or revoked API key");

  if (jwt_ == nullptr || !jwt_->enabled()) {
    return absl::UnauthenticatedError("user tokens are not enabled (set TALLY_JWT_SECRET or TALLY_JWT_PUBLIC_KEY)");
  }
  absl::StatusOr<JwtClaims> claims = jwt_->Verify(token, now);
  if (!claims.ok()) return claims.status();
  Principal principal;
  principal.role = Role::kUser;
  principal.actor = absl::StrCat("user:", claims->subject);
  principal.subject = std::move(claims->subject);
  return principal;
}

}  // namespace tally
