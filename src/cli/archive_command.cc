// tally archive: moves raw events older than the retention to compressed
// files in the archive directory, then deletes them from the database
// (analytics/archive.h). For operators: a running server does the same every
// [retention] check_every; this command needs the data dir free (stop
// `tally serve` first).
#include <chrono>
#include <cstdio>
#include <string>

#include "analytics/archive.h"
#include "cli/command.h"
#include "core/clock.h"

namespace tally::cli {
namespace {

int RunArchive(const ParsedFlags& flags) {
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt, /*require_existing=*/true,
                           /*with_rollups=*/true); rc != kExitOk) {
    return rc;
  }
  int64_t days = rt.config.retention.events_days;
  if (std::optional<std::string> text = flags.Get("older-than-days")) {
    if (!ParseNonNegative(*text, days) || days < 1) {
      Fail("--older-than-days must be a positive integer, not \"" + *text + "\"");
      return kExitUsage;
    }
    const Micros longest = std::max(rt.config.engine.dedup_window, rt.config.engine.max_lateness);
    if (days * kMicrosPerDay <= longest) {
      Fail("--older-than-days must be longer than engine.dedup_window and engine.max_lateness (" +
           std::to_string(longest / kMicrosPerDay) +
           " days here), so that events still deduplicated or accepted late are never archived");
      return kExitUsage;
    }
  }
  if (days == 0) {
    return Fail("nothing to do: [retention] events_days is 0 (keep raw events forever); "
                "set it in the config or pass --older-than-days N");
  }
  ArchiveOptions options;
  options.dir = ArchiveDirFor(rt.config.retention, rt.data_dir);
  options.now = SystemClock::Default()->Now();
  options.cutoff = options.now - days * kMicrosPerDay;
  options.dry_run = flags.Has("dry-run");
  // Recovery replays from the latest checkpoint: take one that reflects every
  // event that may be deleted.
  options.upto_seq = rt.store->LastSeq();
  if (!options.dry_run) {
    if (absl::Status s = rt.engine->Checkpoint(); !s.ok()) return FailStatus(s);
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ArchiveResult> result = ArchiveEvents(*rt.store, options);
  if (!result.ok()) return FailStatus(result.status());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s\n", DescribeArchiveRun(*result, options.cutoff, seconds).c_str());
  if (!options.dry_run && !result->files.empty()) std::printf("archive directory: %s\n", options.dir.c_str());
  return kExitOk;
}

}  // namespace

Command ArchiveCommand() {
  CommandSpec spec;
  spec.name = "archive";
  spec.summary =
      "Archive raw events older than the retention to zstd NDJSON files, then delete them "
      "(rollups stay). Stop `tally serve` first; it archives by itself with [retention] events_days.";
  spec.flags = {{"older-than-days", "N", "[retention] events_days",
                 "archive events older than N days (more than the dedup window and max lateness)"},
                {"dry-run", "", "", "count what would be archived; write and delete nothing"}};
  for (FlagSpec& f : StoreFlags()) spec.flags.push_back(std::move(f));
  return Command{std::move(spec), RunArchive};
}

}  // namespace tally::cli
