// tally check-config FILE: validates a configuration file and says exactly
// what is wrong, one "FILE: path: message" line per problem.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/command.h"

namespace tally::cli {
namespace {

int RunCheckConfig(const ParsedFlags& flags) {
  std::string path;
  if (!flags.positionals.empty()) {
    path = flags.positionals[0];
  } else if (std::optional<std::string> p = flags.Get("config")) {
    path = *p;
  } else if (const char* env = std::getenv("TALLY_CONFIG"); env != nullptr && *env != '\0') {
    path = env;
  } else {
    std::fprintf(stderr,
                 "tally: check-config: missing FILE (usage: tally check-config FILE)\n");
    return kExitUsage;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Fail("cannot read " + path + ": " + std::strerror(errno));

  const std::vector<ConfigProblem> problems = CheckConfig(text.str(), ProcessEnv());
  if (problems.empty()) {
    std::printf("%s: ok\n", path.c_str());
    return kExitOk;
  }
  for (const ConfigProblem& p : problems) {
    if (p.path.empty()) {
      std::printf("%s: %s\n", path.c_str(), p.message.c_str());
    } else {
      std::printf("%s: %s: %s\n", path.c_str(), p.path.c_str(), p.message.c_str());
    }
  }
  return kExitError;
}

}  // namespace

Command CheckConfigCommand() {
  CommandSpec spec;
  spec.name = "check-config";
  spec.positionals = "FILE";
  spec.summary =
      "Validate a configuration file.\n"
      "Prints \"FILE: ok\" (exit 0) or every problem as \"FILE: path: message\" (exit 1).\n"
      "FILE defaults to --config or $TALLY_CONFIG.";
  spec.flags = {ConfigFlag()};
  spec.min_positionals = 0;
  spec.max_positionals = 1;
  return Command{std::move(spec), RunCheckConfig};
}

}  // namespace tally::cli
