// VerifyStore (tally verify, and the crash test's third check): agrees on a
// healthy log, and reports a checkpoint that does not match its log.
#include "cli/verify.h"

#include <memory>
#include <string>
#include <variant>

#include "cli/no_checkpoint_store.h"
#include "engine/engine_test_util.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using testing::At;
using testing::Ev;
using testing::TestConfig;

constexpr char kNow[] = "2026-03-10T12:00:00Z";

std::unique_ptr<Engine> OpenEngine(const Config& config, Store* store, const Clock* clock) {
  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Open(config, store, clock);
  EXPECT_TRUE(engine.ok()) << engine.status();
  return engine.ok() ? *std::move(engine) : nullptr;
}

TEST(VerifyTest, HealthyLogWithCheckpointReservationsAndOrgMatches) {
  const Config config = TestConfig();
  SimulatedClock clock(At(kNow));
  MemoryStore store;
  {
    std::unique_ptr<Engine> engine = OpenEngine(config, &store, &clock);
    ASSERT_NE(engine, nullptr);
    Org org;
    org.id = "acme";
    org.tier = "team";
    ASSERT_TRUE(engine->PutOrg(org).ok());
    Subject bob;
    bob.id = "bob";
    bob.tier = "free";
    bob.org = "acme";
    ASSERT_TRUE(engine->PutSubject(bob).ok());
    ASSERT_TRUE(engine->Track(Ev("e1", "alice", {{"chars", 100}})).ok());
    ASSERT_TRUE(engine->Consume(Ev("e2", "bob", {{"chars", 40}})).ok());
    ASSERT_TRUE(engine->Checkpoint().ok());
    ASSERT_TRUE(engine->Track(Ev("e3", "alice", {{"chars", 7}})).ok());
    absl::StatusOr<Decision> held = engine->Reserve(Ev("r1", "bob", {{"tokens", 300}}), 0);
    ASSERT_TRUE(held.ok() && held->allowed);
    ASSERT_TRUE(engine->Reserve(Ev("r2", "alice", {{"tokens", 50}}), 0).ok());
    ASSERT_TRUE(engine->Commit("r2", Ev("", "", {{"tokens", 20}})).ok());
  }
  absl::StatusOr<cli::VerifyResult> result = cli::VerifyStore(config, &store, clock.Now());
  ASSERT_TRUE(result.ok()) << result.status();
  for (const std::string& m : result->mismatches) ADD_FAILURE() << m;
  EXPECT_EQ(result->events, 4u);
  EXPECT_EQ(result->subjects, 2u);
  EXPECT_GT(result->quotas_compared, 0u);
  EXPECT_EQ(result->Summary(), "4 events, 2 subjects, all counters match");
}

TEST(VerifyTest, ReportsACheckpointThatDisagreesWithTheLog) {
  const Config config = TestConfig();
  SimulatedClock clock(At(kNow));
  // A checkpoint taken after five events...
  MemoryStore other;
  std::string blob;
  {
    std::unique_ptr<Engine> engine = OpenEngine(config, &other, &clock);
    ASSERT_NE(engine, nullptr);
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(engine->Track(Ev("x" + std::to_string(i), "alice", {{"chars", 10}})).ok());
    }
    ASSERT_TRUE(engine->Checkpoint().ok());
    absl::StatusOr<std::optional<Checkpoint>> cp = other.LoadCheckpoint();
    ASSERT_TRUE(cp.ok() && cp->has_value());
    blob = (*cp)->blob;
  }
  // ...written into a log that holds one.
  MemoryStore store;
  {
    std::unique_ptr<Engine> engine = OpenEngine(config, &store, &clock);
    ASSERT_NE(engine, nullptr);
    ASSERT_TRUE(engine->Track(Ev("y", "alice", {{"chars", 10}})).ok());
  }
  std::vector<LogRecord> records;
  records.emplace_back(CheckpointRecord{blob});
  ASSERT_TRUE(store.Append(std::move(records)).ok());

  absl::StatusOr<cli::VerifyResult> result = cli::VerifyStore(config, &store, clock.Now());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->ok());
  bool engines_differ = false, log_differs = false;
  for (const std::string& m : result->mismatches) {
    if (m.find("subject alice: requests") == 0 &&
        m.find("used 5 vs 1 (checkpoint + replay vs full replay)") != std::string::npos) {
      engines_differ = true;
    }
    if (m.find("subject alice: chars") == 0 &&
        m.find("used 50 but the log implies 10") != std::string::npos) {
      log_differs = true;
    }
  }
  EXPECT_TRUE(engines_differ && log_differs) << ::testing::PrintToString(result->mismatches);
  EXPECT_EQ(result->Summary().rfind("1 events, 1 subjects, ", 0), 0u) << result->Summary();
}

TEST(VerifyTest, NoCheckpointStoreHidesAndDropsCheckpoints) {
  MemoryStore base;
  std::vector<LogRecord> records;
  records.emplace_back(CheckpointRecord{"blob"});
  ASSERT_TRUE(base.Append(std::move(records)).ok());
  ASSERT_TRUE(base.LoadCheckpoint().ok() && base.LoadCheckpoint()->has_value());

  cli::NoCheckpointStore store(&base);
  absl::StatusOr<std::optional<Checkpoint>> cp = store.LoadCheckpoint();
  ASSERT_TRUE(cp.ok());
  EXPECT_FALSE(cp->has_value());

  std::vector<LogRecord> more;
  more.emplace_back(CheckpointRecord{"dropped"});
  more.emplace_back(SubjectRecord{Subject{.id = "kept"}});
  ASSERT_TRUE(store.Append(std::move(more)).ok());
  const auto stored = base.Records();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<SubjectRecord>(stored[1].second));
}

}  // namespace
}  // namespace tally
