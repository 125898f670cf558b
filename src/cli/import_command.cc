// tally import FILE...: events from files that `tally export` or the archiver
// wrote, in one of two modes chosen per file (analytics/event_import.h):
// restore (this database's own events, original seqs, idempotent) or append
// (events from elsewhere, new seqs, quota counters unchanged). A progress line
// goes to stderr every second on long runs; a summary per file at the end.
#include <chrono>
#include <cstdio>
#include <string>

#include "analytics/archive.h"
#include "analytics/event_import.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/log.h"

namespace tally::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string Rate(double per_second) {
  char text[32];
  if (per_second >= 1e6) {
    std::snprintf(text, sizeof text, "%.1fM", per_second / 1e6);
  } else if (per_second >= 1e3) {
    std::snprintf(text, sizeof text, "%.0fK", per_second / 1e3);
  } else {
    std::snprintf(text, sizeof text, "%.0f", per_second);
  }
  return text;
}

// Prints "checked|imported N rows, R rows/s" at most once a second.
class ProgressLine {
 public:
  explicit ProgressLine(std::string file) : file_(std::move(file)) {}
  void Update(bool importing, uint64_t rows) {
    const auto now = SteadyClock::now();
    if (importing != importing_) {
      importing_ = importing;
      phase_start_ = now;
    }
    if (now - last_ < std::chrono::seconds(1)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - phase_start_).count();
    std::fprintf(stderr, "tally: %s: %s %s rows, %s rows/s\n", file_.c_str(),
                 importing ? "imported" : "checked", WithThousands(rows).c_str(),
                 Rate(seconds > 0 ? static_cast<double>(rows) / seconds : 0).c_str());
  }

 private:
  const std::string file_;
  bool importing_ = false;
  SteadyClock::time_point phase_start_ = SteadyClock::now();
  SteadyClock::time_point last_ = SteadyClock::now();
};

int RunImport(const ParsedFlags& flags) {
  ImportOptions options;
  const std::string mode = flags.Get("mode").value_or("auto");
  if (mode == "restore") {
    options.mode = ImportMode::kRestore;
  } else if (mode == "append") {
    options.mode = ImportMode::kAppend;
  } else if (mode != "auto") {
    Fail("--mode must be auto, restore or append, not \"" + mode + "\"");
    return kExitUsage;
  }
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/false, rt, /*require_existing=*/true,
                           /*with_rollups=*/true); rc != kExitOk) {
    return rc;
  }
  options.archive_dir = ArchiveDirFor(rt.config.retention, rt.data_dir);
  options.now = SystemClock::Default()->Now();
  uint64_t total = 0;
  for (size_t i = 0; i < flags.positionals.size(); ++i) {
    const std::string& path = flags.positionals[i];
    ProgressLine progress(path);
    options.progress = [&progress](bool importing, uint64_t rows) { progress.Update(importing, rows); };
    const auto start = SteadyClock::now();
    absl::StatusOr<ImportResult> result = ImportEventFile(*rt.store, path, options);
    if (!result.ok()) {
      std::fprintf(stderr, "tally: %s\n", std::string(result.status().message()).c_str());
      std::fprintf(stderr, "tally: imported %s events from %zu earlier file(s); stopped at %s%s\n",
                   WithThousands(total).c_str(), i, path.c_str(),
                   i + 1 < flags.positionals.size() ? " (later files not read)" : "");
      return kExitError;
    }
    const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    total += result->imported;
    std::printf("%s: %s rows, %s imported, %s skipped (%s), %.1f s; mode %s\n", path.c_str(),
                WithThousands(result->rows).c_str(), WithThousands(result->imported).c_str(),
                WithThousands(result->skipped).c_str(),
                result->mode == ImportMode::kRestore ? "already stored" : "repeated id", seconds,
                result->why.c_str());
    std::fflush(stdout);
  }
  if (flags.positionals.size() > 1) {
    std::printf("imported %s events from %zu files\n", WithThousands(total).c_str(), flags.positionals.size());
  }
  return kExitOk;
}

}  // namespace

Command ImportCommand() {
  CommandSpec spec;
  spec.name = "import";
  spec.positionals = "FILE...";
  spec.min_positionals = 1;
  spec.max_positionals = 100000;
  spec.summary =
      "Import events from .ndjson, .jsonl, .json or .csv files (optionally .zst), as `tally export` "
      "and the archiver write them.\n"
      "Per file: restore (this database's own events or archives: original seqs; importing twice is "
      "a no-op) or append (events from elsewhere: new seqs, quota counters unchanged).";
  spec.flags = {{"mode", "MODE", "auto", "auto, restore or append: how to import each file"}};
  for (FlagSpec& f : StoreFlags()) spec.flags.push_back(std::move(f));
  return Command{std::move(spec), RunImport};
}

}  // namespace tally::cli
