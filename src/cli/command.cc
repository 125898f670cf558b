#include "cli/command.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "analytics/rollups.h"
#include "core/clock.h"

namespace tally::cli {

int Fail(const std::string& message) {
  std::fprintf(stderr, "tally: %s\n", message.c_str());
  return kExitError;
}

int FailStatus(const absl::Status& status) { return Fail(std::string(status.message())); }

EnvLookup ProcessEnv() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

FlagSpec ConfigFlag() {
  return {"config", "FILE", "$TALLY_CONFIG, else the built-in defaults",
          "TOML configuration file"};
}

std::vector<FlagSpec> StoreFlags() {
  return {
      {"data-dir", "DIR", "$TALLY_DATA_DIR, else storage.data_dir of the config (./tally-data)",
       "data directory (holds tally.db)"},
      ConfigFlag(),
      {"durability", "MODE", "storage.durability of the config (strict)",
       "strict (acknowledge after fsync) or relaxed"},
  };
}

int LoadCliConfig(const ParsedFlags& flags, Config& config) {
  std::optional<std::string> path = flags.Get("config");
  if (!path) {
    if (const char* env = std::getenv("TALLY_CONFIG"); env != nullptr && *env != '\0') path = env;
  }
  if (!path) {
    config = DefaultConfig(ProcessEnv());
    return kExitOk;
  }
  absl::StatusOr<Config> loaded = LoadConfigFile(*path, ProcessEnv());
  if (!loaded.ok()) {
    // Parse problems come one per line; give each the file's name.
    std::string message(loaded.status().message());
    std::string out;
    size_t start = 0;
    while (start <= message.size()) {
      size_t end = message.find('\n', start);
      if (end == std::string::npos) end = message.size();
      if (end > start) {
        const std::string line = message.substr(start, end - start);
        out += (out.empty() ? "" : "\ntally: ") +
               (line.rfind(*path, 0) == 0 ? line : "config " + *path + ": " + line);
      }
      start = end + 1;
    }
    return Fail(out.empty() ? "config " + *path + ": cannot be loaded" : out);
  }
  config = *std::move(loaded);
  return kExitOk;
}

int OpenRuntime(const ParsedFlags& flags, bool open_engine, Runtime& rt, bool require_existing,
                bool with_rollups) {
  if (int rc = LoadCliConfig(flags, rt.config); rc != kExitOk) return rc;
  if (std::optional<std::string> d = flags.Get("data-dir")) {
    rt.data_dir = *d;
  } else if (const char* env = std::getenv("TALLY_DATA_DIR"); env != nullptr && *env != '\0') {
    rt.data_dir = env;
  } else {
    rt.data_dir = rt.config.storage.data_dir;
  }
  if (rt.data_dir.empty()) {
    std::fprintf(stderr, "tally: --data-dir must not be empty\n");
    return kExitUsage;
  }
  if (std::optional<std::string> d = flags.Get("durability")) {
    if (*d == "strict") {
      rt.config.storage.durability = Durability::kStrict;
    } else if (*d == "relaxed") {
      rt.config.storage.durability = Durability::kRelaxed;
    } else {
      std::fprintf(stderr, "tally: --durability must be strict or relaxed, not \"%s\"\n",
                   d->c_str());
      return kExitUsage;
    }
  }
  if (require_existing) {
    std::error_code ec;
    const std::filesystem::path db = std::filesystem::path(rt.data_dir) / "tally.db";
    if (!std::filesystem::is_regular_file(db, ec)) {
      return Fail("cannot open data dir " + rt.data_dir + ": " +
                  (std::filesystem::exists(rt.data_dir, ec) ? "it holds no tally.db"
                                                            : "no such directory"));
    }
  }
  SqliteStoreOptions options;
  options.dir = rt.data_dir;
  options.strict = rt.config.storage.durability == Durability::kStrict;
  if (with_rollups) {
    rt.rollups = std::make_unique<Rollups>(rt.config.meters);
    options.rollups = rt.rollups.get();
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
  if (!store.ok()) {
    return Fail("cannot open data dir " + rt.data_dir + ": " +
                std::string(store.status().message()));
  }
  rt.store = *std::move(store);
  if (!open_engine) return kExitOk;
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Open(rt.config, rt.store.get(), SystemClock::Default());
  if (!engine.ok()) {
    return Fail("cannot recover data dir " + rt.data_dir + ": " +
                std::string(engine.status().message()));
  }
  rt.engine = *std::move(engine);
  for (const std::string& warning : rt.engine->recovery_warnings()) {
    std::fprintf(stderr, "tally: warning: %s\n", warning.c_str());
  }
  return kExitOk;
}

bool SplitAssignments(const std::vector<std::string>& items, const std::string& flag,
                      const std::string& shape,
                      std::vector<std::pair<std::string, std::string>>& out, std::string& error) {
  for (const std::string& item : items) {
    size_t start = 0;
    while (start <= item.size()) {
      size_t end = item.find(',', start);
      if (end == std::string::npos) end = item.size();
      const std::string pair = item.substr(start, end - start);
      start = end + 1;
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      if (eq == std::string::npos || eq == 0) {
        error = "--" + flag + ": \"" + pair + "\" is not " + shape;
        return false;
      }
      out.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
    }
  }
  return true;
}

bool ParseNonNegative(const std::string& text, int64_t& value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size() && value >= 0;
}

bool ParseDataFlags(const std::vector<std::string>& items,
                    std::vector<std::pair<std::string, int64_t>>& data, std::string& error) {
  std::vector<std::pair<std::string, std::string>> pairs;
  if (!SplitAssignments(items, "data", "key=value", pairs, error)) return false;
  for (const auto& [key, text] : pairs) {
    int64_t value = 0;
    if (!ParseNonNegative(text, value)) {
      error = "data." + key + ": must be a non-negative integer";
      return false;
    }
    for (const auto& [k, v] : data) {
      if (k == key) {
        error = "data." + key + ": given twice";
        return false;
      }
    }
    data.emplace_back(key, value);
  }
  return true;
}

}  // namespace tally::cli
