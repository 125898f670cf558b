// ServerProcess: the real `tally serve` as a child process, for the HTTP
// integration tests.
//
// Each ServerProcess owns a fresh temporary directory (removed at the end)
// holding the data dir, the config file and the server's log. Start() runs
//   tally serve --data-dir DIR --listen 127.0.0.1:0 --port-file FILE
//               [--config FILE] [extra args]
// with TALLY_ADMIN_KEY and TALLY_JWT_SECRET set (and any TALLY_* variables of
// the test's own environment removed), then polls for the port file (no fixed
// sleeps; 20 s at most). Stop() sends SIGTERM and waits for the exit status;
// Kill() sends SIGKILL. Start() may be called again after either, on the same
// data dir (a restart). The destructor SIGKILLs a server still running.
//
// Thread-safety: drive one ServerProcess from one thread; address() may be
// read from any thread while the server runs.
#ifndef TALLY_TESTS_HTTP_SERVER_PROCESS_H_
#define TALLY_TESTS_HTTP_SERVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "http_client.h"
#include "test_util.h"

namespace tally::http_test {

// The admin key every test server starts with (TALLY_ADMIN_KEY).
inline constexpr char kAdminKey[] = "tally-test-admin-key-0123456789";
// The HS256 secret user tokens are signed with (TALLY_JWT_SECRET, >= 32 bytes).
inline constexpr char kJwtSecret[] = "tally-test-jwt-secret-0123456789abcdef";

struct ServerSetup {
  // TOML written to <tmp>/tally.toml and passed as --config; empty: no --config.
  std::string config;
  // More flags for `tally serve`, e.g. {"--max-body-bytes", "2048"}.
  std::vector<std::string> args;
  // More environment, each "NAME=value".
  std::vector<std::string> env;
  // Set TALLY_ADMIN_KEY=kAdminKey. Default: true.
  bool admin_key = true;
  // Set TALLY_JWT_SECRET=kJwtSecret. Default: true.
  bool jwt_secret = true;
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerSetup setup = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the server and waits until it listens (its port file exists).
  ::testing::AssertionResult Start(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // SIGTERM, then waits up to `timeout` for the exit. Returns the exit code,
  // or nullopt if the process did not exit in time (it is then SIGKILLed) or
  // died of a signal (`signal_out` says which, when given).
  std::optional<int> Stop(std::chrono::milliseconds timeout = std::chrono::seconds(40),
                          int* signal_out = nullptr);
  // Sends SIGTERM without waiting.
  void Terminate();
  // Waits up to `timeout` for an exit started elsewhere (Terminate); as Stop.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout, int* signal_out = nullptr);
  // SIGKILL and reap.
  void Kill();
  bool running() const { return pid_ > 0; }
  // The server's process id (-1 when not running).
  pid_t pid() const { return pid_; }

  // "127.0.0.1:PORT" while running.
  const std::string& address() const { return address_; }
  std::string data_dir() const { return tmp_.Sub("data"); }
  std::string dir() const { return tmp_.path().string(); }
  // Everything the server wrote to stdout and stderr, over every start.
  std::string Log() const;

  // A client of this server with `token` (default: the admin key).
  HttpClient Client(const std::string& token = kAdminKey) const {
    return HttpClient(address_, token);
  }

 private:
  const ServerSetup setup_;
  tally::testing::TempDir tmp_;
  pid_t pid_ = -1;
  int starts_ = 0;
  std::string address_;
};

}  // namespace tally::http_test

#endif  // TALLY_TESTS_HTTP_SERVER_PROCESS_H_
