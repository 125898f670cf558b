// tally reserve | commit | release: hold an estimate, settle it with the
// actual event, or drop it.
#include <cstdio>
#include <vector>

#include "cli/command.h"
#include "cli/event_flags.h"
#include "cli/json_out.h"

namespace tally::cli {
namespace {

int RunReserve(const ParsedFlags& flags) {
  Event request;
  std::string error;
  if (!EventFromFlags(flags, /*require_subject_type=*/true, /*random_id=*/true, request, error)) {
    return Fail(error);
  }
  Micros ttl = 0;  // the configured default
  if (std::optional<std::string> t = flags.Get("ttl")) {
    std::optional<Micros> parsed = ParseDuration(*t);
    if (!parsed || *parsed <= 0) {
      return Fail("--ttl: \"" + *t + "\" is not a positive duration (e.g. 60s, 5m, 2h)");
    }
    ttl = *parsed;
  }
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  absl::StatusOr<Decision> d = rt.engine->Reserve(std::move(request), ttl);
  if (!d.ok()) return FailStatus(d.status());
  PrintJson(DecisionJson(*d));
  return d->allowed ? kExitOk : kExitDenied;
}

int RunCommit(const ParsedFlags& flags) {
  Event actual;
  std::string error;
  if (!EventFromFlags(flags, /*require_subject_type=*/false, /*random_id=*/false, actual, error)) {
    return Fail(error);
  }
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  absl::StatusOr<Decision> d = rt.engine->Commit(flags.positionals[0], std::move(actual));
  if (!d.ok()) return FailStatus(d.status());
  PrintJson(DecisionJson(*d));
  return d->allowed ? kExitOk : kExitDenied;
}

int RunRelease(const ParsedFlags& flags) {
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  const std::string& id = flags.positionals[0];
  if (absl::Status s = rt.engine->Release(id); !s.ok()) return FailStatus(s);
  PrintJson("{\"released\":" + JsonString(id) + "}");
  return kExitOk;
}

std::vector<FlagSpec> WithStoreFlags(std::vector<FlagSpec> flags) {
  for (FlagSpec& f : StoreFlags()) flags.push_back(std::move(f));
  return flags;
}

}  // namespace

std::vector<Command> ReservationCommands() {
  std::vector<Command> out;
  {
    CommandSpec spec;
    spec.name = "reserve";
    spec.summary =
        "Hold an estimate until commit or release.\n"
        "E.g. the max tokens of an LLM call. Prints the decision with reservation_id and expires_at; exit 0, 3 when denied.";
    spec.flags = EventFlags("random 128-bit hex (also the reservation id)");
    spec.flags.push_back({"ttl", "DURATION", "engine.reservation_ttl of the config (5m)",
                          "how long the hold lasts, e.g. 60s"});
    spec.flags = WithStoreFlags(std::move(spec.flags));
    out.push_back(Command{std::move(spec), RunReserve});
  }
  {
    CommandSpec spec;
    spec.name = "commit";
    spec.positionals = "RESERVATION_ID";
    spec.summary =
        "Settle a reservation with the actual event.\n"
        "Subject and type default to the reservation's. Prints the decision as JSON.";
    spec.flags = WithStoreFlags(EventFlags("RESERVATION_ID/commit", /*subject_required=*/false));
    spec.min_positionals = spec.max_positionals = 1;
    out.push_back(Command{std::move(spec), RunCommit});
  }
  {
    CommandSpec spec;
    spec.name = "release";
    spec.positionals = "RESERVATION_ID";
    spec.summary = "Drop a reservation's hold.";
    spec.flags = StoreFlags();
    spec.min_positionals = spec.max_positionals = 1;
    out.push_back(Command{std::move(spec), RunRelease});
  }
  return out;
}

}  // namespace tally::cli
