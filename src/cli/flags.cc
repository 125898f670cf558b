#include "cli/flags.h"

#include <algorithm>

namespace tally::cli {
namespace {

const FlagSpec* FindFlag(const CommandSpec& spec, const std::string& name) {
  for (const FlagSpec& f : spec.flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// The closest declared flag name, for "did you mean" (edit distance <= 2).
std::string Suggest(const CommandSpec& spec, const std::string& name) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_distance = 3;
  for (const FlagSpec& f : spec.flags) {
    const size_t d = distance(name, f.name);
    if (d < best_distance) {
      best_distance = d;
      best = f.name;
    }
  }
  return best;
}

}  // namespace

std::optional<std::string> ParsedFlags::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

const std::vector<std::string>& ParsedFlags::All(const std::string& name) const {
  static const std::vector<std::string> kNone;
  auto it = values_.find(name);
  return it == values_.end() ? kNone : it->second;
}

bool ParseFlags(const CommandSpec& spec, const std::vector<std::string>& args, ParsedFlags& out,
                std::string& error) {
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      out.positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      out.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      error = spec.name + ": unknown flag " + arg + " (flags start with --; see tally " +
              spec.name + " --help)";
      return false;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagSpec* flag = FindFlag(spec, name);
    if (flag == nullptr) {
      error = spec.name + ": unknown flag --" + name;
      if (std::string s = Suggest(spec, name); !s.empty()) error += " (did you mean --" + s + "?)";
      error += "; see tally " + spec.name + " --help";
      return false;
    }
    if (flag->value_name.empty()) {
      if (value && *value != "true" && *value != "false") {
        error = spec.name + ": --" + name + " takes no value";
        return false;
      }
      if (!value || *value == "true") out.Add(name, "true");
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        error = spec.name + ": --" + name + " needs a value (" + flag->value_name + ")";
        return false;
      }
      value = args[++i];
    }
    if (!flag->repeatable && out.Has(name)) {
      error = spec.name + ": --" + name + " given twice";
      return false;
    }
    out.Add(name, *value);
  }
  if (out.help) return true;
  if (out.positionals.size() < spec.min_positionals) {
    error = spec.name + ": missing " + spec.positionals + " (usage: tally " + spec.name +
            (spec.positionals.empty() ? "" : " " + spec.positionals) + " [flags])";
    return false;
  }
  if (out.positionals.size() > spec.max_positionals) {
    error = spec.name + ": unexpected argument \"" + out.positionals[spec.max_positionals] + "\"";
    return false;
  }
  return true;
}

std::string Usage(const CommandSpec& spec) {
  std::string out = "usage: tally " + spec.name;
  if (!spec.positionals.empty()) out += " " + spec.positionals;
  if (!spec.flags.empty()) out += " [flags]";
  out += "\n\n" + spec.summary + "\n";
  if (spec.flags.empty()) return out;
  out += "\nflags:\n";
  std::vector<std::string> left;
  size_t width = 0;
  for (const FlagSpec& f : spec.flags) {
    std::string l = "  --" + f.name;
    if (!f.value_name.empty()) l += " " + f.value_name;
    width = std::max(width, l.size());
    left.push_back(std::move(l));
  }
  for (size_t i = 0; i < spec.flags.size(); ++i) {
    const FlagSpec& f = spec.flags[i];
    out += left[i] + std::string(width - left[i].size() + 2, ' ') + f.help;
    if (f.repeatable) out += " (repeatable)";
    if (!f.default_text.empty()) out += " (default: " + f.default_text + ")";
    out += "\n";
  }
  const std::string help_flag = "  -h, --help";
  out += help_flag + std::string(width > help_flag.size() ? width - help_flag.size() + 2 : 2, ' ') +
         "show this help\n";
  return out;
}

}  // namespace tally::cli
