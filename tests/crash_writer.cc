// crash_writer: the process the crash test kills with SIGKILL.
//
//   crash_writer --data-dir DIR --run R [--retry-run R0] [--checkpoint-every N]
//
// Opens SqliteStore (strict durability) and an Engine over DIR with
// CrashConfig(), prints "#ready <recovery ms>", then runs kThreads threads that
// ingest until killed: Track and Consume of single events with ids
// "<R>-<thread>-<n>", every 10th call a retry of an earlier acknowledged event
// (same body: the engine must answer it as a replay and count it once), and
// every 100th a TrackBatch of 50. After each call returns OK (for Consume: and
// allowed) it writes the acknowledged id(s), one per line, to stdout in a
// single write(2): a line exists only after the engine made the event durable.
// Every N acknowledged events (default 2000) one thread writes a checkpoint.
//
// Any unexpected engine error is printed to stderr and exits 1, so the test
// can tell a crash it caused from one it did not.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "crash_config.h"
#include "engine/engine.h"
#include "store/sqlite/sqlite_store.h"

namespace tally::crash {
namespace {

struct Options {
  std::string data_dir;
  std::string run;
  std::string retry_run;  // a previous run whose first events are resent first
  int64_t checkpoint_every = 2000;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "crash_writer: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

// Writes `text` to stdout in one write(2) (lines of one call stay together).
void WriteAll(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      Die(std::string("write to stdout: ") + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
}

class Writer {
 public:
  Writer(Engine* engine, const Options& options) : engine_(engine), options_(options) {}

  void Run(int thread) {
    std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(thread));
    struct Acked {
      Event event;
      bool consume;
    };
    std::vector<Acked> acked;
    if (!options_.retry_run.empty()) Resend(thread);
    for (int64_t n = 0;; ++n) {
      if (n % 10 == 9 && !acked.empty()) {
        const Acked& old = acked[rng() % acked.size()];
        absl::StatusOr<Decision> d =
            old.consume ? engine_->Consume(old.event) : engine_->Track(old.event);
        if (!d.ok()) Die("retry of " + old.event.id + ": " + std::string(d.status().message()));
        if (!d->replayed) Die("retry of " + old.event.id + " was not answered as a replay");
        if (d->allowed || !old.consume) Ack(old.event.id + "\n", 1);
        continue;
      }
      if (n % 100 == 50) {
        std::vector<Event> batch;
        std::string lines;
        for (int i = 0; i < 50; ++i, ++n) {
          batch.push_back(MakeEvent(thread, n));
          lines += batch.back().id + "\n";
        }
        std::vector<Event> copy = batch;
        absl::StatusOr<std::vector<Decision>> d = engine_->TrackBatch(std::move(copy));
        if (!d.ok()) Die("batch: " + std::string(d.status().message()));
        Ack(lines, 50);
        for (Event& e : batch) acked.push_back({std::move(e), false});
        continue;
      }
      Event event = MakeEvent(thread, n);
      const bool consume = n % 3 == 0;
      absl::StatusOr<Decision> d = consume ? engine_->Consume(event) : engine_->Track(event);
      if (!d.ok()) Die(event.id + ": " + std::string(d.status().message()));
      if (consume && !d->allowed) continue;  // denied: not recorded, not acknowledged
      Ack(event.id + "\n", 1);
      acked.push_back({std::move(event), consume});
    }
  }

 private:
  // Resends the previous run's first 200 events of this thread, exactly as
  // they were sent: those that were stored must be answered as replays (the
  // test checks no id is stored twice); the others are new now.
  void Resend(int thread) {
    for (int64_t n = 0; n < 200; ++n) {
      Event event = MakeEvent(thread, n, options_.retry_run);
      const bool consume = n % 3 == 0 && !(n % 100 >= 50);
      absl::StatusOr<Decision> d = consume ? engine_->Consume(event) : engine_->Track(event);
      if (!d.ok()) Die("resend of " + event.id + ": " + std::string(d.status().message()));
      if (d->allowed) Ack(event.id + "\n", 1);
    }
  }

  // Every 4th event goes to the thread's crew member (pooled, small limit),
  // the others alternate between the thread's two users.
  Event MakeEvent(int thread, int64_t n) const { return MakeEvent(thread, n, options_.run); }
  Event MakeEvent(int thread, int64_t n, const std::string& run) const {
    Event e;
    e.id = run + "-" + std::to_string(thread) + "-" + std::to_string(n);
    e.subject = n % 4 == 0 ? CrewId(thread) : UserId(2 * thread + static_cast<int>(n % 2));
    e.type = n % 5 == 0 ? "summarize" : "correct";
    e.data = {{"chars", 1 + (n * 37) % 1000}};
    return e;
  }

  void Ack(const std::string& lines, int64_t count) {
    WriteAll(lines);
    const int64_t before = acknowledged_.fetch_add(count);
    if (before / options_.checkpoint_every != (before + count) / options_.checkpoint_every) {
      if (absl::Status s = engine_->Checkpoint(); !s.ok()) {
        Die("checkpoint: " + std::string(s.message()));
      }
    }
  }

  Engine* const engine_;
  const Options options_;
  std::atomic<int64_t> acknowledged_{0};
};

Options ParseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) Die("usage: crash_writer --data-dir DIR --run R [--retry-run R0] [--checkpoint-every N]");
    if (arg == "--data-dir") {
      o.data_dir = argv[++i];
    } else if (arg == "--run") {
      o.run = argv[++i];
    } else if (arg == "--retry-run") {
      o.retry_run = argv[++i];
    } else if (arg == "--checkpoint-every") {
      o.checkpoint_every = std::max<int64_t>(1, std::atoll(argv[++i]));
    } else {
      Die("unknown flag " + arg);
    }
  }
  if (o.data_dir.empty() || o.run.empty()) Die("--data-dir and --run are required");
  return o;
}

int Main(int argc, char** argv) {
  const Options options = ParseArgs(argc, argv);
  const Config config = CrashConfig();
  const auto start = std::chrono::steady_clock::now();
  SqliteStoreOptions store_options;
  store_options.dir = options.data_dir;
  store_options.strict = true;
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(store_options);
  if (!store.ok()) Die("open store: " + std::string(store.status().message()));
  absl::StatusOr<std::unique_ptr<Engine>> engine =
      Engine::Open(config, store->get(), SystemClock::Default());
  if (!engine.ok()) Die("open engine: " + std::string(engine.status().message()));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  WriteAll("#ready " + std::to_string(ms) + "\n");

  Writer writer(engine->get(), options);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&writer, t] { writer.Run(t); });
  for (std::thread& t : threads) t.join();  // never: the test kills us
  return 0;
}

}  // namespace
}  // namespace tally::crash

int main(int argc, char** argv) { return tally::crash::Main(argc, argv); }
