#include "analytics/event_file.h"

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "analytics/export_writer.h"
#include "store/codec.h"

namespace tally {
namespace {

constexpr std::string_view kFingerprintKey = ",\"fingerprint\":\"";
constexpr std::string_view kEffectsKey = "\",\"effects\":\"";

std::string_view TrimWhitespace(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

void AppendArchiveLine(uint64_t seq, const EventRecord& record, std::string& out) {
  AppendEventJson(seq, record, out);
  out.pop_back();  // the object's closing '}'
  out += kFingerprintKey;
  out += std::to_string(record.fingerprint);
  out += kEffectsKey;
  AppendEffects(record.effects, &out);
  out += "\"}\n";
}

absl::StatusOr<EventRow> ParseEventLine(std::string_view line) {
  line = TrimWhitespace(line);
  EventRow row;
  std::string_view object = line;
  uint64_t fingerprint = 0;
  std::string_view effects;
  // The archive fields, taken off the end: ,"fingerprint":"N","effects":"E"}
  if (line.ends_with("\"}")) {
    const std::string_view body = line.substr(0, line.size() - 2);
    const size_t quote = body.rfind('"');
    if (quote != std::string_view::npos && quote + 1 >= kEffectsKey.size() &&
        body.substr(quote + 1 - kEffectsKey.size(), kEffectsKey.size()) == kEffectsKey) {
      const size_t effects_key = quote + 1 - kEffectsKey.size();
      const size_t fp_key = body.rfind(kFingerprintKey, effects_key);
      if (fp_key != std::string_view::npos) {
        const std::string_view digits =
            body.substr(fp_key + kFingerprintKey.size(), effects_key - fp_key - kFingerprintKey.size());
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), fingerprint);
        if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
          return absl::InvalidArgumentError("fingerprint: must be a decimal 64-bit integer");
        }
        effects = body.substr(quote + 1);
        object = line.substr(0, fp_key);
        row.exact = true;
      }
    }
  }
  std::string json;
  if (row.exact) {
    json.reserve(object.size() + 1);
    json.append(object);
    json += '}';
    object = json;
  }
  absl::StatusOr<std::pair<uint64_t, EventRecord>> parsed = ParseEventJson(object);
  if (!parsed.ok()) return parsed.status();
  row.seq = parsed->first;
  row.record = std::move(parsed->second);
  if (row.exact) {
    row.record.fingerprint = fingerprint;
    if (absl::Status s = DecodeEffectsInto(effects, &row.record.effects); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("effects: ", s.message()));
    }
  }
  return row;
}

std::optional<EventFileFormat> EventFileFormatOf(const std::string& path) {
  std::string_view name = path;
  if (name.ends_with(".zst")) name.remove_suffix(4);
  if (name.ends_with(".ndjson") || name.ends_with(".jsonl")) return EventFileFormat::kNdjson;
  if (name.ends_with(".json")) return EventFileFormat::kJsonArray;
  if (name.ends_with(".csv")) return EventFileFormat::kCsv;
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<EventFileReader>> EventFileReader::Open(const std::string& path) {
  std::optional<EventFileFormat> format = EventFileFormatOf(path);
  if (!format) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": unknown file type (expected .ndjson, .jsonl, .json or .csv, optionally .zst)"));
  }
  absl::StatusOr<std::unique_ptr<LineReader>> lines = LineReader::Open(path);
  if (!lines.ok()) return lines.status();
  return std::unique_ptr<EventFileReader>(new EventFileReader(path, *format, std::move(*lines)));
}

absl::Status EventFileReader::RowError(uint64_t line, std::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(path_, ":", line, ": ", std::string(message)));
}

absl::StatusOr<bool> EventFileReader::Next(EventRow& row) {
  return format_ == EventFileFormat::kCsv ? NextCsv(row) : NextJson(row);
}

absl::StatusOr<bool> EventFileReader::NextJson(EventRow& row) {
  for (;;) {
    absl::StatusOr<bool> more = lines_->Next(line_);
    if (!more.ok()) return more.status();
    if (!*more) {
      if (format_ == EventFileFormat::kJsonArray && !ended_) {
        return RowError(lines_->line_number(), started_ ? "the JSON array is not closed (missing \"]\")"
                                                        : "empty file (expected a JSON array)");
      }
      return false;
    }
    std::string_view text = TrimWhitespace(line_);
    if (format_ == EventFileFormat::kJsonArray) {
      if (ended_) {
        if (text.empty()) continue;
        return RowError(lines_->line_number(), "text after the end of the JSON array");
      }
      if (!started_) {
        if (text.empty()) continue;
        if (!text.starts_with('[')) return RowError(lines_->line_number(), "expected a JSON array ('[')");
        started_ = true;
        text = TrimWhitespace(text.substr(1));
      }
      if (text.ends_with(']')) {
        ended_ = true;
        text = TrimWhitespace(text.substr(0, text.size() - 1));
      }
      if (text.ends_with(',')) text = TrimWhitespace(text.substr(0, text.size() - 1));
    }
    if (text.empty()) continue;
    absl::StatusOr<EventRow> parsed = ParseEventLine(text);
    if (!parsed.ok()) {
      if (format_ == EventFileFormat::kJsonArray && text.find("},") != std::string_view::npos) {
        return RowError(lines_->line_number(),
                        absl::StrCat(std::string(parsed.status().message()),
                                     " (tally reads JSON arrays with one event per line, as "
                                     "`tally export` writes them)"));
      }
      return RowError(lines_->line_number(), std::string(parsed.status().message()));
    }
    row = std::move(*parsed);
    return true;
  }
}

absl::StatusOr<bool> EventFileReader::NextCsv(EventRow& row) {
  std::string record;
  uint64_t first_line = 0;
  size_t quotes = 0;
  for (;;) {
    absl::StatusOr<bool> more = lines_->Next(line_);
    if (!more.ok()) return more.status();
    if (!*more) {
      if (!record.empty()) return RowError(first_line, "unterminated quoted field");
      if (!started_) return RowError(0, "empty file (expected the header line)");
      return false;
    }
    if (record.empty()) {
      if (line_.empty()) continue;
      first_line = lines_->line_number();
    } else {
      record += '\n';
      if (record.size() > kMaxLineBytes) return RowError(first_line, "record too long");
    }
    record += line_;
    for (char c : line_) quotes += c == '"';
    if (quotes % 2 == 0) break;  // every quoted field is closed
  }
  if (!started_) {
    started_ = true;
    if (record != kEventCsvHeader) {
      return RowError(first_line, absl::StrCat("expected the header \"", std::string(kEventCsvHeader), "\""));
    }
    return NextCsv(row);
  }
  size_t pos = 0;
  absl::StatusOr<std::vector<std::string>> fields = ParseCsvRecord(record, &pos);
  if (!fields.ok()) return RowError(first_line, std::string(fields.status().message()));
  absl::StatusOr<std::pair<uint64_t, EventRecord>> parsed = ParseEventCsv(*fields);
  if (!parsed.ok()) return RowError(first_line, std::string(parsed.status().message()));
  row.seq = parsed->first;
  row.record = std::move(parsed->second);
  row.exact = false;
  return true;
}

}  // namespace tally
