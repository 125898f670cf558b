// Store: where tally's log, checkpoints and registry live (the storage seam).
//
// The engine never sees SQL. It appends records; one writer per store commits
// them in append order, many appends per transaction and per fsync (group
// commit). WaitDurable() returns once a ticket's records are on disk. After a
// failed write the store is failed: every later Append and WaitDurable returns
// the same error, so no count is ever silently wrong.
//
// Recovery, before the first Append: LoadRegistry(), LoadCheckpoint(), then
// Replay() of everything after the checkpoint, and ScanDedup() for the ids the
// checkpoint does not carry.
//
// Thread-safety: Append, WaitDurable and Flush may be called from any thread.
// The recovery calls are for one thread before any Append.
//
// Implementations: sqlite/sqlite_store.h (embedded default); memory_store.h
// (tests and benchmarks: keeps records in memory, "durable" at once).
#ifndef TALLY_STORE_STORE_H_
#define TALLY_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/subject.h"
#include "core/tier.h"
#include "store/log_record.h"

namespace tally {

struct Registry {
  std::vector<Subject> subjects;
  std::vector<Org> orgs;
  std::vector<Tier> tiers;
};

struct Checkpoint {
  uint64_t seq = 0;  // the checkpoint record's own sequence number
  std::string blob;
};

// What the dedup index needs of one accepted event or reservation request.
struct DedupEntry {
  uint64_t id_hash = 0;  // StableHash(event id)
  uint64_t fingerprint = 0;
  Micros received = 0;
  uint64_t seq = 0;
};

// Figures for logs, /metrics and benchmarks.
struct StoreStats {
  uint64_t appended = 0;   // records accepted by Append
  uint64_t durable = 0;    // records committed
  uint64_t commits = 0;    // transactions (= fsyncs under strict)
  uint64_t queue_depth = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Queues `records`, assigning them consecutive sequence numbers after every
  // record appended before. Returns a ticket for WaitDurable().
  virtual absl::StatusOr<uint64_t> Append(std::vector<LogRecord> records) = 0;

  // Blocks until the records of `ticket` (and all before) are durable.
  virtual absl::Status WaitDurable(uint64_t ticket) = 0;

  // Waits for everything appended so far.
  virtual absl::Status Flush() = 0;

  // The highest sequence number assigned so far (0: none).
  virtual uint64_t LastSeq() const = 0;

  virtual StoreStats Stats() const = 0;

  // --- Recovery ---------------------------------------------------------

  virtual absl::StatusOr<Registry> LoadRegistry() = 0;
  virtual absl::StatusOr<std::optional<Checkpoint>> LoadCheckpoint() = 0;

  // Calls `fn` for every event and ledger record with seq > after_seq, in
  // sequence order. Registry and checkpoint records are not replayed. Stops at
  // and returns the first error `fn` returns.
  virtual absl::Status Replay(
      uint64_t after_seq,
      const std::function<absl::Status(uint64_t seq, const LogRecord&)>& fn) = 0;

  // Calls `fn` for each event and hold with received >= since and
  // seq <= upto_seq, in sequence order.
  virtual absl::Status ScanDedup(Micros since, uint64_t upto_seq,
                                 const std::function<void(const DedupEntry&)>& fn) = 0;
};

}  // namespace tally

#endif  // TALLY_STORE_STORE_H_
