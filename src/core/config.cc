#include "core/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/event.h"
#include "core/period.h"

namespace tally {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr std::string_view kContextPrefix = "context.";
constexpr const char* kContextFields[] = {
    "session_id",    "ip",        "user_agent", "endpoint", "method",
    "processing_ms", "error_code"};
constexpr std::string_view kLimitRule =
    "must be a non-negative integer or \"unlimited\"";
constexpr std::string_view kDurationRule =
    "must be a duration such as \"35d\", \"5m\" or \"250ms\" (units ms, s, m, "
    "h, d, w)";

// The free tier's limits come from the environment.
struct EnvDefault {
  const char* variable;
  const char* meter;
  int64_t fallback;
};
constexpr EnvDefault kEnvDefaults[] = {
    {"TALLY_DEFAULT_MONTHLY_CHARS", "chars", 10'000},
    {"TALLY_DEFAULT_MONTHLY_REQUESTS", "requests", 500},
    {"TALLY_DEFAULT_MONTHLY_TOKENS", "tokens", 100'000},
};

// Decimal digits only, no sign, no overflow.
std::optional<int64_t> ParseNonNegative(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const int digit = c - '0';
    if (value > (kInt64Max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

const char* Getenv(const EnvLookup& env, const char* name) {
  return env ? env(name) : nullptr;
}

Quota MonthlyQuota(std::string meter, std::optional<int64_t> limit,
                   Overage overage) {
  return Quota{.meter = std::move(meter), .limit = limit, .overage = overage};
}

Tier FreeTier(const EnvLookup& env) {
  Tier tier{.name = "free"};
  for (const EnvDefault& d : kEnvDefaults) {
    const char* text = Getenv(env, d.variable);
    const std::optional<int64_t> limit =
        text == nullptr ? d.fallback
                        : ParseNonNegative(text).value_or(d.fallback);
    tier.quotas.push_back(MonthlyQuota(d.meter, limit, Overage::kBlock));
  }
  return tier;
}

Tier PremiumTier() {
  struct Row {
    const char* meter;
    int64_t limit;
    UnitPrice price;
  };
  constexpr Row kRows[] = {
      {"chars", 1'000'000, {.cents = 1, .per = 1'000}},
      {"requests", 50'000, {.cents = 1, .per = 100}},
      {"tokens", 5'000'000, {.cents = 1, .per = 1'000}},
  };
  Tier tier{.name = "premium", .pricing = {.base_cents = 2900}};
  for (const Row& row : kRows) {
    Quota quota = MonthlyQuota(row.meter, row.limit, Overage::kAllowUpTo);
    quota.allow_up_to = row.limit / 10;
    tier.quotas.push_back(std::move(quota));
    tier.pricing.overage[row.meter] = row.price;
  }
  return tier;
}

Tier EnterpriseTier() {
  Tier tier{.name = "enterprise", .pricing = {.base_cents = 49900}};
  for (const char* meter : {"chars", "requests", "tokens"}) {
    tier.quotas.push_back(MonthlyQuota(meter, std::nullopt, Overage::kAllow));
  }
  return tier;
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.' || c == '-';
}

// [A-Za-z0-9_.-]{1,max_length}
bool IsName(std::string_view s, size_t max_length) {
  return !s.empty() && s.size() <= max_length &&
         std::all_of(s.begin(), s.end(), IsNameChar);
}

bool IsId(std::string_view s) {
  return !s.empty() && s.size() <= kMaxNameLength &&
         std::none_of(s.begin(), s.end(), [](char c) {
           return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
         });
}

bool IsBareKey(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-';
  });
}

std::string QuoteKey(std::string_view key) {
  std::string out = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppend(
          &out, "\\u00",
          absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// "tiers" + "free" -> "tiers.free"; keys that are not bare are quoted.
std::string Child(std::string_view parent, std::string_view key) {
  const std::string k = IsBareKey(key) ? std::string(key) : QuoteKey(key);
  return parent.empty() ? k : std::string(parent).append(".").append(k);
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

// " (did you mean "x"?)" for the closest candidate within two edits, or "".
template <typename Range>
std::string Suggestion(std::string_view word, const Range& candidates) {
  std::string best;
  size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    const size_t d = EditDistance(word, candidate);
    if (d < best_distance && d < word.size()) {
      best = std::string(candidate);
      best_distance = d;
    }
  }
  return best.empty() ? "" : absl::StrCat(" (did you mean \"", best, "\"?)");
}

std::string RangeRule(int64_t min, int64_t max) {
  if (max == kInt64Max && min == 0) return "must be a non-negative integer";
  if (max == kInt64Max && min == 1) return "must be a positive integer";
  if (max == kInt64Max)
    return absl::StrCat("must be an integer of at least ", min);
  return absl::StrCat("must be an integer between ", min, " and ", max);
}

// Problems with the position of the node they are about, for file order.
class Problems {
 public:
  void Add(std::string path, std::string message, const toml::node* at) {
    const toml::source_position where =
        at != nullptr ? at->source().begin : toml::source_position{};
    list_.push_back({{std::move(path), std::move(message)}, where});
  }

  bool empty() const { return list_.empty(); }

  std::vector<ConfigProblem> Take() && {
    std::stable_sort(list_.begin(), list_.end(),
                     [](const Located& a, const Located& b) {
                       return std::pair(a.where.line, a.where.column) <
                              std::pair(b.where.line, b.where.column);
                     });
    std::vector<ConfigProblem> out;
    for (Located& p : list_) out.push_back(std::move(p.problem));
    return out;
  }

 private:
  struct Located {
    ConfigProblem problem;
    toml::source_position where;
  };
  std::vector<Located> list_;
};

// A key being read: its node (null when absent), its path, and the table
// holding it (where an absent key is reported).
struct Key {
  const toml::node* node;
  std::string path;
  const toml::node* parent;
};

Key At(const toml::table& table, std::string_view table_path,
       std::string_view key) {
  return {table.get(key), Child(table_path, key), &table};
}

Key Element(const Key& array_key, const toml::array& array, size_t i) {
  return {array.get(i), absl::StrCat(array_key.path, "[", i, "]"),
          array_key.node};
}

// What every name in the file may refer to, gathered before the main pass so
// that references can be checked wherever they appear.
struct Names {
  std::set<std::string> meters;
  std::map<std::string, std::string> tier_parent;  // every tier -> inherits
  std::set<std::string> orgs;
};

// node[key] when `node` is a table and that member is a string.
std::optional<std::string> StringMember(const toml::node& node,
                                        std::string_view key) {
  const toml::table* table = node.as_table();
  const toml::node* member = table != nullptr ? table->get(key) : nullptr;
  return member != nullptr ? member->value_exact<std::string>() : std::nullopt;
}

Names CollectNames(const toml::table& root, const Config& defaults) {
  Names names;
  // With a malformed `meters` key, references are checked against the
  // built-in meters rather than reported by the dozen.
  if (const toml::array* meters = root["meters"].as_array()) {
    for (const toml::node& m : *meters) {
      if (auto name = StringMember(m, "name")) names.meters.insert(*name);
    }
  } else {
    for (const Meter& m : defaults.meters) names.meters.insert(m.name);
  }
  for (const Tier& t : defaults.tiers) names.tier_parent[t.name] = "";
  if (const toml::table* tiers = root["tiers"].as_table()) {
    for (const auto& [name, node] : *tiers) {
      names.tier_parent[std::string(name.str())] =
          StringMember(node, "inherits").value_or("");
    }
  }
  if (const toml::table* orgs = root["orgs"].as_table()) {
    for (const auto& [id, node] : *orgs)
      names.orgs.insert(std::string(id.str()));
  }
  return names;
}

// The base price and currency a tier in the file states explicitly; these win
// over inheritance even when equal to the struct defaults.
struct ExplicitPricing {
  std::optional<int64_t> base_cents;
  std::optional<std::string> currency;
};

// One pass over the parsed TOML document, building a Config and reporting
// every problem on the way.
class Parser {
 public:
  Parser(const toml::table& root, const EnvLookup& env, Problems& problems)
      : root_(root),
        defaults_(DefaultConfig(env)),
        names_(CollectNames(root, defaults_)),
        problems_(problems) {}

  Config Run() {
    Config config = defaults_;
    CheckKeys(root_, "",
              {"default_tier", "auto_create_subjects", "storage", "engine",
               "retention", "meters", "tiers", "orgs", "subjects"});
    const Key default_tier = At(root_, "", "default_tier");
    if (auto tier = String(default_tier)) {
      CheckTierRef(default_tier, *tier);
      config.default_tier = *tier;
    }
    if (auto b = Bool(At(root_, "", "auto_create_subjects")))
      config.auto_create_subjects = *b;
    if (auto* t = Table(At(root_, "", "storage")))
      ParseStorage(*t, &config.storage);
    if (auto* t = Table(At(root_, "", "engine")))
      ParseEngine(*t, &config.engine);
    if (auto* t = Table(At(root_, "", "retention")))
      ParseRetention(*t, config.engine, &config.retention);
    if (root_.contains("meters")) config.meters = ParseMeters();
    const std::vector<Tier> tiers = ParseTiers(config.tiers);
    config.orgs = ParseOrgs();
    config.subjects = ParseSubjects(config.default_tier);
    if (problems_.empty()) config.tiers = Resolve(tiers);
    return config;
  }

 private:
  void Add(const Key& key, std::string message) {
    problems_.Add(key.path, std::move(message),
                  key.node != nullptr ? key.node : key.parent);
  }

  void Missing(const Key& key, const std::string& what) {
    problems_.Add(key.path, absl::StrCat("missing: ", what), key.parent);
  }

  void CheckKeys(const toml::table& table, std::string_view path,
                 std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, node] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end())
        continue;
      problems_.Add(Child(path, key.str()),
                    absl::StrCat("unknown key", Suggestion(key.str(), allowed)),
                    &node);
    }
  }

  // Readers: nullopt/null when the key is absent or wrong (wrong is reported).
  std::optional<std::string> String(const Key& key) {
    if (key.node == nullptr) return std::nullopt;
    if (const auto* s = key.node->as_string()) return s->get();
    Add(key, "must be a string");
    return std::nullopt;
  }

  std::optional<int64_t> Integer(const Key& key, int64_t min,
                                 int64_t max = kInt64Max) {
    if (key.node == nullptr) return std::nullopt;
    const auto* i = key.node->as_integer();
    if (i != nullptr && i->get() >= min && i->get() <= max) return i->get();
    Add(key, RangeRule(min, max));
    return std::nullopt;
  }

  std::optional<bool> Bool(const Key& key) {
    if (key.node == nullptr) return std::nullopt;
    if (const auto* b = key.node->as_boolean()) return b->get();
    Add(key, "must be true or false");
    return std::nullopt;
  }

  std::optional<Micros> Duration(const Key& key, bool positive) {
    if (key.node == nullptr) return std::nullopt;
    const toml::value<std::string>* text = key.node->as_string();
    const std::optional<Micros> d =
        text != nullptr ? ParseDuration(text->get()) : std::nullopt;
    if (!d) {
      Add(key, std::string(kDurationRule));
    } else if (positive && *d == 0) {
      Add(key, "must be longer than 0");
      return std::nullopt;
    }
    return d;
  }

  const toml::table* Table(const Key& key) {
    if (key.node == nullptr) return nullptr;
    if (const auto* t = key.node->as_table()) return t;
    Add(key, "must be a table");
    return nullptr;
  }

  const toml::array* Array(const Key& key) {
    if (key.node == nullptr) return nullptr;
    if (const auto* a = key.node->as_array()) return a;
    Add(key, "must be an array");
    return nullptr;
  }

  template <typename E>
  std::optional<E> Enum(const Key& key,
                        std::optional<E> (*parse)(std::string_view),
                        const char* choices) {
    const std::optional<std::string> text = String(key);
    if (!text) return std::nullopt;
    if (std::optional<E> e = parse(*text)) return e;
    Add(key, absl::StrCat("must be one of ", choices));
    return std::nullopt;
  }

  // A limit: a non-negative integer, or "unlimited" (nullopt in *limit).
  void Limit(const Key& key, std::optional<int64_t>* limit) {
    if (const auto* s = key.node->as_string();
        s != nullptr && s->get() == "unlimited") {
      *limit = std::nullopt;
    } else if (const auto* i = key.node->as_integer();
               i != nullptr && i->get() >= 0) {
      *limit = i->get();
    } else {
      Add(key, std::string(kLimitRule));
    }
  }

  std::optional<std::string> Timezone(const Key& key) {
    std::optional<std::string> name = String(key);
    if (name && !LoadZone(*name)) {
      Add(key, absl::StrCat("unknown IANA time zone \"", *name, "\""));
      return std::nullopt;
    }
    return name;
  }

  void CheckMeterRef(const Key& key, const std::string& meter) {
    if (names_.meters.contains(meter)) return;
    Add(key, absl::StrCat("unknown meter \"", meter, "\"",
                          Suggestion(meter, names_.meters)));
  }

  bool CheckTierRef(const Key& key, const std::string& tier) {
    if (names_.tier_parent.contains(tier)) return true;
    std::vector<std::string_view> known;
    for (const auto& [name, parent] : names_.tier_parent) known.push_back(name);
    Add(key,
        absl::StrCat("unknown tier \"", tier, "\"", Suggestion(tier, known)));
    return false;
  }

  void CheckInherits(const Key& key, const std::string& tier,
                     const std::string& parent) {
    if (!CheckTierRef(key, parent)) return;
    std::vector<std::string> chain = {tier};
    std::set<std::string> seen;
    for (std::string at = parent; !at.empty() && seen.insert(at).second;) {
      chain.push_back(at);
      if (at == tier) {
        Add(key,
            absl::StrCat("inheritance cycle: ", absl::StrJoin(chain, " -> ")));
        return;
      }
      const auto next = names_.tier_parent.find(at);
      at = next != names_.tier_parent.end() ? next->second : "";
    }
  }

  void ParseStorage(const toml::table& t, StorageOptions* storage) {
    CheckKeys(t, "storage", {"data_dir", "durability", "checkpoint_every"});
    const Key data_dir = At(t, "storage", "data_dir");
    if (auto dir = String(data_dir)) {
      if (dir->empty()) Add(data_dir, "must not be empty");
      storage->data_dir = *dir;
    }
    const auto parse_durability =
        [](std::string_view s) -> std::optional<Durability> {
      if (s == "strict") return Durability::kStrict;
      if (s == "relaxed") return Durability::kRelaxed;
      return std::nullopt;
    };
    if (auto d = Enum<Durability>(At(t, "storage", "durability"),
                                  parse_durability, "strict, relaxed")) {
      storage->durability = *d;
    }
    if (auto n = Integer(At(t, "storage", "checkpoint_every"), 1))
      storage->checkpoint_every = *n;
  }

  void ParseEngine(const toml::table& t, EngineOptions* engine) {
    CheckKeys(t, "engine",
              {"dedup_window", "dedup_max_entries", "max_lateness",
               "max_future", "reservation_ttl", "reservation_max_ttl"});
    const struct {
      std::string_view key;
      Micros* out;
      bool positive;
    } durations[] = {
        {"dedup_window", &engine->dedup_window, true},
        {"max_lateness", &engine->max_lateness, false},
        {"max_future", &engine->max_future, false},
        {"reservation_ttl", &engine->reservation_ttl, true},
        {"reservation_max_ttl", &engine->reservation_max_ttl, true},
    };
    bool ttls_ok = true;
    for (const auto& d : durations) {
      const Key key = At(t, "engine", d.key);
      if (auto v = Duration(key, d.positive)) {
        *d.out = *v;
      } else if (key.node != nullptr && d.key.starts_with("reservation_")) {
        ttls_ok = false;
      }
    }
    if (auto n = Integer(At(t, "engine", "dedup_max_entries"), 1))
      engine->dedup_max_entries = *n;
    if (ttls_ok && engine->reservation_ttl > engine->reservation_max_ttl) {
      const Key ttl = At(t, "engine", "reservation_ttl");
      if (ttl.node != nullptr) {
        Add(ttl, "must not exceed engine.reservation_max_ttl");
      } else {
        Add(At(t, "engine", "reservation_max_ttl"),
            "must be at least engine.reservation_ttl (default 5m)");
      }
    }
  }

  // After ParseEngine: events_days is checked against the engine's windows.
  void ParseRetention(const toml::table& t, const EngineOptions& engine,
                      RetentionOptions* retention) {
    CheckKeys(t, "retention", {"events_days", "archive_dir", "check_every"});
    const Key days = At(t, "retention", "events_days");
    if (auto n = Integer(days, 0)) {
      const Micros longest = std::max(engine.dedup_window, engine.max_lateness);
      if (*n > 0 && *n < 36) {
        Add(days, "must be 0 (keep raw events) or at least 36, so that events "
                  "still deduplicated (35 days) or accepted late are never archived");
      } else if (*n > 0 && *n <= longest / kMicrosPerDay) {
        Add(days, absl::StrCat("must be longer than engine.dedup_window and "
                               "engine.max_lateness (",
                               longest / kMicrosPerDay, " days here), so that "
                               "events still deduplicated or accepted late are "
                               "never archived"));
      } else {
        retention->events_days = *n;
      }
    }
    const Key dir = At(t, "retention", "archive_dir");
    if (auto d = String(dir)) {
      if (d->empty()) Add(dir, "must not be empty");
      retention->archive_dir = *d;
    }
    if (auto d = Duration(At(t, "retention", "check_every"), true))
      retention->check_every = *d;
  }

  std::vector<Meter> ParseMeters() {
    std::vector<Meter> meters;
    const Key key = At(root_, "", "meters");
    const toml::array* array = Array(key);
    if (array == nullptr) return meters;
    std::map<std::string, std::string> first_path;
    for (size_t i = 0; i < array->size(); ++i) {
      const Key element = Element(key, *array, i);
      const toml::table* t = Table(element);
      if (t == nullptr) continue;
      Meter meter = ParseMeter(*t, element.path);
      const auto [first, inserted] =
          first_path.emplace(meter.name, element.path);
      if (!meter.name.empty() && !inserted) {
        Add(At(*t, element.path, "name"),
            absl::StrCat("duplicate meter \"", meter.name,
                         "\" (first defined at ", first->second, ")"));
      }
      meters.push_back(std::move(meter));
    }
    return meters;
  }

  Meter ParseMeter(const toml::table& t, const std::string& path) {
    Meter meter;
    CheckKeys(t, path, {"name", "aggregation", "value", "types"});
    const Key name = At(t, path, "name");
    if (name.node == nullptr) {
      Missing(name, "a meter name matching [A-Za-z0-9_.-]{1,64}");
    } else if (auto n = String(name)) {
      if (!IsName(*n, 64)) Add(name, "must match [A-Za-z0-9_.-]{1,64}");
      meter.name = *n;
    }
    if (auto a = Enum(At(t, path, "aggregation"), ParseAggregation,
                      "sum, count, max, latest, unique_count")) {
      meter.aggregation = *a;
    }
    const Key value = At(t, path, "value");
    if (value.node == nullptr || value.node->is_string()) {
      meter.value = String(value).value_or("");
      CheckMeterValue(meter, value);
    } else {
      Add(value, "must be a string");
    }
    const Key types = At(t, path, "types");
    if (const toml::array* array = Array(types)) {
      for (size_t i = 0; i < array->size(); ++i) {
        const Key element = Element(types, *array, i);
        const std::optional<std::string> type = String(element);
        if (type && !type->empty()) meter.types.push_back(*type);
        if (type && type->empty()) Add(element, "must not be empty");
      }
    }
    return meter;
  }

  void CheckMeterValue(const Meter& meter, const Key& value) {
    const std::string aggregation(AggregationName(meter.aggregation));
    if (meter.aggregation == Aggregation::kCount) {
      if (value.node != nullptr)
        Add(value, "a count meter reads no field; remove value");
      return;
    }
    if (value.node == nullptr) {
      Missing(value,
              absl::StrCat("the data field a ", aggregation, " meter reads"));
      return;
    }
    if (std::string_view(meter.value).starts_with(kContextPrefix)) {
      const std::string_view field =
          std::string_view(meter.value).substr(kContextPrefix.size());
      if (meter.aggregation != Aggregation::kUniqueCount) {
        Add(value, "only a unique_count meter can read a context field");
      } else if (std::find(std::begin(kContextFields), std::end(kContextFields),
                           field) == std::end(kContextFields)) {
        Add(value, absl::StrCat("unknown context field; one of context.",
                                absl::StrJoin(kContextFields, ", context.")));
      }
      return;
    }
    if (!IsName(meter.value, kMaxNameLength)) {
      Add(value, "must be a data field name matching [A-Za-z0-9_.-]{1,128}");
    }
  }

  // The default tiers the file does not replace, then the file's other tiers.
  std::vector<Tier> ParseTiers(const std::vector<Tier>& defaults) {
    const toml::table* file = Table(At(root_, "", "tiers"));
    std::vector<Tier> tiers;
    for (const Tier& tier : defaults) {
      tiers.push_back(file != nullptr && file->contains(tier.name)
                          ? ParseTierAt(*file, tier.name)
                          : KeepKnownMeters(tier));
    }
    if (file == nullptr) return tiers;
    for (const auto& [name, node] : *file) {
      const std::string key(name.str());  // clang < 16 cannot capture a structured binding
      const bool is_default =
          std::any_of(defaults.begin(), defaults.end(), [&](const Tier& t) { return t.name == key; });
      if (!is_default) tiers.push_back(ParseTierAt(*file, name.str()));
    }
    return tiers;
  }

  // A built-in tier without the quotas, rate limits and prices of meters that a
  // file's [[meters]] left out.
  Tier KeepKnownMeters(Tier tier) const {
    const auto unknown = [&](const auto& x) {
      return !names_.meters.contains(x.meter);
    };
    std::erase_if(tier.quotas, unknown);
    std::erase_if(tier.rate_limits, unknown);
    std::erase_if(tier.pricing.overage, [&](const auto& entry) {
      return !names_.meters.contains(entry.first);
    });
    return tier;
  }

  Tier ParseTierAt(const toml::table& tiers, std::string_view name) {
    const Key key = At(tiers, "tiers", name);
    Tier tier{.name = std::string(name)};
    if (!IsName(name, 64))
      Add(key, "a tier name must match [A-Za-z0-9_.-]{1,64}");
    const toml::table* t = Table(key);
    if (t == nullptr) return tier;
    CheckKeys(*t, key.path, {"inherits", "quotas", "rate_limits", "pricing"});
    const Key inherits = At(*t, key.path, "inherits");
    if (auto parent = String(inherits)) {
      CheckInherits(inherits, tier.name, *parent);
      tier.inherits = *parent;
    }
    const Key quotas = At(*t, key.path, "quotas");
    if (const toml::table* q = Table(quotas)) {
      for (const auto& [meter, node] : *q) {
        const Key quota = At(*q, quotas.path, meter.str());
        CheckMeterRef(quota, std::string(meter.str()));
        if (const toml::table* body = Table(quota)) {
          tier.quotas.push_back(
              ParseQuota(*body, std::string(meter.str()), quota.path));
        }
      }
    }
    const Key rate_limits = At(*t, key.path, "rate_limits");
    if (const toml::array* array = Array(rate_limits)) {
      for (size_t i = 0; i < array->size(); ++i) {
        const Key element = Element(rate_limits, *array, i);
        if (const toml::table* body = Table(element)) {
          tier.rate_limits.push_back(ParseRateLimit(*body, element.path));
        }
      }
    }
    const Key pricing = At(*t, key.path, "pricing");
    if (const toml::table* p = Table(pricing))
      tier.pricing = ParsePricing(*p, tier.name, pricing.path);
    return tier;
  }

  Quota ParseQuota(const toml::table& t, std::string meter,
                   const std::string& path) {
    Quota quota{.meter = std::move(meter)};
    CheckKeys(t, path,
              {"limit", "period", "overage", "allow_up_to", "rollover_cap",
               "warn_at"});
    const Key limit = At(t, path, "limit");
    if (limit.node == nullptr) {
      Missing(limit, "a non-negative integer or \"unlimited\"");
    } else {
      Limit(limit, &quota.limit);
    }
    if (auto p = Enum(At(t, path, "period"), ParsePeriodUnit,
                      "day, week, month, year, never")) {
      quota.period = *p;
    }
    if (auto o = Enum(At(t, path, "overage"), ParseOverage,
                      "block, allow, allow_up_to")) {
      quota.overage = *o;
    }
    const Key allow_up_to = At(t, path, "allow_up_to");
    if (auto n = Integer(allow_up_to, 0)) {
      quota.allow_up_to = *n;
      if (*n > 0 && quota.overage != Overage::kAllowUpTo) {
        Add(allow_up_to, "applies only with overage = \"allow_up_to\"");
      }
    }
    if (auto n = Integer(At(t, path, "rollover_cap"), 0))
      quota.rollover_cap = *n;
    if (auto w = WarnAt(At(t, path, "warn_at"))) quota.warn_at = *w;
    return quota;
  }

  std::optional<std::vector<int>> WarnAt(const Key& key) {
    const toml::array* array = Array(key);
    if (array == nullptr) return std::nullopt;
    std::vector<int> percents;
    for (size_t i = 0; i < array->size(); ++i) {
      if (auto p = Integer(Element(key, *array, i), 1, 1000))
        percents.push_back(static_cast<int>(*p));
    }
    if (percents.size() != array->size()) return std::nullopt;
    if (std::adjacent_find(percents.begin(), percents.end(),
                           std::greater_equal<>()) != percents.end()) {
      Add(key, "must be in ascending order");
      return std::nullopt;
    }
    return percents;
  }

  RateLimit ParseRateLimit(const toml::table& t, const std::string& path) {
    RateLimit limit;
    CheckKeys(t, path, {"meter", "rate", "per", "burst"});
    const Key meter = At(t, path, "meter");
    if (meter.node == nullptr) Missing(meter, "the meter to limit");
    if (auto m = String(meter)) {
      CheckMeterRef(meter, *m);
      limit.meter = *m;
    }
    const Key rate = At(t, path, "rate");
    if (rate.node == nullptr) Missing(rate, "a positive integer");
    if (auto r = Integer(rate, 1)) limit.rate = *r;
    if (auto per = Duration(At(t, path, "per"), /*positive=*/true))
      limit.per = *per;
    if (auto burst = Integer(At(t, path, "burst"), 0)) limit.burst = *burst;
    return limit;
  }

  Pricing ParsePricing(const toml::table& t, const std::string& tier,
                       const std::string& path) {
    Pricing pricing;
    CheckKeys(t, path, {"base_cents", "currency", "overage"});
    if (auto cents = Integer(At(t, path, "base_cents"), 0)) {
      pricing.base_cents = *cents;
      explicit_pricing_[tier].base_cents = *cents;
    }
    const Key currency = At(t, path, "currency");
    if (auto code = String(currency)) {
      if (code->size() == 3 &&
          std::all_of(code->begin(), code->end(), absl::ascii_isalpha)) {
        pricing.currency = absl::AsciiStrToLower(*code);
        explicit_pricing_[tier].currency = pricing.currency;
      } else {
        Add(currency, "must be a three-letter ISO 4217 code such as \"usd\"");
      }
    }
    const Key overage = At(t, path, "overage");
    if (const toml::table* prices = Table(overage)) {
      for (const auto& [meter, node] : *prices) {
        const Key price = At(*prices, overage.path, meter.str());
        CheckMeterRef(price, std::string(meter.str()));
        if (const toml::table* body = Table(price)) {
          pricing.overage[std::string(meter.str())] =
              ParseUnitPrice(*body, price);
        }
      }
    }
    return pricing;
  }

  UnitPrice ParseUnitPrice(const toml::table& t, const Key& key) {
    UnitPrice price;
    CheckKeys(t, key.path, {"cents", "per"});
    const Key cents = At(t, key.path, "cents");
    if (cents.node == nullptr)
      Missing(cents, "the price in cents of `per` units");
    if (auto c = Integer(cents, 0)) price.cents = *c;
    if (auto per = Integer(At(t, key.path, "per"), 1)) price.per = *per;
    return price;
  }

  Overrides ParseOverrides(const Key& key) {
    Overrides overrides;
    const toml::table* t = Table(key);
    if (t == nullptr) return overrides;
    for (const auto& [meter, node] : *t) {
      const Key limit = At(*t, key.path, meter.str());
      CheckMeterRef(limit, std::string(meter.str()));
      Limit(limit, &overrides[std::string(meter.str())]);
    }
    return overrides;
  }

  // The id of an org or subject: what an event's subject may be.
  void CheckId(const Key& key, std::string_view id) {
    if (!IsId(id)) {
      Add(key, absl::StrCat("an id must be 1 to ", kMaxNameLength,
                            " bytes without control characters"));
    }
  }

  std::vector<Org> ParseOrgs() {
    std::vector<Org> orgs;
    const Key key = At(root_, "", "orgs");
    const toml::table* table = Table(key);
    if (table == nullptr) return orgs;
    for (const auto& [id, node] : *table) {
      const Key org = At(*table, key.path, id.str());
      CheckId(org, id.str());
      if (const toml::table* t = Table(org))
        orgs.push_back(ParseOrg(*t, id.str(), org.path));
    }
    return orgs;
  }

  Org ParseOrg(const toml::table& t, std::string_view id,
               const std::string& path) {
    Org org{.id = std::string(id)};
    CheckKeys(t, path, {"tier", "timezone", "anchor_day", "overrides"});
    const Key tier = At(t, path, "tier");
    if (tier.node == nullptr)
      Missing(tier, "the tier of the org's pooled quota");
    if (auto name = String(tier); name && CheckTierRef(tier, *name))
      org.tier = *name;
    if (auto tz = Timezone(At(t, path, "timezone"))) org.timezone = *tz;
    if (auto day = Integer(At(t, path, "anchor_day"), 1, 31))
      org.anchor_day = static_cast<int>(*day);
    org.overrides = ParseOverrides(At(t, path, "overrides"));
    return org;
  }

  std::vector<Subject> ParseSubjects(const std::string& default_tier) {
    std::vector<Subject> subjects;
    const Key key = At(root_, "", "subjects");
    const toml::table* table = Table(key);
    if (table == nullptr) return subjects;
    for (const auto& [id, node] : *table) {
      const Key subject = At(*table, key.path, id.str());
      CheckId(subject, id.str());
      if (const toml::table* t = Table(subject)) {
        subjects.push_back(
            ParseSubject(*t, id.str(), subject.path, default_tier));
      }
    }
    return subjects;
  }

  Subject ParseSubject(const toml::table& t, std::string_view id,
                       const std::string& path,
                       const std::string& default_tier) {
    Subject subject{.id = std::string(id), .tier = default_tier};
    CheckKeys(t, path,
              {"tier", "org", "email", "timezone", "anchor_day", "overrides",
               "stripe_customer_id", "notify"});
    const Key tier = At(t, path, "tier");
    if (auto name = String(tier); name && CheckTierRef(tier, *name))
      subject.tier = *name;
    const Key org = At(t, path, "org");
    if (auto name = String(org)) {
      if (!names_.orgs.contains(*name)) {
        Add(org, absl::StrCat("unknown org \"", *name, "\"",
                              Suggestion(*name, names_.orgs)));
      }
      subject.org = *name;
    }
    const Key email = At(t, path, "email");
    if (auto address = String(email)) {
      if (address->find('@') == std::string::npos ||
          std::any_of(address->begin(), address->end(), [](char c) {
            return static_cast<unsigned char>(c) <= ' ';
          })) {
        Add(email, "must be an email address");
      }
      subject.email = *address;
    }
    if (auto tz = Timezone(At(t, path, "timezone"))) subject.timezone = *tz;
    if (auto day = Integer(At(t, path, "anchor_day"), 1, 31)) {
      subject.anchor_day = static_cast<int>(*day);
    }
    subject.overrides = ParseOverrides(At(t, path, "overrides"));
    if (auto customer = String(At(t, path, "stripe_customer_id"))) {
      subject.stripe_customer_id = *customer;
    }
    const Key notify = At(t, path, "notify");
    if (const toml::table* n = Table(notify))
      subject.notify = ParseNotify(*n, notify.path);
    return subject;
  }

  NotifyPrefs ParseNotify(const toml::table& t, const std::string& path) {
    NotifyPrefs prefs;
    CheckKeys(t, path, {"email", "webhook", "in_app"});
    if (auto b = Bool(At(t, path, "email"))) prefs.email = *b;
    if (auto b = Bool(At(t, path, "webhook"))) prefs.webhook = *b;
    if (auto b = Bool(At(t, path, "in_app"))) prefs.in_app = *b;
    return prefs;
  }

  std::vector<Tier> Resolve(const std::vector<Tier>& tiers) {
    absl::StatusOr<std::vector<Tier>> resolved = ResolveTiers(tiers);
    if (!resolved.ok()) {
      problems_.Add("tiers", std::string(resolved.status().message()), nullptr);
      return {};
    }
    std::map<std::string_view, const Tier*> by_name;
    for (const Tier& tier : tiers) by_name[tier.name] = &tier;
    for (Tier& tier : *resolved) {
      std::tie(tier.pricing.base_cents, tier.pricing.currency) =
          BasePrice(tier.name, by_name);
    }
    return *std::move(resolved);
  }

  // ResolveTiers lets a child's base price and currency override its parent's
  // only when they differ from the defaults; a file that states them wins.
  // REQUIRES: `tier` and its ancestors are in `by_name`, without cycles.
  std::pair<int64_t, std::string> BasePrice(
      const std::string& tier,
      const std::map<std::string_view, const Tier*>& by_name) const {
    const Tier& t = *by_name.at(tier);
    std::pair<int64_t, std::string> price =
        t.inherits.empty() ? std::pair(t.pricing.base_cents, t.pricing.currency)
                           : BasePrice(t.inherits, by_name);
    if (const auto e = explicit_pricing_.find(tier);
        e != explicit_pricing_.end()) {
      if (e->second.base_cents) price.first = *e->second.base_cents;
      if (e->second.currency) price.second = *e->second.currency;
    }
    return price;
  }

  const toml::table& root_;
  const Config defaults_;
  Names names_;
  Problems& problems_;
  std::map<std::string, ExplicitPricing> explicit_pricing_;
};

void CheckEnv(const EnvLookup& env, Problems& problems) {
  for (const EnvDefault& d : kEnvDefaults) {
    const char* text = Getenv(env, d.variable);
    if (text != nullptr && !ParseNonNegative(text)) {
      problems.Add(
          absl::StrCat("env.", d.variable),
          absl::StrCat("must be a non-negative integer, not \"", text, "\""),
          nullptr);
    }
  }
}

// Every problem in `text`; fills *config when there is none.
std::vector<ConfigProblem> Analyze(std::string_view text, const EnvLookup& env,
                                   Config* config) noexcept {
  Problems problems;
  try {
    CheckEnv(env, problems);
    toml::table root;
    try {
      root = toml::parse(text);
    } catch (const toml::parse_error& e) {
      const toml::source_position at = e.source().begin;
      problems.Add(absl::StrCat("line ", at.line, ", column ", at.column),
                   std::string(e.description()), nullptr);
      return std::move(problems).Take();
    }
    Config parsed = Parser(root, env, problems).Run();
    if (problems.empty() && config != nullptr) *config = std::move(parsed);
  } catch (const std::exception& e) {
    problems.Add("", absl::StrCat("internal error: ", e.what()), nullptr);
  }
  return std::move(problems).Take();
}

std::string FormatProblems(const std::vector<ConfigProblem>& problems,
                           const std::string& prefix) {
  std::vector<std::string> lines;
  for (const ConfigProblem& p : problems) {
    lines.push_back(
        absl::StrCat(prefix, p.path, p.path.empty() ? "" : ": ", p.message));
  }
  return absl::StrJoin(lines, "\n");
}

absl::StatusOr<Config> ParseWithPrefix(std::string_view text,
                                       const EnvLookup& env,
                                       const std::string& prefix) {
  Config config;
  const std::vector<ConfigProblem> problems = Analyze(text, env, &config);
  if (!problems.empty())
    return absl::InvalidArgumentError(FormatProblems(problems, prefix));
  return config;
}

}  // namespace

Config DefaultConfig(const EnvLookup& env) {
  Config config;
  config.meters = DefaultMeters();
  config.tiers = {FreeTier(env), PremiumTier(), EnterpriseTier()};
  return config;
}

absl::StatusOr<Config> ParseConfig(std::string_view toml_text,
                                   const EnvLookup& env) {
  try {
    return ParseWithPrefix(toml_text, env, "");
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

std::vector<ConfigProblem> CheckConfig(std::string_view toml_text,
                                       const EnvLookup& env) {
  return Analyze(toml_text, env, nullptr);
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path,
                                      const EnvLookup& env) {
  try {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
      const int error = errno;
      const std::string message =
          absl::StrCat(path, ": ", std::strerror(error));
      return error == ENOENT ? absl::NotFoundError(message)
                             : absl::FailedPreconditionError(message);
    }
    std::string text;
    char buffer[1 << 16];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0)
      text.append(buffer, n);
    const bool failed = std::ferror(file) != 0;
    const int error = errno;
    std::fclose(file);
    if (failed) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": ", std::strerror(error)));
    }
    return ParseWithPrefix(text, env, absl::StrCat(path, ": "));
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

std::optional<Micros> ParseDuration(std::string_view text) {
  constexpr std::pair<std::string_view, Micros> kUnits[] = {
      {"ms", kMicrosPerMilli}, {"s", kMicrosPerSecond},
      {"m", kMicrosPerMinute}, {"h", kMicrosPerHour},
      {"d", kMicrosPerDay},    {"w", 7 * kMicrosPerDay},
  };
  const size_t digits = text.find_first_not_of("0123456789");
  if (digits == 0 || digits == std::string_view::npos) return std::nullopt;
  const std::optional<int64_t> count = ParseNonNegative(text.substr(0, digits));
  if (!count) return std::nullopt;
  for (const auto& [unit, micros] : kUnits) {
    if (text.substr(digits) != unit) continue;
    if (*count > kInt64Max / micros) return std::nullopt;
    return *count * micros;
  }
  return std::nullopt;
}

}  // namespace tally
