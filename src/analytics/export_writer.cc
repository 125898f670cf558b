#include "analytics/export_writer.h"

#include <array>
#include <charconv>
#include <cstring>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "core/time.h"

namespace tally {
namespace {

namespace json = boost::json;

// Byte classes for the hand-written escaping (the hot path of an export).
constexpr std::array<bool, 256> MakeTable(bool json) {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = json;
  if (json) {
    t['"'] = t['\\'] = true;
  } else {
    t[','] = t['"'] = t['\r'] = t['\n'] = true;
  }
  return t;
}
constexpr std::array<bool, 256> kJsonEscape = MakeTable(true);
constexpr std::array<bool, 256> kCsvQuote = MakeTable(false);

void AppendInt(int64_t v, std::string& out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

void AppendUint(uint64_t v, std::string& out) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}


// ,"key":"value" (the comma unless first).
void JsonKey(std::string_view key, bool& first, std::string& out) {
  if (!first) out += ',';
  first = false;
  out += '"';
  out.append(key);
  out += "\":";
}

void JsonStringMember(std::string_view key, std::string_view value, bool& first, std::string& out) {
  if (value.empty()) return;
  JsonKey(key, first, out);
  AppendJsonQuoted(value, out);
}

absl::Status Bad(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", std::string(problem)));
}

std::optional<EventRecord::Origin> ParseOrigin(std::string_view name) {
  if (name == "track") return EventRecord::Origin::kTrack;
  if (name == "consume") return EventRecord::Origin::kConsume;
  if (name == "commit") return EventRecord::Origin::kCommit;
  return std::nullopt;
}

absl::StatusOr<Micros> ParseTimeField(std::string_view field, std::string_view text) {
  std::optional<Micros> t = ParseRfc3339(text);
  if (!t) return Bad(field, "must be an RFC 3339 time such as 2026-03-08T07:00:00Z");
  return *t;
}

// A whole decimal number in [0, max].
template <typename T>
bool ParseDecimal(std::string_view text, T& value) {
  if (text.empty()) return false;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && value >= 0;
}

// --- JSON decoding ---

absl::StatusOr<std::string> JsonString(const json::value& v, std::string_view field) {
  if (!v.is_string()) return Bad(field, "must be a string");
  return std::string(v.get_string());
}

absl::StatusOr<int64_t> JsonNonNegative(const json::value& v, std::string_view field) {
  if (!v.is_int64() || v.get_int64() < 0) return Bad(field, "must be a non-negative integer");
  return v.get_int64();
}

absl::Status DecodeContext(const json::object& o, EventContext& c) {
  for (const auto& member : o) {
    const std::string_view key = member.key();
    const std::string field = absl::StrCat("context.", std::string(key));
    if (member.value().is_null()) continue;
    std::string* text = nullptr;
    if (key == "session_id") text = &c.session_id;
    else if (key == "ip") text = &c.ip;
    else if (key == "user_agent") text = &c.user_agent;
    else if (key == "endpoint") text = &c.endpoint;
    else if (key == "method") text = &c.method;
    else if (key == "error_code") text = &c.error_code;
    if (text != nullptr) {
      absl::StatusOr<std::string> s = JsonString(member.value(), field);
      if (!s.ok()) return s.status();
      *text = *std::move(s);
    } else if (key == "processing_ms") {
      absl::StatusOr<int64_t> v = JsonNonNegative(member.value(), field);
      if (!v.ok()) return v.status();
      c.processing_ms = *v;
    } else {
      return Bad(field, "unknown field");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<uint64_t, EventRecord>> DecodeEventObject(const json::object& o) {
  std::pair<uint64_t, EventRecord> out;
  EventRecord& r = out.second;
  bool has_time = false;
  for (const auto& member : o) {
    const std::string_view key = member.key();
    const json::value& v = member.value();
    if (v.is_null()) continue;
    std::string* text = nullptr;
    if (key == "id") text = &r.event.id;
    else if (key == "subject") text = &r.event.subject;
    else if (key == "org") text = &r.org;
    else if (key == "type") text = &r.event.type;
    else if (key == "reservation_id") text = &r.reservation_id;
    if (text != nullptr) {
      absl::StatusOr<std::string> s = JsonString(v, key);
      if (!s.ok()) return s.status();
      *text = *std::move(s);
    } else if (key == "seq") {
      if (v.is_uint64()) {
        out.first = v.get_uint64();
      } else if (v.is_int64() && v.get_int64() >= 0) {
        out.first = static_cast<uint64_t>(v.get_int64());
      } else {
        return Bad("seq", "must be a non-negative integer");
      }
    } else if (key == "time" || key == "received") {
      absl::StatusOr<std::string> s = JsonString(v, key);
      if (!s.ok()) return s.status();
      absl::StatusOr<Micros> t = ParseTimeField(key, *s);
      if (!t.ok()) return t.status();
      (key == "time" ? r.event.time : r.received) = *t;
      if (key == "time") has_time = true;
    } else if (key == "origin") {
      std::optional<EventRecord::Origin> origin;
      if (v.is_string()) origin = ParseOrigin(v.get_string());
      if (!origin) return Bad("origin", "must be \"track\", \"consume\" or \"commit\"");
      r.origin = *origin;
    } else if (key == "data") {
      if (!v.is_object()) return Bad("data", "must be an object");
      for (const auto& d : v.get_object()) {
        absl::StatusOr<int64_t> n = JsonNonNegative(d.value(), absl::StrCat("data.", std::string(d.key())));
        if (!n.ok()) return n.status();
        r.event.data.emplace_back(std::string(d.key()), *n);
      }
    } else if (key == "context") {
      if (!v.is_object()) return Bad("context", "must be an object");
      if (absl::Status s = DecodeContext(v.get_object(), r.event.context); !s.ok()) return s;
    } else {
      return Bad(key.size() <= 64 ? key : key.substr(0, 64), "unknown field");
    }
  }
  if (r.event.id.empty()) return Bad("id", "is required");
  if (r.event.subject.empty()) return Bad("subject", "is required");
  if (r.event.type.empty()) return Bad("type", "is required");
  if (!has_time) return Bad("time", "is required");
  return out;
}

}  // namespace

std::optional<ExportFormat> ParseExportFormat(std::string_view name) {
  if (name == "csv") return ExportFormat::kCsv;
  if (name == "json") return ExportFormat::kJson;
  if (name == "ndjson") return ExportFormat::kNdjson;
  return std::nullopt;
}

std::string_view ExportFormatName(ExportFormat format) {
  switch (format) {
    case ExportFormat::kCsv:
      return "csv";
    case ExportFormat::kJson:
      return "json";
    case ExportFormat::kNdjson:
      return "ndjson";
  }
  return "";
}

std::optional<ExportKind> ParseExportKind(std::string_view name) {
  if (name == "events") return ExportKind::kEvents;
  if (name == "hourly") return ExportKind::kHourly;
  if (name == "daily") return ExportKind::kDaily;
  if (name == "monthly") return ExportKind::kMonthly;
  return std::nullopt;
}

std::string_view ExportKindName(ExportKind kind) {
  switch (kind) {
    case ExportKind::kEvents:
      return "events";
    case ExportKind::kHourly:
      return "hourly";
    case ExportKind::kDaily:
      return "daily";
    case ExportKind::kMonthly:
      return "monthly";
  }
  return "";
}

std::string_view ExportContentType(ExportFormat format) {
  switch (format) {
    case ExportFormat::kCsv:
      return "text/csv; charset=utf-8";
    case ExportFormat::kJson:
      return "application/json";
    case ExportFormat::kNdjson:
      return "application/x-ndjson";
  }
  return "application/octet-stream";
}

std::string_view OriginName(EventRecord::Origin origin) {
  switch (origin) {
    case EventRecord::Origin::kTrack:
      return "track";
    case EventRecord::Origin::kConsume:
      return "consume";
    case EventRecord::Origin::kCommit:
      return "commit";
  }
  return "track";
}

void AppendJsonQuoted(std::string_view s, std::string& out) {
  out += '"';
  size_t run = 0;  // start of the bytes not yet appended
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!kJsonEscape[c]) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        constexpr char kHex[] = "0123456789abcdef";
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(esc, sizeof(esc));
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void AppendCsvField(std::string_view field, std::string& out) {
  bool quote = false;
  for (const char c : field) {
    if (kCsvQuote[static_cast<unsigned char>(c)]) {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out.append(field);
    return;
  }
  out += '"';
  size_t run = 0;
  for (size_t q = field.find('"'); q != std::string_view::npos; q = field.find('"', q + 1)) {
    out.append(field.data() + run, q + 1 - run);  // through the quote, then double it
    out += '"';
    run = q + 1;
  }
  out.append(field.data() + run, field.size() - run);
  out += '"';
}

void AppendEventJson(uint64_t seq, const EventRecord& r, std::string& out) {
  const Event& e = r.event;
  out += "{\"seq\":";
  AppendUint(seq, out);
  bool first = false;
  JsonKey("id", first, out);
  AppendJsonQuoted(e.id, out);
  JsonKey("subject", first, out);
  AppendJsonQuoted(e.subject, out);
  JsonStringMember("org", r.org, first, out);
  JsonKey("type", first, out);
  AppendJsonQuoted(e.type, out);
  out += ",\"time\":\"";
  AppendRfc3339(e.time, out);
  out += "\",\"received\":\"";
  AppendRfc3339(r.received, out);
  out += "\",\"origin\":\"";
  out.append(OriginName(r.origin));
  out += '"';
  JsonStringMember("reservation_id", r.reservation_id, first, out);
  out += ",\"data\":{";
  bool first_datum = true;
  for (const auto& [key, value] : e.data) {
    // Keys the API accepts need no escaping, but restored or imported rows
    // are not checked as strictly: quote them properly.
    if (!first_datum) out += ',';
    first_datum = false;
    AppendJsonQuoted(key, out);
    out += ':';
    AppendInt(value, out);
  }
  out += '}';
  const EventContext& c = e.context;
  if (!c.session_id.empty() || !c.ip.empty() || !c.user_agent.empty() || !c.endpoint.empty() ||
      !c.method.empty() || c.processing_ms >= 0 || !c.error_code.empty()) {
    out += ",\"context\":{";
    bool first_field = true;
    JsonStringMember("session_id", c.session_id, first_field, out);
    JsonStringMember("ip", c.ip, first_field, out);
    JsonStringMember("user_agent", c.user_agent, first_field, out);
    JsonStringMember("endpoint", c.endpoint, first_field, out);
    JsonStringMember("method", c.method, first_field, out);
    if (c.processing_ms >= 0) {
      JsonKey("processing_ms", first_field, out);
      AppendInt(c.processing_ms, out);
    }
    JsonStringMember("error_code", c.error_code, first_field, out);
    out += '}';
  }
  out += '}';
}

absl::StatusOr<std::pair<uint64_t, EventRecord>> ParseEventJson(std::string_view line) {
  json::monotonic_resource arena;
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 4;
  json::value v = json::parse(line, ec, &arena, options);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", ec.message()));
  if (!v.is_object()) return absl::InvalidArgumentError("an event must be a JSON object");
  return DecodeEventObject(v.get_object());
}

void AppendEventCsv(uint64_t seq, const EventRecord& r, std::string& out) {
  const Event& e = r.event;
  const EventContext& c = e.context;
  AppendUint(seq, out);
  out += ',';
  AppendCsvField(e.id, out);
  out += ',';
  AppendCsvField(e.subject, out);
  out += ',';
  AppendCsvField(r.org, out);
  out += ',';
  AppendCsvField(e.type, out);
  out += ',';
  AppendRfc3339(e.time, out);
  out += ',';
  AppendRfc3339(r.received, out);
  out += ',';
  out.append(OriginName(r.origin));
  out += ',';
  AppendCsvField(r.reservation_id, out);
  out += ',';
  for (size_t i = 0; i < e.data.size(); ++i) {
    if (i > 0) out += ';';
    out.append(e.data[i].first);
    out += '=';
    AppendInt(e.data[i].second, out);
  }
  out += ',';
  AppendCsvField(c.session_id, out);
  out += ',';
  AppendCsvField(c.ip, out);
  out += ',';
  AppendCsvField(c.user_agent, out);
  out += ',';
  AppendCsvField(c.endpoint, out);
  out += ',';
  AppendCsvField(c.method, out);
  out += ',';
  if (c.processing_ms >= 0) AppendInt(c.processing_ms, out);
  out += ',';
  AppendCsvField(c.error_code, out);
  out += "\r\n";
}

absl::StatusOr<std::vector<std::string>> ParseCsvRecord(std::string_view text, size_t* pos) {
  std::vector<std::string> fields;
  size_t i = *pos;
  const size_t n = text.size();
  while (true) {
    std::string field;
    if (i < n && text[i] == '"') {
      ++i;
      while (true) {
        const size_t q = text.find('"', i);
        if (q == std::string_view::npos) {
          return absl::InvalidArgumentError(
              absl::StrCat("csv: field ", fields.size() + 1, " has no closing quote"));
        }
        field.append(text.data() + i, q - i);
        i = q + 1;
        if (i < n && text[i] == '"') {  // a doubled quote
          field += '"';
          ++i;
          continue;
        }
        break;
      }
      if (i < n && text[i] != ',' && text[i] != '\n' && !(text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')) {
        return absl::InvalidArgumentError(
            absl::StrCat("csv: field ", fields.size() + 1, " has text after its closing quote"));
      }
    } else {
      size_t end = text.find_first_of(",\n\"", i);
      if (end == std::string_view::npos) end = n;
      if (end < n && text[end] == '"') {
        return absl::InvalidArgumentError(absl::StrCat(
            "csv: field ", fields.size() + 1, " has a quote but does not start with one"));
      }
      size_t stop = end;
      if (end < n && text[end] == '\n' && stop > i && text[stop - 1] == '\r') --stop;
      field.assign(text.data() + i, stop - i);
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= n) break;
    if (text[i] == ',') {
      ++i;
      continue;
    }
    if (text[i] == '\r') ++i;  // CRLF after a quoted field
    ++i;                       // the LF
    break;
  }
  *pos = i;
  return fields;
}

absl::StatusOr<std::pair<uint64_t, EventRecord>> ParseEventCsv(const std::vector<std::string>& f) {
  constexpr size_t kFields = 17;
  if (f.size() != kFields) {
    return absl::InvalidArgumentError(
        absl::StrCat("csv: a record has ", f.size(), " fields; expected ", kFields, " (", std::string(kEventCsvHeader), ")"));
  }
  std::pair<uint64_t, EventRecord> out;
  EventRecord& r = out.second;
  Event& e = r.event;
  if (!f[0].empty() && !ParseDecimal(f[0], out.first)) return Bad("seq", "must be a non-negative integer");
  e.id = f[1];
  e.subject = f[2];
  r.org = f[3];
  e.type = f[4];
  if (e.id.empty()) return Bad("id", "is required");
  if (e.subject.empty()) return Bad("subject", "is required");
  if (e.type.empty()) return Bad("type", "is required");
  absl::StatusOr<Micros> time = ParseTimeField("time", f[5]);
  if (!time.ok()) return time.status();
  e.time = *time;
  if (!f[6].empty()) {
    absl::StatusOr<Micros> received = ParseTimeField("received", f[6]);
    if (!received.ok()) return received.status();
    r.received = *received;
  }
  if (!f[7].empty()) {
    std::optional<EventRecord::Origin> origin = ParseOrigin(f[7]);
    if (!origin) return Bad("origin", "must be track, consume or commit");
    r.origin = *origin;
  }
  r.reservation_id = f[8];
  std::string_view data = f[9];
  while (!data.empty()) {
    const size_t semi = data.find(';');
    const std::string_view item = data.substr(0, semi);
    const size_t eq = item.find('=');
    int64_t value = 0;
    if (eq == std::string_view::npos || eq == 0 || !ParseDecimal(item.substr(eq + 1), value)) {
      return Bad("data", "must be key=value items separated by ';', e.g. chars=523;tokens=10");
    }
    e.data.emplace_back(std::string(item.substr(0, eq)), value);
    if (semi == std::string_view::npos) break;
    data.remove_prefix(semi + 1);
  }
  EventContext& c = e.context;
  c.session_id = f[10];
  c.ip = f[11];
  c.user_agent = f[12];
  c.endpoint = f[13];
  c.method = f[14];
  if (!f[15].empty() && !ParseDecimal(f[15], c.processing_ms)) {
    return Bad("processing_ms", "must be a non-negative integer");
  }
  c.error_code = f[16];
  return out;
}

ExportWriter::ExportWriter(ExportFormat format, ExportKind kind, std::vector<MeterColumn> meters)
    : format_(format), kind_(kind), meters_(std::move(meters)) {}

void ExportWriter::Begin(std::string& out) {
  switch (format_) {
    case ExportFormat::kCsv:
      if (kind_ == ExportKind::kEvents) {
        out.append(kEventCsvHeader);
      } else {
        out += "subject,type,start,end,events,errors";
        for (const MeterColumn& m : meters_) {
          out += ',';
          AppendCsvField(m.name, out);
        }
      }
      out += "\r\n";
      break;
    case ExportFormat::kJson:
      out += '[';
      break;
    case ExportFormat::kNdjson:
      break;
  }
}

void ExportWriter::RowStart(std::string& out) {
  if (format_ == ExportFormat::kJson) out += rows_ == 0 ? "\n" : ",\n";
}

void ExportWriter::RowEnd(std::string& out) {
  if (format_ == ExportFormat::kNdjson) out += '\n';
  ++rows_;
}

void ExportWriter::AddEvent(uint64_t seq, const EventRecord& record, std::string& out) {
  RowStart(out);
  if (format_ == ExportFormat::kCsv) {
    AppendEventCsv(seq, record, out);
  } else {
    AppendEventJson(seq, record, out);
  }
  RowEnd(out);
}

void ExportWriter::AddUsage(std::string_view subject, std::string_view type, const Bucket& bucket,
                            std::string& out) {
  RowStart(out);
  const Usage& u = bucket.usage;
  if (format_ == ExportFormat::kCsv) {
    AppendCsvField(subject, out);
    out += ',';
    AppendCsvField(type, out);
    out += ',';
    AppendRfc3339(bucket.start, out);
    out += ',';
    AppendRfc3339(bucket.end, out);
    out += ',';
    AppendInt(u.events, out);
    out += ',';
    AppendInt(u.errors, out);
    for (const MeterColumn& m : meters_) {
      out += ',';
      AppendInt(m.index < u.meters.size() ? u.meters[m.index] : 0, out);
    }
    out += "\r\n";
  } else {
    out += "{\"subject\":";
    AppendJsonQuoted(subject, out);
    out += ",\"type\":";
    AppendJsonQuoted(type, out);
    out += ",\"start\":\"";
    AppendRfc3339(bucket.start, out);
    out += "\",\"end\":\"";
    AppendRfc3339(bucket.end, out);
    out += "\",\"events\":";
    AppendInt(u.events, out);
    out += ",\"errors\":";
    AppendInt(u.errors, out);
    out += ",\"meters\":{";
    for (size_t i = 0; i < meters_.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonQuoted(meters_[i].name, out);
      out += ':';
      AppendInt(meters_[i].index < u.meters.size() ? u.meters[meters_[i].index] : 0, out);
    }
    out += "}}";
  }
  RowEnd(out);
}

void ExportWriter::End(std::string& out) {
  if (format_ == ExportFormat::kJson) out += rows_ == 0 ? "]\n" : "\n]\n";
}

}  // namespace tally
