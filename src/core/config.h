// Config: everything tally is told at start-up, from one TOML file (every key
// optional) plus a few environment variables.
//
// With no file, tally starts with DefaultConfig(): the meters chars, requests
// and tokens, and the tiers free, premium and enterprise; the free tier's monthly
// limits come from TALLY_DEFAULT_MONTHLY_CHARS (10000), _REQUESTS (500) and
// _TOKENS (100000).
//
// The file's shape (docs/configuration.md has the full reference):
//
//   default_tier = "free"
//   auto_create_subjects = true
//   [storage]  data_dir = "./tally-data"  durability = "strict"
//   [engine]   dedup_window = "35d"  max_lateness = "35d"  max_future = "5m"
//              reservation_ttl = "5m"  reservation_max_ttl = "24h"
//   [retention] events_days = 0  archive_dir = "<data_dir>/archive"  check_every = "1d"
//   [[meters]] name = "chars" aggregation = "sum" value = "chars" types = [...]
//   [tiers.free]
//   inherits = "..."
//   quotas.chars = { limit = 10000, period = "month", overage = "block",
//                    allow_up_to = 0, rollover_cap = 0, warn_at = [50,75,90,100] }
//   quotas.tokens = { limit = "unlimited" }
//   rate_limits = [{ meter = "requests", rate = 10, per = "1s", burst = 20 }]
//   pricing = { base_cents = 0, currency = "usd",
//               overage = { chars = { cents = 1, per = 1000 } } }
//   [orgs.acme]      tier = "enterprise" timezone = "Europe/Berlin" anchor_day = 1
//   [subjects.alice] tier = "premium" org = "acme" timezone = "America/New_York"
//                    anchor_day = 15 email = "..." overrides = { chars = 50000 }
//
// Thread-safety: plain value type.
#ifndef TALLY_CORE_CONFIG_H_
#define TALLY_CORE_CONFIG_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/meter.h"
#include "core/subject.h"
#include "core/tier.h"
#include "core/time.h"

namespace tally {

enum class Durability {
  kStrict,   // a write returns only after its fsync (default)
  kRelaxed,  // a write returns once queued; the fsync follows within ms
};

struct StorageOptions {
  std::string data_dir = "./tally-data";  // Default: ./tally-data
  Durability durability = Durability::kStrict;
  // Log records between two checkpoints of the counters. Default: 1,000,000.
  int64_t checkpoint_every = 1'000'000;
};

struct EngineOptions {
  Micros dedup_window = 35 * kMicrosPerDay;     // Default: 35 days
  int64_t dedup_max_entries = 50'000'000;       // Default: 50M (~40 bytes each)
  Micros max_lateness = 35 * kMicrosPerDay;     // Default: 35 days
  Micros max_future = 5 * kMicrosPerMinute;     // Default: 5 minutes
  Micros reservation_ttl = 5 * kMicrosPerMinute;  // Default: 5 minutes
  Micros reservation_max_ttl = kMicrosPerDay;     // Default: 24 hours
};

// Retention of raw events (docs/storage.md, "Retention and archives").
struct RetentionOptions {
  // Raw events older than this many days are archived to archive_dir, then
  // deleted from the database (rollups stay). 0 keeps them forever; otherwise
  // at least 36 and longer than engine.dedup_window and engine.max_lateness.
  // Default: 0.
  int64_t events_days = 0;
  // Where archives and their manifest go. Default: "" = <data_dir>/archive.
  std::string archive_dir;
  // How often the server runs the archiver. Default: 1 day.
  Micros check_every = kMicrosPerDay;
};

struct Config {
  std::string default_tier = "free";  // Default: "free"
  bool auto_create_subjects = true;   // Default: true
  StorageOptions storage;
  EngineOptions engine;
  RetentionOptions retention;
  std::vector<Meter> meters;
  std::vector<Tier> tiers;  // resolved: no `inherits` left to follow
  std::vector<Org> orgs;
  std::vector<Subject> subjects;
};

// One thing wrong with a config file, at a TOML key path ("tiers.free.quotas.chars.limit").
struct ConfigProblem {
  std::string path;
  std::string message;
};

// Reads an environment variable; injectable for tests.
using EnvLookup = std::function<const char*(const char*)>;

// The built-in configuration described above.
Config DefaultConfig(const EnvLookup& env);

// Parses TOML text over DefaultConfig(env). On failure the status message lists
// every problem, one "path: message" per line.
absl::StatusOr<Config> ParseConfig(std::string_view toml_text, const EnvLookup& env);

// Every problem in `toml_text`, empty when it is valid (tally check-config).
std::vector<ConfigProblem> CheckConfig(std::string_view toml_text, const EnvLookup& env);

// Reads and parses a file.
absl::StatusOr<Config> LoadConfigFile(const std::string& path, const EnvLookup& env);

// A duration such as "35d", "5m", "1s", "250ms", "2h", "1w"; nullopt if malformed.
std::optional<Micros> ParseDuration(std::string_view text);

}  // namespace tally

#endif  // TALLY_CORE_CONFIG_H_
