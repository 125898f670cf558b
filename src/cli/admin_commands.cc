// tally subject put | org put | checkpoint: administration of the registry and
// of the engine's counters.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <vector>

#include "cli/command.h"
#include "cli/event_flags.h"
#include "cli/json_out.h"

namespace tally::cli {
namespace {

// "--limit chars=5000,tokens=unlimited" (repeatable) into `overrides`.
bool ParseLimits(const std::vector<std::string>& items, Overrides& overrides, std::string& error) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!SplitAssignments(items, "limit", "meter=N or meter=unlimited", pairs, error)) return false;
  for (const auto& [meter, text] : pairs) {
    if (text == "unlimited") {
      overrides[meter] = std::nullopt;
      continue;
    }
    int64_t limit = 0;
    if (!ParseNonNegative(text, limit)) {
      error = "overrides." + meter + ": must be a non-negative integer or \"unlimited\"";
      return false;
    }
    overrides[meter] = limit;
  }
  return true;
}

bool ParseAnchorDay(const ParsedFlags& flags, int& anchor_day, std::string& error) {
  std::optional<std::string> text = flags.Get("anchor-day");
  if (!text) return true;
  int day = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), day);
  if (ec != std::errc() || ptr != text->data() + text->size() || day < 1 || day > 31) {
    error = "anchor_day: must be an integer from 1 to 31";
    return false;
  }
  anchor_day = day;
  return true;
}

std::string OverridesJson(const Overrides& overrides) {
  std::string out = "{";
  for (const auto& [meter, limit] : overrides) {
    if (out.size() > 1) out += ",";
    out += JsonString(meter) + ":" + JsonInt(limit);
  }
  return out + "}";
}

int RunSubjectPut(const ParsedFlags& flags) {
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  const std::string& id = flags.positionals[0];
  Subject subject;
  if (absl::StatusOr<Subject> existing = rt.engine->GetSubject(id); existing.ok()) {
    subject = *std::move(existing);
  } else if (absl::IsNotFound(existing.status())) {
    subject.id = id;
    subject.tier = rt.config.default_tier;
  } else {
    return FailStatus(existing.status());
  }
  if (auto v = flags.Get("tier")) subject.tier = *v;
  if (auto v = flags.Get("org")) subject.org = *v;
  if (auto v = flags.Get("timezone")) subject.timezone = *v;
  if (auto v = flags.Get("email")) subject.email = *v;
  std::string error;
  if (!ParseAnchorDay(flags, subject.anchor_day, error)) return Fail(error);
  if (!ParseLimits(flags.All("limit"), subject.overrides, error)) return Fail(error);
  if (absl::Status s = rt.engine->PutSubject(subject); !s.ok()) return FailStatus(s);
  PrintJson("{\"id\":" + JsonString(subject.id) + ",\"tier\":" + JsonString(subject.tier) +
            ",\"org\":" + (subject.org.empty() ? "null" : JsonString(subject.org)) +
            ",\"email\":" + (subject.email.empty() ? "null" : JsonString(subject.email)) +
            ",\"timezone\":" + JsonString(subject.timezone) +
            ",\"anchor_day\":" + std::to_string(subject.anchor_day) +
            ",\"overrides\":" + OverridesJson(subject.overrides) + "}");
  return kExitOk;
}

int RunOrgPut(const ParsedFlags& flags) {
  Org org;
  org.id = flags.positionals[0];
  std::optional<std::string> tier = flags.Get("tier");
  if (!tier || tier->empty()) return Fail("--tier is required");
  org.tier = *tier;
  if (auto v = flags.Get("timezone")) org.timezone = *v;
  std::string error;
  if (!ParseAnchorDay(flags, org.anchor_day, error)) return Fail(error);
  if (!ParseLimits(flags.All("limit"), org.overrides, error)) return Fail(error);
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  if (absl::Status s = rt.engine->PutOrg(org); !s.ok()) return FailStatus(s);
  PrintJson("{\"id\":" + JsonString(org.id) + ",\"tier\":" + JsonString(org.tier) +
            ",\"timezone\":" + JsonString(org.timezone) +
            ",\"anchor_day\":" + std::to_string(org.anchor_day) +
            ",\"overrides\":" + OverridesJson(org.overrides) + "}");
  return kExitOk;
}

int RunCheckpoint(const ParsedFlags& flags) {
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  const auto start = std::chrono::steady_clock::now();
  if (absl::Status s = rt.engine->Checkpoint(); !s.ok()) return FailStatus(s);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const EngineStats stats = rt.engine->Stats();
  std::printf("checkpoint written at seq %llu in %.1f ms (%llu subjects)\n",
              static_cast<unsigned long long>(rt.store->LastSeq()), ms,
              static_cast<unsigned long long>(stats.subjects));
  return kExitOk;
}

FlagSpec LimitFlag() {
  return {"limit", "METER=N|unlimited", "the tier's limits",
          "per-meter limit override, e.g. chars=50000", true};
}

}  // namespace

std::vector<Command> AdminCommands() {
  std::vector<Command> out;
  {
    CommandSpec spec;
    spec.name = "subject put";
    spec.positionals = "ID";
    spec.summary =
        "Create or update a subject.\n"
        "Flags not given keep their current values. Prints the subject as JSON.";
    spec.flags = {
        {"tier", "T", "current, or default_tier of the config (free)", "the subject's tier"},
        {"org", "O", "current, or none", "the org whose pooled quota also applies"},
        {"timezone", "Z", "current, or UTC", "IANA time zone of the subject's windows"},
        {"anchor-day", "N", "current, or 1", "billing day of month, 1..31"},
        {"email", "E", "current, or none", "email address for notifications"},
        LimitFlag(),
    };
    for (FlagSpec& f : StoreFlags()) spec.flags.push_back(std::move(f));
    spec.min_positionals = spec.max_positionals = 1;
    out.push_back(Command{std::move(spec), RunSubjectPut});
  }
  {
    CommandSpec spec;
    spec.name = "org put";
    spec.positionals = "ID";
    spec.summary =
        "Create or replace an org.\n"
        "Its pooled quota applies to its members. Prints the org as JSON.";
    spec.flags = {
        {"tier", "T", "", "the org's tier; required"},
        {"timezone", "Z", "UTC", "IANA time zone of the org's windows"},
        {"anchor-day", "N", "1", "billing day of month, 1..31"},
        LimitFlag(),
    };
    for (FlagSpec& f : StoreFlags()) spec.flags.push_back(std::move(f));
    spec.min_positionals = spec.max_positionals = 1;
    out.push_back(Command{std::move(spec), RunOrgPut});
  }
  {
    CommandSpec spec;
    spec.name = "checkpoint";
    spec.summary =
        "Write a checkpoint of every counter.\n"
        "Recovery then replays only what follows it. Reports how long it took.";
    spec.flags = StoreFlags();
    out.push_back(Command{std::move(spec), RunCheckpoint});
  }
  return out;
}

}  // namespace tally::cli
