// tally track | consume | check: run one event through the engine and print
// the decision as JSON. Exit 0 when allowed, 3 when denied, 1 on error.
#include <vector>

#include "cli/command.h"
#include "cli/event_flags.h"
#include "cli/json_out.h"

namespace tally::cli {
namespace {

enum class Op { kTrack, kConsume, kCheck };

int RunEvent(Op op, const ParsedFlags& flags) {
  Event event;
  std::string error;
  if (!EventFromFlags(flags, /*require_subject_type=*/true, /*random_id=*/true, event, error)) {
    return Fail(error);
  }
  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt); rc != kExitOk) return rc;
  absl::StatusOr<Decision> d = op == Op::kTrack     ? rt.engine->Track(std::move(event))
                               : op == Op::kConsume ? rt.engine->Consume(std::move(event))
                                                    : rt.engine->Check(event);
  if (!d.ok()) return FailStatus(d.status());
  PrintJson(DecisionJson(*d));
  return d->allowed ? kExitOk : kExitDenied;
}

Command MakeEventCommand(const std::string& name, Op op, const std::string& summary) {
  CommandSpec spec;
  spec.name = name;
  spec.summary = summary;
  spec.flags = EventFlags("random 128-bit hex");
  for (FlagSpec& f : StoreFlags()) spec.flags.push_back(std::move(f));
  return Command{std::move(spec), [op](const ParsedFlags& flags) { return RunEvent(op, flags); }};
}

}  // namespace

std::vector<Command> EventCommands() {
  return {
      MakeEventCommand("track", Op::kTrack,
                       "Record one event (counted, never denied).\n"
                       "Prints the decision as JSON; exit 0, or 1 on error."),
      MakeEventCommand("consume", Op::kConsume,
                       "Check and record one event, atomically.\n"
                       "All or nothing across every quota it touches (subject and org).\n"
                       "Prints the decision as JSON; exit 0 when allowed, 3 when denied, 1 on error."),
      MakeEventCommand("check", Op::kCheck,
                       "Would this event fit? (no side effect)\n"
                       "Prints the decision as JSON; exit 0 when it would be allowed, 3 when not,\n"
                       "1 on error."),
  };
}

}  // namespace tally::cli
