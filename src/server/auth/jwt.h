// JwtVerifier: checks the user tokens the product signs (DESIGN.md "HTTP
// API"): compact JWS (RFC 7515) JWTs (RFC 7519) signed with HS256 (a shared
// secret, TALLY_JWT_SECRET) or RS256/ES256 (a public key, TALLY_JWT_PUBLIC_KEY).
//
// The algorithm a token may use follows from what is configured, never from
// the token alone: HS256 only with a secret, RS256 only with an RSA key, ES256
// only with a P-256 key; "none" never. So a token cannot pick HMAC and have
// the public key's text used as its secret (algorithm confusion).
//
// Thread-safety: immutable after Create; Verify may run concurrently.
#ifndef TALLY_SERVER_AUTH_JWT_H_
#define TALLY_SERVER_AUTH_JWT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/time.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace tally {

struct JwtOptions {
  // The HS256 secret (TALLY_JWT_SECRET). Empty: HS256 tokens are refused.
  // At least 32 bytes (RFC 7518 §3.2: a key as long as the hash output).
  // Default: "".
  std::string hs256_secret;
  // PEM text of an RSA (>= 2048 bits; RS256) or EC P-256 (ES256) public key,
  // "-----BEGIN PUBLIC KEY-----" or "-----BEGIN RSA PUBLIC KEY-----"
  // (TALLY_JWT_PUBLIC_KEY names the file). Empty: RS256/ES256 are refused.
  // Default: "".
  std::string public_key_pem;
  // Clock skew tolerated on `exp` and `nbf`. Default: 30 s.
  Micros leeway = 30 * kMicrosPerSecond;
};

// What tally reads from a verified token.
struct JwtClaims {
  std::string subject;   // `sub`: the subject id this token may read
  Micros expires = 0;    // `exp`
  Micros not_before = 0; // `nbf`; 0 when absent
  Micros issued_at = 0;  // `iat`; 0 when absent
};

// Tokens longer than this are refused before any parsing.
inline constexpr size_t kMaxJwtLength = 8 * 1024;
// The longest `sub` accepted.
inline constexpr size_t kMaxJwtSubjectLength = 128;

class JwtVerifier {
 public:
  // InvalidArgument when the secret is too short, or the PEM does not parse or
  // holds neither an RSA (>= 2048 bits) nor a P-256 EC public key. Both empty
  // is fine: the verifier is disabled ("no user tokens").
  static absl::StatusOr<std::unique_ptr<JwtVerifier>> Create(const JwtOptions& options);

  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  // True when a secret or a public key is configured.
  bool enabled() const;

  // Verifies `token` at `now`: its form, algorithm, signature, then its
  // claims (`sub` a non-empty string of at most 128 characters without
  // control characters; `exp` a number with exp > now - leeway; `nbf`, when
  // present, <= now + leeway). Every failure is Unauthenticated with a
  // message fit for the API caller, e.g. "token expired at
  // 2026-03-08T07:00:00Z" or "token signature does not verify".
  absl::StatusOr<JwtClaims> Verify(std::string_view token, Micros now) const;

 private:
  enum class KeyType { kNone, kRsa, kEcP256 };
  struct PkeyDeleter {
    void operator()(EVP_PKEY* pkey) const;
  };

  JwtVerifier(std::string hs256_secret, std::unique_ptr<EVP_PKEY, PkeyDeleter> public_key,
              KeyType key_type, Micros leeway);

  // Checks `signature` over `signing_input` for `alg` (already accepted).
  bool SignatureVerifies(std::string_view alg, std::string_view signing_input,
                         std::string_view signature) const;
  // Unauthenticated unless `alg` is usable with what is configured.
  absl::Status CheckAlgorithm(std::string_view alg) const;

  // Constant after construction.
  const std::string hs256_secret_;
  const std::unique_ptr<EVP_PKEY, PkeyDeleter> public_key_;
  const KeyType key_type_;
  const Micros leeway_;
};

}  // namespace tally

#endif  // TALLY_SERVER_AUTH_JWT_H_
