// Test-only JWT minting (see jwt_test_util.h).
#include "server/auth/jwt_test_util.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>

#include "server/auth/base64url.h"

namespace tally::testing {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "jwt_test_util: %s failed\n", what);
  ERR_print_errors_fp(stderr);
  std::abort();
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<size_t>(length));
  BIO_free(bio);
  return text;
}

std::string DigestSign(EVP_PKEY* key, std::string_view input) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t length = 0;
  if (ctx == nullptr || EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    Die("EVP_DigestSign");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    Die("EVP_DigestSign");
  }
  signature.resize(length);
  EVP_MD_CTX_free(ctx);
  return signature;
}

}  // namespace

void EvpKeyDeleter::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }

EvpKey GenerateRsaKey(int bits) {
  EvpKey key(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (key == nullptr) Die("EVP_RSA_gen");
  return key;
}

EvpKey GenerateEcKey(const char* curve) {
  EvpKey key(EVP_EC_gen(curve));
  if (key == nullptr) Die("EVP_EC_gen");
  return key;
}

EvpKey GenerateEd25519Key() {
  EvpKey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (key == nullptr) Die("EVP_PKEY_Q_keygen(ED25519)");
  return key;
}

std::string PublicKeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio, key) != 1) Die("PEM_write_bio_PUBKEY");
  return BioText(bio);
}

std::string PrivateKeyPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr || PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    Die("PEM_write_bio_PrivateKey");
  }
  return BioText(bio);
}

std::string RsaPkcs1PublicKeyPem(EVP_PKEY* key) {
  OSSL_ENCODER_CTX* encoder =
      OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr);
  unsigned char* data = nullptr;
  size_t length = 0;
  if (encoder == nullptr || OSSL_ENCODER_to_data(encoder, &data, &length) != 1) Die("OSSL_ENCODER_to_data");
  std::string pem(reinterpret_cast<char*>(data), length);
  OPENSSL_free(data);
  OSSL_ENCODER_CTX_free(encoder);
  return pem;
}

std::string Hs256Signature(std::string_view secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length) == nullptr) {
    Die("HMAC");
  }
  return std::string(reinterpret_cast<char*>(mac), length);
}

std::string Rs256Signature(EVP_PKEY* key, std::string_view input) { return DigestSign(key, input); }

std::string Es256Signature(EVP_PKEY* key, std::string_view input) {
  const std::string der = DigestSign(key, input);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (sig == nullptr) Die("d2i_ECDSA_SIG");
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) != 32 || BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) != 32) {
    Die("BN_bn2binpad");
  }
  ECDSA_SIG_free(sig);
  return raw;
}

std::string MakeJwt(std::string_view header_json, std::string_view payload_json,
                    const std::function<std::string(std::string_view)>& sign) {
  std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  const std::string signature = sign(input);
  return input + "." + Base64UrlEncode(signature);
}

}  // namespace tally::testing
