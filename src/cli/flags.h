// Flags: the tally CLI's tiny hand-written command-line parser.
//
// Each command declares its flags (name, value placeholder, default, help); the
// parser accepts "--name value", "--name=value", bare "--name" for switches,
// "--" to end flags, and "-h"/"--help". Anything else that starts with "-" is
// an unknown flag. Usage() renders the help text from the same declarations,
// so the help always lists every flag and its default.
//
// Thread-safety: plain value types and pure functions.
#ifndef TALLY_CLI_FLAGS_H_
#define TALLY_CLI_FLAGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tally::cli {

struct FlagSpec {
  std::string name;        // without the leading "--"
  std::string value_name;  // "DIR", "N"...; empty: a switch that takes no value
  std::string default_text;  // shown in the help as "(default: ...)"; empty: none
  std::string help;
  bool repeatable = false;  // may be given more than once
};

struct CommandSpec {
  std::string name;         // "consume", "subject put"
  std::string positionals;  // for the usage line, e.g. "RESERVATION_ID"
  std::string summary;      // one line
  std::vector<FlagSpec> flags;
  size_t min_positionals = 0;
  size_t max_positionals = 0;
};

// What was on the command line.
class ParsedFlags {
 public:
  bool help = false;
  std::vector<std::string> positionals;

  bool Has(const std::string& name) const { return values_.contains(name); }
  // The last value given, or nullopt.
  std::optional<std::string> Get(const std::string& name) const;
  // Every value given, in order.
  const std::vector<std::string>& All(const std::string& name) const;

  void Add(const std::string& name, std::string value) { values_[name].push_back(std::move(value)); }

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// Parses `args` (the arguments after the command name) against `spec`. On
// failure returns false and sets `error` to a one-line message without the
// "tally: " prefix, e.g. "consume: unknown flag --sbject".
bool ParseFlags(const CommandSpec& spec, const std::vector<std::string>& args, ParsedFlags& out,
                std::string& error);

// The help text of one command: usage line, summary, every flag with its default.
std::string Usage(const CommandSpec& spec);

}  // namespace tally::cli

#endif  // TALLY_CLI_FLAGS_H_
