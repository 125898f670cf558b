#include "analytics/exporter.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "analytics/buckets.h"
#include "core/period.h"

namespace tally {
namespace {

absl::Status Bad(std::string_view param, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(param), ": ", problem));
}

Granularity GranularityOf(ExportKind kind) {
  switch (kind) {
    case ExportKind::kHourly:
      return Granularity::kHour;
    case ExportKind::kDaily:
      return Granularity::kDay;
    default:
      return Granularity::kMonth;
  }
}

// The longest a bucket of `kind` can be, for sizing chunks and ranges.
Micros LongestBucket(ExportKind kind) {
  switch (kind) {
    case ExportKind::kHourly:
      return kMicrosPerHour;
    case ExportKind::kDaily:
      return 25 * kMicrosPerHour;
    default:
      return 31 * kMicrosPerDay + kMicrosPerHour;
  }
}

// Collects rows into a buffer and hands it to `emit` every kExportChunkBytes.
class Chunker {
 public:
  explicit Chunker(const ExportEmit& emit) : emit_(emit) { buffer_.reserve(kExportChunkBytes + 8192); }
  std::string& buffer() { return buffer_; }
  // Emits when the buffer is full (or `force`); false once emit said stop.
  bool Flush(uint64_t rows, bool force) {
    if (buffer_.size() < kExportChunkBytes && !(force && !buffer_.empty())) return true;
    if (!emit_(std::move(buffer_), rows)) return false;
    buffer_ = std::string();
    buffer_.reserve(kExportChunkBytes + 8192);
    return true;
  }

 private:
  const ExportEmit& emit_;
  std::string buffer_;
};

absl::Status ExportEvents(const ExportRequest& req, const ExportSources& src, const ExportEmit& emit) {
  std::vector<const Meter*> filter;
  for (const std::string& name : req.meters) {
    for (const Meter& m : src.meters) {
      if (m.name == name) filter.push_back(&m);
    }
  }
  ExportWriter writer(req.format, req.kind);
  Chunker out(emit);
  writer.Begin(out.buffer());
  EventQuery query;
  query.from = req.from;
  query.to = req.to;
  query.subject = req.subject;
  query.type = req.type;
  bool stopped = false;
  // An empty chunk asks the reader whether it is still there: a filter that
  // matches nothing for a long stretch still notices a reader gone.
  query.keep_going = [&] {
    if (emit(std::string(), writer.rows())) return true;
    stopped = true;
    return false;
  };
  absl::Status status = src.store->ScanEvents(query, [&](uint64_t seq, const EventRecord& record) {
    if (!filter.empty() &&
        std::none_of(filter.begin(), filter.end(), [&](const Meter* m) { return m->Applies(record.event); })) {
      return true;
    }
    writer.AddEvent(seq, record, out.buffer());
    if (!out.Flush(writer.rows(), false)) {
      stopped = true;
      return false;
    }
    return true;
  });
  if (!status.ok()) return status;
  if (stopped) return absl::CancelledError("export stopped by its reader");
  writer.End(out.buffer());
  if (!out.Flush(writer.rows(), true)) return absl::CancelledError("export stopped by its reader");
  return absl::OkStatus();
}

absl::Status ExportUsage(const ExportRequest& req, const ExportSources& src, const ExportEmit& emit) {
  if (src.rollups == nullptr) {
    return absl::UnavailableError("usage exports need the rollups, which this server does not keep");
  }
  const Rollups& rollups = *src.rollups;
  std::vector<MeterColumn> columns;
  for (const Meter& m : rollups.meters()) {
    if (!req.meters.empty() && std::find(req.meters.begin(), req.meters.end(), m.name) == req.meters.end()) {
      continue;
    }
    columns.push_back(MeterColumn{m.name, static_cast<size_t>(rollups.MeterIndex(m.name))});
  }
  std::vector<std::string> types;
  if (req.type.empty()) {
    types = rollups.Types();
    std::sort(types.begin(), types.end());
  } else {
    types.push_back(req.type);
  }
  const std::vector<std::string> subjects =
      req.subject.empty() ? rollups.Subjects() : std::vector<std::string>{req.subject};
  const Granularity granularity = GranularityOf(req.kind);
  // Buckets per chunk: at most ~64K series entries held at once.
  const int64_t chunk_buckets =
      std::max<int64_t>(24, 65536 / static_cast<int64_t>(std::max<size_t>(types.size(), 1)));
  const Micros chunk_span = chunk_buckets * LongestBucket(req.kind);
  std::map<std::string, absl::TimeZone> zones;

  ExportWriter writer(req.format, req.kind, std::move(columns));
  Chunker out(emit);
  writer.Begin(out.buffer());
  std::vector<std::vector<Bucket>> by_type(types.size());
  for (const std::string& subject : subjects) {
    if (!emit(std::string(), writer.rows())) return absl::CancelledError("export stopped by its reader");
    absl::TimeZone zone = absl::UTCTimeZone();
    if (granularity != Granularity::kHour) {
      const std::string name = req.tz.empty() && src.timezone_of ? src.timezone_of(subject) : req.tz;
      auto it = zones.find(name);
      if (it == zones.end()) {
        it = zones.emplace(name, LoadZone(name).value_or(absl::UTCTimeZone())).first;
      }
      zone = it->second;
    }
    Micros cursor = req.from;
    while (cursor < req.to) {
      const Micros chunk_to = req.to - cursor > chunk_span ? cursor + chunk_span : req.to;
      absl::StatusOr<std::vector<Micros>> bounds = BucketBoundaries(
          granularity, zone, cursor, chunk_to, static_cast<size_t>(2 * chunk_buckets + 8));
      if (!bounds.ok()) return bounds.status();
      if (bounds->back() <= cursor) break;  // cannot happen; never loop forever
      cursor = bounds->back();
      const std::vector<Bucket> all = rollups.SubjectSeries(subject, *bounds);
      if (std::all_of(all.begin(), all.end(), [](const Bucket& b) { return b.usage.events == 0; })) continue;
      for (size_t t = 0; t < types.size(); ++t) by_type[t] = rollups.SubjectSeries(subject, *bounds, types[t]);
      for (size_t b = 0; b < all.size(); ++b) {
        if (all[b].usage.events == 0) continue;
        for (size_t t = 0; t < types.size(); ++t) {
          if (by_type[t][b].usage.events == 0) continue;
          writer.AddUsage(subject, types[t], by_type[t][b], out.buffer());
        }
        if (!out.Flush(writer.rows(), false)) return absl::CancelledError("export stopped by its reader");
      }
    }
  }
  writer.End(out.buffer());
  if (!out.Flush(writer.rows(), true)) return absl::CancelledError("export stopped by its reader");
  return absl::OkStatus();
}

std::string DateOf(Micros t) {
  const std::string s = FormatRfc3339(t);
  if (s.size() < 10) return "";
  return absl::StrCat(s.substr(0, 4), s.substr(5, 2), s.substr(8, 2));
}

}  // namespace

absl::Status ParseMeterList(std::string_view text, const std::vector<Meter>& meters,
                            std::vector<std::string>* out) {
  out->clear();
  while (true) {
    const size_t comma = text.find(',');
    const std::string name(text.substr(0, comma));
    if (name.empty()) return Bad("meter", "must be meter names separated by commas, e.g. chars,tokens");
    if (std::none_of(meters.begin(), meters.end(), [&](const Meter& m) { return m.name == name; })) {
      std::string known;
      for (const Meter& m : meters) absl::StrAppend(&known, known.empty() ? "" : ", ", m.name);
      return Bad("meter", absl::StrCat("\"", name.substr(0, 64), "\" is not a meter; the meters are ", known));
    }
    if (std::find(out->begin(), out->end(), name) != out->end()) {
      return Bad("meter", absl::StrCat("\"", name, "\" is given twice"));
    }
    out->push_back(name);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return absl::OkStatus();
}

absl::Status ValidateExportRequest(ExportRequest& req, const std::vector<Meter>& meters, Micros now) {
  for (const std::string& name : req.meters) {
    if (std::none_of(meters.begin(), meters.end(), [&](const Meter& m) { return m.name == name; })) {
      return Bad("meter", absl::StrCat("\"", name.substr(0, 64), "\" is not a meter"));
    }
  }
  if (!req.tz.empty() && !LoadZone(req.tz)) {
    return Bad("tz", absl::StrCat("\"", req.tz.substr(0, 64),
                                  "\" is not a known IANA time zone (such as Europe/Paris or UTC)"));
  }
  if (req.from != kBeginningOfTime && req.to != kEndOfTime && req.from >= req.to) {
    return Bad("from", "must be before to");
  }
  if (req.kind == ExportKind::kEvents) return absl::OkStatus();
  if (req.to == kEndOfTime) {
    if (req.from != kBeginningOfTime && req.from >= now) {
      return Bad("from", "is in the future; give a to after it");
    }
    req.to = now;
  }
  if (req.from == kBeginningOfTime) {
    const int64_t days = req.kind == ExportKind::kHourly ? 31 : req.kind == ExportKind::kDaily ? 366 : 5 * 366;
    req.from = req.to - days * kMicrosPerDay;
  }
  // Bucket arithmetic happens in civil time: keep to years 1..9999.
  constexpr Micros kYear1 = -62135596800LL * kMicrosPerSecond;
  constexpr Micros kYear10000 = 253402300800LL * kMicrosPerSecond;
  if (req.from < kYear1) return Bad("from", "must be in the years 0001 to 9999");
  if (req.to > kYear10000) return Bad("to", "must be in the years 0001 to 9999");
  const Micros shortest = req.kind == ExportKind::kHourly  ? kMicrosPerHour
                          : req.kind == ExportKind::kDaily ? 23 * kMicrosPerHour
                                                           : 28 * kMicrosPerDay;
  if ((req.to - req.from) / shortest > kMaxExportBuckets) {
    return Bad("to", absl::StrCat("the range holds more than ", kMaxExportBuckets, " ",
                                  std::string(ExportKindName(req.kind)), " buckets; narrow it"));
  }
  return absl::OkStatus();
}

absl::Status RunExport(const ExportRequest& request, const ExportSources& sources, const ExportEmit& emit) {
  if (request.kind == ExportKind::kEvents) return ExportEvents(request, sources, emit);
  return ExportUsage(request, sources, emit);
}

std::string ExportFileName(const ExportRequest& request) {
  std::string name = absl::StrCat("tally-", std::string(ExportKindName(request.kind)));
  if (request.from != kBeginningOfTime) absl::StrAppend(&name, "-", DateOf(request.from));
  if (request.to != kEndOfTime) absl::StrAppend(&name, request.from == kBeginningOfTime ? "-until-" : "-", DateOf(request.to));
  absl::StrAppend(&name, ".", std::string(ExportFormatName(request.format)));
  return name;
}

}  // namespace tally
