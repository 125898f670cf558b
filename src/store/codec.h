// Codec: the compact, exact text encodings of tally's structured storage
// columns, shared by every Store that keeps records in SQL (SQLite now,
// PostgreSQL later). docs/storage.md shows each format.
//
//   data      "chars=523,tokens=10"                      (Event::data, in order)
//   effects   "s|chars|<start>|<end>|<amount>[|<hash>];o|..."
//   event context, subject, org, tier, API key definitions: a small JSON object
//   dedup blocks (binary): the dedup entries of one transaction, packed
//
// Names in data and effects are written as-is when they are made of
// [A-Za-z0-9_.-] (every valid meter and field name); any other byte is written
// %XX, so every value encodes and decodes back exactly. Decode never crashes on
// corrupt input: it returns absl::DataLossError naming what is wrong. JSON
// decoders ignore unknown keys and keep defaults for missing ones, so a newer
// tally can add fields.
//
// Thread-safety: pure functions.
#ifndef TALLY_STORE_CODEC_H_
#define TALLY_STORE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/api_key.h"
#include "core/event.h"
#include "core/subject.h"
#include "core/tier.h"
#include "store/log_record.h"
#include "store/store.h"

namespace tally {

using EventData = std::vector<std::pair<std::string, int64_t>>;

// --- data -----------------------------------------------------------------

void AppendData(const EventData& data, std::string* out);
std::string EncodeData(const EventData& data);
absl::StatusOr<EventData> DecodeData(std::string_view text);
// As DecodeData, into `out` (replaced), reusing its storage: for replay loops.
absl::Status DecodeDataInto(std::string_view text, EventData* out);

// --- effects --------------------------------------------------------------

void AppendEffects(const std::vector<Effect>& effects, std::string* out);
std::string EncodeEffects(const std::vector<Effect>& effects);
absl::StatusOr<std::vector<Effect>> DecodeEffects(std::string_view text);
// As DecodeEffects, into `out` (replaced), reusing its storage.
absl::Status DecodeEffectsInto(std::string_view text, std::vector<Effect>* out);

// --- event context (JSON; "" for a context with nothing set) ---------------

std::string EncodeContext(const EventContext& context);
absl::StatusOr<EventContext> DecodeContext(std::string_view text);

// --- registry definitions (JSON) ------------------------------------------

std::string EncodeSubject(const Subject& subject);
absl::StatusOr<Subject> DecodeSubject(std::string_view text);

std::string EncodeOrg(const Org& org);
absl::StatusOr<Org> DecodeOrg(std::string_view text);

std::string EncodeTier(const Tier& tier);
absl::StatusOr<Tier> DecodeTier(std::string_view text);

// The role is written by name ("admin", "service", "user"); an unknown role
// is DataLossError.
std::string EncodeApiKey(const ApiKey& key);
absl::StatusOr<ApiKey> DecodeApiKey(std::string_view text);

// --- dedup blocks (binary) ------------------------------------------------
//
// The dedup entries of one transaction, in increasing seq order. Per entry:
// the seq as a varint delta from the previous entry's, the received time as a
// zigzag varint delta from the previous entry's (both from 0 for the first),
// then id_hash and fingerprint as 8 bytes little-endian: ~18 bytes an entry.
// A writer or reader is for one thread at a time.

class DedupBlockWriter {
 public:
  // Appends `entry`; REQUIRES entry.seq > the last entry's seq.
  void Add(const DedupEntry& entry);
  void Clear();

  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  const std::string& bytes() const { return bytes_; }
  uint64_t first_seq() const { return first_seq_; }
  uint64_t last_seq() const { return last_.seq; }
  Micros max_received() const { return max_received_; }

 private:
  std::string bytes_;
  size_t count_ = 0;
  uint64_t first_seq_ = 0;
  Micros max_received_ = 0;
  DedupEntry last_;  // all zero before the first entry
};

class DedupBlockReader {
 public:
  explicit DedupBlockReader(std::string_view block) : block_(block) {}

  // Reads the next entry into `*entry`: false at the end of the block, or at
  // corrupt bytes (then status() is a DataLossError saying where).
  bool Next(DedupEntry* entry);
  const absl::Status& status() const { return status_; }

 private:
  bool Fail(std::string_view what, size_t at);

  std::string_view block_;
  size_t pos_ = 0;
  size_t index_ = 0;
  DedupEntry last_;
  absl::Status status_;
};

}  // namespace tally

#endif  // TALLY_STORE_CODEC_H_
