// Small helpers shared by the benchmark drivers: flags, timing, percentiles.
#ifndef TALLY_BENCH_BENCH_UTIL_H_
#define TALLY_BENCH_BENCH_UTIL_H_

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace tally::bench {

// --name=value or --name value; returns `fallback` when absent.
inline std::string Flag(int argc, char** argv, const char* name, const std::string& fallback) {
  const std::string key = std::string("--") + name;
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == key && i + 1 < argc) return argv[i + 1];
    if (std::strncmp(argv[i], (key + "=").c_str(), key.size() + 1) == 0) {
      return argv[i] + key.size() + 1;
    }
    if (std::string(argv[i]) == "--help") {
      std::printf("see the comment at the top of this benchmark's source file\n");
      std::exit(0);
    }
  }
  return fallback;
}

inline double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The p-th percentile (0..100) of `v` (sorted in place).
inline double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * v.size()));
  return v[i];
}

inline double Median(std::vector<double> v) { return Percentile(v, 50); }

// A fresh directory under $TMPDIR (or /tmp).
inline std::string TempDir(const char* tag) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/tally-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return buf.data();
}

}  // namespace tally::bench

#endif  // TALLY_BENCH_BENCH_UTIL_H_
