#include "server/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "analytics/archive_scheduler.h"
#include "core/log.h"
#include "jobs/anomaly_job.h"
#include "jobs/scheduler.h"
#include "server/auth/api_keys.h"
#include "server/auth/authenticator.h"
#include "server/auth/jwt.h"
#include "server/auth/key_ring.h"
#include "server/auth/write_limiter.h"
#include "server/dispatch.h"
#include "server/handlers/common.h"
#include "server/http_server.h"
#include "server/router.h"

namespace tally {
namespace {

// Writes `text` to `path` with mode 0600, atomically (temp file + rename) and durably.
absl::Status WritePrivateFile(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  const bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status BootstrapAdminKey(Engine& engine, KeyRing& keys, const Clock& clock, const std::string& data_dir,
                               const EnvLookup& env) {
  const char* given = env("TALLY_ADMIN_KEY");
  if (keys.CountActive(Role::kAdmin) > 0) {
    if (given != nullptr && *given != '\0' && !keys.FindBySecret(given)) {
      LogWarning("TALLY_ADMIN_KEY is set but this data dir already has admin keys; it was not added "
                 "(create keys with POST /api/admin/keys or `tally keys create`)");
    }
    return absl::OkStatus();
  }
  const Actor actor{"bootstrap", "first start: no admin key yet", ""};
  if (given != nullptr && *given != '\0') {
    absl::StatusOr<ApiKey> key = KeyFromSecret(given, Role::kAdmin, "TALLY_ADMIN_KEY", clock.Now());
    if (!key.ok()) return absl::InvalidArgumentError(absl::StrCat("TALLY_ADMIN_KEY: ", key.status().message()));
    if (absl::Status s = engine.PutApiKey(*key, actor, "key.create"); !s.ok()) return s;
    keys.Put(*key);
    LogInfo(absl::StrCat("admin key ", key->id, " registered from TALLY_ADMIN_KEY"));
    return absl::OkStatus();
  }
  NewKey key = GenerateApiKey(Role::kAdmin, "bootstrap", clock.Now());
  const std::string path = (std::filesystem::path(data_dir) / "admin.key").string();
  // The file first: a key stored but never written down would lock everyone out.
  if (absl::Status s = WritePrivateFile(path, key.secret + "\n"); !s.ok()) return s;
  if (absl::Status s = engine.PutApiKey(key.key, actor, "key.create"); !s.ok()) return s;
  keys.Put(key.key);
  LogInfo(absl::StrCat("created admin key ", key.key.id, "; it is in ", path,
                       " (mode 0600). Use it as: Authorization: Bearer $(cat ", path, ")"));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<JwtVerifier>> MakeJwtVerifier(const EnvLookup& env) {
  JwtOptions options;
  if (const char* secret = env("TALLY_JWT_SECRET"); secret != nullptr) options.hs256_secret = secret;
  if (const char* path = env("TALLY_JWT_PUBLIC_KEY"); path != nullptr && *path != '\0') {
    std::ifstream in(path);
    if (!in) return absl::NotFoundError(absl::StrCat("TALLY_JWT_PUBLIC_KEY: cannot read ", path));
    std::stringstream text;
    text << in.rdbuf();
    options.public_key_pem = text.str();
  }
  absl::StatusOr<std::unique_ptr<JwtVerifier>> verifier = JwtVerifier::Create(options);
  if (!verifier.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("user tokens: ", verifier.status().message()));
  }
  return verifier;
}

}  // namespace

absl::Status Serve(Engine& engine, Store& store, const Clock& clock, const ServeParams& params,
                   const EnvLookup& env) {
  KeyRing keys;
  for (const ApiKey& k : engine.ApiKeys()) keys.Put(k);
  if (absl::Status s = BootstrapAdminKey(engine, keys, clock, params.data_dir, env); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<JwtVerifier>> jwt = MakeJwtVerifier(env);
  if (!jwt.ok()) return jwt.status();
  LogInfo((*jwt)->enabled() ? "user tokens (JWT) enabled" : "user tokens disabled (no TALLY_JWT_SECRET or TALLY_JWT_PUBLIC_KEY)");

  ServerContext ctx;
  Router router;
  AddQuotaRoutes(router, ctx);
  AddUsageRoutes(router, ctx);
  AddAdminRoutes(router, ctx);
  AddSystemRoutes(router, ctx);
  AddAnalyticsRoutes(router, ctx);
  AddExportRoutes(router, ctx);
  std::vector<std::string> names;
  for (const Route& r : router.routes()) names.push_back(absl::StrCat(std::string(MethodName(r.method)), " ", r.pattern));
  Metrics metrics(std::move(names));
  ctx.engine = &engine;
  ctx.store = &store;
  ctx.rollups = params.rollups;
  ctx.clock = &clock;
  ctx.keys = &keys;
  ctx.metrics = &metrics;
  ctx.options = &params.options;
  ctx.router = &router;

  Authenticator auth(&keys, jwt->get());
  WriteLimiter limiter(params.options.key_write_rate);
  Dispatcher dispatcher{&ctx, &router, &auth, &limiter};
  HttpServer server(&ctx, &dispatcher);
  if (absl::Status s = server.Listen(); !s.ok()) return s;
  if (!params.port_file.empty()) {
    if (absl::Status s = WritePrivateFile(params.port_file, server.address() + "\n"); !s.ok()) return s;
  }
  // Background jobs, off the I/O threads.
  std::unique_ptr<AnomalyJob> anomalies;  // outlives the scheduler that runs it
  Scheduler scheduler;
  if (params.rollups != nullptr) {
    anomalies = std::make_unique<AnomalyJob>(params.rollups, &store, &clock);
    scheduler.Every("anomalies", std::chrono::minutes(1), [&anomalies] {
      if (absl::StatusOr<int> n = anomalies->RunOnce(); !n.ok()) {
        LogWarning(absl::StrCat("anomaly scoring failed (retried in a minute): ", n.status().message()));
      }
    });
  }
  scheduler.Start();
  // Retention: its own thread, so that shutdown can cancel a long run.
  std::unique_ptr<ArchiveScheduler> archiver;
  if (params.retention.events_days > 0) {
    archiver = std::make_unique<ArchiveScheduler>(store, clock, params.retention, params.data_dir,
                                                  [&engine] { return engine.Checkpoint(); });
  }
  server.Run();
  archiver.reset();
  scheduler.Stop();

  LogInfo("drained; flushing the store");
  if (absl::Status s = store.Flush(); !s.ok()) return s;
  if (absl::Status s = engine.Checkpoint(); !s.ok()) {
    LogWarning(absl::StrCat("checkpoint at shutdown failed (the next start replays the log): ", s.message()));
  }
  const EngineStats stats = engine.Stats();
  LogInfo(absl::StrCat("stopped cleanly: ", stats.events, " events accepted, ", stats.decisions, " decisions, ",
                       stats.denials, " denials since start"));
  return absl::OkStatus();
}

}  // namespace tally
