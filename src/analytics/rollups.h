// Rollups: the event log summed per subject × type × UTC hour (every meter,
// events, errors by code) and per type × endpoint × hour (events, errors, a
// latency sketch of processing_ms), kept in memory so that history and
// analytics over any number of events answer in milliseconds.
//
// The store keeps them (Rollups is its RollupSink, store/store.h): it folds
// every event it commits, in its transaction, persists the changed cells with
// the seq they reflect, and on open loads the cells and folds the events
// written after them. So a series always equals a recomputation from the raw
// events — late events land in their own hour — and a restart loses nothing.
//
// Meters are summed by their aggregation: sum and count add, max keeps the
// largest, latest the value of the latest event (by event time, then seq),
// unique_count the set of distinct values (so that unions over hours and
// subjects stay exact). The meters are those configured when the cells were
// folded; a persisted cell's meters are matched by name on load.
//
// Hour cells are UTC hours: day, week and month series are sums of whole hours
// (analytics/buckets.h explains the flooring in zones with half-hour offsets).
//
// Thread-safety: every method may be called from any thread. Subjects are
// spread over kShards shards, each guarded by its own mutex; the system-wide
// hours, the endpoint cells and the type names have a mutex each. A method
// holds at most one of them at a time, except Fold and Load, which take a
// shard and then system_mu_ / endpoints_mu_ (in that order).
#ifndef TALLY_ANALYTICS_ROLLUPS_H_
#define TALLY_ANALYTICS_ROLLUPS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "analytics/sketch.h"
#include "core/meter.h"
#include "store/store.h"

namespace tally {

// Usage summed over some span of hours.
struct Usage {
  int64_t events = 0;
  int64_t errors = 0;            // events with a context.error_code
  std::vector<int64_t> meters;   // by index into Rollups::meters()
  friend bool operator==(const Usage&, const Usage&) = default;
};

// One bucket of a series: [start, end).
struct Bucket {
  Micros start = 0;
  Micros end = 0;
  Usage usage;
};

// The row families the store persists (RollupRow::family).
enum class RollupFamily : uint8_t { kSubject = 0, kEndpoint = 1 };

// Performance of one type × endpoint over a span.
struct EndpointUsage {
  std::string type;
  std::string endpoint;  // as reported in context.endpoint; "" when none
  int64_t events = 0;
  int64_t errors = 0;
  LatencySketch latency;  // of the events that reported processing_ms
};

struct RollupStats {
  uint64_t subjects = 0;
  uint64_t cells = 0;           // subject × type × hour cells
  uint64_t endpoint_cells = 0;  // type × endpoint × hour cells
  uint64_t folded = 0;          // events folded since start (not loaded cells)
};

class Rollups final : public RollupSink {
 public:
  static constexpr int kShards = 64;
  // Distinct type × endpoint pairs tracked; later ones are summed under
  // endpoint "(other)" (endpoints come from clients and could be unbounded).
  static constexpr size_t kMaxEndpoints = 1000;

  explicit Rollups(std::vector<Meter> meters);
  ~Rollups() override;
  Rollups(const Rollups&) = delete;
  Rollups& operator=(const Rollups&) = delete;

  const std::vector<Meter>& meters() const { return meters_; }
  // The index of the meter named `name`, or -1.
  int MeterIndex(std::string_view name) const;

  // --- RollupSink ---
  void Fold(uint64_t seq, const EventRecord& record) override;
  void TakeDirty(std::vector<RollupRow>& out) override;
  absl::Status Load(const RollupRow& row) override;

  // --- Queries ---
  // `boundaries` b[0] < b[1] < ... < b[n] (whole UTC hours; see
  // analytics/buckets.h) give n buckets; `type` empty means every type.
  std::vector<Bucket> SubjectSeries(const std::string& subject,
                                    std::span<const Micros> boundaries,
                                    const std::string& type = "") const;
  // Every subject together. unique_count meters: distinct per subject, summed.
  std::vector<Bucket> SystemSeries(std::span<const Micros> boundaries) const;
  // Each subject's usage over the hours in [from, to) (whole hours: an hour
  // counts when it starts in the span); subjects without events there are left
  // out. In no particular order.
  std::vector<std::pair<std::string, Usage>> SubjectTotals(Micros from, Micros to,
                                                           const std::string& type = "") const;
  // The error codes of the hours in [from, to), most frequent first, of one
  // subject or (empty) of everyone.
  std::vector<std::pair<std::string, int64_t>> ErrorCodes(Micros from, Micros to,
                                                          const std::string& subject = "") const;
  // How many subjects have events in the hours in [from, to).
  int64_t CountActiveSubjects(Micros from, Micros to) const;
  // Distinct subjects with events in each hour of [from, to) (index 0 = the
  // hour containing `from`).
  std::vector<int64_t> ActiveSubjectsPerHour(Micros from, Micros to) const;
  // Per type × endpoint over the hours in [from, to), most events first.
  std::vector<EndpointUsage> Endpoints(Micros from, Micros to) const;
  // The types seen, in first-seen order.
  std::vector<std::string> Types() const;
  // The subjects with any cell, in id order, those with `prefix` only.
  std::vector<std::string> Subjects(const std::string& prefix = "") const;
  RollupStats Stats() const;
  // Events folded per second over the ten whole seconds before `now`, by
  // the time tally received them.
  double EventsPerSecond(Micros now) const;

 private:
  struct Cell;
  struct CellExtras;
  struct SubjectCells;
  struct Shard;
  struct SystemHour;
  struct EndpointCell;
  class Accumulator;

  using EndpointKey = std::tuple<int32_t, uint32_t, uint32_t>;  // hour, type, endpoint

  // The type's id, interned on first sight.
  uint32_t TypeId(const std::string& type);
  // The type's id if known.
  std::optional<uint32_t> FindType(const std::string& type) const;
  // The id of a type × endpoint, given on first sight; with `capped`, past
  // kMaxEndpoints ids a new one maps to "(other)".
  uint32_t EndpointId(uint32_t type, const std::string& endpoint, bool capped);
  Shard& ShardOf(const std::string& subject) const;
  // Adds `cell` (with its meter values) to the system-wide hour.
  void AddToSystem(const Cell& cell, const int64_t* values, bool new_subject_hour);

  const std::vector<Meter> meters_;
  const size_t stride_;  // meters_.size()

  std::array<std::unique_ptr<Shard>, kShards> shards_;

  // Guards type_names_ and type_ids_.
  mutable std::shared_mutex types_mu_;
  std::vector<std::string> type_names_ ABSL_GUARDED_BY(types_mu_);
  absl::flat_hash_map<std::string, uint32_t> type_ids_ ABSL_GUARDED_BY(types_mu_);

  // Guards system_ (hour -> everyone's usage in it).
  mutable std::mutex system_mu_;
  std::map<int32_t, std::unique_ptr<SystemHour>> system_ ABSL_GUARDED_BY(system_mu_);

  // Guards everything endpoint.
  mutable std::mutex endpoints_mu_;
  std::vector<std::pair<uint32_t, std::string>> endpoint_names_
      ABSL_GUARDED_BY(endpoints_mu_);  // id -> (type, endpoint)
  std::map<std::pair<uint32_t, std::string>, uint32_t> endpoint_ids_
      ABSL_GUARDED_BY(endpoints_mu_);
  std::map<EndpointKey, std::unique_ptr<EndpointCell>> endpoint_cells_
      ABSL_GUARDED_BY(endpoints_mu_);
  std::vector<EndpointKey> dirty_endpoints_ ABSL_GUARDED_BY(endpoints_mu_);

  std::atomic<uint64_t> folded_{0};
  // Fold's memo of the last type and endpoint it looked up (only the thread
  // that folds touches them: type and endpoint ids never change once given).
  bool fold_type_valid_ = false;
  std::string fold_type_name_;
  uint32_t fold_type_id_ = 0;
  bool fold_endpoint_valid_ = false;
  uint32_t fold_endpoint_type_ = 0;
  std::string fold_endpoint_name_;
  uint32_t fold_endpoint_id_ = 0;
  // ... and the last system hour and endpoint cell it added to (cells are
  // never freed, so the pointers stay valid; read under their mutexes).
  SubjectCells* fold_subject_ = nullptr;  // used under fold_shard_->mu
  std::string fold_subject_name_;
  Shard* fold_shard_ = nullptr;
  SystemHour* fold_system_ = nullptr;
  int32_t fold_system_hour_ = 0;
  EndpointCell* fold_endpoint_cell_ = nullptr;
  EndpointKey fold_endpoint_key_{};
  // Events folded per received second, a ring of the last kRecentSeconds:
  // written by Fold (one thread), read by EventsPerSecond.
  static constexpr int kRecentSeconds = 64;
  std::array<std::atomic<int64_t>, kRecentSeconds> second_of_slot_{};
  std::array<std::atomic<int64_t>, kRecentSeconds> events_in_slot_{};
};

}  // namespace tally

#endif  // TALLY_ANALYTICS_ROLLUPS_H_
