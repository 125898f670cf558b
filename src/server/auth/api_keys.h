// API keys: minting fresh keys, hashing them, and adopting an operator's key.
//
// A generated key reads "tly_service_" or "tly_admin_" followed by 43 base62
// characters (256 bits from OpenSSL's CSPRNG). tally stores only its SHA-256
// (ApiKey::hash) and a prefix to recognise it; the secret is shown once.
//
// Thread-safety: free functions, safe to call from any thread.
#ifndef TALLY_SERVER_AUTH_API_KEYS_H_
#define TALLY_SERVER_AUTH_API_KEYS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/api_key.h"
#include "core/time.h"

namespace tally {

// Every API key tally issues starts with this; the Authenticator uses it to
// tell keys from user JWTs.
inline constexpr std::string_view kApiKeyMarker = "tly_";

// The random part of a generated key, in base62 characters (43 * log2(62) =
// 256.03 bits).
inline constexpr size_t kApiKeyRandomChars = 43;

// Bounds on an operator-supplied key (KeyFromSecret).
inline constexpr size_t kMinOperatorKeyLength = 16;
inline constexpr size_t kMaxOperatorKeyLength = 256;

struct NewKey {
  ApiKey key;          // what tally stores: no secret, only its hash
  std::string secret;  // the key itself: hand it to the caller once, then drop it
};

// Mints a key: secret "tly_<role>_" + 43 base62 characters; key.id "key_" + 8
// random lowercase hex digits; key.hash = HashApiKey(secret); key.prefix =
// the secret's first 12 characters; key.created = now.
// REQUIRES: role is kAdmin or kService (users authenticate with JWTs).
// Aborts the process if the system CSPRNG fails: there is no safe fallback.
// Ids are random, not unique by construction (2^32 values): check
// KeyRing::Get(id) before storing if a collision would matter.
NewKey GenerateApiKey(Role role, std::string name, Micros now);

// Lowercase hex SHA-256 of `secret` (64 characters).
std::string HashApiKey(std::string_view secret);

// Adopts a key the operator chose (TALLY_ADMIN_KEY). The secret must be
// 16..256 printable ASCII characters without spaces, and `role` kAdmin or
// kService; otherwise InvalidArgument says which rule is broken (never
// echoing the secret).
// The id is random, so to load the same key at every start without piling up
// copies, look it up with KeyRing::FindBySecret first. Because operator keys
// may be short, key.prefix keeps only their first 4 characters.
absl::StatusOr<ApiKey> KeyFromSecret(std::string_view secret, Role role, std::string name, Micros now);

}  // namespace tally

#endif  // TALLY_SERVER_AUTH_API_KEYS_H_
