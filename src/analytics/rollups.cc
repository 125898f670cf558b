#include "analytics/rollups.h"

#include <algorithm>
#include <atomic>

#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "core/varint.h"

namespace tally {
namespace {

constexpr char kCellVersion = 1;
constexpr char kEndpointVersion = 1;
constexpr std::string_view kOtherEndpoint = "(other)";

int32_t HourOf(Micros t) {
  Micros h = t / kMicrosPerHour;
  if (t % kMicrosPerHour < 0) --h;  // floor for instants before 1970
  return static_cast<int32_t>(h);
}

// The first hour that starts at or after `t` (an hour counts in [from, to)
// when it starts there).
int32_t FirstHourFrom(Micros t) {
  if (t == kBeginningOfTime) return std::numeric_limits<int32_t>::min();
  if (t >= static_cast<Micros>(std::numeric_limits<int32_t>::max()) * kMicrosPerHour) {
    return std::numeric_limits<int32_t>::max();
  }
  const int32_t h = HourOf(t);
  return static_cast<Micros>(h) * kMicrosPerHour == t ? h : h + 1;
}

}  // namespace

// The latest event of a `latest` meter within a cell: by event time, then seq.
struct LatestMark {
  Micros time = kBeginningOfTime;
  uint64_t seq = 0;
  bool Before(Micros t, uint64_t s) const { return time < t || (time == t && seq < s); }
};

// What most cells do without: error codes, latest marks, unique value sets.
struct Rollups::CellExtras {
  std::vector<std::pair<std::string, int64_t>> error_codes;
  std::vector<LatestMark> latest;               // by meter; empty if no latest meter
  std::vector<std::vector<uint64_t>> uniques;   // by meter, sorted; empty if none
};

struct Rollups::Cell {
  int32_t hour = 0;
  uint32_t type = 0;
  bool dirty = false;
  int64_t events = 0;
  int64_t errors = 0;
  std::unique_ptr<CellExtras> extras;

  bool operator<(const std::pair<int32_t, uint32_t>& key) const {
    return std::pair(hour, type) < key;
  }
};

// One subject's cells, sorted by (hour, type); values_ holds stride_ meter
// values per cell, in the same order.
struct Rollups::SubjectCells {
  std::vector<Cell> cells;
  std::vector<int64_t> values;
  std::vector<std::pair<int32_t, uint32_t>> dirty;  // keys of cells with `dirty` set
};

struct Rollups::Shard {
  // Guards everything below.
  mutable std::mutex mu;
  absl::flat_hash_map<std::string, std::unique_ptr<SubjectCells>> subjects ABSL_GUARDED_BY(mu);
  std::vector<std::string> dirty_subjects ABSL_GUARDED_BY(mu);
};

struct Rollups::SystemHour {
  int64_t events = 0;
  int64_t errors = 0;
  int64_t active_subjects = 0;
  std::vector<int64_t> values;
  std::vector<LatestMark> latest;
  std::vector<std::pair<std::string, int64_t>> error_codes;
};

struct Rollups::EndpointCell {
  int64_t events = 0;
  int64_t errors = 0;
  LatencySketch latency;
  bool dirty = false;
};

// Sums cells into a Usage by each meter's aggregation.
class Rollups::Accumulator {
 public:
  explicit Accumulator(const std::vector<Meter>& meters)
      : meters_(meters), values_(meters.size(), 0), latest_(meters.size()) {
    for (size_t m = 0; m < meters.size(); ++m) {
      const Aggregation a = meters[m].aggregation;
      if (a == Aggregation::kUniqueCount && uniques_.empty()) uniques_.resize(meters.size());
      simple_ &= a == Aggregation::kSum || a == Aggregation::kCount;
    }
  }

  void Add(const Cell& cell, const int64_t* values) {
    events_ += cell.events;
    errors_ += cell.errors;
    if (simple_) {  // only sums and counts: the common case, kept tight
      for (size_t m = 0; m < values_.size(); ++m) {
        if (__builtin_add_overflow(values_[m], values[m], &values_[m])) {
          values_[m] = std::numeric_limits<int64_t>::max();
        }
      }
      return;
    }
    for (size_t m = 0; m < meters_.size(); ++m) {
      switch (meters_[m].aggregation) {
        case Aggregation::kSum:
        case Aggregation::kCount:
          values_[m] = SaturatingAdd(values_[m], values[m]);
          break;
        case Aggregation::kMax:
          values_[m] = std::max(values_[m], values[m]);
          break;
        case Aggregation::kLatest:
          if (cell.extras && !cell.extras->latest.empty()) {
            const LatestMark& mark = cell.extras->latest[m];
            if (latest_[m].Before(mark.time, mark.seq) && mark.time != kBeginningOfTime) {
              latest_[m] = mark;
              values_[m] = values[m];
            }
          }
          break;
        case Aggregation::kUniqueCount:
          if (cell.extras && !cell.extras->uniques.empty()) {
            uniques_[m].insert(cell.extras->uniques[m].begin(), cell.extras->uniques[m].end());
          }
          break;
      }
    }
  }

  // Adds another accumulator's finished usage of a different subject
  // (unique_count: distinct per subject, summed).
  void AddUsage(const Usage& u) {
    events_ += u.events;
    errors_ += u.errors;
    for (size_t m = 0; m < meters_.size(); ++m) {
      if (meters_[m].aggregation == Aggregation::kMax) {
        values_[m] = std::max(values_[m], u.meters[m]);
      } else {
        values_[m] = SaturatingAdd(values_[m], u.meters[m]);
      }
    }
  }

  bool empty() const { return events_ == 0; }

  Usage Finish() {
    Usage u;
    u.events = events_;
    u.errors = errors_;
    u.meters = values_;
    for (size_t m = 0; m < uniques_.size(); ++m) {
      if (meters_[m].aggregation == Aggregation::kUniqueCount) {
        u.meters[m] = static_cast<int64_t>(uniques_[m].size());
      }
    }
    return u;
  }

 private:
  static int64_t SaturatingAdd(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return std::numeric_limits<int64_t>::max();
    return r;
  }

  const std::vector<Meter>& meters_;
  bool simple_ = true;  // every meter is a sum or a count
  int64_t events_ = 0;
  int64_t errors_ = 0;
  std::vector<int64_t> values_;
  std::vector<LatestMark> latest_;
  std::vector<absl::flat_hash_set<uint64_t>> uniques_;
};

Rollups::Rollups(std::vector<Meter> meters)
    : meters_(std::move(meters)), stride_(meters_.size()) {
  for (auto& shard : shards_) shard = std::make_unique<Shard>();
}

Rollups::~Rollups() = default;

int Rollups::MeterIndex(std::string_view name) const {
  for (size_t m = 0; m < meters_.size(); ++m) {
    if (meters_[m].name == name) return static_cast<int>(m);
  }
  return -1;
}

uint32_t Rollups::TypeId(const std::string& type) {
  {
    std::shared_lock<std::shared_mutex> lock(types_mu_);
    auto it = type_ids_.find(type);
    if (it != type_ids_.end()) return it->second;
  }
  std::unique_lock<std::shared_mutex> lock(types_mu_);
  auto [it, inserted] = type_ids_.try_emplace(type, static_cast<uint32_t>(type_names_.size()));
  if (inserted) type_names_.push_back(type);
  return it->second;
}

std::optional<uint32_t> Rollups::FindType(const std::string& type) const {
  std::shared_lock<std::shared_mutex> lock(types_mu_);
  auto it = type_ids_.find(type);
  if (it == type_ids_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Rollups::Types() const {
  std::shared_lock<std::shared_mutex> lock(types_mu_);
  return type_names_;
}

uint32_t Rollups::EndpointId(uint32_t type, const std::string& endpoint, bool capped) {
  // REQUIRES endpoints_mu_ (called from Fold and Load under it).
  auto key = std::pair(type, endpoint);
  auto it = endpoint_ids_.find(key);
  if (it != endpoint_ids_.end()) return it->second;
  if (capped && endpoint_names_.size() >= kMaxEndpoints) {
    key.second = std::string(kOtherEndpoint);
    it = endpoint_ids_.find(key);
    if (it != endpoint_ids_.end()) return it->second;
  }
  const auto id = static_cast<uint32_t>(endpoint_names_.size());
  endpoint_names_.push_back(key);
  endpoint_ids_.emplace(std::move(key), id);
  return id;
}

Rollups::Shard& Rollups::ShardOf(const std::string& subject) const {
  return *shards_[StableHash(subject) % kShards];
}

namespace {

void AddErrorCode(std::vector<std::pair<std::string, int64_t>>& codes, const std::string& code,
                  int64_t n) {
  for (auto& [c, count] : codes) {
    if (c == code) {
      count += n;
      return;
    }
  }
  codes.emplace_back(code, n);
}

}  // namespace

void Rollups::Fold(uint64_t seq, const EventRecord& record) {
  const Event& e = record.event;
  // Events come in runs of one type: skip the shared lock and the lookup.
  if (!fold_type_valid_ || e.type != fold_type_name_) {
    fold_type_id_ = TypeId(e.type);
    fold_type_name_ = e.type;
    fold_type_valid_ = true;
  }
  const uint32_t type = fold_type_id_;
  const int32_t hour = HourOf(e.time);
  const bool error = !e.context.error_code.empty();
  folded_.fetch_add(1, std::memory_order_relaxed);
  {
    const int64_t second = record.received / kMicrosPerSecond;
    const size_t slot = static_cast<size_t>(second % kRecentSeconds + kRecentSeconds) % kRecentSeconds;
    if (second_of_slot_[slot].load(std::memory_order_relaxed) != second) {
      events_in_slot_[slot].store(0, std::memory_order_relaxed);
      second_of_slot_[slot].store(second, std::memory_order_relaxed);
    }
    events_in_slot_[slot].fetch_add(1, std::memory_order_relaxed);
  }

  const bool same_subject = fold_subject_ != nullptr && e.subject == fold_subject_name_;
  Shard& shard = same_subject ? *fold_shard_ : ShardOf(e.subject);
  std::unique_lock<std::mutex> lock(shard.mu);
  if (!same_subject) {
    auto [sit, new_subject] = shard.subjects.try_emplace(e.subject);
    if (new_subject) sit->second = std::make_unique<SubjectCells>();
    fold_subject_ = sit->second.get();
    fold_subject_name_ = e.subject;
    fold_shard_ = &shard;
  }
  SubjectCells& s = *fold_subject_;
  const auto key = std::pair(hour, type);
  size_t i = s.cells.size();
  if (i == 0 || std::pair(s.cells.back().hour, s.cells.back().type) != key) {
    i = std::lower_bound(s.cells.begin(), s.cells.end(), key) - s.cells.begin();
  } else {
    --i;
  }
  bool new_subject_hour = false;
  if (i == s.cells.size() || std::pair(s.cells[i].hour, s.cells[i].type) != key) {
    new_subject_hour = !(i > 0 && s.cells[i - 1].hour == hour) &&
                       !(i < s.cells.size() && s.cells[i].hour == hour);
    Cell cell;
    cell.hour = hour;
    cell.type = type;
    s.cells.insert(s.cells.begin() + static_cast<ptrdiff_t>(i), std::move(cell));
    s.values.insert(s.values.begin() + static_cast<ptrdiff_t>(i * stride_), stride_, 0);
  }
  Cell& cell = s.cells[i];
  int64_t* values = s.values.data() + i * stride_;
  if (!cell.dirty) {
    if (s.dirty.empty()) shard.dirty_subjects.push_back(e.subject);
    cell.dirty = true;
    s.dirty.push_back(key);
  }
  // What this one event adds, as a one-event cell, for the system-wide hour.
  Cell delta;
  delta.hour = hour;
  delta.type = type;
  delta.events = 1;
  delta.errors = error ? 1 : 0;
  absl::InlinedVector<int64_t, 8> delta_values(stride_, 0);

  cell.events += 1;
  cell.errors += delta.errors;
  if (error) {
    if (!cell.extras) cell.extras = std::make_unique<CellExtras>();
    AddErrorCode(cell.extras->error_codes, e.context.error_code, 1);
  }
  for (size_t m = 0; m < stride_; ++m) {
    const Meter& meter = meters_[m];
    if (!meter.Applies(e)) continue;
    const uint64_t input = meter.InputOf(e);
    switch (meter.aggregation) {
      case Aggregation::kSum:
      case Aggregation::kCount: {
        const auto v = static_cast<int64_t>(input);
        if (__builtin_add_overflow(values[m], v, &values[m])) {
          values[m] = std::numeric_limits<int64_t>::max();
        }
        delta_values[m] = v;
        break;
      }
      case Aggregation::kMax:
        values[m] = std::max(values[m], static_cast<int64_t>(input));
        delta_values[m] = static_cast<int64_t>(input);
        break;
      case Aggregation::kLatest: {
        if (!cell.extras) cell.extras = std::make_unique<CellExtras>();
        auto& latest = cell.extras->latest;
        if (latest.empty()) latest.resize(stride_);
        if (latest[m].Before(e.time, seq)) {
          latest[m] = LatestMark{e.time, seq};
          values[m] = static_cast<int64_t>(input);
        }
        delta_values[m] = static_cast<int64_t>(input);
        break;
      }
      case Aggregation::kUniqueCount: {
        if (!cell.extras) cell.extras = std::make_unique<CellExtras>();
        auto& uniques = cell.extras->uniques;
        if (uniques.empty()) uniques.resize(stride_);
        auto& set = uniques[m];
        auto it = std::lower_bound(set.begin(), set.end(), input);
        if (it == set.end() || *it != input) {
          set.insert(it, input);
          values[m] = static_cast<int64_t>(set.size());
        }
        break;
      }
    }
  }
  lock.unlock();

  {
    std::lock_guard<std::mutex> system_lock(system_mu_);
    if (fold_system_ == nullptr || fold_system_hour_ != hour) {
      auto& slot = system_[hour];
      if (!slot) {
        slot = std::make_unique<SystemHour>();
        slot->values.assign(stride_, 0);
      }
      fold_system_ = slot.get();
      fold_system_hour_ = hour;
    }
    SystemHour& h = *fold_system_;
    h.events += 1;
    h.errors += delta.errors;
    h.active_subjects += new_subject_hour ? 1 : 0;
    if (error) AddErrorCode(h.error_codes, e.context.error_code, 1);
    for (size_t m = 0; m < stride_; ++m) {
      switch (meters_[m].aggregation) {
        case Aggregation::kSum:
        case Aggregation::kCount:
          if (__builtin_add_overflow(h.values[m], delta_values[m], &h.values[m])) {
            h.values[m] = std::numeric_limits<int64_t>::max();
          }
          break;
        case Aggregation::kMax:
          h.values[m] = std::max(h.values[m], delta_values[m]);
          break;
        case Aggregation::kLatest:
          if (meters_[m].Applies(e)) {
            if (h.latest.empty()) h.latest.resize(stride_);
            if (h.latest[m].Before(e.time, seq)) {
              h.latest[m] = LatestMark{e.time, seq};
              h.values[m] = delta_values[m];
            }
          }
          break;
        case Aggregation::kUniqueCount:
          break;  // summed per subject at query time
      }
    }
  }

  {
    std::lock_guard<std::mutex> endpoint_lock(endpoints_mu_);
    if (!fold_endpoint_valid_ || type != fold_endpoint_type_ ||
        e.context.endpoint != fold_endpoint_name_) {
      fold_endpoint_id_ = EndpointId(type, e.context.endpoint, /*capped=*/true);
      fold_endpoint_type_ = type;
      fold_endpoint_name_ = e.context.endpoint;
      fold_endpoint_valid_ = true;
    }
    const EndpointKey ekey{hour, type, fold_endpoint_id_};
    if (fold_endpoint_cell_ == nullptr || fold_endpoint_key_ != ekey) {
      auto& slot = endpoint_cells_[ekey];
      if (!slot) slot = std::make_unique<EndpointCell>();
      fold_endpoint_cell_ = slot.get();
      fold_endpoint_key_ = ekey;
    }
    EndpointCell& c = *fold_endpoint_cell_;
    c.events += 1;
    c.errors += delta.errors;
    if (e.context.processing_ms >= 0) c.latency.Add(e.context.processing_ms);
    if (!c.dirty) {
      c.dirty = true;
      dirty_endpoints_.push_back(ekey);
    }
  }
}


// --- Persistence ---------------------------------------------------------
//
// Subject cell: version, events, errors, meters:[name value latest?(time seq)
// uniques:[hash delta]], error_codes:[code count]. Endpoint cell: version,
// events, errors, sketch.

namespace {

constexpr uint64_t kHasLatest = 1;

}  // namespace

void Rollups::TakeDirty(std::vector<RollupRow>& out) {
  std::vector<std::string> type_names = Types();
  for (auto& shard_ptr : shards_) {
    Shard& shard = *shard_ptr;
    std::lock_guard<std::mutex> lock(shard.mu);
    for (const std::string& subject : shard.dirty_subjects) {
      auto sit = shard.subjects.find(subject);
      if (sit == shard.subjects.end()) continue;
      SubjectCells& s = *sit->second;
      for (const auto& key : s.dirty) {
        auto it = std::lower_bound(s.cells.begin(), s.cells.end(), key);
        if (it == s.cells.end() || std::pair(it->hour, it->type) != key || !it->dirty) continue;
        Cell& cell = *it;
        cell.dirty = false;
        const int64_t* values = s.values.data() + (it - s.cells.begin()) * stride_;
        VarintWriter w;
        w.Raw(std::string_view(&kCellVersion, 1));
        w.S(cell.events);
        w.S(cell.errors);
        w.U(stride_);
        for (size_t m = 0; m < stride_; ++m) {
          w.Str(meters_[m].name);
          w.S(values[m]);
          const bool latest = cell.extras && !cell.extras->latest.empty() &&
                              meters_[m].aggregation == Aggregation::kLatest;
          w.U(latest ? kHasLatest : 0);
          if (latest) {
            w.S(cell.extras->latest[m].time);
            w.U(cell.extras->latest[m].seq);
          }
          const std::vector<uint64_t>* set =
              cell.extras && !cell.extras->uniques.empty() ? &cell.extras->uniques[m] : nullptr;
          w.U(set ? set->size() : 0);
          if (set) {
            uint64_t prev = 0;
            for (uint64_t h : *set) {
              w.U(h - prev);
              prev = h;
            }
          }
        }
        const auto* codes = cell.extras ? &cell.extras->error_codes : nullptr;
        w.U(codes ? codes->size() : 0);
        if (codes) {
          for (const auto& [code, n] : *codes) {
            w.Str(code);
            w.S(n);
          }
        }
        out.push_back(RollupRow{.family = static_cast<uint8_t>(RollupFamily::kSubject),
                                .key = subject,
                                .type = type_names[cell.type],
                                .hour = cell.hour,
                                .cell = w.Take()});
      }
      s.dirty.clear();
    }
    shard.dirty_subjects.clear();
  }

  std::lock_guard<std::mutex> lock(endpoints_mu_);
  for (const EndpointKey& key : dirty_endpoints_) {
    auto it = endpoint_cells_.find(key);
    if (it == endpoint_cells_.end() || !it->second->dirty) continue;
    EndpointCell& c = *it->second;
    c.dirty = false;
    VarintWriter w;
    w.Raw(std::string_view(&kEndpointVersion, 1));
    w.S(c.events);
    w.S(c.errors);
    w.Str(c.latency.Encode());
    const auto& [hour, type, endpoint] = key;
    out.push_back(RollupRow{.family = static_cast<uint8_t>(RollupFamily::kEndpoint),
                            .key = endpoint_names_[endpoint].second,
                            .type = type_names[type],
                            .hour = hour,
                            .cell = w.Take()});
  }
  dirty_endpoints_.clear();
}

absl::Status Rollups::Load(const RollupRow& row) {
  auto corrupt = [&row](std::string_view what) {
    return absl::DataLossError(absl::StrCat("rollup cell of ", row.key, " (", row.type,
                                            ", hour ", row.hour, ") is corrupt: ", std::string(what)));
  };
  if (row.hour < std::numeric_limits<int32_t>::min() ||
      row.hour > std::numeric_limits<int32_t>::max()) {
    return corrupt("hour out of range");
  }
  const auto hour = static_cast<int32_t>(row.hour);
  const uint32_t type = TypeId(row.type);
  VarintReader r(row.cell);
  if (row.family == static_cast<uint8_t>(RollupFamily::kEndpoint)) {
    if (!r.Expect(std::string_view(&kEndpointVersion, 1))) return corrupt("unknown version");
    EndpointCell c;
    c.events = r.S();
    c.errors = r.S();
    std::optional<LatencySketch> sketch = LatencySketch::Decode(r.Str());
    if (!r.ok() || !r.AtEnd() || !sketch) return corrupt("truncated");
    c.latency = *std::move(sketch);
    std::lock_guard<std::mutex> lock(endpoints_mu_);
    // Every persisted row keeps its own id, over the cap too: folding it into
    // "(other)" would write its counts a second time under that key.
    const uint32_t endpoint = EndpointId(type, row.key, /*capped=*/false);
    auto& slot = endpoint_cells_[EndpointKey{hour, type, endpoint}];
    if (!slot) slot = std::make_unique<EndpointCell>();
    slot->events += c.events;
    slot->errors += c.errors;
    slot->latency.Merge(c.latency);
    return absl::OkStatus();
  }
  if (row.family != static_cast<uint8_t>(RollupFamily::kSubject)) {
    return corrupt("unknown family");
  }
  if (!r.Expect(std::string_view(&kCellVersion, 1))) return corrupt("unknown version");
  Cell cell;
  cell.hour = hour;
  cell.type = type;
  cell.events = r.S();
  cell.errors = r.S();
  std::vector<int64_t> values(stride_, 0);
  const uint64_t n = r.Count();
  for (uint64_t k = 0; k < n && r.ok(); ++k) {
    const std::string name = r.Str();
    const int64_t value = r.S();
    const uint64_t flags = r.U();
    LatestMark mark;
    if (flags & kHasLatest) {
      mark.time = r.S();
      mark.seq = r.U();
    }
    std::vector<uint64_t> set(r.Count());
    uint64_t prev = 0;
    for (uint64_t& h : set) h = prev += r.U();
    const int m = MeterIndex(name);
    if (m < 0) continue;  // a meter no longer configured
    values[m] = value;
    if (flags & kHasLatest) {
      if (!cell.extras) cell.extras = std::make_unique<CellExtras>();
      if (cell.extras->latest.empty()) cell.extras->latest.resize(stride_);
      cell.extras->latest[m] = mark;
    }
    if (!set.empty()) {
      if (!cell.extras) cell.extras = std::make_unique<CellExtras>();
      if (cell.extras->uniques.empty()) cell.extras->uniques.resize(stride_);
      cell.extras->uniques[m] = std::move(set);
    }
  }
  const uint64_t codes = r.Count();
  for (uint64_t k = 0; k < codes && r.ok(); ++k) {
    std::string code = r.Str();
    const int64_t count = r.S();
    if (!cell.extras) cell.extras = std::make_unique<CellExtras>();
    cell.extras->error_codes.emplace_back(std::move(code), count);
  }
  if (!r.ok() || !r.AtEnd()) return corrupt("truncated");

  Shard& shard = ShardOf(row.key);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto [sit, inserted] = shard.subjects.try_emplace(row.key);
  if (inserted) sit->second = std::make_unique<SubjectCells>();
  SubjectCells& s = *sit->second;
  const auto key = std::pair(hour, type);
  auto it = std::lower_bound(s.cells.begin(), s.cells.end(), key);
  if (it != s.cells.end() && std::pair(it->hour, it->type) == key) {
    return corrupt("loaded twice");
  }
  const size_t i = it - s.cells.begin();
  const bool new_subject_hour = !(i > 0 && s.cells[i - 1].hour == hour) &&
                                !(i < s.cells.size() && s.cells[i].hour == hour);
  AddToSystem(cell, values.data(), new_subject_hour);
  s.cells.insert(s.cells.begin() + static_cast<ptrdiff_t>(i), std::move(cell));
  s.values.insert(s.values.begin() + static_cast<ptrdiff_t>(i * stride_), values.begin(),
                  values.end());
  return absl::OkStatus();
}

void Rollups::AddToSystem(const Cell& cell, const int64_t* values, bool new_subject_hour) {
  std::lock_guard<std::mutex> lock(system_mu_);
  auto& slot = system_[cell.hour];
  if (!slot) {
    slot = std::make_unique<SystemHour>();
    slot->values.assign(stride_, 0);
  }
  SystemHour& h = *slot;
  h.events += cell.events;
  h.errors += cell.errors;
  h.active_subjects += new_subject_hour ? 1 : 0;
  if (cell.extras) {
    for (const auto& [code, n] : cell.extras->error_codes) AddErrorCode(h.error_codes, code, n);
  }
  for (size_t m = 0; m < stride_; ++m) {
    switch (meters_[m].aggregation) {
      case Aggregation::kSum:
      case Aggregation::kCount:
        if (__builtin_add_overflow(h.values[m], values[m], &h.values[m])) {
          h.values[m] = std::numeric_limits<int64_t>::max();
        }
        break;
      case Aggregation::kMax:
        h.values[m] = std::max(h.values[m], values[m]);
        break;
      case Aggregation::kLatest:
        if (cell.extras && !cell.extras->latest.empty() &&
            cell.extras->latest[m].time != kBeginningOfTime) {
          if (h.latest.empty()) h.latest.resize(stride_);
          const LatestMark& mark = cell.extras->latest[m];
          if (h.latest[m].Before(mark.time, mark.seq)) {
            h.latest[m] = mark;
            h.values[m] = values[m];
          }
        }
        break;
      case Aggregation::kUniqueCount:
        break;
    }
  }
}

// --- Queries -------------------------------------------------------------

std::vector<Bucket> Rollups::SubjectSeries(const std::string& subject,
                                           std::span<const Micros> boundaries,
                                           const std::string& type) const {
  std::vector<Bucket> out;
  if (boundaries.size() < 2) return out;
  out.reserve(boundaries.size() - 1);
  for (size_t b = 0; b + 1 < boundaries.size(); ++b) {
    out.push_back(Bucket{boundaries[b], boundaries[b + 1], Usage{0, 0, std::vector<int64_t>(stride_, 0)}});
  }
  std::optional<uint32_t> type_id;
  if (!type.empty()) {
    type_id = FindType(type);
    if (!type_id) return out;
  }
  Shard& shard = ShardOf(subject);
  std::lock_guard<std::mutex> lock(shard.mu);
  auto sit = shard.subjects.find(subject);
  if (sit == shard.subjects.end()) return out;
  const SubjectCells& s = *sit->second;
  auto it = std::lower_bound(s.cells.begin(), s.cells.end(),
                             std::pair(FirstHourFrom(boundaries.front()), uint32_t{0}));
  for (Bucket& bucket : out) {
    const int32_t end_hour = FirstHourFrom(bucket.end);
    Accumulator acc(meters_);
    for (; it != s.cells.end() && it->hour < end_hour; ++it) {
      if (type_id && it->type != *type_id) continue;
      acc.Add(*it, s.values.data() + (it - s.cells.begin()) * stride_);
    }
    if (!acc.empty()) bucket.usage = acc.Finish();
  }
  return out;
}

std::vector<Bucket> Rollups::SystemSeries(std::span<const Micros> boundaries) const {
  std::vector<Bucket> out;
  if (boundaries.size() < 2) return out;
  for (size_t b = 0; b + 1 < boundaries.size(); ++b) {
    Usage usage{0, 0, std::vector<int64_t>(stride_, 0)};
    for (size_t m = 0; m < stride_; ++m) {
      if (meters_[m].aggregation == Aggregation::kUniqueCount) usage.meters[m] = -1;
    }
    out.push_back(Bucket{boundaries[b], boundaries[b + 1], std::move(usage)});
  }
  std::lock_guard<std::mutex> lock(system_mu_);
  auto it = system_.lower_bound(FirstHourFrom(boundaries.front()));
  for (Bucket& bucket : out) {
    const int32_t end_hour = FirstHourFrom(bucket.end);
    std::vector<LatestMark> latest(stride_);
    for (; it != system_.end() && it->first < end_hour; ++it) {
      const SystemHour& h = *it->second;
      Usage& u = bucket.usage;
      u.events += h.events;
      u.errors += h.errors;
      for (size_t m = 0; m < stride_; ++m) {
        switch (meters_[m].aggregation) {
          case Aggregation::kSum:
          case Aggregation::kCount:
            if (__builtin_add_overflow(u.meters[m], h.values[m], &u.meters[m])) {
              u.meters[m] = std::numeric_limits<int64_t>::max();
            }
            break;
          case Aggregation::kMax:
            u.meters[m] = std::max(u.meters[m], h.values[m]);
            break;
          case Aggregation::kLatest:
            if (!h.latest.empty() && latest[m].Before(h.latest[m].time, h.latest[m].seq) &&
                h.latest[m].time != kBeginningOfTime) {
              latest[m] = h.latest[m];
              u.meters[m] = h.values[m];
            }
            break;
          case Aggregation::kUniqueCount:
            break;
        }
      }
    }
  }
  return out;
}

std::vector<std::pair<std::string, Usage>> Rollups::SubjectTotals(Micros from, Micros to,
                                                                  const std::string& type) const {
  std::vector<std::pair<std::string, Usage>> out;
  std::optional<uint32_t> type_id;
  if (!type.empty()) {
    type_id = FindType(type);
    if (!type_id) return out;
  }
  const int32_t first = FirstHourFrom(from);
  const int32_t last = FirstHourFrom(to);
  for (const auto& shard_ptr : shards_) {
    const Shard& shard = *shard_ptr;
    std::lock_guard<std::mutex> lock(shard.mu);
    for (const auto& [subject, cells] : shard.subjects) {
      const SubjectCells& s = *cells;
      auto it = std::lower_bound(s.cells.begin(), s.cells.end(), std::pair(first, uint32_t{0}));
      if (it == s.cells.end() || it->hour >= last) continue;
      Accumulator acc(meters_);
      for (; it != s.cells.end() && it->hour < last; ++it) {
        if (type_id && it->type != *type_id) continue;
        acc.Add(*it, s.values.data() + (it - s.cells.begin()) * stride_);
      }
      if (!acc.empty()) out.emplace_back(subject, acc.Finish());
    }
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> Rollups::ErrorCodes(
    Micros from, Micros to, const std::string& subject) const {
  const int32_t first = FirstHourFrom(from);
  const int32_t last = FirstHourFrom(to);
  std::vector<std::pair<std::string, int64_t>> codes;
  if (subject.empty()) {
    std::lock_guard<std::mutex> lock(system_mu_);
    for (auto it = system_.lower_bound(first); it != system_.end() && it->first < last; ++it) {
      for (const auto& [code, n] : it->second->error_codes) AddErrorCode(codes, code, n);
    }
  } else {
    Shard& shard = ShardOf(subject);
    std::lock_guard<std::mutex> lock(shard.mu);
    auto sit = shard.subjects.find(subject);
    if (sit != shard.subjects.end()) {
      const SubjectCells& s = *sit->second;
      for (auto it = std::lower_bound(s.cells.begin(), s.cells.end(), std::pair(first, uint32_t{0}));
           it != s.cells.end() && it->hour < last; ++it) {
        if (!it->extras) continue;
        for (const auto& [code, n] : it->extras->error_codes) AddErrorCode(codes, code, n);
      }
    }
  }
  std::sort(codes.begin(), codes.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return codes;
}

int64_t Rollups::CountActiveSubjects(Micros from, Micros to) const {
  const int32_t first = FirstHourFrom(from);
  const int32_t last = FirstHourFrom(to);
  int64_t active = 0;
  for (const auto& shard_ptr : shards_) {
    std::lock_guard<std::mutex> lock(shard_ptr->mu);
    for (const auto& [subject, s] : shard_ptr->subjects) {
      auto it = std::lower_bound(s->cells.begin(), s->cells.end(), std::pair(first, uint32_t{0}));
      active += it != s->cells.end() && it->hour < last;
    }
  }
  return active;
}

std::vector<int64_t> Rollups::ActiveSubjectsPerHour(Micros from, Micros to) const {
  const int32_t first = HourOf(from);
  const int32_t last = FirstHourFrom(to);
  std::vector<int64_t> out(last > first ? static_cast<size_t>(last - first) : 0, 0);
  std::lock_guard<std::mutex> lock(system_mu_);
  for (auto it = system_.lower_bound(first); it != system_.end() && it->first < last; ++it) {
    out[it->first - first] = it->second->active_subjects;
  }
  return out;
}

std::vector<EndpointUsage> Rollups::Endpoints(Micros from, Micros to) const {
  const int32_t first = FirstHourFrom(from);
  const int32_t last = FirstHourFrom(to);
  std::map<uint32_t, EndpointUsage> by_endpoint;
  std::lock_guard<std::mutex> lock(endpoints_mu_);
  // After the lock: every endpoint's type was interned before its cell was
  // added (Fold and Load intern the type first), so the copy covers them.
  const std::vector<std::string> type_names = Types();
  for (auto it = endpoint_cells_.lower_bound(EndpointKey{first, 0, 0});
       it != endpoint_cells_.end() && std::get<0>(it->first) < last; ++it) {
    const uint32_t id = std::get<2>(it->first);
    EndpointUsage& u = by_endpoint[id];
    if (u.events == 0 && u.type.empty()) {
      u.type = type_names[endpoint_names_[id].first];
      u.endpoint = endpoint_names_[id].second;
    }
    u.events += it->second->events;
    u.errors += it->second->errors;
    u.latency.Merge(it->second->latency);
  }
  std::vector<EndpointUsage> out;
  out.reserve(by_endpoint.size());
  for (auto& [id, u] : by_endpoint) out.push_back(std::move(u));
  std::sort(out.begin(), out.end(), [](const EndpointUsage& a, const EndpointUsage& b) {
    return a.events != b.events ? a.events > b.events
                                : std::tie(a.type, a.endpoint) < std::tie(b.type, b.endpoint);
  });
  return out;
}

std::vector<std::string> Rollups::Subjects(const std::string& prefix) const {
  std::vector<std::string> out;
  for (const auto& shard_ptr : shards_) {
    std::lock_guard<std::mutex> lock(shard_ptr->mu);
    for (const auto& [subject, s] : shard_ptr->subjects) {
      if (subject.starts_with(prefix)) out.push_back(subject);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

double Rollups::EventsPerSecond(Micros now) const {
  constexpr int kSpan = 10;
  const int64_t current = now / kMicrosPerSecond;
  int64_t events = 0;
  for (int64_t second = current - kSpan; second < current; ++second) {
    const size_t slot = static_cast<size_t>(second % kRecentSeconds + kRecentSeconds) % kRecentSeconds;
    if (second_of_slot_[slot].load(std::memory_order_relaxed) == second) {
      events += events_in_slot_[slot].load(std::memory_order_relaxed);
    }
  }
  return static_cast<double>(events) / kSpan;
}

RollupStats Rollups::Stats() const {
  RollupStats stats;
  for (const auto& shard_ptr : shards_) {
    std::lock_guard<std::mutex> lock(shard_ptr->mu);
    stats.subjects += shard_ptr->subjects.size();
    for (const auto& [subject, s] : shard_ptr->subjects) stats.cells += s->cells.size();
  }
  {
    std::lock_guard<std::mutex> lock(endpoints_mu_);
    stats.endpoint_cells = endpoint_cells_.size();
  }
  stats.folded = folded_.load(std::memory_order_relaxed);
  return stats;
}

}  // namespace tally
