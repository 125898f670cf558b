#include "core/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

namespace tally {
namespace {

EnvLookup NoEnv() {
  return [](const char*) -> const char* { return nullptr; };
}

EnvLookup EnvOf(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

// Whether `problems` has one at `path`, with `message` unless that is empty.
bool Has(const std::vector<ConfigProblem>& problems, const std::string& path,
         const std::string& message = "") {
  return std::any_of(
      problems.begin(), problems.end(), [&](const ConfigProblem& p) {
        return p.path == path && (message.empty() || p.message == message);
      });
}

std::string Describe(const std::vector<ConfigProblem>& problems) {
  std::string out;
  for (const ConfigProblem& p : problems)
    out += p.path + ": " + p.message + "\n";
  return out;
}

const Tier& TierNamed(const Config& config, std::string_view name) {
  for (const Tier& t : config.tiers) {
    if (t.name == name) return t;
  }
  ADD_FAILURE() << "no tier " << name;
  static const Tier kNone;
  return kNone;
}

Config MustParse(std::string_view text, const EnvLookup& env = NoEnv()) {
  absl::StatusOr<Config> config = ParseConfig(text, env);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : Config{};
}

std::string RepoRoot() {
  const std::string file = __FILE__;
  return file.substr(0, file.rfind("src/core/config_test.cc"));
}

TEST(DefaultConfigTest, HasDefaultMetersAndTiers) {
  const Config c = DefaultConfig(NoEnv());
  ASSERT_EQ(c.meters.size(), 3u);
  EXPECT_EQ(c.default_tier, "free");
  EXPECT_TRUE(c.auto_create_subjects);
  ASSERT_EQ(c.tiers.size(), 3u);

  const Tier& free = TierNamed(c, "free");
  EXPECT_EQ(free.FindQuota("chars")->limit, 10'000);
  EXPECT_EQ(free.FindQuota("requests")->limit, 500);
  EXPECT_EQ(free.FindQuota("tokens")->limit, 100'000);
  EXPECT_EQ(free.FindQuota("chars")->overage, Overage::kBlock);
  EXPECT_EQ(free.FindQuota("chars")->period, PeriodUnit::kMonth);

  const Tier& premium = TierNamed(c, "premium");
  EXPECT_EQ(premium.FindQuota("chars")->limit, 1'000'000);
  EXPECT_EQ(premium.FindQuota("requests")->limit, 50'000);
  EXPECT_EQ(premium.FindQuota("tokens")->limit, 5'000'000);
  EXPECT_EQ(premium.FindQuota("tokens")->overage, Overage::kAllowUpTo);
  EXPECT_EQ(premium.FindQuota("tokens")->allow_up_to, 500'000);
  EXPECT_EQ(premium.pricing.base_cents, 2900);
  EXPECT_EQ(premium.pricing.overage.size(), 3u);

  const Tier& enterprise = TierNamed(c, "enterprise");
  for (const char* meter : {"chars", "requests", "tokens"}) {
    ASSERT_NE(enterprise.FindQuota(meter), nullptr);
    EXPECT_EQ(enterprise.FindQuota(meter)->limit, std::nullopt) << meter;
  }
  EXPECT_EQ(enterprise.pricing.base_cents, 49900);
}

TEST(DefaultConfigTest, EnvironmentSetsFreeTierLimits) {
  const Config c =
      DefaultConfig(EnvOf({{"TALLY_DEFAULT_MONTHLY_CHARS", "25000"},
                           {"TALLY_DEFAULT_MONTHLY_REQUESTS", "0"},
                           {"TALLY_DEFAULT_MONTHLY_TOKENS", "7"}}));
  const Tier& free = TierNamed(c, "free");
  EXPECT_EQ(free.FindQuota("chars")->limit, 25'000);
  EXPECT_EQ(free.FindQuota("requests")->limit, 0);
  EXPECT_EQ(free.FindQuota("tokens")->limit, 7);
}

TEST(DefaultConfigTest, InvalidEnvironmentKeepsDefaultAndIsReported) {
  const EnvLookup env =
      EnvOf({{"TALLY_DEFAULT_MONTHLY_CHARS", "10k"},
             {"TALLY_DEFAULT_MONTHLY_TOKENS", "-5"},
             {"TALLY_DEFAULT_MONTHLY_REQUESTS", "99999999999999999999"}});
  EXPECT_EQ(TierNamed(DefaultConfig(env), "free").FindQuota("chars")->limit,
            10'000);
  const std::vector<ConfigProblem> problems = CheckConfig("", env);
  EXPECT_TRUE(Has(problems, "env.TALLY_DEFAULT_MONTHLY_CHARS",
                  "must be a non-negative integer, not \"10k\""));
  EXPECT_TRUE(Has(problems, "env.TALLY_DEFAULT_MONTHLY_TOKENS"));
  EXPECT_TRUE(Has(problems, "env.TALLY_DEFAULT_MONTHLY_REQUESTS"));
  EXPECT_EQ(problems.size(), 3u);
  EXPECT_FALSE(ParseConfig("", env).ok());
}

TEST(DefaultConfigTest, NullEnvLookupMeansNoEnvironment) {
  EXPECT_EQ(TierNamed(DefaultConfig(nullptr), "free").FindQuota("chars")->limit,
            10'000);
  EXPECT_TRUE(CheckConfig("", nullptr).empty());
}

TEST(ParseConfigTest, EmptyFileGivesTheDefaults) {
  const Config parsed = MustParse("");
  const Config defaults = DefaultConfig(NoEnv());
  EXPECT_EQ(parsed.tiers, defaults.tiers);
  EXPECT_EQ(parsed.meters.size(), defaults.meters.size());
  EXPECT_EQ(parsed.engine.dedup_window, 35 * kMicrosPerDay);
  EXPECT_EQ(parsed.storage.data_dir, "./tally-data");
}

TEST(ParseConfigTest, ReadsTopLevelStorageAndEngine) {
  const Config c = MustParse(R"(
default_tier = "premium"
auto_create_subjects = false
[storage]
data_dir = "/var/lib/tally"
durability = "relaxed"
checkpoint_every = 5000
[engine]
dedup_window = "7d"
dedup_max_entries = 1000
max_lateness = "1h"
max_future = "30s"
reservation_ttl = "250ms"
reservation_max_ttl = "1w"
)");
  EXPECT_EQ(c.default_tier, "premium");
  EXPECT_FALSE(c.auto_create_subjects);
  EXPECT_EQ(c.storage.data_dir, "/var/lib/tally");
  EXPECT_EQ(c.storage.durability, Durability::kRelaxed);
  EXPECT_EQ(c.storage.checkpoint_every, 5000);
  EXPECT_EQ(c.engine.dedup_window, 7 * kMicrosPerDay);
  EXPECT_EQ(c.engine.dedup_max_entries, 1000);
  EXPECT_EQ(c.engine.max_lateness, kMicrosPerHour);
  EXPECT_EQ(c.engine.max_future, 30 * kMicrosPerSecond);
  EXPECT_EQ(c.engine.reservation_ttl, 250 * kMicrosPerMilli);
  EXPECT_EQ(c.engine.reservation_max_ttl, 7 * kMicrosPerDay);
}

TEST(ParseConfigTest, MetersReplaceDefaultsOnlyWhenGiven) {
  EXPECT_EQ(MustParse("[tiers.x]\n").meters.size(), 3u);
  const Config c = MustParse(R"(
[[meters]]
name = "requests"
aggregation = "count"
[[meters]]
name = "sessions"
aggregation = "unique_count"
value = "context.session_id"
types = ["chat", "edit"]
)");
  ASSERT_EQ(c.meters.size(), 2u);
  EXPECT_EQ(c.meters[1].name, "sessions");
  EXPECT_EQ(c.meters[1].aggregation, Aggregation::kUniqueCount);
  EXPECT_EQ(c.meters[1].value, "context.session_id");
  EXPECT_EQ(c.meters[1].types, (std::vector<std::string>{"chat", "edit"}));
  // Built-in tiers keep only what applies to the meters that exist.
  const Tier& free = TierNamed(c, "free");
  ASSERT_EQ(free.quotas.size(), 1u);
  EXPECT_EQ(free.quotas[0].meter, "requests");
  EXPECT_EQ(TierNamed(c, "premium").pricing.overage.size(), 1u);
}

TEST(ParseConfigTest, FileTiersMergeOverDefaultsByName) {
  const Config c = MustParse(R"(
[tiers.free]
quotas.chars = { limit = 42, period = "day", warn_at = [80, 100] }
[tiers.team]
quotas.requests = { limit = "unlimited" }
rate_limits = [{ meter = "requests", rate = 10, per = "1s", burst = 20 }]
)");
  ASSERT_EQ(c.tiers.size(), 4u);
  const Tier& free = TierNamed(c, "free");
  ASSERT_EQ(free.quotas.size(), 1u);
  EXPECT_EQ(free.quotas[0].limit, 42);
  EXPECT_EQ(free.quotas[0].period, PeriodUnit::kDay);
  EXPECT_EQ(free.quotas[0].warn_at, (std::vector<int>{80, 100}));
  EXPECT_EQ(TierNamed(c, "premium"),
            TierNamed(DefaultConfig(NoEnv()), "premium"));
  const Tier& team = TierNamed(c, "team");
  EXPECT_EQ(team.FindQuota("requests")->limit, std::nullopt);
  ASSERT_EQ(team.rate_limits.size(), 1u);
  EXPECT_EQ(team.rate_limits[0], (RateLimit{.meter = "requests",
                                            .rate = 10,
                                            .per = kMicrosPerSecond,
                                            .burst = 20}));
}

TEST(ParseConfigTest, InheritanceIsResolved) {
  const Config c = MustParse(R"(
[tiers.pro]
inherits = "premium"
quotas.chars = { limit = 2000000, overage = "allow" }
pricing = { overage = { chars = { cents = 3, per = 1000 } } }
[tiers.trial]
inherits = "pro"
pricing = { base_cents = 0 }
)");
  const Tier& pro = TierNamed(c, "pro");
  EXPECT_EQ(pro.inherits, "");
  EXPECT_EQ(pro.FindQuota("chars")->limit, 2'000'000);
  EXPECT_EQ(pro.FindQuota("chars")->overage, Overage::kAllow);
  EXPECT_EQ(pro.FindQuota("requests")->limit, 50'000);
  EXPECT_EQ(pro.pricing.base_cents, 2900);
  EXPECT_EQ(pro.pricing.overage.at("chars").cents, 3);
  EXPECT_EQ(pro.pricing.overage.at("tokens").per, 1000);
  // An explicit 0 wins over the inherited base price.
  const Tier& trial = TierNamed(c, "trial");
  EXPECT_EQ(trial.pricing.base_cents, 0);
  EXPECT_EQ(trial.FindQuota("chars")->limit, 2'000'000);
}

TEST(ParseConfigTest, OrgsAndSubjects) {
  const Config c = MustParse(R"(
[orgs.acme]
tier = "enterprise"
timezone = "Europe/Berlin"
anchor_day = 5
overrides = { chars = 7 }
[subjects.alice]
tier = "premium"
org = "acme"
email = "alice@example.com"
timezone = "America/New_York"
anchor_day = 31
overrides = { chars = 50000, tokens = "unlimited" }
stripe_customer_id = "cus_123"
notify = { email = false }
[subjects."bob@example.com"]
)");
  ASSERT_EQ(c.orgs.size(), 1u);
  EXPECT_EQ(c.orgs[0], (Org{.id = "acme",
                            .tier = "enterprise",
                            .timezone = "Europe/Berlin",
                            .anchor_day = 5,
                            .overrides = {{"chars", 7}}}));
  ASSERT_EQ(c.subjects.size(), 2u);
  const Subject& alice = c.subjects[0];
  EXPECT_EQ(alice.id, "alice");
  EXPECT_EQ(alice.tier, "premium");
  EXPECT_EQ(alice.org, "acme");
  EXPECT_EQ(alice.email, "alice@example.com");
  EXPECT_EQ(alice.timezone, "America/New_York");
  EXPECT_EQ(alice.anchor_day, 31);
  EXPECT_EQ(alice.overrides,
            (Overrides{{"chars", 50000}, {"tokens", std::nullopt}}));
  EXPECT_EQ(alice.stripe_customer_id, "cus_123");
  EXPECT_EQ(alice.notify,
            (NotifyPrefs{.email = false, .webhook = true, .in_app = true}));
  EXPECT_EQ(c.subjects[1].id, "bob@example.com");
  EXPECT_EQ(c.subjects[1].tier, "free");
  EXPECT_EQ(c.subjects[1].timezone, "UTC");
}

TEST(CheckConfigTest, ReportsEveryProblemWithItsKeyPath) {
  const std::vector<ConfigProblem> problems = CheckConfig(R"(
default_tier = "fre"
auto_create_subjects = "yes"
[storage]
durability = "eventual"
[engine]
dedup_windw = "35d"
max_lateness = "35 days"
reservation_ttl = "48h"
[[meters]]
name = "chars"
value = "chars"
[[meters]]
name = "chars"
aggregation = "count"
[[meters]]
name = "bad name"
aggregation = "median"
value = "x"
[[meters]]
name = "ips"
aggregation = "sum"
value = "context.ip"
[tiers.free]
quotas.chars = { limit = -1, period = "fortnight", warn_at = [90, 50] }
quotas.tokens = { limit = 5 }
rate_limits = [{ meter = "chars", rate = 0, per = "0s" }]
[tiers.a]
inherits = "b"
[tiers.b]
inherits = "a"
[tiers.c]
inherits = "nope"
quotas.chars = { limit = 1, allow_up_to = 5 }
pricing = { currency = "dollars", overage = { chars = { cents = 1, per = 0 } } }
[orgs.acme]
timezone = "Mars/Olympus"
[subjects.alice]
org = "acm"
anchor_day = 32
overrides = { char = 5 }
)",
                                                          NoEnv());
  const std::string all = Describe(problems);
  const auto expect = [&](const std::string& path, const std::string& message) {
    EXPECT_TRUE(Has(problems, path, message))
        << path << ": " << message << "\nin\n"
        << all;
  };
  expect("default_tier", "unknown tier \"fre\" (did you mean \"free\"?)");
  expect("auto_create_subjects", "must be true or false");
  expect("storage.durability", "must be one of strict, relaxed");
  expect("engine.dedup_windw", "unknown key (did you mean \"dedup_window\"?)");
  expect("engine.max_lateness",
         "must be a duration such as \"35d\", \"5m\" or \"250ms\" (units ms, "
         "s, m, h, d, w)");
  expect("engine.reservation_ttl",
         "must not exceed engine.reservation_max_ttl");
  expect("meters[1].name",
         "duplicate meter \"chars\" (first defined at meters[0])");
  expect("meters[2].name", "must match [A-Za-z0-9_.-]{1,64}");
  expect("meters[2].aggregation",
         "must be one of sum, count, max, latest, unique_count");
  expect("meters[3].value",
         "only a unique_count meter can read a context field");
  expect("tiers.free.quotas.chars.limit",
         "must be a non-negative integer or \"unlimited\"");
  expect("tiers.free.quotas.chars.period",
         "must be one of day, week, month, year, never");
  expect("tiers.free.quotas.chars.warn_at", "must be in ascending order");
  expect("tiers.free.quotas.tokens", "unknown meter \"tokens\"");
  expect("tiers.free.rate_limits[0].rate", "must be a positive integer");
  expect("tiers.free.rate_limits[0].per", "must be longer than 0");
  expect("tiers.a.inherits", "inheritance cycle: a -> b -> a");
  expect("tiers.b.inherits", "inheritance cycle: b -> a -> b");
  expect("tiers.c.inherits", "unknown tier \"nope\"");
  expect("tiers.c.quotas.chars.allow_up_to",
         "applies only with overage = \"allow_up_to\"");
  expect("tiers.c.pricing.currency",
         "must be a three-letter ISO 4217 code such as \"usd\"");
  expect("tiers.c.pricing.overage.chars.per", "must be a positive integer");
  expect("orgs.acme.tier", "missing: the tier of the org's pooled quota");
  expect("orgs.acme.timezone", "unknown IANA time zone \"Mars/Olympus\"");
  expect("subjects.alice.org", "unknown org \"acm\" (did you mean \"acme\"?)");
  expect("subjects.alice.anchor_day", "must be an integer between 1 and 31");
  expect("subjects.alice.overrides.char",
         "unknown meter \"char\" (did you mean \"chars\"?)");
  EXPECT_EQ(problems.size(), 27u) << all;
}

TEST(CheckConfigTest, ProblemsComeInFileOrder) {
  const std::vector<ConfigProblem> problems = CheckConfig(R"(
[subjects.zed]
anchor_day = 0
[engine]
max_future = 5
)",
                                                          NoEnv());
  ASSERT_EQ(problems.size(), 2u) << Describe(problems);
  EXPECT_EQ(problems[0].path, "subjects.zed.anchor_day");
  EXPECT_EQ(problems[1].path, "engine.max_future");
}

TEST(CheckConfigTest, WrongTypesAndMissingKeys) {
  const std::vector<ConfigProblem> problems = CheckConfig(R"(
tiers = 3
[[meters]]
aggregation = "sum"
[orgs]
x = "y"
)",
                                                          NoEnv());
  const std::string all = Describe(problems);
  EXPECT_TRUE(Has(problems, "tiers", "must be a table")) << all;
  EXPECT_TRUE(Has(problems, "meters[0].name",
                  "missing: a meter name matching [A-Za-z0-9_.-]{1,64}"))
      << all;
  EXPECT_TRUE(Has(problems, "meters[0].value",
                  "missing: the data field a sum meter reads"))
      << all;
  EXPECT_TRUE(Has(problems, "orgs.x", "must be a table")) << all;
  EXPECT_EQ(problems.size(), 4u) << all;
}

TEST(CheckConfigTest, MalformedMetersIsOneProblem) {
  const std::vector<ConfigProblem> problems = CheckConfig(
      "meters = 5\n[tiers.x]\nquotas.chars = { limit = 1 }\n", NoEnv());
  ASSERT_EQ(problems.size(), 1u) << Describe(problems);
  EXPECT_EQ(problems[0].path, "meters");
  EXPECT_EQ(problems[0].message, "must be an array");
}

TEST(CheckConfigTest, QuotedKeysAppearQuotedInPaths) {
  const std::vector<ConfigProblem> problems =
      CheckConfig("[subjects.\"a.b\"]\nanchor_day = 99\n", NoEnv());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "subjects.\"a.b\".anchor_day");
}

TEST(CheckConfigTest, SyntaxErrorGivesLineAndColumn) {
  const std::vector<ConfigProblem> problems =
      CheckConfig("a = 1\nb = = 2\n", NoEnv());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path.rfind("line 2, column ", 0), 0u)
      << problems[0].path;
  EXPECT_FALSE(problems[0].message.empty());
}

TEST(ParseConfigTest, ErrorListsEveryProblemOnItsOwnLine) {
  absl::StatusOr<Config> c =
      ParseConfig("[engine]\nmax_future = 1\nbogus = 2\n", NoEnv());
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "engine.max_future: must be a duration such as \"35d\", \"5m\" or "
            "\"250ms\" "
            "(units ms, s, m, h, d, w)\n"
            "engine.bogus: unknown key");
}

TEST(LoadConfigFileTest, MissingFileIsNotFoundAndNamesThePath) {
  absl::StatusOr<Config> c = LoadConfigFile("/nonexistent/tally.toml", NoEnv());
  ASSERT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/tally.toml"),
            std::string::npos);
}

TEST(LoadConfigFileTest, ReadsAFileAndPrefixesProblemsWithItsPath) {
  const std::string path = ::testing::TempDir() + "/config_test_bad.toml";
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("default_tier = \"gold\"\n", f);
  std::fclose(f);
  absl::StatusOr<Config> c = LoadConfigFile(path, NoEnv());
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            path + ": default_tier: unknown tier \"gold\"");
  std::remove(path.c_str());
}

TEST(LoadConfigFileTest, ExampleConfigParsesCleanly) {
  const std::string path = RepoRoot() + "examples/tally.toml";
  absl::StatusOr<Config> c = LoadConfigFile(path, NoEnv());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->meters.empty());
  EXPECT_FALSE(c->subjects.empty());
  EXPECT_FALSE(c->orgs.empty());
}

TEST(ParseDurationTest, AcceptsEveryUnit) {
  EXPECT_EQ(ParseDuration("250ms"), 250 * kMicrosPerMilli);
  EXPECT_EQ(ParseDuration("1s"), kMicrosPerSecond);
  EXPECT_EQ(ParseDuration("5m"), 5 * kMicrosPerMinute);
  EXPECT_EQ(ParseDuration("2h"), 2 * kMicrosPerHour);
  EXPECT_EQ(ParseDuration("35d"), 35 * kMicrosPerDay);
  EXPECT_EQ(ParseDuration("1w"), 7 * kMicrosPerDay);
  EXPECT_EQ(ParseDuration("0s"), 0);
}

TEST(ParseDurationTest, RejectsMalformedAndOverflowingText) {
  for (const char* bad :
       {"", "s", "5", "-5s", "+5s", "5 s", "5S", "1.5h", "5sec", "1h30m", " 5s",
        "5s ", "99999999999999999999s", "9223372036854776ms", "15250285w"}) {
    EXPECT_EQ(ParseDuration(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseDuration("9223372036854775ms"), 9'223'372'036'854'775'000);
  EXPECT_EQ(ParseDuration("15250284w"), 15'250'284 * 7 * kMicrosPerDay);
}

TEST(RetentionConfigTest, DefaultsAndValidValues) {
  absl::StatusOr<Config> config = ParseConfig("", NoEnv());
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->retention.events_days, 0);
  EXPECT_EQ(config->retention.archive_dir, "");
  EXPECT_EQ(config->retention.check_every, kMicrosPerDay);
  config = ParseConfig(
      "[retention]\nevents_days = 90\narchive_dir = \"/srv/archive\"\ncheck_every = \"1h\"\n", NoEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->retention.events_days, 90);
  EXPECT_EQ(config->retention.archive_dir, "/srv/archive");
  EXPECT_EQ(config->retention.check_every, kMicrosPerHour);
}

TEST(RetentionConfigTest, EventsDaysMustOutliveTheDedupWindowAndLateness) {
  std::vector<ConfigProblem> problems = CheckConfig("[retention]\nevents_days = 30\n", NoEnv());
  EXPECT_TRUE(Has(problems, "retention.events_days",
                  "must be 0 (keep raw events) or at least 36, so that events still deduplicated "
                  "(35 days) or accepted late are never archived"));
  problems = CheckConfig("[engine]\ndedup_window = \"60d\"\n[retention]\nevents_days = 40\n", NoEnv());
  EXPECT_TRUE(Has(problems, "retention.events_days",
                  "must be longer than engine.dedup_window and engine.max_lateness (60 days here), so "
                  "that events still deduplicated or accepted late are never archived"));
  EXPECT_TRUE(CheckConfig("[engine]\ndedup_window = \"60d\"\n[retention]\nevents_days = 61\n", NoEnv()).empty());
  problems = CheckConfig(
      "[retention]\nevents_days = -1\narchive_dir = \"\"\ncheck_every = \"0s\"\nkeep = 1\n", NoEnv());
  EXPECT_TRUE(Has(problems, "retention.events_days", "must be a non-negative integer"));
  EXPECT_TRUE(Has(problems, "retention.archive_dir", "must not be empty"));
  EXPECT_TRUE(Has(problems, "retention.check_every", "must be longer than 0"));
  EXPECT_TRUE(Has(problems, "retention.keep"));
}

}  // namespace
}  // namespace tally
