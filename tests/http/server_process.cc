// ServerProcess (see server_process.h).
#include "server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <thread>
#include <utility>

#ifndef TALLY_BINARY_PATH
#error "TALLY_BINARY_PATH must name the tally binary"
#endif

extern char** environ;

namespace tally::http_test {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The pause between two looks at a child or a file while polling.
constexpr auto kPollInterval = std::chrono::milliseconds(2);

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Reaps `pid` if it has exited: true with its wait status.
bool Reap(pid_t pid, int* status) {
  while (true) {
    const pid_t r = ::waitpid(pid, status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno == EINTR) continue;
    return false;
  }
}

}  // namespace

ServerProcess::ServerProcess(ServerSetup setup) : setup_(std::move(setup)) {
  std::filesystem::create_directories(data_dir());
  if (!setup_.config.empty()) tally::testing::WriteFile(tmp_.Sub("tally.toml"), setup_.config);
}

ServerProcess::~ServerProcess() {
  if (running()) Kill();
}

std::string ServerProcess::Log() const { return tally::testing::ReadFile(tmp_.Sub("server.log")); }

::testing::AssertionResult ServerProcess::Start(std::chrono::milliseconds timeout) {
  if (running()) return ::testing::AssertionFailure() << "the server is already running";
  ++starts_;
  const std::string port_file = tmp_.Sub("port-" + std::to_string(starts_));
  const std::string log_file = tmp_.Sub("server.log");
  std::filesystem::remove(port_file);

  std::vector<std::string> args = {TALLY_BINARY_PATH, "serve",       "--data-dir",  data_dir(),
                                   "--listen",        "127.0.0.1:0", "--port-file", port_file};
  if (!setup_.config.empty()) {
    args.push_back("--config");
    args.push_back(tmp_.Sub("tally.toml"));
  }
  args.insert(args.end(), setup_.args.begin(), setup_.args.end());

  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).starts_with("TALLY_")) continue;  // no stray config from the caller
    env.emplace_back(*e);
  }
  if (setup_.admin_key) env.push_back(std::string("TALLY_ADMIN_KEY=") + kAdminKey);
  if (setup_.jwt_secret) env.push_back(std::string("TALLY_JWT_SECRET=") + kJwtSecret);
  env.insert(env.end(), setup_.env.begin(), setup_.env.end());

  // Everything the child touches is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const long max_fd = std::min<long>(::sysconf(_SC_OPEN_MAX), 65536);

  const pid_t pid = ::fork();
  if (pid < 0) return ::testing::AssertionFailure() << "fork: " << std::strerror(errno);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
    const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) ::_exit(126);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    // No test socket may stay open in the server.
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
      for (long i = 3; i < max_fd; ++i) ::close(static_cast<int>(i));
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  pid_ = pid;

  const auto deadline = SteadyClock::now() + timeout;
  while (true) {
    std::error_code ec;
    if (std::filesystem::exists(port_file, ec)) {
      // tally writes the file whole (temp file + rename).
      std::string address = Trim(tally::testing::ReadFile(port_file));
      if (!address.empty()) {
        address_ = std::move(address);
        return ::testing::AssertionSuccess();
      }
    }
    int status = 0;
    if (Reap(pid_, &status)) {
      pid_ = -1;
      return ::testing::AssertionFailure()
             << "tally serve exited before listening (status " << status << "); log:\n"
             << Log();
    }
    if (SteadyClock::now() >= deadline) {
      Kill();
      return ::testing::AssertionFailure() << "tally serve did not write its port file within "
                                           << timeout.count() << " ms; log:\n"
                                           << Log();
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void ServerProcess::Terminate() {
  if (running()) ::kill(pid_, SIGTERM);
}

std::optional<int> ServerProcess::Stop(std::chrono::milliseconds timeout, int* signal_out) {
  Terminate();
  return WaitExit(timeout, signal_out);
}

std::optional<int> ServerProcess::WaitExit(std::chrono::milliseconds timeout, int* signal_out) {
  if (signal_out != nullptr) *signal_out = 0;
  if (!running()) return std::nullopt;
  const auto deadline = SteadyClock::now() + timeout;
  int status = 0;
  while (!Reap(pid_, &status)) {
    if (SteadyClock::now() >= deadline) {
      Kill();
      return std::nullopt;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  pid_ = -1;
  address_.clear();
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status) && signal_out != nullptr) *signal_out = WTERMSIG(status);
  return std::nullopt;
}

void ServerProcess::Kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  address_.clear();
}

}  // namespace tally::http_test
