// The flags that describe one event (--subject, --type, --id, --time, --data,
// --session-id, --endpoint) and how they become an Event; shared by track,
// consume, check, reserve and commit.
//
// Thread-safety: pure functions.
#ifndef TALLY_CLI_EVENT_FLAGS_H_
#define TALLY_CLI_EVENT_FLAGS_H_

#include <string>
#include <vector>

#include "cli/flags.h"
#include "core/event.h"

namespace tally::cli {

// The event flags; `id_default` is shown as the default of --id. Without
// `subject_required`, --subject and --type default to the reservation's (commit).
std::vector<FlagSpec> EventFlags(const std::string& id_default, bool subject_required = true);

// Builds `event` from the flags. With `require_subject_type`, --subject and
// --type must be given. Without --id, `random_id` picks a random 128-bit hex id.
// On failure sets `error` (e.g. "data.chars: must be a non-negative integer").
bool EventFromFlags(const ParsedFlags& flags, bool require_subject_type, bool random_id,
                    Event& event, std::string& error);

// 32 random hex digits.
std::string RandomId();

// Writes `json` and a newline to stdout.
void PrintJson(const std::string& json);

}  // namespace tally::cli

#endif  // TALLY_CLI_EVENT_FLAGS_H_
