// tally status --subject S: every quota of a subject (and its org) as an
// aligned table, or as JSON with --json.
#include <cstdio>
#include <vector>

#include "cli/command.h"
#include "cli/event_flags.h"
#include "cli/json_out.h"
#include "core/time.h"

namespace tally::cli {
namespace {

std::string OrDash(const std::optional<int64_t>& v, const char* none) {
  return v ? std::to_string(*v) : std::string(none);
}

// Left-aligned text columns, right-aligned numeric ones, two spaces apart.
void PrintTable(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(width[c] - row[c].size(), ' ');
      const bool last = c + 1 == row.size();
      line += right[c] ? pad + row[c] : row[c] + (last ? "" : pad);
      if (!last) line += "  ";
    }
    std::printf("%s\n", line.c_str());
  }
}

int RunStatus(const ParsedFlags& flags) {
  std::optional<std::string> subject = flags.Get("subject");
  if (!subject || subject->empty()) return Fail("--subject is required");
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  absl::StatusOr<std::vector<QuotaView>> views = rt.engine->QuotaStatus(*subject);
  if (!views.ok()) return FailStatus(views.status());
  if (flags.Has("json")) {
    PrintJson("{\"subject\":" + JsonString(*subject) + ",\"quotas\":" + QuotaViewsJson(*views) +
              "}");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"METER", "SCOPE", "USED", "LIMIT", "REMAINING", "PERCENT", "STATUS", "RESETS AT"}};
  for (const QuotaView& v : *views) {
    std::string scope(ScopeName(v.scope));
    if (v.scope == Scope::kOrg) scope += " " + v.account;
    std::string used = std::to_string(v.used);
    if (v.reserved > 0) used += " (+" + std::to_string(v.reserved) + " held)";
    const std::string resets = FormatRfc3339(v.period.end);
    rows.push_back({v.meter, scope, used, OrDash(v.limit, "unlimited"),
                    OrDash(v.remaining, "-"), v.limit ? JsonPercent(v.percent) + "%" : "-",
                    std::string(QuotaStatusName(v.status)), resets.empty() ? "never" : resets});
  }
  PrintTable(rows, {false, false, true, true, true, true, false, false});
  return kExitOk;
}

}  // namespace

Command StatusCommand() {
  CommandSpec spec;
  spec.name = "status";
  spec.summary = "Show every quota of a subject (and its org) in the current windows.";
  spec.flags = {
      {"subject", "S", "", "the subject id; required"},
      {"json", "", "off", "print JSON instead of a table"},
  };
  for (FlagSpec& f : StoreFlags()) spec.flags.push_back(std::move(f));
  return Command{std::move(spec), RunStatus};
}

}  // namespace tally::cli
