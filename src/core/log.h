// Log: one line per event worth knowing, to stderr, with a UTC timestamp and
// a level:  2026-11-22T19:40:01.123456Z info  listening on 127.0.0.1:8787
//
// Thread-safety: each line is written with one fprintf (stdio locks the stream),
// so lines from different threads never interleave.
#ifndef TALLY_CORE_LOG_H_
#define TALLY_CORE_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace tally {

enum class LogLevel { kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view message);
inline void LogInfo(std::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(std::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(std::string_view message) { Log(LogLevel::kError, message); }

// 1234567 -> "1,234,567", for counts in log lines and progress lines.
std::string WithThousands(uint64_t n);

}  // namespace tally

#endif  // TALLY_CORE_LOG_H_
