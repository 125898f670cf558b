// DedupIndex: the event ids seen within the dedup window, so that a retried
// event counts once and a reused id with another body is a conflict.
//
// Bounded: entries older than the window are evicted as new ones arrive (ids
// arrive in roughly received order), and past `max_entries` the oldest go
// first. Ids are kept as 64-bit hashes: two different ids collide with
// probability ~n/2^64 (n = entries), which would read as a conflict or replay.
//
// Thread-safety: none; the engine guards each shard with its stripe mutex.
#ifndef TALLY_ENGINE_DEDUP_INDEX_H_
#define TALLY_ENGINE_DEDUP_INDEX_H_

#include <cstdint>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "core/time.h"

namespace tally {

class DedupIndex {
 public:
  struct Entry {
    uint64_t fingerprint = 0;
    Micros received = 0;
  };

  // The entry for `id_hash`, or nullptr.
  const Entry* Find(uint64_t id_hash) const;

  // Records an id (replacing nothing: REQUIRES Find(id_hash) == nullptr).
  void Insert(uint64_t id_hash, const Entry& entry);

  // Drops entries received before `oldest`, and the oldest past `max_entries`.
  void Evict(Micros oldest, size_t max_entries);

  size_t size() const { return map_.size(); }

 private:
  struct Arrival {
    uint64_t id_hash;
    Micros received;
  };
  absl::flat_hash_map<uint64_t, Entry> map_;
  std::deque<Arrival> order_;  // insertion order, for eviction
};

}  // namespace tally

#endif  // TALLY_ENGINE_DEDUP_INDEX_H_
