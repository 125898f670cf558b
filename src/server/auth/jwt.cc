// JwtVerifier (see jwt.h). Immutable after Create; Verify is thread-safe
// (OpenSSL allows concurrent read-only use of one EVP_PKEY).
#include "server/auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/auth/base64url.h"

namespace tally {
namespace {

constexpr size_t kMinHs256SecretBytes = 32;
constexpr int kMinRsaBits = 2048;
constexpr size_t kEs256SignatureBytes = 64;
// NumericDates beyond this many seconds from the epoch (year ~287,000) would
// overflow Micros; they are refused rather than clamped.
constexpr double kMaxNumericDateSeconds = 9e12;

absl::Status Unauthenticated(std::string message) { return absl::UnauthenticatedError(std::move(message)); }

// `alg` as it may appear in an error message: short, printable.
std::string Printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 24)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (text.size() > 24) out += "...";
  return out;
}

// Reads a NumericDate (RFC 7519 §2: seconds since the epoch, possibly
// fractional) as Micros; nullopt when `value` is not a number in range.
std::optional<Micros> NumericDate(const boost::json::value& value) {
  double seconds = 0;
  if (value.is_int64()) {
    seconds = static_cast<double>(value.get_int64());
  } else if (value.is_uint64()) {
    seconds = static_cast<double>(value.get_uint64());
  } else if (value.is_double()) {
    seconds = value.get_double();
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(seconds) || std::fabs(seconds) > kMaxNumericDateSeconds) return std::nullopt;
  if (value.is_int64()) return value.get_int64() * kMicrosPerSecond;  // exact
  if (value.is_uint64()) return static_cast<Micros>(value.get_uint64()) * kMicrosPerSecond;
  return static_cast<Micros>(std::llround(seconds * static_cast<double>(kMicrosPerSecond)));
}

// Reads claim `name` of `claims` as a NumericDate. `required` decides whether
// absence is an error; absent optional claims give 0.
absl::StatusOr<Micros> DateClaim(const boost::json::object& claims, const char* name, bool required,
                                 const char* meaning) {
  const boost::json::value* value = claims.if_contains(name);
  if (value == nullptr) {
    if (!required) return Micros{0};
    return Unauthenticated(absl::StrCat("token has no \"", name, "\" claim (", meaning,
                                        ", seconds since the epoch)"));
  }
  std::optional<Micros> micros = NumericDate(*value);
  if (!micros.has_value()) {
    return Unauthenticated(absl::StrCat("token \"", name, "\" claim must be a number of seconds since the epoch (",
                                        meaning, ")"));
  }
  return *micros;
}

Micros SaturatingAdd(Micros a, Micros b) {
  Micros sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? std::numeric_limits<Micros>::max() : std::numeric_limits<Micros>::min();
  }
  return sum;
}

// Parses `json` as an object; Unauthenticated naming `part` otherwise.
absl::StatusOr<boost::json::object> ParseObject(std::string_view json, const char* part) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec) {
    return Unauthenticated(absl::StrCat("token ", part, " is not valid JSON: ", ec.message()));
  }
  if (!value.is_object()) return Unauthenticated(absl::StrCat("token ", part, " is not a JSON object"));
  return std::move(value.as_object());
}

struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};

// Raw r||s (JWS ES256, RFC 7518 §3.4) to the DER ECDSA-Sig-Value OpenSSL
// verifies. REQUIRES: raw.size() == 64.
std::optional<std::string> Es256RawToDer(std::string_view raw) {
  std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter> sig(ECDSA_SIG_new());
  if (sig == nullptr) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(bytes, 32, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + 32, 32, nullptr);
  if (r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) return std::nullopt;
  return der;
}

}  // namespace

void JwtVerifier::PkeyDeleter::operator()(EVP_PKEY* pkey) const { EVP_PKEY_free(pkey); }

JwtVerifier::JwtVerifier(std::string hs256_secret, std::unique_ptr<EVP_PKEY, PkeyDeleter> public_key,
                         KeyType key_type, Micros leeway)
    : hs256_secret_(std::move(hs256_secret)),
      public_key_(std::move(public_key)),
      key_type_(key_type),
      leeway_(leeway) {}

JwtVerifier::~JwtVerifier() = default;

absl::StatusOr<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(const JwtOptions& options) {
  if (options.leeway < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("JWT leeway must not be negative (got ", options.leeway, " us)"));
  }
  if (!options.hs256_secret.empty() && options.hs256_secret.size() < kMinHs256SecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TALLY_JWT_SECRET is too short: ", options.hs256_secret.size(), " bytes, HS256 needs at least ",
        kMinHs256SecretBytes, " (RFC 7518 section 3.2); generate one with: openssl rand -base64 48"));
  }
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key;
  KeyType key_type = KeyType::kNone;
  const std::string& pem = options.public_key_pem;
  if (!pem.empty()) {
    if (pem.find("PRIVATE KEY") != std::string::npos) {
      return absl::InvalidArgumentError(
          "TALLY_JWT_PUBLIC_KEY holds a private key; give tally only the public key "
          "(openssl pkey -in private.pem -pubout -out public.pem)");
    }
    if (pem.find("BEGIN CERTIFICATE") != std::string::npos) {
      return absl::InvalidArgumentError(
          "TALLY_JWT_PUBLIC_KEY holds a certificate; extract its public key "
          "(openssl x509 -in cert.pem -pubkey -noout > public.pem)");
    }
    EVP_PKEY* parsed = nullptr;
    OSSL_DECODER_CTX* decoder = OSSL_DECODER_CTX_new_for_pkey(&parsed, "PEM", nullptr, nullptr,
                                                              EVP_PKEY_PUBLIC_KEY, nullptr, nullptr);
    const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
    size_t length = pem.size();
    const bool decoded = decoder != nullptr && OSSL_DECODER_from_data(decoder, &data, &length) == 1;
    OSSL_DECODER_CTX_free(decoder);
    ERR_clear_error();
    key.reset(parsed);
    if (!decoded || key == nullptr) {
      return absl::InvalidArgumentError(
          "TALLY_JWT_PUBLIC_KEY is not a PEM public key (expected \"-----BEGIN PUBLIC KEY-----\" "
          "holding an RSA or EC P-256 key)");
    }
    if (EVP_PKEY_is_a(key.get(), "RSA")) {
      const int bits = EVP_PKEY_get_bits(key.get());
      if (bits < kMinRsaBits) {
        return absl::InvalidArgumentError(absl::StrCat("TALLY_JWT_PUBLIC_KEY is a ", bits,
                                                       "-bit RSA key; RS256 needs at least ", kMinRsaBits,
                                                       " bits"));
      }
      key_type = KeyType::kRsa;
    } else if (EVP_PKEY_is_a(key.get(), "EC")) {
      char group[64] = {};
      size_t group_length = 0;
      if (EVP_PKEY_get_group_name(key.get(), group, sizeof(group), &group_length) != 1) {
        ERR_clear_error();
        return absl::InvalidArgumentError("TALLY_JWT_PUBLIC_KEY is an EC key on an unnamed curve; ES256 needs P-256");
      }
      const std::string_view name(group, group_length);
      if (name != "prime256v1" && name != "P-256" && name != "secp256r1") {
        return absl::InvalidArgumentError(absl::StrCat("TALLY_JWT_PUBLIC_KEY is an EC key on curve ",
                                                       std::string(name), "; ES256 needs P-256 (prime256v1)"));
      }
      key_type = KeyType::kEcP256;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("TALLY_JWT_PUBLIC_KEY is a ", std::string(Printable(EVP_PKEY_get0_type_name(key.get())
                                                                               ? EVP_PKEY_get0_type_name(key.get())
                                                                               : "unknown")),
                       " key; tally verifies RS256 (RSA) and ES256 (EC P-256) tokens"));
    }
  }
  return std::unique_ptr<JwtVerifier>(
      new JwtVerifier(options.hs256_secret, std::move(key), key_type, options.leeway));
}

bool JwtVerifier::enabled() const { return !hs256_secret_.empty() || key_type_ != KeyType::kNone; }

absl::Status JwtVerifier::CheckAlgorithm(std::string_view alg) const {
  if (alg == "HS256") {
    if (!hs256_secret_.empty()) return absl::OkStatus();
    return Unauthenticated("token algorithm HS256 is not accepted: tally has no TALLY_JWT_SECRET");
  }
  if (alg == "RS256" || alg == "ES256") {
    const KeyType wanted = alg == "RS256" ? KeyType::kRsa : KeyType::kEcP256;
    if (key_type_ == wanted) return absl::OkStatus();
    if (key_type_ == KeyType::kNone) {
      return Unauthenticated(
          absl::StrCat("token algorithm ", std::string(alg), " is not accepted: tally has no TALLY_JWT_PUBLIC_KEY"));
    }
    return Unauthenticated(absl::StrCat("token algorithm ", std::string(alg),
                                        " is not accepted: TALLY_JWT_PUBLIC_KEY is ",
                                        key_type_ == KeyType::kRsa ? "an RSA key (RS256)" : "an EC P-256 key (ES256)"));
  }
  if (alg == "none" || alg == "None" || alg == "NONE") {
    return Unauthenticated("token algorithm none is not accepted: unsigned tokens are never accepted");
  }
  return Unauthenticated(absl::StrCat("token algorithm ", Printable(alg),
                                      " is not accepted: tally accepts HS256 (with TALLY_JWT_SECRET), "
                                      "RS256 or ES256 (with TALLY_JWT_PUBLIC_KEY)"));
}

bool JwtVerifier::SignatureVerifies(std::string_view alg, std::string_view signing_input,
                                    std::string_view signature) const {
  if (alg == "HS256") {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_length = 0;
    if (HMAC(EVP_sha256(), hs256_secret_.data(), static_cast<int>(hs256_secret_.size()),
             reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
             &mac_length) == nullptr) {
      ERR_clear_error();
      return false;
    }
    return signature.size() == mac_length && CRYPTO_memcmp(mac, signature.data(), mac_length) == 0;
  }
  std::string der;
  if (alg == "ES256") {
    if (signature.size() != kEs256SignatureBytes) return false;
    std::optional<std::string> converted = Es256RawToDer(signature);
    if (!converted.has_value()) {
      ERR_clear_error();
      return false;
    }
    der = std::move(*converted);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter> ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key_.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

absl::StatusOr<JwtClaims> JwtVerifier::Verify(std::string_view token, Micros now) const {
  if (!enabled()) {
    return Unauthenticated("user tokens are not enabled (set TALLY_JWT_SECRET or TALLY_JWT_PUBLIC_KEY)");
  }
  if (token.size() > kMaxJwtLength) {
    return Unauthenticated(
        absl::StrCat("token is too long: ", token.size(), " bytes, at most ", kMaxJwtLength, " are accepted"));
  }
  const size_t first_dot = token.find('.');
  const size_t second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
    return Unauthenticated("token is not a JWT: expected three base64url parts separated by '.'");
  }
  const std::string_view header_part = token.substr(0, first_dot);
  const std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_part = token.substr(second_dot + 1);

  // Header: which algorithm, and is it one tally accepts here?
  absl::StatusOr<std::string> header_json = Base64UrlDecode(header_part);
  if (!header_json.ok()) {
    return Unauthenticated(absl::StrCat("token header is not base64url: ", std::string(header_json.status().message())));
  }
  absl::StatusOr<boost::json::object> header = ParseObject(*header_json, "header");
  if (!header.ok()) return header.status();
  const boost::json::value* alg_value = header->if_contains("alg");
  if (alg_value == nullptr || !alg_value->is_string()) {
    return Unauthenticated("token header has no \"alg\" string");
  }
  const std::string alg(alg_value->get_string().data(), alg_value->get_string().size());
  if (absl::Status status = CheckAlgorithm(alg); !status.ok()) return status;
  if (header->contains("crit")) {
    return Unauthenticated("token header lists \"crit\" extensions, which tally does not support");
  }

  // Signature, over the ASCII bytes "<header>.<payload>" as received.
  if (signature_part.empty()) return Unauthenticated("token has no signature");
  absl::StatusOr<std::string> signature = Base64UrlDecode(signature_part);
  if (!signature.ok()) {
    return Unauthenticated(absl::StrCat("token signature is not base64url: ", std::string(signature.status().message())));
  }
  if (alg == "ES256" && signature->size() != kEs256SignatureBytes) {
    return Unauthenticated(absl::StrCat("token signature does not verify: an ES256 signature is ",
                                        kEs256SignatureBytes, " bytes (r||s), this one is ", signature->size()));
  }
  if (!SignatureVerifies(alg, token.substr(0, second_dot), *signature)) {
    return Unauthenticated("token signature does not verify");
  }

  // Claims: only now that the signer is known to have written them.
  absl::StatusOr<std::string> payload_json = Base64UrlDecode(payload_part);
  if (!payload_json.ok()) {
    return Unauthenticated(absl::StrCat("token payload is not base64url: ", std::string(payload_json.status().message())));
  }
  absl::StatusOr<boost::json::object> claims = ParseObject(*payload_json, "payload");
  if (!claims.ok()) return claims.status();

  JwtClaims result;
  const boost::json::value* sub = claims->if_contains("sub");
  if (sub == nullptr) return Unauthenticated("token has no \"sub\" claim (the subject id)");
  if (!sub->is_string()) return Unauthenticated("token \"sub\" claim must be a string (the subject id)");
  const boost::json::string& subject = sub->get_string();
  if (subject.empty()) return Unauthenticated("token \"sub\" claim is empty");
  if (subject.size() > kMaxJwtSubjectLength) {
    return Unauthenticated(absl::StrCat("token \"sub\" claim is ", subject.size(), " bytes long, at most ",
                                        kMaxJwtSubjectLength, " are accepted"));
  }
  for (const char c : subject) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Unauthenticated("token \"sub\" claim contains control characters");
    }
  }
  result.subject.assign(subject.data(), subject.size());

  absl::StatusOr<Micros> expires = DateClaim(*claims, "exp", /*required=*/true, "expiry time");
  if (!expires.ok()) return expires.status();
  absl::StatusOr<Micros> not_before = DateClaim(*claims, "nbf", /*required=*/false, "not-before time");
  if (!not_before.ok()) return not_before.status();
  absl::StatusOr<Micros> issued_at = DateClaim(*claims, "iat", /*required=*/false, "issue time");
  if (!issued_at.ok()) return issued_at.status();
  result.expires = *expires;
  result.not_before = *not_before;
  result.issued_at = *issued_at;

  if (result.expires <= SaturatingAdd(now, -leeway_)) {
    return Unauthenticated(absl::StrCat("token expired at ", FormatRfc3339(result.expires)));
  }
  if (claims->contains("nbf") && result.not_before > SaturatingAdd(now, leeway_)) {
    return Unauthenticated(absl::StrCat("token is not valid before ", FormatRfc3339(result.not_before)));
  }
  return result;
}

}  // namespace tally
