// Verify: checks that a data directory's counters are exactly what its log
// implies (tally verify, and the crash test after every SIGKILL).
//
// Three independent answers for every quota of every subject (and its org):
//   recovered    an Engine opened the normal way (latest checkpoint + replay)
//   replayed     an Engine over NoCheckpointStore (a full replay of the log)
//   recomputed   this file's own fold of the log's effects, per account,
//                meter and window, without the engine's code
// `used` and `reserved` must agree across all three, and every other field of
// the recovered and replayed views (limit, remaining, status, window) must be
// equal. Nothing is written to the store.
//
// Thread-safety: VerifyStore() must not run concurrently with writers of the
// same store (it uses the store's single-threaded recovery calls).
#ifndef TALLY_CLI_VERIFY_H_
#define TALLY_CLI_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/time.h"
#include "store/store.h"

namespace tally::cli {

struct VerifyResult {
  uint64_t events = 0;         // event records in the log
  uint64_t ledger_records = 0;  // holds, releases, grants, resets...
  size_t subjects = 0;
  size_t quotas_compared = 0;
  double recovery_ms = 0;     // opening the engine from checkpoint + tail
  double full_replay_ms = 0;  // opening the engine from the whole log
  std::vector<std::string> mismatches;  // one line each, empty when all match

  bool ok() const { return mismatches.empty(); }
  // "N events, M subjects, all counters match" or the number of mismatches.
  std::string Summary() const;
};

// Verifies the counters of `store` under `config`, as of `now` (the instant
// whose windows are compared). Errors are only failures to read the store or
// to open an engine; disagreements are reported in the result.
absl::StatusOr<VerifyResult> VerifyStore(const Config& config, Store* store, Micros now);

}  // namespace tally::cli

#endif  // TALLY_CLI_VERIFY_H_
