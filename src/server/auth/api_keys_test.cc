#include "server/auth/api_keys.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace tally {
namespace {

bool IsBase62(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

TEST(ApiKeysTest, GeneratedServiceKeyHasTheDocumentedShape) {
  const NewKey created = GenerateApiKey(Role::kService, "billing backend", 1'700'000'000'000'000);
  ASSERT_EQ(created.secret.size(), std::string("tly_service_").size() + 43);
  EXPECT_EQ(created.secret.substr(0, 12), "tly_service_");
  for (const char c : created.secret.substr(12)) EXPECT_TRUE(IsBase62(c)) << c;

  const ApiKey& key = created.key;
  ASSERT_EQ(key.id.size(), 12u);
  EXPECT_EQ(key.id.substr(0, 4), "key_");
  for (const char c : key.id.substr(4)) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
  EXPECT_EQ(key.name, "billing backend");
  EXPECT_EQ(key.role, Role::kService);
  EXPECT_EQ(key.hash, HashApiKey(created.secret));
  EXPECT_EQ(key.prefix, created.secret.substr(0, created.secret.size() - kApiKeyRandomChars + 4));
  EXPECT_EQ(key.created, 1'700'000'000'000'000);
  EXPECT_EQ(key.revoked, 0);
  EXPECT_EQ(key.hash.find(created.secret), std::string::npos);
}

TEST(ApiKeysTest, GeneratedAdminKeyIsMarkedAdmin) {
  const NewKey created = GenerateApiKey(Role::kAdmin, "ops", 0);
  EXPECT_EQ(created.secret.substr(0, 10), "tly_admin_");
  EXPECT_EQ(created.secret.size(), 10u + 43u);
  EXPECT_EQ(created.key.role, Role::kAdmin);
  EXPECT_EQ(created.key.prefix, created.secret.substr(0, created.secret.size() - kApiKeyRandomChars + 4));
}

TEST(ApiKeysTest, KeysAndIdsAreDistinct) {
  std::set<std::string> secrets;
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    const NewKey created = GenerateApiKey(Role::kService, "k", 0);
    secrets.insert(created.secret);
    ids.insert(created.key.id);
  }
  EXPECT_EQ(secrets.size(), 1000u);
  EXPECT_GE(ids.size(), 999u);  // 32-bit ids: a collision among 1000 has odds ~1e-4
}

TEST(ApiKeysTest, RandomCharactersCoverTheWholeAlphabetEvenly) {
  // 2000 keys * 43 chars = 86,000 draws, ~1387 per symbol. A modulo-biased
  // sampler (byte % 62) would give the first 8 symbols ~1.25x the others.
  std::map<char, int> counts;
  int total = 0;
  for (int i = 0; i < 2000; ++i) {
    const NewKey created = GenerateApiKey(Role::kService, "k", 0);
    for (const char c : created.secret.substr(12)) {
      ++counts[c];
      ++total;
    }
  }
  ASSERT_EQ(counts.size(), 62u);
  const double expected = static_cast<double>(total) / 62;
  for (const auto& [c, n] : counts) {
    EXPECT_GT(n, expected * 0.85) << c;
    EXPECT_LT(n, expected * 1.15) << c;
  }
}

TEST(ApiKeysTest, HashIsLowercaseHexSha256) {
  EXPECT_EQ(HashApiKey(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HashApiKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeysTest, OperatorKeyIsAdoptedHashedWithAShortPrefix) {
  const std::string secret = "s3cr3t-0perator-key!";
  absl::StatusOr<ApiKey> key = KeyFromSecret(secret, Role::kAdmin, "TALLY_ADMIN_KEY", 42);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->role, Role::kAdmin);
  EXPECT_EQ(key->name, "TALLY_ADMIN_KEY");
  EXPECT_EQ(key->hash, HashApiKey(secret));
  EXPECT_EQ(key->prefix, "s3cr");
  EXPECT_EQ(key->created, 42);
  EXPECT_EQ(key->id.substr(0, 4), "key_");
  EXPECT_EQ(key->id.size(), 12u);
}

TEST(ApiKeysTest, OperatorKeyOfExactlySixteenCharactersIsAccepted) {
  EXPECT_TRUE(KeyFromSecret("0123456789abcdef", Role::kAdmin, "a", 0).ok());
  absl::StatusOr<ApiKey> short_key = KeyFromSecret("0123456789abcde", Role::kAdmin, "a", 0);
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(short_key.status().message().find("too short: 15 characters, at least 16"), std::string::npos)
      << short_key.status();
}

TEST(ApiKeysTest, OperatorKeyWithSpacesControlOrNonAsciiIsRejectedWithoutEchoingIt) {
  absl::StatusOr<ApiKey> spaced = KeyFromSecret("correct horse battery staple", Role::kAdmin, "a", 0);
  ASSERT_FALSE(spaced.ok());
  EXPECT_EQ(spaced.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(spaced.status().message().find("character 8 is a space"), std::string::npos) << spaced.status();
  EXPECT_EQ(spaced.status().message().find("horse"), std::string::npos);

  absl::StatusOr<ApiKey> newline = KeyFromSecret("0123456789abcdef\n", Role::kAdmin, "a", 0);
  ASSERT_FALSE(newline.ok());
  EXPECT_NE(newline.status().message().find("character 17 is a control character"), std::string::npos)
      << newline.status();

  absl::StatusOr<ApiKey> accented = KeyFromSecret("0123456789abcd\xc3\xa9", Role::kAdmin, "a", 0);
  ASSERT_FALSE(accented.ok());
  EXPECT_NE(accented.status().message().find("is not ASCII"), std::string::npos) << accented.status();

  EXPECT_FALSE(KeyFromSecret(std::string(257, 'x'), Role::kAdmin, "a", 0).ok());
  EXPECT_EQ(KeyFromSecret(std::string(20, 'x'), Role::kUser, "a", 0).status().message(),
            "API keys are for the admin and service roles; users authenticate with JWTs");
  EXPECT_TRUE(KeyFromSecret(std::string(256, 'x'), Role::kAdmin, "a", 0).ok());
}

}  // namespace
}  // namespace tally
