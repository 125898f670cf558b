// KeyRing (see key_ring.h). Thread-safe: mu_ guards both maps.
#include "server/auth/key_ring.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <mutex>
#include <tuple>

#include "server/auth/api_keys.h"

namespace tally {

void KeyRing::Put(const ApiKey& key) {
  {
    std::lock_guard<std::mutex> cache_lock(cache_mu_);
    id_by_secret_.clear();
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  ++generation_;
  auto existing = keys_.find(key.id);
  std::string old_hash;
  if (existing != keys_.end()) {
    old_hash = existing->second.hash;
    existing->second = key;
  } else {
    keys_.emplace(key.id, key);
  }
  if (key.revoked == 0) {
    id_by_hash_[key.hash] = key.id;
  }
  // Unindex hashes this id no longer answers for: the old one after a
  // rotation, or the current one after a revocation. Another active key with
  // the same hash (the same secret adopted twice) takes over; scanning is fine
  // because revocations are rare and rings are small.
  for (const std::string* hash : {static_cast<const std::string*>(&old_hash), &key.hash}) {
    if (hash->empty()) continue;
    auto owner = id_by_hash_.find(*hash);
    if (owner == id_by_hash_.end() || owner->second != key.id) continue;
    if (*hash == key.hash && key.revoked == 0) continue;
    id_by_hash_.erase(owner);
    for (const auto& [id, other] : keys_) {
      if (other.hash == *hash && other.revoked == 0) {
        id_by_hash_[*hash] = id;
        break;
      }
    }
  }
}

std::optional<ApiKey> KeyRing::FindBySecret(std::string_view secret) const {
  std::optional<Verified> cached;
  {
    std::lock_guard<std::mutex> cache_lock(cache_mu_);
    if (auto it = id_by_secret_.find(std::string(secret)); it != id_by_secret_.end()) cached = it->second;
  }
  if (cached) {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (cached->generation == generation_) {
      auto found = keys_.find(cached->id);
      if (found != keys_.end() && found->second.revoked == 0) return found->second;
      return std::nullopt;
    }
  }
  uint64_t generation = 0;
  std::optional<ApiKey> key = FindByHash(HashApiKey(secret), &generation);
  if (key) {
    std::lock_guard<std::mutex> cache_lock(cache_mu_);
    if (id_by_secret_.size() >= kMaxCached) id_by_secret_.clear();
    id_by_secret_[std::string(secret)] = Verified{key->id, generation};
  }
  return key;
}

std::optional<ApiKey> KeyRing::FindByHash(const std::string& hash, uint64_t* generation) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  *generation = generation_;
  // The map lookup's timing depends only on the hash of the secret, which
  // tells an attacker nothing useful; the final comparison is constant-time
  // all the same.
  auto owner = id_by_hash_.find(hash);
  if (owner == id_by_hash_.end()) return std::nullopt;
  auto found = keys_.find(owner->second);
  if (found == keys_.end()) return std::nullopt;
  const ApiKey& key = found->second;
  if (key.hash.size() != hash.size() || CRYPTO_memcmp(key.hash.data(), hash.data(), hash.size()) != 0) {
    return std::nullopt;
  }
  if (key.revoked != 0) return std::nullopt;
  return key;
}

std::optional<ApiKey> KeyRing::Get(std::string_view id) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto found = keys_.find(std::string(id));
  if (found == keys_.end()) return std::nullopt;
  return found->second;
}

std::vector<ApiKey> KeyRing::List() const {
  std::vector<ApiKey> keys;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    keys.reserve(keys_.size());
    for (const auto& [id, key] : keys_) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end(), [](const ApiKey& a, const ApiKey& b) {
    return std::tie(a.created, a.id) < std::tie(b.created, b.id);
  });
  return keys;
}

size_t KeyRing::CountActive(Role role) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return static_cast<size_t>(std::count_if(keys_.begin(), keys_.end(), [role](const auto& entry) {
    return entry.second.role == role && entry.second.revoked == 0;
  }));
}

}  // namespace tally
