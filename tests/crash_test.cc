// The crash test: a process ingesting under load is killed with SIGKILL at
// random moments; after each restart every acknowledged event is present
// exactly once and every counter equals what the log implies.
//
// Each round forks crash_writer over the same data dir (state accumulates,
// recovery after recovery), reads the ids it acknowledges through a pipe, and
// kills it 100-700 ms after it is ready. Then:
//   1. SQLite, opened read-only: every acknowledged id is in `events` exactly
//      once, and no id is there twice;
//   2. restart (SqliteStore + Engine::Open, timed): each subject's `requests`
//      and `chars` and the org's pooled `requests` equal the count and sum of
//      the `events` rows in the current window;
//   3. VerifyStore: checkpoint + tail recovery, full replay and an
//      independent fold of the log agree on every quota.
// crash_writer writes checkpoints as it goes, so recovery starts from one.
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cli/verify.h"
#include "core/clock.h"
#include "crash_config.h"
#include "engine/engine.h"
#include "gtest/gtest.h"
#include "store/sqlite/sqlite_store.h"
#include "test_util.h"

#ifndef CRASH_WRITER_PATH
#error "CRASH_WRITER_PATH must name the crash_writer binary"
#endif

namespace tally::crash {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRounds = 5;

double MillisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Round {
  std::vector<std::string> acked;  // complete lines only
  double writer_ready_ms = -1;     // crash_writer's own recovery time
  int wait_status = 0;
  bool killed_by_us = false;
};

// Runs crash_writer until `kill_after` past its "#ready" line, then SIGKILLs it.
Round RunWriter(const std::string& data_dir, const std::string& run,
                const std::string& retry_run, std::chrono::milliseconds kill_after) {
  Round round;
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(CRASH_WRITER_PATH, CRASH_WRITER_PATH, "--data-dir", data_dir.c_str(), "--run",
            run.c_str(), "--retry-run", retry_run.c_str(), "--checkpoint-every", "2000",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);

  std::string buffer;
  bool ready = false;
  bool eof = false;
  const Clock::time_point started = Clock::now();
  Clock::time_point kill_at = started + std::chrono::seconds(30);  // until ready
  char chunk[65536];
  while (!eof) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno != EINTR) throw std::runtime_error("poll failed");
    if (n <= 0) continue;
    const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      eof = true;
      break;
    }
    buffer.append(chunk, static_cast<size_t>(got));
    if (!ready) {
      if (size_t at = buffer.find("#ready "); at != std::string::npos) {
        if (size_t nl = buffer.find('\n', at); nl != std::string::npos) {
          ready = true;
          round.writer_ready_ms = std::stod(buffer.substr(at + 7, nl - at - 7));
          kill_at = Clock::now() + kill_after;
        }
      }
    }
  }
  if (!eof) {
    round.killed_by_us = true;
    ::kill(pid, SIGKILL);
  }
  // Everything written before the kill is still in the pipe: drain it.
  for (;;) {
    const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    buffer.append(chunk, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  while (::waitpid(pid, &round.wait_status, 0) < 0 && errno == EINTR) {
  }

  // Complete lines only: the last one may have been cut by the kill.
  size_t start = 0;
  for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = buffer.substr(start, nl - start);
    if (!line.empty() && line[0] != '#') round.acked.push_back(std::move(line));
  }
  return round;
}

// A read-only SQLite connection to <dir>/tally.db.
class ReadOnlyDb {
 public:
  explicit ReadOnlyDb(const std::string& dir) {
    const std::string path = dir + "/tally.db";
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      throw std::runtime_error("cannot open " + path + ": " + sqlite3_errmsg(db_));
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~ReadOnlyDb() { sqlite3_close(db_); }

  // Calls `row` for each result row of `sql`.
  template <typename Fn>
  void Query(const char* sql, Fn row) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string(sql) + ": " + sqlite3_errmsg(db_));
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) row(stmt);
    const std::string error = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) throw std::runtime_error(std::string(sql) + ": " + error);
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string Text(sqlite3_stmt* stmt, int column) {
  const unsigned char* t = sqlite3_column_text(stmt, column);
  return t == nullptr ? std::string() : reinterpret_cast<const char*>(t);
}

// data.chars from the stored "chars=523,tokens=10" text (0 when absent).
int64_t CharsOf(const std::string& data) {
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find(',', start);
    if (end == std::string::npos) end = data.size();
    const std::string pair = data.substr(start, end - start);
    if (pair.rfind("chars=", 0) == 0) return std::stoll(pair.substr(6));
    start = end + 1;
  }
  return 0;
}

// One stored event, as the events table has it.
struct Row {
  std::string subject;
  std::string org;
  Micros time = 0;
  int64_t chars = 0;
  bool consumed = false;  // origin: Consume
};

struct Expected {
  int64_t requests = 0;
  int64_t chars = 0;
};

// Count and chars of `rows` of an account within `window`.
Expected Sum(const std::vector<Row>& rows, const std::string& account, Scope scope,
             const Window& window) {
  Expected e;
  for (const Row& r : rows) {
    if ((scope == Scope::kSubject ? r.subject : r.org) != account) continue;
    if (!window.Contains(r.time)) continue;
    ++e.requests;
    e.chars += r.chars;
  }
  return e;
}

TEST(CrashTest, AcknowledgedEventsSurviveSigkillExactlyOnce) {
  testing::TempDir tmp;
  const std::string data_dir = tmp.Sub("data");
  const Config config = CrashConfig();
  const unsigned seed = std::random_device{}();
  std::printf("seed %u, data dir %s\n", seed, data_dir.c_str());
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kill_ms(100, 700);

  const Clock::time_point test_start = Clock::now();
  std::set<std::string> acked;  // over every round
  int64_t checkpoints_seen = 0;
  for (int r = 0; r < kRounds; ++r) {
    SCOPED_TRACE("round " + std::to_string(r));
    const int after = kill_ms(rng);
    // Each round first resends the previous round's first events: retries
    // across a crash must count once (checked by "no id stored twice").
    Round round = RunWriter(data_dir, "r" + std::to_string(r), r == 0 ? "" : "r" + std::to_string(r - 1),
                            std::chrono::milliseconds(after));
    ASSERT_TRUE(round.killed_by_us && WIFSIGNALED(round.wait_status) &&
                WTERMSIG(round.wait_status) == SIGKILL)
        << "crash_writer ended on its own (wait status " << round.wait_status
        << "); see its stderr above";
    ASSERT_GT(round.acked.size(), 0u) << "crash_writer acknowledged nothing in " << after << " ms";
    const size_t before = acked.size();
    acked.insert(round.acked.begin(), round.acked.end());

    // 1. Every acknowledged id is stored exactly once; no id is stored twice.
    std::vector<Row> rows;
    {
      ReadOnlyDb db(data_dir);
      std::map<std::string, int64_t> stored;
      db.Query("SELECT id, COUNT(*) FROM events GROUP BY id", [&](sqlite3_stmt* s) {
        stored[Text(s, 0)] = sqlite3_column_int64(s, 1);
      });
      int64_t missing = 0, twice = 0;
      for (const std::string& id : acked) {
        auto it = stored.find(id);
        if (it == stored.end()) {
          if (++missing <= 5) ADD_FAILURE() << "acknowledged event " << id << " is not stored";
        }
      }
      for (const auto& [id, count] : stored) {
        if (count != 1 && ++twice <= 5) {
          ADD_FAILURE() << "event " << id << " is stored " << count << " times";
        }
      }
      EXPECT_EQ(missing, 0) << "acknowledged events lost";
      EXPECT_EQ(twice, 0) << "events stored more than once";
      db.Query("SELECT subject, COALESCE(org, ''), time_us, data, origin FROM events ORDER BY seq",
               [&](sqlite3_stmt* s) {
                 rows.push_back(Row{Text(s, 0), Text(s, 1), sqlite3_column_int64(s, 2),
                                    CharsOf(Text(s, 3)), sqlite3_column_int(s, 4) == 1});
               });
      db.Query("SELECT COUNT(*) FROM checkpoints",
               [&](sqlite3_stmt* s) { checkpoints_seen += sqlite3_column_int64(s, 0); });
    }

    // 2. Restart: the recovered counters equal the stored rows.
    const Clock::time_point open_start = Clock::now();
    SqliteStoreOptions options;
    options.dir = data_dir;
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<std::unique_ptr<Engine>> engine =
        Engine::Open(config, store->get(), SystemClock::Default());
    ASSERT_TRUE(engine.ok()) << engine.status();
    const double recovery_ms = MillisSince(open_start);

    std::set<std::string> subjects;
    for (const Row& row : rows) subjects.insert(row.subject);
    for (const std::string& subject : subjects) {
      absl::StatusOr<std::vector<QuotaView>> views = (*engine)->QuotaStatus(subject);
      ASSERT_TRUE(views.ok()) << views.status();
      int checked = 0;
      for (const QuotaView& v : *views) {
        if (v.meter != "requests" && v.meter != "chars") continue;
        const Expected e = Sum(rows, v.account, v.scope, v.period);
        EXPECT_EQ(v.used, v.meter == "requests" ? e.requests : e.chars)
            << subject << " " << v.meter << " (" << ScopeName(v.scope) << " " << v.account << ")";
        EXPECT_EQ(v.reserved, 0) << subject << " " << v.meter;
        ++checked;
      }
      EXPECT_EQ(checked, subject.rfind("crew-", 0) == 0 ? 3 : 2) << subject;
    }
    // The crew pool (300 requests) was never passed by a Consume, across
    // crashes: Track is never denied, but every consumed crew event must be
    // among the first 300 crew events of its window.
    {
      absl::StatusOr<std::vector<QuotaView>> crew = (*engine)->QuotaStatus(CrewId(0));
      ASSERT_TRUE(crew.ok()) << crew.status();
      Window window;
      for (const QuotaView& v : *crew) {
        if (v.scope == Scope::kOrg && v.meter == "requests") window = v.period;
      }
      int64_t rank = 0, late_consumes = 0;
      for (const Row& row : rows) {
        if (row.org != "crew" || !window.Contains(row.time)) continue;
        ++rank;
        if (row.consumed && rank > kCrewRequestLimit) ++late_consumes;
      }
      EXPECT_EQ(late_consumes, 0) << "consumed events past the crew's pooled limit";
    }
    engine->reset();

    // 3. Checkpoint + tail, full replay and the log's own fold agree.
    absl::StatusOr<cli::VerifyResult> verified =
        cli::VerifyStore(config, store->get(), SystemClock::Default()->Now());
    ASSERT_TRUE(verified.ok()) << verified.status();
    for (const std::string& m : verified->mismatches) ADD_FAILURE() << m;
    EXPECT_EQ(verified->events, rows.size());
    store->reset();

    std::printf(
        "round %d: killed %d ms after ready; %zu acks (%zu new ids, %zu in all), %zu events "
        "stored; writer recovery %.1f ms, test recovery %.1f ms; verify: %s (recovery %.1f ms, "
        "full replay %.1f ms)\n",
        r, after, round.acked.size(), acked.size() - before, acked.size(), rows.size(),
        round.writer_ready_ms, recovery_ms, verified->Summary().c_str(), verified->recovery_ms,
        verified->full_replay_ms);
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(checkpoints_seen, 0) << "no round wrote a checkpoint: recovery never started from one";
  std::printf("total %.1f s\n", MillisSince(test_start) / 1000);
}

}  // namespace
}  // namespace tally::crash
