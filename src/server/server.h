// Serve: tally's HTTP service over an open engine — the `tally serve` command
// minus flag parsing. Bootstraps the first admin key, builds the routes, the
// authenticator and the HTTP server, serves until SIGTERM/SIGINT, then drains,
// flushes the store and writes a checkpoint.
//
// First start with no admin key: TALLY_ADMIN_KEY (if set) becomes the admin
// key; otherwise one is generated and written to <data_dir>/admin.key (mode
// 0600), and the log says where.
//
// Thread-safety: call once, from the main thread.
#ifndef TALLY_SERVER_SERVER_H_
#define TALLY_SERVER_SERVER_H_

#include <string>

#include "absl/status/status.h"
#include "core/clock.h"
#include "core/config.h"
#include "engine/engine.h"
#include "analytics/rollups.h"
#include "server/server_context.h"
#include "store/store.h"

namespace tally {

struct ServeParams {
  ServerOptions options;
  std::string data_dir;   // where admin.key goes
  std::string port_file;  // if set, the bound host:port is written here once listening
  const Rollups* rollups = nullptr;  // the store's rollups, for usage history and analytics
  // With events_days > 0, an ArchiveScheduler archives old raw events while serving.
  RetentionOptions retention;
};

absl::Status Serve(Engine& engine, Store& store, const Clock& clock, const ServeParams& params,
                   const EnvLookup& env);

}  // namespace tally

#endif  // TALLY_SERVER_SERVER_H_
