#include "store/codec.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <system_error>

#include "core/period.h"

namespace tally {
namespace {

#define TALLY_CODEC_RETURN_IF_ERROR(expr) \
  do {                                    \
    absl::Status status_ = (expr);        \
    if (!status_.ok()) return status_;    \
  } while (0)

constexpr char kHexDigits[] = "0123456789ABCDEF";

// --- shared helpers --------------------------------------------------------

// A short, printable excerpt of corrupt input for error messages.
std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHexDigits[c >> 4]);
      out.push_back(kHexDigits[c & 15]);
    }
  }
  if (text.size() > kMax) out += "...";
  out += "\"";
  return out;
}

absl::Status Corrupt(std::string_view column, size_t index, std::string_view what,
                     std::string_view text) {
  return absl::DataLossError(std::string(column) + " entry " + std::to_string(index) +
                             ": " + std::string(what) + " in " + Excerpt(text));
}

void AppendInt(int64_t value, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, result.ptr);
}

void AppendUint(uint64_t value, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value);
  out->append(buf, result.ptr);
}

// Parses all of `text` as a decimal int64: an optional '-', then digits only.
// (Faster than std::from_chars here, which matters to replay.)
bool ParseInteger(std::string_view text, int64_t* value) {
  size_t i = !text.empty() && text[0] == '-' ? 1 : 0;
  const size_t digits = text.size() - i;
  if (digits == 0 || digits > 19) return false;  // 19 digits cannot overflow uint64
  uint64_t acc = 0;
  for (; i < text.size(); ++i) {
    const unsigned d = static_cast<unsigned char>(text[i]) - '0';
    if (d > 9) return false;
    acc = acc * 10 + d;
  }
  constexpr uint64_t kMaxMagnitude = uint64_t{1} << 63;
  if (text[0] == '-') {
    if (acc > kMaxMagnitude) return false;
    *value = static_cast<int64_t>(0 - acc);  // modular: exact for -2^63
  } else {
    if (acc >= kMaxMagnitude) return false;
    *value = static_cast<int64_t>(acc);
  }
  return true;
}

bool ParseInteger(std::string_view text, uint64_t* value) {
  if (text.empty() || text[0] == '-') return false;
  const char* end = text.data() + text.size();
  const auto result = std::from_chars(text.data(), end, *value);
  return result.ec == std::errc() && result.ptr == end;
}

bool FitsInt(int64_t v) {
  return v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max();
}

bool IsNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

bool IsPlainName(std::string_view name) {
  for (const char c : name) {
    if (!IsNameByte(c)) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Writes `name`, escaping bytes outside [A-Za-z0-9_.-] as %XX.
void AppendName(std::string_view name, std::string* out) {
  if (IsPlainName(name)) {
    out->append(name);
    return;
  }
  for (const char c : name) {
    if (IsNameByte(c)) {
      out->push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out->push_back('%');
      out->push_back(kHexDigits[byte >> 4]);
      out->push_back(kHexDigits[byte & 15]);
    }
  }
}

// The inverse of AppendName; false on a byte that AppendName never writes.
bool DecodeName(std::string_view text, std::string* out) {
  if (IsPlainName(text)) {
    out->assign(text);
    return true;
  }
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (IsNameByte(c)) {
      out->push_back(c);
      continue;
    }
    if (c != '%' || i + 2 >= text.size()) return false;
    const int high = HexValue(text[i + 1]);
    const int low = HexValue(text[i + 2]);
    if (high < 0 || low < 0) return false;
    out->push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

// Reads a data or effects column left to right: fields end at either of two
// separators.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : p_(text.data()), end_(p_ + text.size()) {}

  bool AtEnd() const { return p_ == end_; }

  // The text up to the next `a` or `b` (or the end), which is not consumed.
  std::string_view Field(char a, char b) {
    const char* start = p_;
    while (p_ != end_ && *p_ != a && *p_ != b) ++p_;
    return {start, static_cast<size_t>(p_ - start)};
  }

  bool Consume(char c) {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

 private:
  const char* p_;
  const char* const end_;
};

}  // namespace

// --- data --------------------------------------------------------------------

void AppendData(const EventData& data, std::string* out) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendName(data[i].first, out);
    out->push_back('=');
    AppendInt(data[i].second, out);
  }
}

std::string EncodeData(const EventData& data) {
  std::string out;
  AppendData(data, &out);
  return out;
}

absl::Status DecodeDataInto(std::string_view text, EventData* out) {
  size_t count = 0;
  Cursor cursor(text);
  while (!text.empty()) {
    if (count == out->size()) out->emplace_back();
    auto& [name, value] = (*out)[count];
    if (!DecodeName(cursor.Field('=', ','), &name)) {
      return Corrupt("data", count, "bad field name", text);
    }
    if (!cursor.Consume('=')) return Corrupt("data", count, "no '='", text);
    if (!ParseInteger(cursor.Field(',', '='), &value)) {
      return Corrupt("data", count, "bad integer value", text);
    }
    ++count;
    if (cursor.AtEnd()) break;
    if (!cursor.Consume(',')) return Corrupt("data", count - 1, "stray '='", text);
  }
  out->resize(count);
  return absl::OkStatus();
}

absl::StatusOr<EventData> DecodeData(std::string_view text) {
  EventData data;
  TALLY_CODEC_RETURN_IF_ERROR(DecodeDataInto(text, &data));
  return data;
}

// --- effects -----------------------------------------------------------------

// A window start or end equal to the previous effect's is left empty: the
// effects of one event usually share one window.
void AppendEffects(const std::vector<Effect>& effects, std::string* out) {
  for (size_t i = 0; i < effects.size(); ++i) {
    const Effect& e = effects[i];
    if (i > 0) out->push_back(';');
    out->push_back(e.scope == Scope::kOrg ? 'o' : 's');
    out->push_back('|');
    AppendName(e.meter, out);
    out->push_back('|');
    if (i == 0 || e.window_start != effects[i - 1].window_start) {
      AppendInt(e.window_start, out);
    }
    out->push_back('|');
    if (i == 0 || e.window_end != effects[i - 1].window_end) AppendInt(e.window_end, out);
    out->push_back('|');
    AppendInt(e.amount, out);
    if (e.unique_hash != 0) {
      out->push_back('|');
      AppendUint(e.unique_hash, out);
    }
  }
}

std::string EncodeEffects(const std::vector<Effect>& effects) {
  std::string out;
  AppendEffects(effects, &out);
  return out;
}

namespace {

// Reads one effect; `previous` supplies an omitted window (nullptr: first).
absl::Status DecodeEffect(Cursor& cursor, size_t index, const Effect* previous,
                          std::string_view text, Effect* e) {
  const std::string_view scope = cursor.Field('|', ';');
  if (scope == "s") {
    e->scope = Scope::kSubject;
  } else if (scope == "o") {
    e->scope = Scope::kOrg;
  } else {
    return Corrupt("effects", index, "bad scope", text);
  }
  if (!cursor.Consume('|') || !DecodeName(cursor.Field('|', ';'), &e->meter)) {
    return Corrupt("effects", index, "bad meter name", text);
  }
  Micros* const window[] = {&e->window_start, &e->window_end};
  for (Micros* bound : window) {
    if (!cursor.Consume('|')) return Corrupt("effects", index, "missing window", text);
    const std::string_view field = cursor.Field('|', ';');
    if (field.empty() && previous != nullptr) {
      *bound = bound == &e->window_start ? previous->window_start : previous->window_end;
    } else if (!ParseInteger(field, bound)) {
      return Corrupt("effects", index, "bad window", text);
    }
  }
  if (!cursor.Consume('|') || !ParseInteger(cursor.Field('|', ';'), &e->amount)) {
    return Corrupt("effects", index, "bad amount", text);
  }
  e->unique_hash = 0;
  if (cursor.Consume('|') && !ParseInteger(cursor.Field('|', ';'), &e->unique_hash)) {
    return Corrupt("effects", index, "bad unique hash", text);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeEffectsInto(std::string_view text, std::vector<Effect>* out) {
  size_t count = 0;
  Cursor cursor(text);
  while (!text.empty()) {
    if (count == out->size()) out->emplace_back();
    const Effect* previous = count == 0 ? nullptr : &(*out)[count - 1];
    TALLY_CODEC_RETURN_IF_ERROR(DecodeEffect(cursor, count, previous, text, &(*out)[count]));
    ++count;
    if (cursor.AtEnd()) break;
    if (!cursor.Consume(';')) return Corrupt("effects", count - 1, "too many fields", text);
  }
  out->resize(count);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Effect>> DecodeEffects(std::string_view text) {
  std::vector<Effect> effects;
  TALLY_CODEC_RETURN_IF_ERROR(DecodeEffectsInto(text, &effects));
  return effects;
}

// --- JSON: a writer and a strict little parser for registry definitions -----

namespace {

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          *out += "\\u00";
          out->push_back(kHexDigits[c >> 4]);
          out->push_back(kHexDigits[c & 15]);
        } else {
          out->push_back(ch);  // bytes >= 0x80 (UTF-8) pass through unchanged
        }
    }
  }
  out->push_back('"');
}

// Writes one JSON object: Key(...) then exactly one value per key.
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string* out) : out_(out) { out_->push_back('{'); }
  ~ObjectWriter() { out_->push_back('}'); }
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  std::string* Key(std::string_view key) {
    if (!first_) out_->push_back(',');
    first_ = false;
    AppendJsonString(key, out_);
    out_->push_back(':');
    return out_;
  }
  void String(std::string_view key, std::string_view value) {
    AppendJsonString(value, Key(key));
  }
  void Int(std::string_view key, int64_t value) { AppendInt(value, Key(key)); }
  void OptionalInt(std::string_view key, const std::optional<int64_t>& value) {
    if (value.has_value()) {
      Int(key, *value);
    } else {
      *Key(key) += "null";
    }
  }
  void Bool(std::string_view key, bool value) { *Key(key) += value ? "true" : "false"; }

 private:
  std::string* const out_;
  bool first_ = true;
};

struct Json {
  enum class Type { kNull, kBool, kInt, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  int64_t integer = 0;
  std::string string;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;
};

// RFC 8259 JSON, except that numbers must be integers that fit in int64 and
// strings are bytes (no UTF-8 validation: they come back exactly as written).
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  absl::Status Parse(Json* out) {
    TALLY_CODEC_RETURN_IF_ERROR(Value(out, 0));
    SkipSpace();
    if (pos_ != text_.size()) return Error("trailing characters");
    return absl::OkStatus();
  }

 private:
  static constexpr int kMaxDepth = 16;

  absl::Status Error(std::string_view what) const {
    return absl::DataLossError(std::string(what) + " at byte " + std::to_string(pos_));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool Consume(std::string_view token) {
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }

  absl::Status Value(Json* out, int depth) {
    if (depth > kMaxDepth) return Error("nesting too deep");
    SkipSpace();
    if (pos_ == text_.size()) return Error("unexpected end");
    const char c = text_[pos_];
    if (c == '{') return Object(out, depth);
    if (c == '[') return Array(out, depth);
    if (c == '"') {
      out->type = Json::Type::kString;
      return String(&out->string);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return Integer(out);
    if (Consume("true")) {
      out->type = Json::Type::kBool;
      out->boolean = true;
      return absl::OkStatus();
    }
    if (Consume("false")) {
      out->type = Json::Type::kBool;
      out->boolean = false;
      return absl::OkStatus();
    }
    if (Consume("null")) {
      out->type = Json::Type::kNull;
      return absl::OkStatus();
    }
    return Error("unexpected character");
  }

  absl::Status Object(Json* out, int depth) {
    out->type = Json::Type::kObject;
    ++pos_;  // '{'
    SkipSpace();
    if (Consume("}")) return absl::OkStatus();
    while (true) {
      SkipSpace();
      if (pos_ == text_.size() || text_[pos_] != '"') return Error("expected a key");
      out->members.emplace_back();
      TALLY_CODEC_RETURN_IF_ERROR(String(&out->members.back().first));
      SkipSpace();
      if (!Consume(":")) return Error("expected ':'");
      TALLY_CODEC_RETURN_IF_ERROR(Value(&out->members.back().second, depth + 1));
      SkipSpace();
      if (Consume("}")) return absl::OkStatus();
      if (!Consume(",")) return Error("expected ',' or '}'");
    }
  }

  absl::Status Array(Json* out, int depth) {
    out->type = Json::Type::kArray;
    ++pos_;  // '['
    SkipSpace();
    if (Consume("]")) return absl::OkStatus();
    while (true) {
      out->items.emplace_back();
      TALLY_CODEC_RETURN_IF_ERROR(Value(&out->items.back(), depth + 1));
      SkipSpace();
      if (Consume("]")) return absl::OkStatus();
      if (!Consume(",")) return Error("expected ',' or ']'");
    }
  }

  absl::Status Integer(Json* out) {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    if (pos_ < text_.size() &&
        (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      return Error("number is not an integer");
    }
    out->type = Json::Type::kInt;
    if (!ParseInteger(text_.substr(start, pos_ - start), &out->integer)) {
      return Error("bad or out-of-range integer");
    }
    return absl::OkStatus();
  }

  absl::Status Hex4(uint32_t* unit) {
    if (text_.size() - pos_ < 4) return Error("short \\u escape");
    *unit = 0;
    for (int i = 0; i < 4; ++i) {
      const int v = HexValue(text_[pos_++]);
      if (v < 0) return Error("bad \\u escape");
      *unit = *unit * 16 + static_cast<uint32_t>(v);
    }
    return absl::OkStatus();
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  absl::Status UnicodeEscape(std::string* out) {
    uint32_t unit = 0;
    TALLY_CODEC_RETURN_IF_ERROR(Hex4(&unit));
    if (unit >= 0xDC00 && unit <= 0xDFFF) return Error("lone low surrogate");
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      uint32_t low = 0;
      if (!Consume("\\u")) return Error("lone high surrogate");
      TALLY_CODEC_RETURN_IF_ERROR(Hex4(&low));
      if (low < 0xDC00 || low > 0xDFFF) return Error("bad surrogate pair");
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(unit, out);
    return absl::OkStatus();
  }

  absl::Status String(std::string* out) {
    ++pos_;  // '"'
    while (true) {
      if (pos_ == text_.size()) return Error("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ == text_.size()) return Error("unterminated escape");
      switch (text_[pos_++]) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': TALLY_CODEC_RETURN_IF_ERROR(UnicodeEscape(out)); break;
        default: return Error("bad escape");
      }
    }
  }

  const std::string_view text_;
  size_t pos_ = 0;
};

// Reads typed members of one parsed JSON object. A missing key leaves the
// target unchanged (its default); a present key of the wrong type is an error.
class ObjectReader {
 public:
  // `what` names the object in errors, e.g. "tier definition, quota 2".
  ObjectReader(const Json& json, std::string what) : json_(json), what_(std::move(what)) {}

  absl::Status CheckIsObject() const {
    if (json_.type != Json::Type::kObject) return absl::DataLossError(what_ + " is not an object");
    return absl::OkStatus();
  }

  const Json* Find(std::string_view key) const {
    for (const auto& [name, value] : json_.members) {
      if (name == key) return &value;
    }
    return nullptr;
  }

  absl::Status WrongType(std::string_view key, std::string_view type) const {
    return absl::DataLossError(what_ + ": \"" + std::string(key) + "\" is not " +
                               std::string(type));
  }

  absl::Status String(std::string_view key, std::string* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (v->type != Json::Type::kString) return WrongType(key, "a string");
    *out = v->string;
    return absl::OkStatus();
  }

  absl::Status Int(std::string_view key, int64_t* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (v->type != Json::Type::kInt) return WrongType(key, "an integer");
    *out = v->integer;
    return absl::OkStatus();
  }

  absl::Status Int(std::string_view key, int* out) const {
    int64_t wide = *out;
    TALLY_CODEC_RETURN_IF_ERROR(Int(key, &wide));
    if (!FitsInt(wide)) return WrongType(key, "a 32-bit integer");
    *out = static_cast<int>(wide);
    return absl::OkStatus();
  }

  absl::Status OptionalInt(std::string_view key, std::optional<int64_t>* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (v->type == Json::Type::kNull) {
      *out = std::nullopt;
      return absl::OkStatus();
    }
    if (v->type != Json::Type::kInt) return WrongType(key, "an integer or null");
    *out = v->integer;
    return absl::OkStatus();
  }

  absl::Status Bool(std::string_view key, bool* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return absl::OkStatus();
    if (v->type != Json::Type::kBool) return WrongType(key, "a boolean");
    *out = v->boolean;
    return absl::OkStatus();
  }

  // The member `key` if it has `type`; nullptr if missing; error otherwise.
  absl::StatusOr<const Json*> Typed(std::string_view key, Json::Type type,
                                    std::string_view type_name) const {
    const Json* v = Find(key);
    if (v != nullptr && v->type != type) return WrongType(key, type_name);
    return v;
  }

  const std::string& what() const { return what_; }

 private:
  const Json& json_;
  const std::string what_;
};

absl::StatusOr<Json> ParseJson(std::string_view text, std::string_view what) {
  Json json;
  absl::Status status = JsonParser(text).Parse(&json);
  if (!status.ok()) {
    return absl::DataLossError(std::string(what) + ": " + std::string(status.message()));
  }
  if (json.type != Json::Type::kObject) {
    return absl::DataLossError(std::string(what) + " is not a JSON object");
  }
  return json;
}

void WriteOverrides(const Overrides& overrides, std::string* out) {
  ObjectWriter w(out);
  for (const auto& [meter, limit] : overrides) w.OptionalInt(meter, limit);
}

absl::Status ReadOverrides(const ObjectReader& r, Overrides* out) {
  absl::StatusOr<const Json*> json = r.Typed("overrides", Json::Type::kObject, "an object");
  if (!json.ok()) return json.status();
  if (*json == nullptr) return absl::OkStatus();
  out->clear();
  for (const auto& [meter, value] : (*json)->members) {
    if (value.type == Json::Type::kNull) {
      (*out)[meter] = std::nullopt;
    } else if (value.type == Json::Type::kInt) {
      (*out)[meter] = value.integer;
    } else {
      return absl::DataLossError(r.what() + ": override " + Excerpt(meter) +
                                 " is not an integer or null");
    }
  }
  return absl::OkStatus();
}

}  // namespace

// --- event context --------------------------------------------------------------

std::string EncodeContext(const EventContext& c) {
  if (c == EventContext{}) return "";
  std::string out;
  {
    ObjectWriter w(&out);
    if (!c.session_id.empty()) w.String("session_id", c.session_id);
    if (!c.ip.empty()) w.String("ip", c.ip);
    if (!c.user_agent.empty()) w.String("user_agent", c.user_agent);
    if (!c.endpoint.empty()) w.String("endpoint", c.endpoint);
    if (!c.method.empty()) w.String("method", c.method);
    if (c.processing_ms != -1) w.Int("processing_ms", c.processing_ms);
    if (!c.error_code.empty()) w.String("error_code", c.error_code);
  }
  return out;
}

absl::StatusOr<EventContext> DecodeContext(std::string_view text) {
  EventContext c;
  if (text.empty()) return c;
  absl::StatusOr<Json> json = ParseJson(text, "event context");
  if (!json.ok()) return json.status();
  const ObjectReader r(*json, "event context");
  TALLY_CODEC_RETURN_IF_ERROR(r.String("session_id", &c.session_id));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("ip", &c.ip));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("user_agent", &c.user_agent));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("endpoint", &c.endpoint));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("method", &c.method));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("processing_ms", &c.processing_ms));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("error_code", &c.error_code));
  return c;
}

// --- subject and org -----------------------------------------------------------

std::string EncodeSubject(const Subject& s) {
  std::string out;
  {
    ObjectWriter w(&out);
    w.String("id", s.id);
    w.String("tier", s.tier);
    w.String("org", s.org);
    w.String("email", s.email);
    w.String("timezone", s.timezone);
    w.Int("anchor_day", s.anchor_day);
    WriteOverrides(s.overrides, w.Key("overrides"));
    w.String("stripe_customer_id", s.stripe_customer_id);
    {
      ObjectWriter notify(w.Key("notify"));
      notify.Bool("email", s.notify.email);
      notify.Bool("webhook", s.notify.webhook);
      notify.Bool("in_app", s.notify.in_app);
    }
    w.Int("created", s.created);
  }
  return out;
}

absl::StatusOr<Subject> DecodeSubject(std::string_view text) {
  absl::StatusOr<Json> json = ParseJson(text, "subject definition");
  if (!json.ok()) return json.status();
  const ObjectReader r(*json, "subject definition");
  Subject s;
  TALLY_CODEC_RETURN_IF_ERROR(r.String("id", &s.id));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("tier", &s.tier));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("org", &s.org));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("email", &s.email));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("timezone", &s.timezone));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("anchor_day", &s.anchor_day));
  TALLY_CODEC_RETURN_IF_ERROR(ReadOverrides(r, &s.overrides));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("stripe_customer_id", &s.stripe_customer_id));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("created", &s.created));
  absl::StatusOr<const Json*> notify = r.Typed("notify", Json::Type::kObject, "an object");
  if (!notify.ok()) return notify.status();
  if (*notify != nullptr) {
    const ObjectReader n(**notify, "subject definition, notify");
    TALLY_CODEC_RETURN_IF_ERROR(n.Bool("email", &s.notify.email));
    TALLY_CODEC_RETURN_IF_ERROR(n.Bool("webhook", &s.notify.webhook));
    TALLY_CODEC_RETURN_IF_ERROR(n.Bool("in_app", &s.notify.in_app));
  }
  return s;
}

std::string EncodeOrg(const Org& org) {
  std::string out;
  {
    ObjectWriter w(&out);
    w.String("id", org.id);
    w.String("tier", org.tier);
    w.String("timezone", org.timezone);
    w.Int("anchor_day", org.anchor_day);
    WriteOverrides(org.overrides, w.Key("overrides"));
  }
  return out;
}

absl::StatusOr<Org> DecodeOrg(std::string_view text) {
  absl::StatusOr<Json> json = ParseJson(text, "org definition");
  if (!json.ok()) return json.status();
  const ObjectReader r(*json, "org definition");
  Org org;
  TALLY_CODEC_RETURN_IF_ERROR(r.String("id", &org.id));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("tier", &org.tier));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("timezone", &org.timezone));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("anchor_day", &org.anchor_day));
  TALLY_CODEC_RETURN_IF_ERROR(ReadOverrides(r, &org.overrides));
  return org;
}

// --- tier ----------------------------------------------------------------------

namespace {

void WriteQuota(const Quota& q, std::string* out) {
  ObjectWriter w(out);
  w.String("meter", q.meter);
  w.OptionalInt("limit", q.limit);
  w.String("period", PeriodUnitName(q.period));
  w.String("overage", OverageName(q.overage));
  w.Int("allow_up_to", q.allow_up_to);
  w.Int("rollover_cap", q.rollover_cap);
  std::string* warn = w.Key("warn_at");
  warn->push_back('[');
  for (size_t i = 0; i < q.warn_at.size(); ++i) {
    if (i > 0) warn->push_back(',');
    AppendInt(q.warn_at[i], warn);
  }
  warn->push_back(']');
}

absl::Status ReadWarnAt(const ObjectReader& r, std::vector<int>* out) {
  absl::StatusOr<const Json*> json = r.Typed("warn_at", Json::Type::kArray, "an array");
  if (!json.ok()) return json.status();
  if (*json == nullptr) return absl::OkStatus();
  out->clear();
  for (const Json& item : (*json)->items) {
    if (item.type != Json::Type::kInt || !FitsInt(item.integer)) {
      return r.WrongType("warn_at", "an array of 32-bit integers");
    }
    out->push_back(static_cast<int>(item.integer));
  }
  return absl::OkStatus();
}

absl::Status ReadQuota(const Json& json, std::string what, Quota* q) {
  const ObjectReader r(json, std::move(what));
  TALLY_CODEC_RETURN_IF_ERROR(r.CheckIsObject());
  TALLY_CODEC_RETURN_IF_ERROR(r.String("meter", &q->meter));
  TALLY_CODEC_RETURN_IF_ERROR(r.OptionalInt("limit", &q->limit));
  std::string period(PeriodUnitName(q->period));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("period", &period));
  const std::optional<PeriodUnit> unit = ParsePeriodUnit(period);
  if (!unit.has_value()) {
    return absl::DataLossError(r.what() + ": unknown period " + Excerpt(period));
  }
  q->period = *unit;
  std::string overage(OverageName(q->overage));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("overage", &overage));
  const std::optional<Overage> policy = ParseOverage(overage);
  if (!policy.has_value()) {
    return absl::DataLossError(r.what() + ": unknown overage " + Excerpt(overage));
  }
  q->overage = *policy;
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("allow_up_to", &q->allow_up_to));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("rollover_cap", &q->rollover_cap));
  return ReadWarnAt(r, &q->warn_at);
}

void WriteRateLimit(const RateLimit& l, std::string* out) {
  ObjectWriter w(out);
  w.String("meter", l.meter);
  w.Int("rate", l.rate);
  w.Int("per", l.per);
  w.Int("burst", l.burst);
}

absl::Status ReadRateLimit(const Json& json, std::string what, RateLimit* l) {
  const ObjectReader r(json, std::move(what));
  TALLY_CODEC_RETURN_IF_ERROR(r.CheckIsObject());
  TALLY_CODEC_RETURN_IF_ERROR(r.String("meter", &l->meter));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("rate", &l->rate));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("per", &l->per));
  return r.Int("burst", &l->burst);
}

void WritePricing(const Pricing& p, std::string* out) {
  ObjectWriter w(out);
  w.Int("base_cents", p.base_cents);
  w.String("currency", p.currency);
  ObjectWriter overage(w.Key("overage"));
  for (const auto& [meter, price] : p.overage) {
    ObjectWriter unit(overage.Key(meter));
    unit.Int("cents", price.cents);
    unit.Int("per", price.per);
  }
}

absl::Status ReadPricing(const ObjectReader& tier, Pricing* p) {
  absl::StatusOr<const Json*> json = tier.Typed("pricing", Json::Type::kObject, "an object");
  if (!json.ok()) return json.status();
  if (*json == nullptr) return absl::OkStatus();
  const ObjectReader r(**json, tier.what() + ", pricing");
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("base_cents", &p->base_cents));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("currency", &p->currency));
  absl::StatusOr<const Json*> overage = r.Typed("overage", Json::Type::kObject, "an object");
  if (!overage.ok()) return overage.status();
  if (*overage == nullptr) return absl::OkStatus();
  p->overage.clear();
  for (const auto& [meter, value] : (*overage)->members) {
    const ObjectReader u(value, r.what() + ", overage " + Excerpt(meter));
    TALLY_CODEC_RETURN_IF_ERROR(u.CheckIsObject());
    UnitPrice& price = p->overage[meter];
    TALLY_CODEC_RETURN_IF_ERROR(u.Int("cents", &price.cents));
    TALLY_CODEC_RETURN_IF_ERROR(u.Int("per", &price.per));
  }
  return absl::OkStatus();
}

// Decodes the array `key` of `r` with read(json, what, item*).
template <typename T, typename ReadFn>
absl::Status ReadList(const ObjectReader& r, std::string_view key, ReadFn read,
                      std::vector<T>* out) {
  absl::StatusOr<const Json*> json = r.Typed(key, Json::Type::kArray, "an array");
  if (!json.ok()) return json.status();
  if (*json == nullptr) return absl::OkStatus();
  out->clear();
  for (const Json& item : (*json)->items) {
    std::string what = r.what() + ", " + std::string(key) + " " + std::to_string(out->size());
    TALLY_CODEC_RETURN_IF_ERROR(read(item, std::move(what), &out->emplace_back()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeTier(const Tier& tier) {
  std::string out;
  {
    ObjectWriter w(&out);
    w.String("name", tier.name);
    w.String("inherits", tier.inherits);
    std::string* quotas = w.Key("quotas");
    quotas->push_back('[');
    for (size_t i = 0; i < tier.quotas.size(); ++i) {
      if (i > 0) quotas->push_back(',');
      WriteQuota(tier.quotas[i], quotas);
    }
    quotas->push_back(']');
    std::string* limits = w.Key("rate_limits");
    limits->push_back('[');
    for (size_t i = 0; i < tier.rate_limits.size(); ++i) {
      if (i > 0) limits->push_back(',');
      WriteRateLimit(tier.rate_limits[i], limits);
    }
    limits->push_back(']');
    WritePricing(tier.pricing, w.Key("pricing"));
  }
  return out;
}

absl::StatusOr<Tier> DecodeTier(std::string_view text) {
  absl::StatusOr<Json> json = ParseJson(text, "tier definition");
  if (!json.ok()) return json.status();
  const ObjectReader r(*json, "tier definition");
  Tier tier;
  TALLY_CODEC_RETURN_IF_ERROR(r.String("name", &tier.name));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("inherits", &tier.inherits));
  TALLY_CODEC_RETURN_IF_ERROR(ReadList(r, "quotas", ReadQuota, &tier.quotas));
  TALLY_CODEC_RETURN_IF_ERROR(ReadList(r, "rate_limits", ReadRateLimit, &tier.rate_limits));
  TALLY_CODEC_RETURN_IF_ERROR(ReadPricing(r, &tier.pricing));
  return tier;
}

// --- API key -------------------------------------------------------------------

std::string EncodeApiKey(const ApiKey& key) {
  std::string out;
  {
    ObjectWriter w(&out);
    w.String("id", key.id);
    w.String("name", key.name);
    w.String("role", RoleName(key.role));
    w.String("hash", key.hash);
    w.String("prefix", key.prefix);
    w.Int("created", key.created);
    w.Int("revoked", key.revoked);
    w.Int("write_rate_per_s", key.write_rate_per_s);
  }
  return out;
}

absl::StatusOr<ApiKey> DecodeApiKey(std::string_view text) {
  absl::StatusOr<Json> json = ParseJson(text, "API key definition");
  if (!json.ok()) return json.status();
  const ObjectReader r(*json, "API key definition");
  ApiKey key;
  TALLY_CODEC_RETURN_IF_ERROR(r.String("id", &key.id));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("name", &key.name));
  std::string role(RoleName(key.role));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("role", &role));
  const std::optional<Role> parsed = ParseRole(role);
  if (!parsed.has_value()) {
    return absl::DataLossError(r.what() + ": unknown role " + Excerpt(role));
  }
  key.role = *parsed;
  TALLY_CODEC_RETURN_IF_ERROR(r.String("hash", &key.hash));
  TALLY_CODEC_RETURN_IF_ERROR(r.String("prefix", &key.prefix));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("created", &key.created));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("revoked", &key.revoked));
  TALLY_CODEC_RETURN_IF_ERROR(r.Int("write_rate_per_s", &key.write_rate_per_s));
  return key;
}

// --- dedup blocks -----------------------------------------------------------

namespace {

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void AppendFixed64(uint64_t v, std::string* out) {
  char buf[8];
  for (char& c : buf) {
    c = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, sizeof(buf));
}

// Reads a varint at `*pos`; false if truncated or longer than 64 bits.
bool ReadVarint(std::string_view in, size_t* pos, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *pos < in.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(in[(*pos)++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

bool ReadFixed64(std::string_view in, size_t* pos, uint64_t* v) {
  if (in.size() - *pos < 8) return false;
  *v = 0;
  for (int i = 7; i >= 0; --i) *v = (*v << 8) | static_cast<uint8_t>(in[*pos + i]);
  *pos += 8;
  return true;
}

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

}  // namespace

void DedupBlockWriter::Add(const DedupEntry& entry) {
  if (count_ == 0) {
    first_seq_ = entry.seq;
    max_received_ = entry.received;
  }
  AppendVarint(entry.seq - last_.seq, &bytes_);
  // Wrapping subtraction: exact for any two times, however far apart.
  AppendVarint(ZigZag(static_cast<int64_t>(static_cast<uint64_t>(entry.received) -
                                           static_cast<uint64_t>(last_.received))),
               &bytes_);
  AppendFixed64(entry.id_hash, &bytes_);
  AppendFixed64(entry.fingerprint, &bytes_);
  max_received_ = std::max(max_received_, entry.received);
  last_ = entry;
  ++count_;
}

void DedupBlockWriter::Clear() {
  bytes_.clear();  // keeps its capacity for the next block
  count_ = 0;
  first_seq_ = 0;
  max_received_ = 0;
  last_ = DedupEntry();
}

bool DedupBlockReader::Next(DedupEntry* entry) {
  if (pos_ == block_.size() || !status_.ok()) return false;
  const size_t start = pos_;
  uint64_t seq_delta = 0;
  uint64_t received_delta = 0;
  if (!ReadVarint(block_, &pos_, &seq_delta) || seq_delta == 0) return Fail("bad seq", start);
  if (!ReadVarint(block_, &pos_, &received_delta)) return Fail("bad received time", start);
  if (!ReadFixed64(block_, &pos_, &entry->id_hash) ||
      !ReadFixed64(block_, &pos_, &entry->fingerprint)) {
    return Fail("truncated", start);
  }
  entry->seq = last_.seq + seq_delta;
  entry->received = static_cast<Micros>(static_cast<uint64_t>(last_.received) +
                                        static_cast<uint64_t>(UnZigZag(received_delta)));
  last_ = *entry;
  ++index_;
  return true;
}

bool DedupBlockReader::Fail(std::string_view what, size_t at) {
  status_ = absl::DataLossError("dedup entry " + std::to_string(index_) + ": " +
                                std::string(what) + " at byte " + std::to_string(at));
  pos_ = block_.size();
  return false;
}

}  // namespace tally
