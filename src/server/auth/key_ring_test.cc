#include "server/auth/key_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "server/auth/api_keys.h"

namespace tally {
namespace {

ApiKey KeyWith(std::string id, Role role, std::string_view secret, Micros created) {
  ApiKey key;
  key.id = std::move(id);
  key.name = "test";
  key.role = role;
  key.hash = HashApiKey(secret);
  key.prefix = std::string(secret.substr(0, 12));
  key.created = created;
  return key;
}

TEST(KeyRingTest, FindsAKeyByItsSecretAndNothingElse) {
  KeyRing ring;
  const NewKey created = GenerateApiKey(Role::kService, "backend", 10);
  ring.Put(created.key);
  std::optional<ApiKey> found = ring.FindBySecret(created.secret);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, created.key);
  EXPECT_FALSE(ring.FindBySecret(created.secret + "x").has_value());
  EXPECT_FALSE(ring.FindBySecret(created.key.hash).has_value());  // the hash is not a credential
  EXPECT_FALSE(ring.FindBySecret("").has_value());
}

TEST(KeyRingTest, RevokedKeysAreNotFoundBySecretButStillListed) {
  KeyRing ring;
  NewKey created = GenerateApiKey(Role::kAdmin, "ops", 10);
  ring.Put(created.key);
  created.key.revoked = 20;
  ring.Put(created.key);
  EXPECT_FALSE(ring.FindBySecret(created.secret).has_value());
  std::optional<ApiKey> by_id = ring.Get(created.key.id);
  ASSERT_TRUE(by_id.has_value());
  EXPECT_EQ(by_id->revoked, 20);
  EXPECT_EQ(ring.List().size(), 1u);
  EXPECT_EQ(ring.CountActive(Role::kAdmin), 0u);
}

TEST(KeyRingTest, PutReplacesByIdAndARotatedSecretStopsWorking) {
  KeyRing ring;
  ring.Put(KeyWith("key_00000001", Role::kService, "old-secret-0123456789", 1));
  ApiKey rotated = KeyWith("key_00000001", Role::kService, "new-secret-0123456789", 1);
  rotated.write_rate_per_s = 50;
  ring.Put(rotated);
  EXPECT_FALSE(ring.FindBySecret("old-secret-0123456789").has_value());
  std::optional<ApiKey> found = ring.FindBySecret("new-secret-0123456789");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->write_rate_per_s, 50);
  EXPECT_EQ(ring.List().size(), 1u);
}

TEST(KeyRingTest, RevokingOneOfTwoKeysWithTheSameSecretLeavesTheOther) {
  KeyRing ring;
  const std::string secret = "operator-chosen-secret";
  ApiKey first = KeyWith("key_aaaaaaaa", Role::kAdmin, secret, 1);
  ApiKey second = KeyWith("key_bbbbbbbb", Role::kAdmin, secret, 2);
  ring.Put(first);
  ring.Put(second);
  EXPECT_EQ(ring.FindBySecret(secret)->id, "key_bbbbbbbb");
  second.revoked = 3;
  ring.Put(second);
  ASSERT_TRUE(ring.FindBySecret(secret).has_value());
  EXPECT_EQ(ring.FindBySecret(secret)->id, "key_aaaaaaaa");
  first.revoked = 4;
  ring.Put(first);
  EXPECT_FALSE(ring.FindBySecret(secret).has_value());
}

TEST(KeyRingTest, GetReturnsNulloptForUnknownIds) {
  KeyRing ring;
  EXPECT_FALSE(ring.Get("key_12345678").has_value());
  ring.Put(KeyWith("key_12345678", Role::kService, "whatever-secret-value", 1));
  EXPECT_TRUE(ring.Get("key_12345678").has_value());
  EXPECT_FALSE(ring.Get("key_1234567").has_value());
}

TEST(KeyRingTest, ListIsOrderedByCreationThenId) {
  KeyRing ring;
  ring.Put(KeyWith("key_c", Role::kService, "secret-c-0123456789", 200));
  ring.Put(KeyWith("key_b", Role::kService, "secret-b-0123456789", 100));
  ring.Put(KeyWith("key_a", Role::kAdmin, "secret-a-0123456789", 200));
  ring.Put(KeyWith("key_d", Role::kService, "secret-d-0123456789", 50));
  std::vector<std::string> ids;
  for (const ApiKey& key : ring.List()) ids.push_back(key.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"key_d", "key_b", "key_a", "key_c"}));
}

TEST(KeyRingTest, CountActiveCountsUnrevokedKeysOfOneRole) {
  KeyRing ring;
  ring.Put(KeyWith("key_1", Role::kAdmin, "secret-1-0123456789", 1));
  ring.Put(KeyWith("key_2", Role::kAdmin, "secret-2-0123456789", 2));
  ring.Put(KeyWith("key_3", Role::kService, "secret-3-0123456789", 3));
  ApiKey revoked = KeyWith("key_4", Role::kAdmin, "secret-4-0123456789", 4);
  revoked.revoked = 5;
  ring.Put(revoked);
  EXPECT_EQ(ring.CountActive(Role::kAdmin), 2u);
  EXPECT_EQ(ring.CountActive(Role::kService), 1u);
  EXPECT_EQ(ring.CountActive(Role::kUser), 0u);
}

TEST(KeyRingTest, ConcurrentLookupsSeeEveryPutKey) {
  KeyRing ring;
  std::vector<NewKey> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(GenerateApiKey(Role::kService, "k", i));
  std::atomic<int> misses{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    for (const NewKey& key : keys) ring.Put(key.key);
  });
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 200; ++round) {
        for (const NewKey& key : keys) {
          std::optional<ApiKey> found = ring.FindBySecret(key.secret);
          if (found.has_value() && found->id != key.key.id) misses.fetch_add(1);
        }
        (void)ring.List();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(misses.load(), 0);
  for (const NewKey& key : keys) EXPECT_TRUE(ring.FindBySecret(key.secret).has_value());
}

}  // namespace
}  // namespace tally
