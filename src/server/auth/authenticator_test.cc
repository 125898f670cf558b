#include "server/auth/authenticator.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "server/auth/api_keys.h"
#include "server/auth/jwt_test_util.h"

namespace tally {
namespace {

constexpr int64_t kNowSeconds = 1'767'225'600;  // 2026-01-01T00:00:00Z
constexpr Micros kNow = kNowSeconds * kMicrosPerSecond;
const std::string kSecret = "an-hs256-secret-of-at-least-32-bytes!!";

std::string UserToken(std::string_view sub, int64_t exp = kNowSeconds + 600) {
  return testing::MakeJwt(R"({"alg":"HS256"})",
                          absl::StrCat(R"({"sub":")", std::string(sub), R"(","exp":)", exp, "}"),
                          [](std::string_view input) { return testing::Hs256Signature(kSecret, input); });
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest()
      : service_(GenerateApiKey(Role::kService, "billing", 1)),
        admin_(GenerateApiKey(Role::kAdmin, "ops", 2)),
        jwt_(*JwtVerifier::Create({.hs256_secret = kSecret})),
        no_jwt_(*JwtVerifier::Create({})) {
    service_.key.write_rate_per_s = 250;
    keys_.Put(service_.key);
    keys_.Put(admin_.key);
  }

  // The error message, or "OK".
  static std::string ErrorOf(const Authenticator& auth, std::string_view header) {
    absl::StatusOr<Principal> principal = auth.Authenticate(header, kNow);
    if (principal.ok()) return "OK";
    EXPECT_EQ(principal.status().code(), absl::StatusCode::kUnauthenticated) << principal.status();
    return std::string(principal.status().message());
  }

  KeyRing keys_;
  NewKey service_;
  NewKey admin_;
  std::unique_ptr<JwtVerifier> jwt_;
  std::unique_ptr<JwtVerifier> no_jwt_;
};

TEST_F(AuthenticatorTest, ServiceKeyBecomesAServicePrincipal) {
  Authenticator auth(&keys_, jwt_.get());
  absl::StatusOr<Principal> principal = auth.Authenticate("Bearer " + service_.secret, kNow);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->role, Role::kService);
  EXPECT_EQ(principal->key_id, service_.key.id);
  EXPECT_EQ(principal->actor, service_.key.id + " (billing)");
  EXPECT_EQ(principal->subject, "");
  EXPECT_EQ(principal->write_rate_per_s, 250);
}

TEST_F(AuthenticatorTest, AdminKeyBecomesAnAdminPrincipal) {
  Authenticator auth(&keys_, nullptr);
  absl::StatusOr<Principal> principal = auth.Authenticate("Bearer " + admin_.secret, kNow);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->role, Role::kAdmin);
  EXPECT_EQ(principal->actor, admin_.key.id + " (ops)");
  EXPECT_EQ(principal->write_rate_per_s, 0);
}

TEST_F(AuthenticatorTest, SchemeIsCaseInsensitiveAndExtraSpacesAreTolerated) {
  Authenticator auth(&keys_, jwt_.get());
  EXPECT_EQ(ErrorOf(auth, "bearer " + service_.secret), "OK");
  EXPECT_EQ(ErrorOf(auth, "BEARER " + service_.secret), "OK");
  EXPECT_EQ(ErrorOf(auth, "Bearer  " + service_.secret), "OK");
  EXPECT_EQ(ErrorOf(auth, " Bearer\t" + service_.secret + " "), "OK");
}

TEST_F(AuthenticatorTest, MissingOrMalformedHeaderSaysWhatToSend) {
  Authenticator auth(&keys_, jwt_.get());
  EXPECT_EQ(ErrorOf(auth, ""), "missing Authorization header; send Authorization: Bearer <key or token>");
  EXPECT_EQ(ErrorOf(auth, "   "), "missing Authorization header; send Authorization: Bearer <key or token>");
  EXPECT_EQ(ErrorOf(auth, "Basic dXNlcjpwYXNz"),
            "Authorization header must use the Bearer scheme; send Authorization: Bearer <key or token>");
  EXPECT_EQ(ErrorOf(auth, service_.secret),
            "Authorization header must use the Bearer scheme; send Authorization: Bearer <key or token>");
  EXPECT_EQ(ErrorOf(auth, "Bearer"),
            "Authorization header has no token after \"Bearer\"; send Authorization: Bearer <key or token>");
  EXPECT_EQ(ErrorOf(auth, "Bearer " + service_.secret + " " + admin_.secret),
            "Authorization header has more than one token after \"Bearer\"");
}

TEST_F(AuthenticatorTest, UnknownAndRevokedKeysAreRejectedAlike) {
  Authenticator auth(&keys_, jwt_.get());
  const NewKey stranger = GenerateApiKey(Role::kAdmin, "elsewhere", 3);
  EXPECT_EQ(ErrorOf(auth, "Bearer " + stranger.secret), "unknown or revoked API key");
  ApiKey revoked = service_.key;
  revoked.revoked = kNow;
  keys_.Put(revoked);
  EXPECT_EQ(ErrorOf(auth, "Bearer " + service_.secret), "unknown or revoked API key");
  // A "tly_" token is never tried as a JWT, even when JWTs are enabled.
  EXPECT_EQ(ErrorOf(auth, "Bearer tly_" + UserToken("alice")), "unknown or revoked API key");
}

TEST_F(AuthenticatorTest, UserTokenBecomesAUserPrincipal) {
  Authenticator auth(&keys_, jwt_.get());
  absl::StatusOr<Principal> principal = auth.Authenticate("Bearer " + UserToken("alice"), kNow);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->role, Role::kUser);
  EXPECT_EQ(principal->actor, "user:alice");
  EXPECT_EQ(principal->subject, "alice");
  EXPECT_EQ(principal->key_id, "");
  EXPECT_EQ(principal->write_rate_per_s, 0);
}

TEST_F(AuthenticatorTest, BadUserTokensCarryTheVerifiersReason) {
  Authenticator auth(&keys_, jwt_.get());
  EXPECT_EQ(ErrorOf(auth, "Bearer " + UserToken("alice", kNowSeconds - 3600)), "token expired at 2025-12-31T23:00:00Z");
  EXPECT_EQ(ErrorOf(auth, "Bearer not-a-jwt"), "token is not a JWT: expected three base64url parts separated by '.'");
}

TEST_F(AuthenticatorTest, UserTokensNeedAConfiguredVerifier) {
  const std::string expected = "user tokens are not enabled (set TALLY_JWT_SECRET or TALLY_JWT_PUBLIC_KEY)";
  EXPECT_EQ(ErrorOf(Authenticator(&keys_, nullptr), "Bearer " + UserToken("alice")), expected);
  EXPECT_EQ(ErrorOf(Authenticator(&keys_, no_jwt_.get()), "Bearer " + UserToken("alice")), expected);
  // Keys keep working without JWTs.
  EXPECT_EQ(ErrorOf(Authenticator(&keys_, nullptr), "Bearer " + admin_.secret), "OK");
}

TEST_F(AuthenticatorTest, OperatorKeyWithoutTheTlyMarkerIsFound) {
  absl::StatusOr<ApiKey> operator_key = KeyFromSecret("my-own-admin-key-0001", Role::kAdmin, "TALLY_ADMIN_KEY", 5);
  ASSERT_TRUE(operator_key.ok()) << operator_key.status();
  keys_.Put(*operator_key);
  for (const JwtVerifier* jwt : {static_cast<const JwtVerifier*>(nullptr), static_cast<const JwtVerifier*>(jwt_.get())}) {
    Authenticator auth(&keys_, jwt);
    absl::StatusOr<Principal> principal = auth.Authenticate("Bearer my-own-admin-key-0001", kNow);
    ASSERT_TRUE(principal.ok()) << principal.status();
    EXPECT_EQ(principal->role, Role::kAdmin);
    EXPECT_EQ(principal->actor, operator_key->id + " (TALLY_ADMIN_KEY)");
  }
}

TEST_F(AuthenticatorTest, AStoredKeyWithTheUserRoleIsRefused) {
  ApiKey odd = *KeyFromSecret("tly_user_0123456789abcdef", Role::kService, "odd", 5);
  odd.role = Role::kUser;  // as a corrupt or hand-edited store might hold it
  keys_.Put(odd);
  Authenticator auth(&keys_, jwt_.get());
  EXPECT_EQ(ErrorOf(auth, "Bearer tly_user_0123456789abcdef"),
            absl::StrCat("API key ", odd.id, " has role user, which API keys cannot hold"));
}

TEST_F(AuthenticatorTest, NoKeyRingMeansOnlyTokens) {
  Authenticator auth(nullptr, jwt_.get());
  EXPECT_EQ(ErrorOf(auth, "Bearer " + admin_.secret), "unknown or revoked API key");
  EXPECT_EQ(ErrorOf(auth, "Bearer " + UserToken("bob")), "OK");
}

}  // namespace
}  // namespace tally
