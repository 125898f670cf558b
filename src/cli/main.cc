// tally: the command-line entry point. Dispatches to the subcommands declared
// in command.h; every exception is caught here, printed, and exits 1.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"

namespace tally::cli {
namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  all.push_back(CheckConfigCommand());
  for (Command& c : EventCommands()) all.push_back(std::move(c));
  for (Command& c : ReservationCommands()) all.push_back(std::move(c));
  all.push_back(StatusCommand());
  for (Command& c : AdminCommands()) all.push_back(std::move(c));
  all.push_back(VerifyCommand());
  all.push_back(ServeCommand());
  for (Command& c : KeysCommands()) all.push_back(std::move(c));
  all.push_back(ArchiveCommand());
  all.push_back(ImportCommand());
  all.push_back(ExportCommand());
  return all;
}

std::string FirstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string MainUsage(const std::vector<Command>& commands) {
  std::string out =
      "usage: tally <command> [flags]\n\n"
      "tally meters usage and enforces quotas over a data directory.\n\ncommands:\n";
  size_t width = 0;
  for (const Command& c : commands) width = std::max(width, c.spec.name.size());
  for (const Command& c : commands) {
    out += "  " + c.spec.name + std::string(width - c.spec.name.size() + 2, ' ') +
           FirstLine(c.spec.summary) + "\n";
  }
  out +=
      "\nRun \"tally <command> --help\" for a command's flags and their defaults.\n"
      "Environment: TALLY_DATA_DIR, TALLY_CONFIG, TALLY_DEFAULT_MONTHLY_{CHARS,REQUESTS,TOKENS}.\n"
      "Exit codes: 0 ok, 1 error, 2 usage error, 3 denied.\n";
  return out;
}

int Run(const std::vector<std::string>& args) {
  const std::vector<Command> commands = AllCommands();
  if (args.empty()) {
    std::fputs(MainUsage(commands).c_str(), stderr);
    return kExitUsage;
  }
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(MainUsage(commands).c_str(), stdout);
    return kExitOk;
  }
  // One- or two-word command names ("consume", "subject put").
  const Command* command = nullptr;
  size_t consumed = 0;
  std::vector<const Command*> group;  // the commands under args[0], for "tally subject"
  for (const Command& c : commands) {
    if (c.spec.name == args[0]) {
      command = &c;
      consumed = 1;
      break;
    }
    if (c.spec.name.rfind(args[0] + " ", 0) == 0) {
      group.push_back(&c);
      if (args.size() > 1 && c.spec.name == args[0] + " " + args[1]) {
        command = &c;
        consumed = 2;
        break;
      }
    }
  }
  if (command == nullptr && !group.empty()) {
    const bool help = args.size() > 1 && (args[1] == "--help" || args[1] == "-h");
    std::string text = "usage:\n";
    for (const Command* c : group) {
      text += "  tally " + c->spec.name + " " + c->spec.positionals + " [flags]  " +
              FirstLine(c->spec.summary) + "\n";
    }
    if (help) {
      std::fputs(text.c_str(), stdout);
      return kExitOk;
    }
    std::fprintf(stderr, "tally: %s: %s\n%s", args[0].c_str(),
                 args.size() > 1 ? ("unknown subcommand \"" + args[1] + "\"").c_str()
                                 : "missing subcommand",
                 text.c_str());
    return kExitUsage;
  }
  if (command == nullptr) {
    std::fprintf(stderr, "tally: unknown command \"%s\"; run \"tally --help\" for the list\n",
                 args[0].c_str());
    return kExitUsage;
  }
  ParsedFlags flags;
  std::string error;
  const std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(consumed),
                                      args.end());
  if (!ParseFlags(command->spec, rest, flags, error)) {
    std::fprintf(stderr, "tally: %s\n", error.c_str());
    return kExitUsage;
  }
  if (flags.help) {
    std::fputs(Usage(command->spec).c_str(), stdout);
    return kExitOk;
  }
  return command->run(flags);
}

}  // namespace
}  // namespace tally::cli

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    const int rc = tally::cli::Run(args);
    std::fflush(stdout);
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tally: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "tally: internal error\n");
  }
  return tally::cli::kExitError;
}
