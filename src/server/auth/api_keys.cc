// API key minting and hashing (see api_keys.h). Stateless; thread-safe.
#include "server/auth/api_keys.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tally {
namespace {

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr char kHexDigits[] = "0123456789abcdef";

// Bytes at or above this are rejected: 248 = 4 * 62, so byte % 62 is uniform
// over the accepted bytes.
constexpr unsigned kBase62Limit = 248;

void RandomBytesOrDie(unsigned char* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) {
    std::fprintf(stderr, "tally: OpenSSL RAND_bytes failed; refusing to mint a predictable API key\n");
    std::abort();
  }
}

std::string HexEncode(const unsigned char* data, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHexDigits[data[i] >> 4]);
    out.push_back(kHexDigits[data[i] & 0xf]);
  }
  return out;
}

// `count` uniformly random base62 characters, by rejection sampling.
std::string RandomBase62(size_t count) {
  std::string out;
  out.reserve(count);
  std::array<unsigned char, 64> buffer;
  while (out.size() < count) {
    RandomBytesOrDie(buffer.data(), buffer.size());
    for (const unsigned char byte : buffer) {
      if (byte >= kBase62Limit) continue;
      out.push_back(kBase62[byte % 62]);
      if (out.size() == count) break;
    }
  }
  return out;
}

std::string RandomKeyId() {
  std::array<unsigned char, 4> bytes;
  RandomBytesOrDie(bytes.data(), bytes.size());
  return absl::StrCat("key_", HexEncode(bytes.data(), bytes.size()));
}

}  // namespace

std::string HashApiKey(std::string_view secret) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest;
  unsigned int length = 0;
  if (EVP_Digest(secret.data(), secret.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    std::fprintf(stderr, "tally: OpenSSL SHA-256 failed\n");
    std::abort();
  }
  return HexEncode(digest.data(), length);
}

NewKey GenerateApiKey(Role role, std::string name, Micros now) {
  assert(role != Role::kUser && "users authenticate with JWTs, not API keys");
  NewKey result;
  result.secret = absl::StrCat(std::string(kApiKeyMarker), std::string(RoleName(role)), "_",
                               RandomBase62(kApiKeyRandomChars));
  result.key.id = RandomKeyId();
  result.key.name = std::move(name);
  result.key.role = role;
  result.key.hash = HashApiKey(result.secret);
  // The role marker and 4 random characters ("tly_service_Xy3k"): enough to
  // tell keys apart in lists and logs, 24 bits of 256 given away.
  result.key.prefix = result.secret.substr(0, result.secret.size() - kApiKeyRandomChars + 4);
  result.key.created = now;
  return result;
}

absl::StatusOr<ApiKey> KeyFromSecret(std::string_view secret, Role role, std::string name, Micros now) {
  if (role == Role::kUser) {
    return absl::InvalidArgumentError(
        "API keys are for the admin and service roles; users authenticate with JWTs");
  }
  if (secret.size() < kMinOperatorKeyLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("API key is too short: ", secret.size(), " characters, at least ", kMinOperatorKeyLength,
                     " are needed (generate one with: openssl rand -base64 32)"));
  }
  if (secret.size() > kMaxOperatorKeyLength) {
    return absl::InvalidArgumentError(absl::StrCat("API key is too long: ", secret.size(),
                                                   " characters, at most ", kMaxOperatorKeyLength,
                                                   " are allowed"));
  }
  for (size_t i = 0; i < secret.size(); ++i) {
    const auto c = static_cast<unsigned char>(secret[i]);
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "API key character ", i + 1,
          c == ' ' ? " is a space" : (c < 0x21 || c == 0x7f ? " is a control character" : " is not ASCII"),
          "; a key must be printable ASCII without spaces (check for a stray newline or quote)"));
    }
  }
  ApiKey key;
  key.id = RandomKeyId();
  key.name = std::move(name);
  key.role = role;
  key.hash = HashApiKey(secret);
  key.prefix = std::string(secret.substr(0, 4));
  key.created = now;
  return key;
}

}  // namespace tally
