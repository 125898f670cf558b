// tally serve: the HTTP API over the data dir (src/server/server.h).
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "server/server.h"

namespace tally::cli {
namespace {

// --name, else $ENV, else `fallback`.
std::string FlagOrEnv(const ParsedFlags& flags, const std::string& name, const char* env,
                      const std::string& fallback) {
  if (std::optional<std::string> v = flags.Get(name)) return *v;
  if (const char* e = std::getenv(env); e != nullptr && *e != '\0') return e;
  return fallback;
}

bool ParsePositive(const std::string& text, const std::string& flag, int64_t min, int64_t max, int64_t& out) {
  if (!absl::SimpleAtoi(text, &out) || out < min || out > max) {
    Fail("--" + flag + ": must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
         ", not \"" + text + "\"");
    return false;
  }
  return true;
}

int RunServe(const ParsedFlags& flags) {
  ServeParams params;
  ServerOptions& o = params.options;
  o.listen = FlagOrEnv(flags, "listen", "TALLY_LISTEN", o.listen);
  int64_t v = 0;
  if (std::string t = FlagOrEnv(flags, "threads", "TALLY_THREADS", ""); !t.empty()) {
    if (!ParsePositive(t, "threads", 1, 256, v)) return kExitUsage;
    o.threads = static_cast<int>(v);
  }
  if (std::string t = FlagOrEnv(flags, "max-connections", "TALLY_MAX_CONNECTIONS", ""); !t.empty()) {
    if (!ParsePositive(t, "max-connections", 1, 1'000'000, v)) return kExitUsage;
    o.max_connections = static_cast<int>(v);
  }
  if (std::string t = FlagOrEnv(flags, "max-body-bytes", "TALLY_MAX_BODY_BYTES", ""); !t.empty()) {
    if (!ParsePositive(t, "max-body-bytes", 1024, int64_t{1} << 30, v)) return kExitUsage;
    o.max_body_bytes = static_cast<size_t>(v);
  }
  if (std::string t = FlagOrEnv(flags, "key-write-rate", "TALLY_KEY_WRITE_RATE", ""); !t.empty()) {
    if (!ParsePositive(t, "key-write-rate", 0, 1'000'000'000, v)) return kExitUsage;
    o.key_write_rate = v;
  }
  params.port_file = flags.Get("port-file").value_or("");

  Runtime rt;
  if (int rc = OpenRuntime(flags, /*open_engine=*/true, rt, /*require_existing=*/false,
                           /*with_rollups=*/true); rc != kExitOk) return rc;
  params.data_dir = rt.data_dir;
  params.rollups = rt.rollups.get();
  params.retention = rt.config.retention;
  LogInfo("tally " + o.version + ": data dir " + rt.data_dir + ", durability " +
          (rt.config.storage.durability == Durability::kStrict ? "strict" : "relaxed") + ", " +
          std::to_string(rt.engine->Stats().subjects) + " subjects, " +
          std::to_string(rt.engine->Stats().events) + " events recovered");
  const RollupStats rollups = rt.rollups->Stats();
  LogInfo("usage history: " + WithThousands(rollups.cells) + " hour cells of " +
          WithThousands(rollups.subjects) + " subjects loaded, " + WithThousands(rollups.folded) +
          " events folded again (written after the last persist)");
  SystemClock clock;
  if (absl::Status s = Serve(*rt.engine, *rt.store, clock, params, ProcessEnv()); !s.ok()) {
    return FailStatus(s);
  }
  return kExitOk;
}

}  // namespace

Command ServeCommand() {
  CommandSpec spec;
  spec.name = "serve";
  spec.summary = "Serve the HTTP API (docs/api.md) until SIGTERM or Ctrl-C, then drain and exit 0.";
  spec.flags = {
      {"listen", "HOST:PORT", "$TALLY_LISTEN, else 127.0.0.1:8787", "address to listen on; port 0 picks a free one"},
      {"threads", "N", "$TALLY_THREADS, else one per core", "I/O threads"},
      {"max-connections", "N", "$TALLY_MAX_CONNECTIONS, else 4096", "open connections at most; more get 503"},
      {"max-body-bytes", "N", "$TALLY_MAX_BODY_BYTES, else 8388608", "largest request body; larger gets 413"},
      {"key-write-rate", "N", "$TALLY_KEY_WRITE_RATE, else 200000",
       "write requests per second per API key (0: no limit); a key's own rate wins"},
      {"port-file", "FILE", "", "write the bound HOST:PORT here once listening (for scripts and tests)"},
  };
  for (FlagSpec& f : StoreFlags()) spec.flags.push_back(std::move(f));
  return Command{std::move(spec), RunServe};
}

}  // namespace tally::cli
