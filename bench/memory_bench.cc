// Memory per active window: creates N subjects, each with an active window on
// the three default meters (one Consume each), and reports heap bytes per
// subject x meter window (target: <= 256). Heap use is read with mallinfo2().
//
//   memory_bench [--subjects 200000]
#include <malloc.h>

#include <cstdio>
#include <string>

#include "bench_util.h"
#include "core/clock.h"
#include "core/config.h"
#include "engine/engine.h"
#include "null_store.h"

int main(int argc, char** argv) {
  using namespace tally;
  const int subjects = std::stoi(bench::Flag(argc, argv, "subjects", "200000"));
  Config config = DefaultConfig([](const char*) -> const char* { return nullptr; });
  config.engine.dedup_max_entries = 0;  // measure windows, not the dedup index
  NullStore store;
  SimulatedClock clock(ParseRfc3339("2026-03-10T12:00:00Z").value());
  auto engine = Engine::Open(config, &store, &clock).value();
  auto heap = [] { return static_cast<double>(mallinfo2().uordblks); };
  const double before = heap();
  for (int s = 0; s < subjects; ++s) {
    Event e;
    e.id = "e" + std::to_string(s);
    e.subject = "user-" + std::to_string(s);
    e.type = "correction";
    e.data = {{"chars", 100}, {"tokens", 100}};
    if (!engine->Consume(std::move(e)).ok()) return 1;
  }
  const double after = heap();
  const double windows = 3.0 * subjects;
  std::printf("%d subjects x 3 meters: %.1f MB heap, %.0f bytes per subject x meter window "
              "(including the subject's registry entry and plan binding)\n",
              subjects, (after - before) / 1e6, (after - before) / windows);
  return 0;
}
