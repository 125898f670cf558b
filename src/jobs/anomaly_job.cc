#include "jobs/anomaly_job.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace tally {

absl::StatusOr<int> AnomalyJob::RunOnce() {
  const Micros now = clock_->Now();
  // The last hour whose end is at least `grace_` ago.
  Micros closed_end = (now - grace_) / kMicrosPerHour * kMicrosPerHour;
  const Micros oldest = closed_end - kMaxCatchUpHours * kMicrosPerHour;
  if (next_hour_ == kBeginningOfTime) next_hour_ = closed_end - kMicrosPerHour;
  next_hour_ = std::max(next_hour_, oldest);
  int recorded = 0;
  for (; next_hour_ < closed_end; next_hour_ += kMicrosPerHour) {
    AlertQuery seen;
    seen.kind = "anomaly";
    seen.from = next_hour_;
    seen.to = next_hour_ + 1;
    seen.limit = 1;
    absl::StatusOr<std::vector<AlertEntry>> already = store_->ReadAlerts(seen);
    if (!already.ok()) return already.status();
    if (!already->empty()) continue;
    std::vector<LogRecord> alerts;
    for (const Anomaly& a : DetectAnomalies(*rollups_, next_hour_, options_)) {
      alerts.push_back(AnomalyAlert(a, now));
    }
    if (alerts.empty()) continue;
    const size_t n = alerts.size();
    absl::StatusOr<uint64_t> ticket = store_->Append(std::move(alerts));
    if (!ticket.ok()) return ticket.status();
    if (absl::Status s = store_->WaitDurable(*ticket); !s.ok()) return s;
    recorded += static_cast<int>(n);
    LogInfo(absl::StrCat("anomalies: ", n, " unusual usage figures in the hour from ",
                         FormatRfc3339(next_hour_), " recorded as alerts"));
  }
  return recorded;
}

}  // namespace tally
