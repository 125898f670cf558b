// tally export: the events or the hourly/daily/monthly usage of a data dir as
// CSV, JSON or NDJSON (analytics/exporter.h), to a file or stdout — the same
// rows as GET /api/usage/export. Reads the data dir without changing it; a
// long run prints its progress on stderr every second. A file is written
// under a temporary name and renamed when complete, so a failed export never
// leaves a file that looks whole.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "analytics/exporter.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/log.h"

namespace tally::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;


// 812345.6 -> "812K".
std::string Rate(double per_s) {
  char buf[32];
  if (per_s >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2fM", per_s / 1e6);
  } else if (per_s >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.0fK", per_s / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", per_s);
  }
  return buf;
}

// --from/--to: RFC 3339; sets `error` otherwise.
bool ParseTimeFlag(const ParsedFlags& flags, const std::string& name, Micros& out, std::string& error) {
  std::optional<std::string> text = flags.Get(name);
  if (!text) return true;
  std::optional<Micros> t = ParseRfc3339(*text);
  if (!t) {
    error = "--" + name + ": \"" + *text + "\" is not an RFC 3339 time such as 2026-03-01T00:00:00Z";
    return false;
  }
  out = *t;
  return true;
}

// "from: must be before to" -> "--from: must be before to".
std::string AsFlagError(const absl::Status& status) {
  std::string message(status.message());
  static const std::map<std::string, std::string> kFlags = {
      {"from", "--from"}, {"to", "--to"}, {"meter", "--meter"}, {"tz", "--tz"}};
  const size_t colon = message.find(':');
  if (colon != std::string::npos) {
    auto it = kFlags.find(message.substr(0, colon));
    if (it != kFlags.end()) return it->second + message.substr(colon);
  }
  return message;
}

int RunExportCommand(const ParsedFlags& flags) {
  ExportRequest req;
  const std::string format = flags.Get("format").value_or("csv");
  const std::string kind = flags.Get("kind").value_or("events");
  if (std::optional<ExportFormat> f = ParseExportFormat(format)) {
    req.format = *f;
  } else {
    Fail("--format must be csv, json or ndjson, not \"" + format + "\"");
    return kExitUsage;
  }
  if (std::optional<ExportKind> k = ParseExportKind(kind)) {
    req.kind = *k;
  } else {
    Fail("--kind must be events, hourly, daily or monthly, not \"" + kind + "\"");
    return kExitUsage;
  }
  std::string error;
  if (!ParseTimeFlag(flags, "from", req.from, error) || !ParseTimeFlag(flags, "to", req.to, error)) {
    Fail(error);
    return kExitUsage;
  }
  req.subject = flags.Get("user-id").value_or("");
  req.type = flags.Get("type").value_or("");
  req.tz = flags.Get("tz").value_or("");

  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/false, rt, /*require_existing=*/true,
                           /*with_rollups=*/true); rc != kExitOk) {
    return rc;
  }
  if (std::optional<std::string> meters = flags.Get("meter")) {
    if (absl::Status s = ParseMeterList(*meters, rt.config.meters, &req.meters); !s.ok()) {
      Fail(AsFlagError(s));
      return kExitUsage;
    }
  }
  if (absl::Status s = ValidateExportRequest(req, rt.config.meters, SystemClock::Default()->Now()); !s.ok()) {
    Fail(AsFlagError(s));
    return kExitUsage;
  }
  absl::StatusOr<Registry> registry = rt.store->LoadRegistry();
  if (!registry.ok()) return FailStatus(registry.status());
  std::map<std::string, std::string> zones;
  for (const Subject& s : registry->subjects) zones[s.id] = s.timezone;
  ExportSources sources;
  sources.store = rt.store.get();
  sources.rollups = rt.rollups.get();
  sources.meters = rt.config.meters;
  sources.timezone_of = [&zones](const std::string& subject) {
    auto it = zones.find(subject);
    return it == zones.end() ? std::string("UTC") : it->second;
  };

  const std::string output = flags.Get("output").value_or("-");
  const bool to_stdout = output == "-";
  const std::string temp = output + ".partial";
  std::FILE* out = to_stdout ? stdout : std::fopen(temp.c_str(), "wb");
  if (out == nullptr) return Fail("cannot write " + temp + ": " + std::strerror(errno));
  static char buffer[1 << 20];
  std::setvbuf(out, buffer, _IOFBF, sizeof(buffer));

  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto start = SteadyClock::now();
  auto last_report = start;
  uint64_t rows = 0;
  uint64_t bytes = 0;
  bool write_failed = false;
  absl::Status status = RunExport(req, sources, [&](std::string chunk, uint64_t so_far) {
    if (std::fwrite(chunk.data(), 1, chunk.size(), out) != chunk.size()) {
      write_failed = true;
      return false;
    }
    rows = so_far;
    bytes += chunk.size();
    const auto now = SteadyClock::now();
    if (now - last_report >= std::chrono::seconds(1)) {
      last_report = now;
      const double s = std::chrono::duration<double>(now - start).count();
      std::fprintf(stderr, "%sexported %s rows, %s rows/s%s", tty ? "\r" : "", WithThousands(rows).c_str(),
                   Rate(static_cast<double>(rows) / s).c_str(), tty ? "" : "\n");
    }
    return true;
  });
  if (std::fflush(out) != 0) write_failed = true;
  if (!to_stdout && std::fclose(out) != 0) write_failed = true;
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  if (tty && seconds >= 1) std::fputc('\n', stderr);
  if (write_failed || !status.ok()) {
    const std::string why = write_failed ? std::string("cannot write ") + (to_stdout ? "stdout" : temp) + ": " +
                                               std::strerror(errno)
                                         : std::string(status.message());
    if (!to_stdout) std::remove(temp.c_str());
    return Fail("export failed after " + WithThousands(rows) + " rows: " + why);
  }
  if (!to_stdout && std::rename(temp.c_str(), output.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    return Fail("cannot write " + output + ": " + why);
  }
  // rows: the last chunk carries the final count.
  std::fprintf(stderr, "exported %s rows (%s bytes) %s%s in %.1f s, %s rows/s\n", WithThousands(rows).c_str(),
               WithThousands(bytes).c_str(), to_stdout ? "to stdout" : "to ", to_stdout ? "" : output.c_str(),
               seconds, Rate(seconds > 0 ? static_cast<double>(rows) / seconds : 0).c_str());
  return kExitOk;
}

}  // namespace

Command ExportCommand() {
  CommandSpec spec;
  spec.name = "export";
  spec.summary =
      "Export events or hourly/daily/monthly usage as CSV, JSON or NDJSON (the rows of GET "
      "/api/usage/export).";
  spec.flags = {
      {"format", "F", "csv", "csv (RFC 4180), json (one array) or ndjson (one object per line)"},
      {"kind", "K", "events", "events, or usage buckets: hourly, daily, monthly"},
      {"from", "TIME", "events: the first; usage: 31/366/1830 days before --to",
       "RFC 3339 start (events: event time >= from; usage: buckets overlapping the range)"},
      {"to", "TIME", "events: the last; usage: now", "RFC 3339 end (exclusive)"},
      {"user-id", "S", "every subject", "only this subject"},
      {"type", "T", "every type", "only events of this type"},
      {"meter", "M[,M...]", "every meter",
       "usage: only these meter columns; events: only events one of them applies to"},
      {"tz", "ZONE", "each subject's own time zone", "IANA zone of daily and monthly buckets"},
      {"output", "FILE", "- (stdout)", "where to write; a file appears only once complete"},
  };
  for (FlagSpec& f : StoreFlags()) spec.flags.push_back(std::move(f));
  return Command{std::move(spec), RunExportCommand};
}

}  // namespace tally::cli
