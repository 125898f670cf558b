// The tally CLI's commands: each subcommand file contributes Command values
// (its flags and a run function); main.cc dispatches to them. Also the shared
// plumbing every command uses: exit codes, the --data-dir/--config/
// --durability flags, and opening the store and engine they describe.
//
// Thread-safety: single-threaded (a CLI process).
#ifndef TALLY_CLI_COMMAND_H_
#define TALLY_CLI_COMMAND_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "analytics/rollups.h"
#include "cli/flags.h"
#include "core/config.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace tally::cli {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;   // bad input, storage failure...
inline constexpr int kExitUsage = 2;   // unknown command or flag, missing argument
inline constexpr int kExitDenied = 3;  // a decision with allowed == false

struct Command {
  CommandSpec spec;
  std::function<int(const ParsedFlags&)> run;
};

// The commands of each file.
Command CheckConfigCommand();          // check_config.cc
std::vector<Command> EventCommands();  // event_commands.cc: track, consume, check
std::vector<Command> ReservationCommands();  // reservation_commands.cc
Command StatusCommand();                     // status_command.cc
std::vector<Command> AdminCommands();  // admin_commands.cc: subject put, org put, checkpoint
Command VerifyCommand();               // verify_command.cc
Command ServeCommand();                // serve_command.cc
std::vector<Command> KeysCommands();   // keys_command.cc: keys create, list, revoke
Command ArchiveCommand();              // archive_command.cc
Command ImportCommand();               // import_command.cc
Command ExportCommand();               // export_command.cc

// Prints "tally: <message>" to stderr and returns kExitError.
int Fail(const std::string& message);

// The process environment, for DefaultConfig/ParseConfig.
EnvLookup ProcessEnv();

// --data-dir, --config and --durability, for commands that open a data dir.
std::vector<FlagSpec> StoreFlags();
// --config alone.
FlagSpec ConfigFlag();

// The config named by --config or $TALLY_CONFIG, or DefaultConfig(). Returns
// kExitOk, or prints the error and returns the exit code.
int LoadCliConfig(const ParsedFlags& flags, Config& config);

// What a command works on: the config, the data dir, its store and engine.
struct Runtime {
  Config config;
  std::string data_dir;
  // Usage per subject × type × hour, kept by the store (so declared before it:
  // the store persists them when it closes); null unless asked for.
  std::unique_ptr<Rollups> rollups;
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<Engine> engine;  // destroyed before `store`
  ~Runtime() { engine.reset(); }
};

// Loads the config, resolves the data dir (--data-dir, $TALLY_DATA_DIR, then
// storage.data_dir) and durability, and opens the store and, with
// `open_engine`, the engine. On failure prints a friendly error
// ("tally: cannot open data dir ./x: ...") and returns the exit code;
// kExitOk on success. With `require_existing`, a data dir without a tally.db
// is an error instead of being created. With `with_rollups`, the store keeps
// rt.rollups (loading every persisted cell: seconds for a large history);
// commands that do not read usage history leave them out, and the next open
// with them folds the events written meanwhile.
int OpenRuntime(const ParsedFlags& flags, bool open_engine, Runtime& rt,
                bool require_existing = false, bool with_rollups = false);

// Parses "k=v" items (each value may itself be "a=1,b=2") into event data;
// on failure sets `error` to e.g. "data.chars: must be a non-negative integer".
// Splits repeatable, comma-separated "key=value" flag values into pairs;
// `shape` names the expected form in the error ("key=value").
bool SplitAssignments(const std::vector<std::string>& items, const std::string& flag,
                      const std::string& shape,
                      std::vector<std::pair<std::string, std::string>>& out, std::string& error);

// Parses a whole decimal integer >= 0.
bool ParseNonNegative(const std::string& text, int64_t& value);

bool ParseDataFlags(const std::vector<std::string>& items,
                    std::vector<std::pair<std::string, int64_t>>& data, std::string& error);

// A status as "tally: <message>" on stderr; returns kExitError.
int FailStatus(const absl::Status& status);

}  // namespace tally::cli

#endif  // TALLY_CLI_COMMAND_H_
