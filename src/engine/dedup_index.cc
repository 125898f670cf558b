#include "engine/dedup_index.h"

namespace tally {

const DedupIndex::Entry* DedupIndex::Find(uint64_t id_hash) const {
  auto it = map_.find(id_hash);
  return it == map_.end() ? nullptr : &it->second;
}

void DedupIndex::Insert(uint64_t id_hash, const Entry& entry) {
  map_.emplace(id_hash, entry);
  order_.push_back(Arrival{id_hash, entry.received});
}

void DedupIndex::Evict(Micros oldest, size_t max_entries) {
  while (!order_.empty() &&
         (order_.front().received < oldest || order_.size() > max_entries)) {
    map_.erase(order_.front().id_hash);
    order_.pop_front();
  }
}

}  // namespace tally
