// tally verify: checks that the counters recovered from the data dir (from the
// checkpoint and from a full replay) equal what the log implies. Writes nothing.
#include <cstdio>

#include "cli/command.h"
#include "cli/verify.h"
#include "core/clock.h"

namespace tally::cli {
namespace {

int RunVerify(const ParsedFlags& flags) {
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/false, rt, /*require_existing=*/true);
      rc != kExitOk) {
    return rc;
  }
  absl::StatusOr<VerifyResult> result =
      VerifyStore(rt.config, rt.store.get(), SystemClock::Default()->Now());
  if (!result.ok()) {
    return Fail("cannot verify data dir " + rt.data_dir + ": " +
                std::string(result.status().message()));
  }
  for (const std::string& m : result->mismatches) std::printf("mismatch: %s\n", m.c_str());
  std::printf("%s (%zu quotas compared; recovery %.1f ms, full replay %.1f ms)\n",
              result->Summary().c_str(), result->quotas_compared, result->recovery_ms,
              result->full_replay_ms);
  return result->ok() ? kExitOk : kExitError;
}

}  // namespace

Command VerifyCommand() {
  CommandSpec spec;
  spec.name = "verify";
  spec.summary =
      "Check that every counter equals what the log implies.\n"
      "Without changing the data dir: rebuild the counters from the checkpoint\n"
      "and from a full replay of the log, recompute them from the log independently,\n"
      "and compare every subject's quotas. Exit 0 when all match, 1 otherwise.";
  spec.flags = StoreFlags();
  spec.flags.pop_back();  // --durability: verify writes nothing
  return Command{std::move(spec), RunVerify};
}

}  // namespace tally::cli
