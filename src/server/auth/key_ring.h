// KeyRing: the API keys tally accepts, in memory, found by secret or by id.
//
// The ring holds ApiKey records (hashes, never secrets). The server loads it
// from the store at start and Puts every key it creates or revokes.
//
// Thread-safety: every method may be called concurrently; readers share a
// lock, Put takes it exclusively.
#ifndef TALLY_SERVER_AUTH_KEY_RING_H_
#define TALLY_SERVER_AUTH_KEY_RING_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "core/api_key.h"

namespace tally {

class KeyRing {
 public:
  KeyRing() = default;
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // Adds `key`, or replaces the key with the same id (to revoke, Put it with
  // `revoked` set; to rotate, with a new hash). If two active keys share a
  // hash (one secret adopted twice), the secret resolves to the one Put last.
  void Put(const ApiKey& key);

  // The active key whose hash is HashApiKey(secret); nullopt when there is
  // none or it is revoked.
  std::optional<ApiKey> FindBySecret(std::string_view secret) const;

  // The key with this id, revoked or not.
  std::optional<ApiKey> Get(std::string_view id) const;

  // Every key, revoked ones included, ordered by `created`, then `id`.
  std::vector<ApiKey> List() const;

  // How many unrevoked keys have `role`.
  size_t CountActive(Role role) const;

 private:
  // The key for `hash`, and the ring's generation it was read at.
  std::optional<ApiKey> FindByHash(const std::string& hash, uint64_t* generation) const;

  // Guards keys_ and id_by_hash_; shared for lookups, exclusive for Put.
  mutable std::shared_mutex mu_;
  absl::flat_hash_map<std::string, ApiKey> keys_ ABSL_GUARDED_BY(mu_);            // id -> key
  // hash -> id, active keys only.
  absl::flat_hash_map<std::string, std::string> id_by_hash_ ABSL_GUARDED_BY(mu_);
  // Bumped by every Put: a cached secret is trusted only at the generation
  // it was verified at, so a lookup racing a rotation cannot cache a stale one.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;

  // Secrets already verified -> key id, so that a busy key is not hashed on
  // every request (SHA-256 was ~6 % of a consume's instructions). Cleared by
  // every Put, so a revoked or rotated key never answers from it; the key's
  // current state is read from keys_ on every hit. At most kMaxCached
  // entries (cleared when full). Guarded by cache_mu_; lock order: cache_mu_
  // is never held while taking mu_.
  static constexpr size_t kMaxCached = 1024;
  mutable std::mutex cache_mu_;
  struct Verified {
    std::string id;
    uint64_t generation = 0;
  };
  mutable absl::flat_hash_map<std::string, Verified> id_by_secret_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace tally

#endif  // TALLY_SERVER_AUTH_KEY_RING_H_
