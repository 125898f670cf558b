#include "core/log.h"

#include <chrono>
#include <cstdio>
#include <string>

#include "core/time.h"

namespace tally {

void Log(LogLevel level, std::string_view message) {
  const Micros now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const char* name = level == LogLevel::kInfo ? "info " : level == LogLevel::kWarning ? "warn " : "error";
  std::fprintf(stderr, "%s %s %.*s\n", FormatRfc3339(now).c_str(), name, static_cast<int>(message.size()),
               message.data());
}

std::string WithThousands(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace tally
