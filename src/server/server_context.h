// ServerOptions and ServerContext: what every handler may reach.
//
// Thread-safety: ServerOptions is constant once the server starts. In the
// context, the engine, store, key ring and metrics are thread-safe themselves;
// `draining` is an atomic flag.
#ifndef TALLY_SERVER_SERVER_CONTEXT_H_
#define TALLY_SERVER_SERVER_CONTEXT_H_

#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "engine/engine.h"
#include "server/auth/key_ring.h"
#include "server/metrics.h"
#include "store/store.h"

namespace tally {

struct ServerOptions {
  std::string listen = "127.0.0.1:8787";  // host:port; port 0 picks a free one
  int threads = 0;                         // I/O threads; 0 = one per core
  int max_connections = 4096;              // more are answered 503 and closed
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 8 * 1024 * 1024;  // a batch of 10,000 events fits
  size_t max_batch_events = 10'000;
  Micros read_timeout = 30 * kMicrosPerSecond;   // to read one whole request
  Micros idle_timeout = 60 * kMicrosPerSecond;   // between keep-alive requests
  Micros write_timeout = 30 * kMicrosPerSecond;
  Micros drain_timeout = 30 * kMicrosPerSecond;  // SIGTERM: wait for in-flight requests
  int64_t key_write_rate = 200'000;  // write requests per second per API key; 0 = no limit
  std::string version = "0.1.0";
};

class Router;
class Rollups;

struct ServerContext {
  Engine* engine = nullptr;
  Store* store = nullptr;
  const Rollups* rollups = nullptr;  // usage per subject × type × hour (analytics/rollups.h)
  const Clock* clock = nullptr;
  KeyRing* keys = nullptr;
  Metrics* metrics = nullptr;
  const ServerOptions* options = nullptr;
  const Router* router = nullptr;
  std::atomic<bool> draining{false};
  // Serialises key revocations, so that the "last active admin key" check
  // and the revocation are one step.
  std::mutex key_changes_mu;
};

}  // namespace tally

#endif  // TALLY_SERVER_SERVER_CONTEXT_H_
