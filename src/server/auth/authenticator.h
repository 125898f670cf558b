// Authenticator: turns an Authorization header into a Principal, the caller
// the rest of the server authorises and audits.
//
// "Bearer tly_..." is an API key, looked up in the KeyRing by hash. Any other
// bearer token is first tried as an operator-chosen key (TALLY_ADMIN_KEY need
// not start with "tly_"), then verified as a user JWT.
//
// Thread-safety: const and stateless over a thread-safe KeyRing and an
// immutable JwtVerifier; Authenticate may run concurrently.
#ifndef TALLY_SERVER_AUTH_AUTHENTICATOR_H_
#define TALLY_SERVER_AUTH_AUTHENTICATOR_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/api_key.h"
#include "core/time.h"
#include "server/auth/jwt.h"
#include "server/auth/key_ring.h"

namespace tally {

struct Principal {
  Role role = Role::kUser;
  // Who, for logs and audit: "key_3f9a2c1b (ops)" for a key, "user:alice"
  // for a token.
  std::string actor;
  std::string key_id;   // the API key's id; empty for users
  std::string subject;  // users only: the token's `sub`
  // The key's own write limit; 0 = the server's default (always 0 for users).
  int64_t write_rate_per_s = 0;
};

class Authenticator {
 public:
  // Neither pointer is owned; both must outlive the Authenticator. `keys`
  // null means no keys; `jwt` null or disabled means no user tokens.
  Authenticator(const KeyRing* keys, const JwtVerifier* jwt);

  // Authenticates `authorization_header` (the header's value; empty when it
  // is absent) at `now`. Every failure is Unauthenticated, with a message
  // telling the caller what to send, e.g. "unknown or revoked API key".
  [[nodiscard]] absl::StatusOr<Principal> Authenticate(std::string_view authorization_header, Micros now) const;

 private:
  const KeyRing* const keys_;
  const JwtVerifier* const jwt_;
};

}  // namespace tally

#endif  // TALLY_SERVER_AUTH_AUTHENTICATOR_H_
