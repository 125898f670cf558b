// Test-only JWT minting: key generation and HS256/RS256/ES256 signers, so the
// verifier's tests sign real tokens instead of pasting fixtures. Not linked
// into tally.
//
// Thread-safety: free functions; an EvpKey may be used from one thread at a
// time for signing.
#ifndef TALLY_SERVER_AUTH_JWT_TEST_UTIL_H_
#define TALLY_SERVER_AUTH_JWT_TEST_UTIL_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

typedef struct evp_pkey_st EVP_PKEY;

namespace tally::testing {

struct EvpKeyDeleter {
  void operator()(EVP_PKEY* key) const;
};
using EvpKey = std::unique_ptr<EVP_PKEY, EvpKeyDeleter>;

// Fresh key pairs. Abort on OpenSSL failure.
EvpKey GenerateRsaKey(int bits);
EvpKey GenerateEcKey(const char* curve);  // "P-256", "P-384", ...
EvpKey GenerateEd25519Key();

// "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo) and PKCS#8 private PEM.
std::string PublicKeyPem(EVP_PKEY* key);
std::string PrivateKeyPem(EVP_PKEY* key);
// "-----BEGIN RSA PUBLIC KEY-----" (PKCS#1). REQUIRES: an RSA key.
std::string RsaPkcs1PublicKeyPem(EVP_PKEY* key);

// Signatures over `input`, as JWS carries them (ES256: raw r||s, 64 bytes).
std::string Hs256Signature(std::string_view secret, std::string_view input);
std::string Rs256Signature(EVP_PKEY* key, std::string_view input);
std::string Es256Signature(EVP_PKEY* key, std::string_view input);

// base64url(header) "." base64url(payload) "." base64url(sign(first two parts)).
std::string MakeJwt(std::string_view header_json, std::string_view payload_json,
                    const std::function<std::string(std::string_view)>& sign);

}  // namespace tally::testing

#endif  // TALLY_SERVER_AUTH_JWT_TEST_UTIL_H_
