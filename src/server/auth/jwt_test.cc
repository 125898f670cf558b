#include "server/auth/jwt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/auth/base64url.h"
#include "server/auth/jwt_test_util.h"

namespace tally {
namespace {

using testing::EvpKey;
using testing::MakeJwt;

constexpr int64_t kNowSeconds = 1'767'225'600;  // 2026-01-01T00:00:00Z
constexpr Micros kNow = kNowSeconds * kMicrosPerSecond;
const std::string kSecret = "an-hs256-secret-of-at-least-32-bytes!!";

std::string Claims(std::string_view sub, int64_t exp) {
  return absl::StrCat(R"({"sub":")", std::string(sub), R"(","exp":)", exp, "}");
}

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new EvpKey(testing::GenerateRsaKey(2048));
    other_rsa_ = new EvpKey(testing::GenerateRsaKey(2048));
    ec_ = new EvpKey(testing::GenerateEcKey("P-256"));
    other_ec_ = new EvpKey(testing::GenerateEcKey("P-256"));
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete other_rsa_;
    delete ec_;
    delete other_ec_;
  }

  static std::unique_ptr<JwtVerifier> Verifier(JwtOptions options) {
    absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier = JwtVerifier::Create(options);
    EXPECT_TRUE(verifier.ok()) << verifier.status();
    return verifier.ok() ? std::move(*verifier) : nullptr;
  }
  static std::unique_ptr<JwtVerifier> HsVerifier() { return Verifier({.hs256_secret = kSecret}); }
  static std::unique_ptr<JwtVerifier> RsVerifier() {
    return Verifier({.public_key_pem = testing::PublicKeyPem(rsa_->get())});
  }
  static std::unique_ptr<JwtVerifier> EsVerifier() {
    return Verifier({.public_key_pem = testing::PublicKeyPem(ec_->get())});
  }

  static std::string Hs256(std::string_view payload, const std::string& secret = kSecret) {
    return MakeJwt(R"({"alg":"HS256","typ":"JWT"})", payload,
                   [&](std::string_view input) { return testing::Hs256Signature(secret, input); });
  }
  static std::string Rs256(std::string_view payload, EVP_PKEY* key = nullptr) {
    EVP_PKEY* signer = key != nullptr ? key : rsa_->get();
    return MakeJwt(R"({"alg":"RS256","typ":"JWT"})", payload,
                   [&](std::string_view input) { return testing::Rs256Signature(signer, input); });
  }
  static std::string Es256(std::string_view payload, EVP_PKEY* key = nullptr) {
    EVP_PKEY* signer = key != nullptr ? key : ec_->get();
    return MakeJwt(R"({"alg":"ES256","typ":"JWT"})", payload,
                   [&](std::string_view input) { return testing::Es256Signature(signer, input); });
  }

  // The error message of verifying `token`, or "OK".
  static std::string ErrorOf(const JwtVerifier& verifier, std::string_view token, Micros now = kNow) {
    absl::StatusOr<JwtClaims> claims = verifier.Verify(token, now);
    if (claims.ok()) return "OK";
    EXPECT_EQ(claims.status().code(), absl::StatusCode::kUnauthenticated) << claims.status();
    return std::string(claims.status().message());
  }

  static EvpKey* rsa_;
  static EvpKey* other_rsa_;
  static EvpKey* ec_;
  static EvpKey* other_ec_;
};

EvpKey* JwtTest::rsa_ = nullptr;
EvpKey* JwtTest::other_rsa_ = nullptr;
EvpKey* JwtTest::ec_ = nullptr;
EvpKey* JwtTest::other_ec_ = nullptr;

// --- Create ---

TEST_F(JwtTest, NothingConfiguredMeansDisabled) {
  std::unique_ptr<JwtVerifier> verifier = Verifier({});
  ASSERT_NE(verifier, nullptr);
  EXPECT_FALSE(verifier->enabled());
  EXPECT_EQ(ErrorOf(*verifier, Hs256(Claims("alice", kNowSeconds + 60))),
            "user tokens are not enabled (set TALLY_JWT_SECRET or TALLY_JWT_PUBLIC_KEY)");
  EXPECT_TRUE(HsVerifier()->enabled());
  EXPECT_TRUE(RsVerifier()->enabled());
  EXPECT_TRUE(EsVerifier()->enabled());
}

TEST_F(JwtTest, CreateRejectsUnusableKeysWithReasons) {
  auto error = [](JwtOptions options) {
    absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier = JwtVerifier::Create(options);
    if (verifier.ok()) return std::string("OK");
    EXPECT_EQ(verifier.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(verifier.status().message());
  };
  EXPECT_NE(error({.public_key_pem = "not a pem"}).find("is not a PEM public key"), std::string::npos);
  EXPECT_NE(error({.public_key_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"})
                .find("is not a PEM public key"),
            std::string::npos);
  EXPECT_NE(error({.public_key_pem = testing::PrivateKeyPem(ec_->get())}).find("holds a private key"),
            std::string::npos);
  EvpKey p384 = testing::GenerateEcKey("P-384");
  EXPECT_EQ(error({.public_key_pem = testing::PublicKeyPem(p384.get())}),
            "TALLY_JWT_PUBLIC_KEY is an EC key on curve secp384r1; ES256 needs P-256 (prime256v1)");
  EvpKey ed25519 = testing::GenerateEd25519Key();
  EXPECT_NE(error({.public_key_pem = testing::PublicKeyPem(ed25519.get())})
                .find("tally verifies RS256 (RSA) and ES256 (EC P-256) tokens"),
            std::string::npos);
  EvpKey rsa1024 = testing::GenerateRsaKey(1024);
  EXPECT_EQ(error({.public_key_pem = testing::PublicKeyPem(rsa1024.get())}),
            "TALLY_JWT_PUBLIC_KEY is a 1024-bit RSA key; RS256 needs at least 2048 bits");
  EXPECT_NE(error({.hs256_secret = "short"}).find("TALLY_JWT_SECRET is too short: 5 bytes"), std::string::npos);
  EXPECT_EQ(error({.hs256_secret = std::string(32, 'k')}), "OK");
  EXPECT_NE(error({.hs256_secret = kSecret, .leeway = -1}).find("leeway must not be negative"), std::string::npos);
}

TEST_F(JwtTest, AcceptsAPkcs1RsaPublicKey) {
  std::unique_ptr<JwtVerifier> verifier =
      Verifier({.public_key_pem = testing::RsaPkcs1PublicKeyPem(rsa_->get())});
  ASSERT_NE(verifier, nullptr);
  EXPECT_EQ(ErrorOf(*verifier, Rs256(Claims("alice", kNowSeconds + 60))), "OK");
}

// --- Good tokens ---

TEST_F(JwtTest, GoodHs256TokenYieldsItsClaims) {
  const std::string token =
      Hs256(absl::StrCat(R"({"sub":"alice","exp":)", kNowSeconds + 600, R"(,"nbf":)", kNowSeconds - 5,
                         R"(,"iat":)", kNowSeconds - 5, R"(,"scope":["read"]})"));
  absl::StatusOr<JwtClaims> claims = HsVerifier()->Verify(token, kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "alice");
  EXPECT_EQ(claims->expires, (kNowSeconds + 600) * kMicrosPerSecond);
  EXPECT_EQ(claims->not_before, (kNowSeconds - 5) * kMicrosPerSecond);
  EXPECT_EQ(claims->issued_at, (kNowSeconds - 5) * kMicrosPerSecond);
}

TEST_F(JwtTest, GoodRs256Token) {
  absl::StatusOr<JwtClaims> claims = RsVerifier()->Verify(Rs256(Claims("user-42", kNowSeconds + 60)), kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "user-42");
  EXPECT_EQ(claims->not_before, 0);
  EXPECT_EQ(claims->issued_at, 0);
}

TEST_F(JwtTest, GoodEs256Token) {
  std::unique_ptr<JwtVerifier> verifier = EsVerifier();
  // ECDSA signatures are randomised; several also exercise r or s with leading zeros now and then.
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<JwtClaims> claims = verifier->Verify(Es256(Claims("bob", kNowSeconds + 60)), kNow);
    ASSERT_TRUE(claims.ok()) << claims.status();
    EXPECT_EQ(claims->subject, "bob");
  }
}

TEST_F(JwtTest, SecretAndPublicKeyCanBothBeConfigured) {
  std::unique_ptr<JwtVerifier> verifier =
      Verifier({.hs256_secret = kSecret, .public_key_pem = testing::PublicKeyPem(ec_->get())});
  EXPECT_EQ(ErrorOf(*verifier, Hs256(Claims("a", kNowSeconds + 60))), "OK");
  EXPECT_EQ(ErrorOf(*verifier, Es256(Claims("a", kNowSeconds + 60))), "OK");
  EXPECT_EQ(ErrorOf(*verifier, Rs256(Claims("a", kNowSeconds + 60))),
            "token algorithm RS256 is not accepted: TALLY_JWT_PUBLIC_KEY is an EC P-256 key (ES256)");
}

TEST_F(JwtTest, FractionalAndLargeNumericDatesAreRead) {
  absl::StatusOr<JwtClaims> claims = HsVerifier()->Verify(
      Hs256(absl::StrCat(R"({"sub":"a","exp":)", kNowSeconds + 60, R"(.25})")), kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->expires, (kNowSeconds + 60) * kMicrosPerSecond + 250'000);
  EXPECT_EQ(ErrorOf(*HsVerifier(), Hs256(R"({"sub":"a","exp":1e300})")),
            "token \"exp\" claim must be a number of seconds since the epoch (expiry time)");
  EXPECT_EQ(ErrorOf(*HsVerifier(), Hs256(R"({"sub":"a","exp":18446744073709551615})")),
            "token \"exp\" claim must be a number of seconds since the epoch (expiry time)");
}

// --- Time ---

TEST_F(JwtTest, ExpiredTokenSaysWhen) {
  EXPECT_EQ(ErrorOf(*HsVerifier(), Hs256(Claims("alice", kNowSeconds - 3600))),
            "token expired at 2025-12-31T23:00:00Z");
}

TEST_F(JwtTest, ExpiryLeewayEdges) {
  std::unique_ptr<JwtVerifier> verifier = HsVerifier();  // leeway 30 s
  EXPECT_EQ(ErrorOf(*verifier, Hs256(Claims("a", kNowSeconds - 29))), "OK");
  EXPECT_EQ(ErrorOf(*verifier, Hs256(Claims("a", kNowSeconds - 30))), "token expired at 2025-12-31T23:59:30Z");
  // Exactly at the boundary, to the microsecond.
  const std::string token = Hs256(Claims("a", kNowSeconds));
  EXPECT_EQ(ErrorOf(*verifier, token, kNow + 30 * kMicrosPerSecond - 1), "OK");
  EXPECT_NE(ErrorOf(*verifier, token, kNow + 30 * kMicrosPerSecond), "OK");

  std::unique_ptr<JwtVerifier> strict = Verifier({.hs256_secret = kSecret, .leeway = 0});
  EXPECT_EQ(ErrorOf(*strict, token, kNow - 1), "OK");
  EXPECT_EQ(ErrorOf(*strict, token, kNow), "token expired at 2026-01-01T00:00:00Z");
}

TEST_F(JwtTest, NotBeforeInTheFutureIsRejectedBeyondTheLeeway) {
  std::unique_ptr<JwtVerifier> verifier = HsVerifier();
  auto with_nbf = [](int64_t nbf) {
    return Hs256(absl::StrCat(R"({"sub":"a","exp":)", kNowSeconds + 3600, R"(,"nbf":)", nbf, "}"));
  };
  EXPECT_EQ(ErrorOf(*verifier, with_nbf(kNowSeconds + 30)), "OK");
  EXPECT_EQ(ErrorOf(*verifier, with_nbf(kNowSeconds + 31)), "token is not valid before 2026-01-01T00:00:31Z");
  EXPECT_EQ(ErrorOf(*verifier, with_nbf(kNowSeconds + 3600)), "token is not valid before 2026-01-01T01:00:00Z");
  EXPECT_EQ(ErrorOf(*verifier, with_nbf(0)), "OK");
  EXPECT_EQ(ErrorOf(*verifier, Hs256(absl::StrCat(R"({"sub":"a","exp":)", kNowSeconds + 60, R"(,"nbf":"soon"})"))),
            "token \"nbf\" claim must be a number of seconds since the epoch (not-before time)");
}

// --- Signatures ---

TEST_F(JwtTest, WrongKeyDoesNotVerify) {
  const std::string payload = Claims("alice", kNowSeconds + 60);
  EXPECT_EQ(ErrorOf(*HsVerifier(), Hs256(payload, "another-secret-that-is-32-bytes-long!")),
            "token signature does not verify");
  EXPECT_EQ(ErrorOf(*RsVerifier(), Rs256(payload, other_rsa_->get())), "token signature does not verify");
  EXPECT_EQ(ErrorOf(*EsVerifier(), Es256(payload, other_ec_->get())), "token signature does not verify");
}

TEST_F(JwtTest, TamperedPayloadDoesNotVerify) {
  const std::string other_payload = Base64UrlEncode(Claims("mallory", kNowSeconds + 60));
  auto tamper = [&](const std::string& token) {
    const size_t first = token.find('.');
    const size_t second = token.find('.', first + 1);
    return token.substr(0, first + 1) + other_payload + token.substr(second);
  };
  const std::string payload = Claims("alice", kNowSeconds + 60);
  EXPECT_EQ(ErrorOf(*HsVerifier(), tamper(Hs256(payload))), "token signature does not verify");
  EXPECT_EQ(ErrorOf(*RsVerifier(), tamper(Rs256(payload))), "token signature does not verify");
  EXPECT_EQ(ErrorOf(*EsVerifier(), tamper(Es256(payload))), "token signature does not verify");

  // One flipped bit in the signature.
  std::string token = Hs256(payload);
  token[token.size() - 2] = token[token.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(ErrorOf(*HsVerifier(), token), "token signature does not verify");
}

TEST_F(JwtTest, AlgNoneIsNeverAccepted) {
  const std::string payload = Claims("alice", kNowSeconds + 60);
  const std::string unsigned_token =
      Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + Base64UrlEncode(payload) + ".";
  const std::string expected = "token algorithm none is not accepted: unsigned tokens are never accepted";
  EXPECT_EQ(ErrorOf(*HsVerifier(), unsigned_token), expected);
  EXPECT_EQ(ErrorOf(*RsVerifier(), unsigned_token), expected);
  const std::string with_signature = MakeJwt(R"({"alg":"none"})", payload, [](std::string_view input) {
    return testing::Hs256Signature(kSecret, input);
  });
  EXPECT_EQ(ErrorOf(*HsVerifier(), with_signature), expected);
  EXPECT_EQ(ErrorOf(*HsVerifier(), MakeJwt(R"({"alg":"NONE"})", payload, [](std::string_view) { return "x"; })),
            expected);
}

TEST_F(JwtTest, HmacWithThePublicKeyAsSecretIsRejected) {
  // The classic algorithm confusion: the attacker knows the public key and
  // HMAC-signs a token with its PEM text, hoping the verifier feeds the same
  // bytes to HMAC.
  const std::string pem = testing::PublicKeyPem(rsa_->get());
  const std::string forged = Hs256(Claims("admin", kNowSeconds + 60), pem);
  EXPECT_EQ(ErrorOf(*RsVerifier(), forged),
            "token algorithm HS256 is not accepted: tally has no TALLY_JWT_SECRET");

  // With both configured, HS256 uses only the secret.
  std::unique_ptr<JwtVerifier> both = Verifier({.hs256_secret = kSecret, .public_key_pem = pem});
  EXPECT_EQ(ErrorOf(*both, forged), "token signature does not verify");
  const std::string ec_pem = testing::PublicKeyPem(ec_->get());
  EXPECT_EQ(ErrorOf(*EsVerifier(), Hs256(Claims("admin", kNowSeconds + 60), ec_pem)),
            "token algorithm HS256 is not accepted: tally has no TALLY_JWT_SECRET");
}

TEST_F(JwtTest, AlgorithmMustMatchTheConfiguredKey) {
  const std::string payload = Claims("alice", kNowSeconds + 60);
  EXPECT_EQ(ErrorOf(*HsVerifier(), Rs256(payload)),
            "token algorithm RS256 is not accepted: tally has no TALLY_JWT_PUBLIC_KEY");
  EXPECT_EQ(ErrorOf(*HsVerifier(), Es256(payload)),
            "token algorithm ES256 is not accepted: tally has no TALLY_JWT_PUBLIC_KEY");
  EXPECT_EQ(ErrorOf(*RsVerifier(), Es256(payload)),
            "token algorithm ES256 is not accepted: TALLY_JWT_PUBLIC_KEY is an RSA key (RS256)");
  EXPECT_EQ(ErrorOf(*EsVerifier(), Rs256(payload)),
            "token algorithm RS256 is not accepted: TALLY_JWT_PUBLIC_KEY is an EC P-256 key (ES256)");
  const std::string hs512 = MakeJwt(R"({"alg":"HS512"})", payload, [](std::string_view input) {
    return testing::Hs256Signature(kSecret, input);
  });
  EXPECT_EQ(ErrorOf(*HsVerifier(), hs512),
            "token algorithm HS512 is not accepted: tally accepts HS256 (with TALLY_JWT_SECRET), RS256 or "
            "ES256 (with TALLY_JWT_PUBLIC_KEY)");
}

TEST_F(JwtTest, Es256SignatureMustBeRawAnd64Bytes) {
  const std::string payload = Claims("alice", kNowSeconds + 60);
  // DER (what OpenSSL produces natively) instead of JWS's raw r||s.
  const std::string der_token = MakeJwt(R"({"alg":"ES256"})", payload, [](std::string_view input) {
    return testing::Rs256Signature(ec_->get(), input);  // EVP_DigestSign on an EC key: DER
  });
  const std::string message = ErrorOf(*EsVerifier(), der_token);
  EXPECT_EQ(message.rfind("token signature does not verify: an ES256 signature is 64 bytes (r||s), this one is ", 0),
            0u)
      << message;
  const std::string short_token = MakeJwt(R"({"alg":"ES256"})", payload, [](std::string_view input) {
    return testing::Es256Signature(ec_->get(), input).substr(0, 63);
  });
  EXPECT_EQ(ErrorOf(*EsVerifier(), short_token),
            "token signature does not verify: an ES256 signature is 64 bytes (r||s), this one is 63");
  // 64 bytes, but r = 0: not a valid ECDSA signature.
  const std::string zero_token = MakeJwt(R"({"alg":"ES256"})", payload, [](std::string_view input) {
    return std::string(32, '\0') + testing::Es256Signature(ec_->get(), input).substr(32);
  });
  EXPECT_EQ(ErrorOf(*EsVerifier(), zero_token), "token signature does not verify");
}

// --- Form ---

TEST_F(JwtTest, MalformedTokensAreRejectedWithTheReason) {
  std::unique_ptr<JwtVerifier> verifier = HsVerifier();
  const std::string good = Hs256(Claims("alice", kNowSeconds + 60));
  ASSERT_EQ(ErrorOf(*verifier, good), "OK");
  const std::string not_jwt = "token is not a JWT: expected three base64url parts separated by '.'";
  EXPECT_EQ(ErrorOf(*verifier, ""), not_jwt);
  EXPECT_EQ(ErrorOf(*verifier, "abc"), not_jwt);
  EXPECT_EQ(ErrorOf(*verifier, "abc.def"), not_jwt);
  EXPECT_EQ(ErrorOf(*verifier, good + ".extra"), not_jwt);

  // Padding on the signature.
  EXPECT_EQ(ErrorOf(*verifier, good + "="),
            absl::StrCat("token signature is not base64url: character ", good.size() - good.rfind('.'),
                         " ('=') is not base64url (A-Z a-z 0-9 - _, no padding)"));
  // Plain-base64 characters in the header.
  std::string plus = good;
  plus[3] = '+';
  EXPECT_EQ(ErrorOf(*verifier, plus).rfind("token header is not base64url: character 4 ('+')", 0), 0u)
      << ErrorOf(*verifier, plus);
  // A bad payload character: the signature check runs first and fails.
  std::string bad_payload = good;
  bad_payload[good.find('.') + 2] = '*';
  EXPECT_EQ(ErrorOf(*verifier, bad_payload), "token signature does not verify");
  // Header not JSON / not an object / without alg.
  auto sign = [](std::string_view input) { return testing::Hs256Signature(kSecret, input); };
  EXPECT_EQ(ErrorOf(*verifier, MakeJwt("{alg:HS256}", Claims("a", kNowSeconds + 60), sign))
                .rfind("token header is not valid JSON: ", 0),
            0u);
  EXPECT_EQ(ErrorOf(*verifier, MakeJwt(R"(["HS256"])", Claims("a", kNowSeconds + 60), sign)),
            "token header is not a JSON object");
  EXPECT_EQ(ErrorOf(*verifier, MakeJwt(R"({"typ":"JWT"})", Claims("a", kNowSeconds + 60), sign)),
            "token header has no \"alg\" string");
  EXPECT_EQ(ErrorOf(*verifier, MakeJwt(R"({"alg":"HS256","crit":["exp"]})", Claims("a", kNowSeconds + 60), sign)),
            "token header lists \"crit\" extensions, which tally does not support");
  // A signed payload that is not a JSON object.
  EXPECT_EQ(ErrorOf(*verifier, Hs256("[1,2]")), "token payload is not a JSON object");
  // No signature at all.
  EXPECT_EQ(ErrorOf(*verifier, good.substr(0, good.rfind('.') + 1)), "token has no signature");
}

TEST_F(JwtTest, OversizedTokenIsRejectedBeforeParsing) {
  std::unique_ptr<JwtVerifier> verifier = HsVerifier();
  const std::string padding(8000, 'x');
  const std::string big = Hs256(absl::StrCat(R"({"sub":"a","exp":)", kNowSeconds + 60, R"(,"pad":")", padding, "\"}"));
  ASSERT_GT(big.size(), kMaxJwtLength);
  EXPECT_EQ(ErrorOf(*verifier, big), absl::StrCat("token is too long: ", big.size(), " bytes, at most 8192 are accepted"));
}

// --- Claims ---

TEST_F(JwtTest, SubjectMustBeANonEmptyShortString) {
  std::unique_ptr<JwtVerifier> verifier = HsVerifier();
  const int64_t exp = kNowSeconds + 60;
  EXPECT_EQ(ErrorOf(*verifier, Hs256(absl::StrCat(R"({"exp":)", exp, "}"))),
            "token has no \"sub\" claim (the subject id)");
  EXPECT_EQ(ErrorOf(*verifier, Hs256(absl::StrCat(R"({"sub":42,"exp":)", exp, "}"))),
            "token \"sub\" claim must be a string (the subject id)");
  EXPECT_EQ(ErrorOf(*verifier, Hs256(Claims("", exp))), "token \"sub\" claim is empty");
  EXPECT_EQ(ErrorOf(*verifier, Hs256(Claims(std::string(128, 'u'), exp))), "OK");
  EXPECT_EQ(ErrorOf(*verifier, Hs256(Claims(std::string(129, 'u'), exp))),
            "token \"sub\" claim is 129 bytes long, at most 128 are accepted");
  EXPECT_EQ(ErrorOf(*verifier, Hs256(Claims("ali\\nce", exp))), "token \"sub\" claim contains control characters");
}

TEST_F(JwtTest, ExpiryIsRequiredAndNumeric) {
  std::unique_ptr<JwtVerifier> verifier = HsVerifier();
  EXPECT_EQ(ErrorOf(*verifier, Hs256(R"({"sub":"a"})")),
            "token has no \"exp\" claim (expiry time, seconds since the epoch)");
  const std::string non_numeric = "token \"exp\" claim must be a number of seconds since the epoch (expiry time)";
  EXPECT_EQ(ErrorOf(*verifier, Hs256(absl::StrCat(R"({"sub":"a","exp":")", kNowSeconds + 60, "\"}"))), non_numeric);
  EXPECT_EQ(ErrorOf(*verifier, Hs256(R"({"sub":"a","exp":true})")), non_numeric);
  EXPECT_EQ(ErrorOf(*verifier, Hs256(R"({"sub":"a","exp":null})")), non_numeric);
  EXPECT_EQ(ErrorOf(*verifier, Hs256(absl::StrCat(R"({"sub":"a","exp":)", kNowSeconds + 60, R"(,"iat":"x"})"))),
            "token \"iat\" claim must be a number of seconds since the epoch (issue time)");
}

TEST_F(JwtTest, ConcurrentVerificationsAgree) {
  std::unique_ptr<JwtVerifier> rs = RsVerifier();
  std::unique_ptr<JwtVerifier> es = EsVerifier();
  const std::string rs_token = Rs256(Claims("a", kNowSeconds + 60));
  const std::string es_token = Es256(Claims("a", kNowSeconds + 60));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (!rs->Verify(rs_token, kNow).ok()) failures.fetch_add(1);
        if (!es->Verify(es_token, kNow).ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace tally
