#include "cli/no_checkpoint_store.h"

#include <algorithm>
#include <variant>

namespace tally::cli {

absl::StatusOr<uint64_t> NoCheckpointStore::Append(std::vector<LogRecord> records) {
  records.erase(std::remove_if(records.begin(), records.end(),
                               [](const LogRecord& r) {
                                 return std::holds_alternative<CheckpointRecord>(r);
                               }),
                records.end());
  if (records.empty()) return base_->LastSeq();
  return base_->Append(std::move(records));
}

}  // namespace tally::cli
