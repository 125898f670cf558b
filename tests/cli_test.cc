// Drives the real `tally` binary over a temporary data dir: help, exit codes,
// check-config's problem lines, consume until denied, status, verify.
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "test_util.h"

#ifndef TALLY_BINARY_PATH
#error "TALLY_BINARY_PATH must name the tally binary"
#endif

namespace tally {
namespace {

using testing::RunResult;
using testing::TempDir;

class CliTest : public ::testing::Test {
 protected:
  // Runs tally with `args`; the free tier allows 3 requests a month.
  RunResult Tally(std::vector<std::string> args) {
    return testing::RunBinary(TALLY_BINARY_PATH, args, tmp_.path().string(),
                              {"TALLY_DEFAULT_MONTHLY_REQUESTS=3"});
  }
  std::string DataDir() const { return tmp_.Sub("data"); }

  TempDir tmp_;
};

const std::vector<std::string> kCommands = {
    "check-config", "track",       "consume", "check",      "reserve", "commit",
    "release",      "status",      "subject put", "org put", "checkpoint", "verify"};

std::vector<std::string> Split(const std::string& command) {
  std::vector<std::string> words;
  size_t start = 0;
  for (size_t sp; (sp = command.find(' ', start)) != std::string::npos; start = sp + 1) {
    words.push_back(command.substr(start, sp - start));
  }
  words.push_back(command.substr(start));
  return words;
}

TEST_F(CliTest, TopLevelHelpListsEveryCommand) {
  RunResult r = Tally({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& c : kCommands) EXPECT_NE(r.out.find("  " + c + " "), std::string::npos) << c;
}

TEST_F(CliTest, EveryCommandHasHelpWithItsFlagsAndDefaults) {
  for (const std::string& c : kCommands) {
    std::vector<std::string> args = Split(c);
    args.push_back("--help");
    RunResult r = Tally(args);
    EXPECT_EQ(r.exit_code, 0) << c << ": " << r.err;
    EXPECT_EQ(r.out.rfind("usage: tally " + c, 0), 0u) << r.out;
    EXPECT_NE(r.out.find("--config FILE"), std::string::npos) << c;
    if (c != "check-config") {
      EXPECT_NE(r.out.find("--data-dir DIR"), std::string::npos) << c;
      EXPECT_NE(r.out.find("(default: $TALLY_DATA_DIR"), std::string::npos) << c;
    }
  }
  RunResult consume = Tally({"consume", "--help"});
  for (const char* flag : {"--subject S", "--type T", "--id ID", "--time RFC3339", "--data K=V",
                           "--session-id ID", "--endpoint PATH", "--durability MODE"}) {
    EXPECT_NE(consume.out.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(consume.out.find("(default: random 128-bit hex)"), std::string::npos);
}

TEST_F(CliTest, UnknownCommandsAndFlagsExit2WithAHint) {
  RunResult r = Tally({"consume", "--subjct", "a", "--type", "t", "--data-dir", DataDir()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tally: consume: unknown flag --subjct (did you mean --subject?)"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty());

  r = Tally({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command \"frobnicate\""), std::string::npos) << r.err;

  r = Tally({"subject", "delete", "x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown subcommand \"delete\""), std::string::npos) << r.err;

  r = Tally({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("usage: tally <command>"), std::string::npos);

  r = Tally({"release", "--data-dir", DataDir()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing RESERVATION_ID"), std::string::npos) << r.err;
}

TEST_F(CliTest, CheckConfigSaysOkOrExactlyWhatIsWrong) {
  const std::string good = tmp_.Sub("good.toml");
  testing::WriteFile(good,
                     "default_tier = \"free\"\n"
                     "[tiers.free]\n"
                     "quotas.chars = { limit = 2000, period = \"month\" }\n");
  RunResult r = Tally({"check-config", good});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, good + ": ok\n");

  const std::string bad = tmp_.Sub("bad.toml");
  testing::WriteFile(bad,
                     "default_tier = \"gold\"\n"
                     "[tiers.free]\n"
                     "quotas.chars = { limit = -5 }\n");
  r = Tally({"check-config", bad});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, bad + ": default_tier: unknown tier \"gold\"\n" + bad +
                       ": tiers.free.quotas.chars.limit: must be a non-negative integer or "
                       "\"unlimited\"\n");

  r = Tally({"check-config", tmp_.Sub("absent.toml")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tally: cannot read " + tmp_.Sub("absent.toml")), std::string::npos);
}

TEST_F(CliTest, ConsumeUntilDeniedThenStatusAndVerify) {
  const std::vector<std::string> dir = {"--data-dir", DataDir()};
  auto with = [&dir](std::vector<std::string> args) {
    args.insert(args.end(), dir.begin(), dir.end());
    return args;
  };
  for (int i = 0; i < 3; ++i) {
    RunResult r = Tally(with({"consume", "--subject", "alice", "--type", "api", "--data",
                              "chars=10", "--id", "e" + std::to_string(i)}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("{\"allowed\":true,\"reason\":null,\"replayed\":false", 0), 0u) << r.out;
  }
  RunResult denied =
      Tally(with({"consume", "--subject", "alice", "--type", "api", "--data", "chars=10"}));
  EXPECT_EQ(denied.exit_code, 3) << denied.err;
  EXPECT_EQ(denied.out.rfind("{\"allowed\":false,\"reason\":\"quota_exceeded\"", 0), 0u)
      << denied.out;
  EXPECT_NE(denied.out.find("\"meter\":\"requests\",\"scope\":\"subject\",\"account\":\"alice\","
                            "\"limit\":3,\"used\":3,\"reserved\":0,\"remaining\":0,"
                            "\"percent\":100,\"status\":\"exceeded\""),
            std::string::npos)
      << denied.out;
  EXPECT_EQ(denied.out.find("\"retry_at\":null"), std::string::npos) << "a denial says when";

  // The same id again is a replay, counted once.
  RunResult replay = Tally(with({"consume", "--subject", "alice", "--type", "api", "--data",
                                 "chars=10", "--id", "e0"}));
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_NE(replay.out.find("\"replayed\":true"), std::string::npos) << replay.out;

  RunResult json = Tally(with({"status", "--subject", "alice", "--json"}));
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"meter\":\"requests\",\"scope\":\"subject\",\"account\":\"alice\","
                          "\"limit\":3,\"used\":3"),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"meter\":\"chars\",\"scope\":\"subject\",\"account\":\"alice\","
                          "\"limit\":10000,\"used\":30"),
            std::string::npos)
      << json.out;

  RunResult table = Tally(with({"status", "--subject", "alice"}));
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("METER     SCOPE    USED   LIMIT  REMAINING  PERCENT  STATUS    RESETS AT\n", 0), 0u)
      << table.out;
  EXPECT_NE(table.out.find("\nrequests  subject     3       3          0     100%  exceeded  "),
            std::string::npos)
      << table.out;

  RunResult checkpoint = Tally(with({"checkpoint"}));
  EXPECT_EQ(checkpoint.exit_code, 0) << checkpoint.err;
  EXPECT_NE(checkpoint.out.find("checkpoint written"), std::string::npos);

  RunResult verify = Tally(with({"verify"}));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.out.rfind("3 events, 1 subjects, all counters match", 0), 0u) << verify.out;
}

TEST_F(CliTest, ReserveCommitRelease) {
  const std::string d = DataDir();
  RunResult r = Tally({"reserve", "--subject", "bob", "--type", "llm", "--data", "tokens=500",
                       "--ttl", "60s", "--id", "hold-1", "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"reservation_id\":\"hold-1\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"meter\":\"tokens\",\"scope\":\"subject\",\"account\":\"bob\","
                       "\"limit\":100000,\"used\":0,\"reserved\":500"),
            std::string::npos)
      << r.out;
  r = Tally({"commit", "hold-1", "--data", "tokens=120", "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"meter\":\"tokens\",\"scope\":\"subject\",\"account\":\"bob\","
                       "\"limit\":100000,\"used\":120,\"reserved\":0"),
            std::string::npos)
      << r.out;
  r = Tally({"release", "hold-1", "--data-dir", d});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "tally: reservation \"hold-1\" was already committed\n");

  r = Tally({"verify", "--data-dir", d});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(CliTest, FriendlyErrors) {
  RunResult r = Tally({"track", "--subject", "a", "--type", "t", "--data", "chars=-4",
                       "--data-dir", DataDir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "tally: data.chars: must be a non-negative integer\n");

  const std::string file = tmp_.Sub("not-a-dir");
  testing::WriteFile(file, "x");
  r = Tally({"track", "--subject", "a", "--type", "t", "--data-dir", file});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("tally: cannot open data dir " + file + ": ", 0), 0u) << r.err;

  r = Tally({"verify", "--data-dir", tmp_.Sub("nowhere")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "tally: cannot open data dir " + tmp_.Sub("nowhere") + ": no such directory\n");

  r = Tally({"status", "--subject", "ghost", "--data-dir", DataDir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ghost"), std::string::npos) << r.err;

  r = Tally({"track", "--subject", "a", "--type", "t", "--durability", "sometimes",
             "--data-dir", DataDir()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "tally: --durability must be strict or relaxed, not \"sometimes\"\n");
}

// tally import appends events from elsewhere (here: 100 days old, which the
// engine would refuse as too late), tally archive moves them to a zstd file,
// and tally import of that file restores them, exactly and only once.
TEST_F(CliTest, ArchiveAndImportRoundTrip) {
  const std::string d = DataDir();
  RunResult r = Tally({"track", "--subject", "alice", "--type", "t", "--data", "chars=5", "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  const std::string old_events = tmp_.Sub("old.ndjson");
  testing::WriteFile(old_events,
                     "{\"id\":\"o1\",\"subject\":\"bob\",\"type\":\"t\",\"time\":\"2020-01-01T00:00:00Z\","
                     "\"data\":{\"chars\":7}}\n"
                     "{\"id\":\"o2\",\"subject\":\"bob\",\"type\":\"t\",\"time\":\"2020-01-02T00:00:00Z\","
                     "\"data\":{\"chars\":8}}\n"
                     "{\"id\":\"o1\",\"subject\":\"bob\",\"type\":\"t\",\"time\":\"2020-01-01T00:00:00Z\","
                     "\"data\":{\"chars\":7}}\n");
  r = Tally({"import", old_events, "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3 rows, 2 imported, 1 skipped (repeated id)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mode append"), std::string::npos) << r.out;

  r = Tally({"archive", "--data-dir", d});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("[retention] events_days is 0"), std::string::npos) << r.err;
  r = Tally({"archive", "--older-than-days", "10", "--data-dir", d});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--older-than-days must be longer than engine.dedup_window"), std::string::npos) << r.err;

  r = Tally({"archive", "--older-than-days", "36", "--dry-run", "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("would archive 2 events older than ", 0), 0u) << r.out;
  EXPECT_FALSE(std::filesystem::exists(d + "/archive"));

  r = Tally({"archive", "--older-than-days", "36", "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("archived 2 events older than ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("deleted 2 from the database"), std::string::npos) << r.out;
  std::string archive;
  for (const auto& e : std::filesystem::directory_iterator(d + "/archive")) {
    if (e.path().extension() == ".zst") archive = e.path().string();
  }
  ASSERT_FALSE(archive.empty());
  EXPECT_NE(testing::ReadFile(d + "/archive/manifest.json").find("\"rows\":2"), std::string::npos);

  r = Tally({"archive", "--older-than-days", "36", "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("no events older than ", 0), 0u) << r.out;

  r = Tally({"import", archive, "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 rows, 2 imported, 0 skipped (already stored)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mode restore: an archive of this database"), std::string::npos) << r.out;
  r = Tally({"import", archive, "--data-dir", d});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 rows, 0 imported, 2 skipped"), std::string::npos) << r.out;

  // A bad row: file:line, nothing of that file imported, earlier files named.
  const std::string bad = tmp_.Sub("bad.jsonl");
  testing::WriteFile(bad,
                     "{\"id\":\"n1\",\"subject\":\"bob\",\"type\":\"t\",\"time\":\"2020-01-01T00:00:00Z\","
                     "\"data\":{}}\nnot json\n");
  r = Tally({"import", old_events, bad, "--mode", "append", "--data-dir", d});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad + ":2: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("imported 2 events from 1 earlier file(s); stopped at " + bad), std::string::npos)
      << r.err;
  r = Tally({"import", tmp_.Sub("events.txt"), "--data-dir", d});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown file type"), std::string::npos) << r.err;

  for (const char* command : {"archive", "import"}) {
    r = Tally({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_EQ(r.out.rfind(std::string("usage: tally ") + command, 0), 0u) << r.out;
    EXPECT_NE(r.out.find("--data-dir DIR"), std::string::npos) << command;
  }
}

}  // namespace
}  // namespace tally
