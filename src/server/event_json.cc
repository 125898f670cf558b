// JSON body parsing, field accessors and the event decoder. See event_json.h.
//
// Thread-safety: pure functions.
#include "server/event_json.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

// basic_parser's implementation; included in this one translation unit only.
#include <boost/json/basic_parser_impl.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/query.h"

namespace tally {
namespace {

namespace json = boost::json;

using Names = std::span<const std::string_view>;

constexpr std::string_view kEventKeys[] = {"id",   "subject", "user_id", "type",
                                           "time", "data",    "context"};
constexpr std::string_view kContextStringKeys[] = {"session_id", "ip",     "user_agent",
                                                   "endpoint",   "method", "error_code"};
constexpr std::string_view kContextKeys[] = {"session_id", "ip",         "user_agent",   "endpoint",
                                             "method",     "error_code", "processing_ms"};
constexpr std::string_view kTimeProblem =
    "must be an RFC 3339 time string such as 2026-03-08T07:00:00Z";

absl::Status Invalid(std::string_view prefix, std::string_view key, std::string_view problem) {
  std::string message(prefix);
  message.append(NameForMessage(key)).append(": ").append(problem);
  return absl::InvalidArgumentError(message);
}

// ---------------------------------------------------------------------------
// Parsing

// A boost::json::basic_parser handler that builds the value exactly as
// boost::json::parser does, and also tracks the path to the value being
// parsed so that it can reject a key given twice in one object by name.
class BodyHandler {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  BodyHandler(unsigned char* temp, size_t temp_size) : stack_({}, temp, temp_size) {}

  json::value_stack& stack() { return stack_; }
  // The path of the duplicate key that stopped the parse, or "".
  const std::string& duplicate() const { return duplicate_; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    frames_.emplace_back(/*is_object=*/true);
    return true;
  }
  bool on_object_end(size_t n, json::error_code&) {
    frames_.pop_back();
    stack_.push_object(n);
    return ValueDone();
  }
  bool on_array_begin(json::error_code&) {
    frames_.emplace_back(/*is_object=*/false);
    return true;
  }
  bool on_array_end(size_t n, json::error_code&) {
    frames_.pop_back();
    stack_.push_array(n);
    return ValueDone();
  }
  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    stack_.push_chars(s);
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, size_t, json::error_code& ec);
  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    stack_.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, size_t, json::error_code&) {
    stack_.push_string(s);
    return ValueDone();
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    stack_.push_int64(i);
    return ValueDone();
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    stack_.push_uint64(u);
    return ValueDone();
  }
  bool on_double(double d, json::string_view, json::error_code& ec) {
    if (!std::isfinite(d)) {  // 1e400: serializing it back would not be JSON
      ec = json::error::exponent_overflow;
      return false;
    }
    stack_.push_double(d);
    return ValueDone();
  }
  bool on_bool(bool b, json::error_code&) {
    stack_.push_bool(b);
    return ValueDone();
  }
  bool on_null(json::error_code&) {
    stack_.push_null();
    return ValueDone();
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  // One open object or array.
  struct Frame {
    explicit Frame(bool object) : is_object(object) {}
    bool is_object;
    size_t index = 0;                       // array: elements completed
    std::string key;                        // object: the current key
    absl::flat_hash_set<std::string> keys;  // object: keys seen so far
  };

  bool ValueDone() {
    if (!frames_.empty() && !frames_.back().is_object) ++frames_.back().index;
    return true;
  }

  // "events[3].subject": the path to the current key.
  std::string Path() const {
    std::string path;
    for (const Frame& frame : frames_) {
      if (!frame.is_object) {
        absl::StrAppend(&path, "[", frame.index, "]");
      } else {
        if (!path.empty()) path += '.';
        path += NameForMessage(frame.key);
      }
    }
    return path;
  }

  json::value_stack stack_;
  std::vector<Frame> frames_;
  std::string key_;  // the key being read, from its parts
  std::string duplicate_;
};

bool BodyHandler::on_key(json::string_view s, size_t, json::error_code& ec) {
  stack_.push_key(s);
  key_.append(s.data(), s.size());
  Frame& frame = frames_.back();
  const bool inserted = frame.keys.insert(key_).second;
  frame.key.swap(key_);
  key_.clear();
  if (!inserted) {
    duplicate_ = Path();
    ec = json::error::syntax;
    return false;
  }
  return true;
}

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// What Boost's error means, in words a client can act on.
std::string DescribeParseError(const json::error_code& ec, std::string_view body, size_t at) {
  if (ec == json::error::incomplete) return "the body ends before the JSON value does";
  if (ec == json::error::too_deep) {
    return absl::StrCat("nested deeper than ", kMaxJsonDepth, " levels");
  }
  if (ec == json::error::extra_data) return "unexpected data after the JSON value";
  if (ec == json::error::exponent_overflow) return "number too large";
  if (ec != json::error::syntax) return ec.message();
  if (at >= body.size()) return "syntax error";
  const auto c = static_cast<unsigned char>(body[at]);
  if (c >= 0x80) return absl::StrCat("invalid UTF-8 or misplaced byte 0x", absl::Hex(c));
  if (c < 0x20) {
    return absl::StrCat("syntax error near control character ", int{c}, " (escape it in strings)");
  }
  return absl::StrCat("syntax error near '", std::string(1, static_cast<char>(c)), "'");
}

// ---------------------------------------------------------------------------
// Field accessors

const char* KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

// The value under `key`, or nullptr if absent or null.
const json::value* Find(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::string_view AsView(const json::string& s) { return std::string_view(s.data(), s.size()); }

// Edit distance counting insertions, deletions, substitutions and swaps of
// neighbours (optimal string alignment), or more than `limit` once it must be.
size_t EditDistance(std::string_view a, std::string_view b, size_t limit) {
  const size_t gap = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (gap > limit) return limit + 1;
  // Three rows of the dynamic-programming table: i - 2, i - 1 and i.
  std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, row);
  }
  return previous[b.size()];
}

// The allowed name `key` is probably a misspelling of: within two edits, and
// at most one edit per two characters, so that "a" does not suggest "id".
std::string_view Suggestion(std::string_view key, Names allowed) {
  constexpr size_t kMaxEdits = 2;
  size_t best = kMaxEdits + 1;
  std::string_view suggestion;
  for (std::string_view name : allowed) {
    const size_t distance = EditDistance(key, name, kMaxEdits);
    if (distance < best && 2 * distance <= std::min(key.size(), name.size())) {
      best = distance;
      suggestion = name;
    }
  }
  return suggestion;
}

absl::Status RejectUnknown(const json::object& o, Names allowed, std::string_view prefix) {
  for (const auto& entry : o) {
    const std::string_view key(entry.key().data(), entry.key().size());
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string problem = "unknown field; expected one of ";
    for (size_t i = 0; i < allowed.size(); ++i) {
      if (i > 0) problem += ", ";
      problem.append(allowed[i]);
    }
    const std::string_view suggestion = Suggestion(key, allowed);
    if (!suggestion.empty()) {
      absl::StrAppend(&problem, "; did you mean \"", std::string(suggestion), "\"?");
    }
    return Invalid(prefix, key, problem);
  }
  return absl::OkStatus();
}

// A data value: an integer in [0, INT64_MAX].
absl::StatusOr<int64_t> Count(const json::value& v, std::string_view prefix, std::string_view key) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (v.is_int64() && v.get_int64() >= 0) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= kMax) return static_cast<int64_t>(v.get_uint64());
  const std::string path = absl::StrCat(std::string(prefix), "data.");
  if (v.is_uint64()) {
    return Invalid(path, key, "must be a non-negative integer no larger than 9223372036854775807");
  }
  return Invalid(path, key, "must be a non-negative integer");
}

// ---------------------------------------------------------------------------
// Events

// id, subject (or user_id) and type; left empty when absent and optional.
absl::Status DecodeIdentity(const json::object& o, const EventDecodeOptions& options,
                            Event* event) {
  const std::string_view prefix = options.prefix;
  const auto text = [&](std::string_view key, size_t max_len) {
    return OptionalString(o, key, prefix, max_len);
  };
  absl::StatusOr<std::optional<std::string>> id = text("id", kMaxIdLength);
  if (!id.ok()) return id.status();
  absl::StatusOr<std::optional<std::string>> subject = text("subject", kMaxNameLength);
  if (!subject.ok()) return subject.status();
  absl::StatusOr<std::optional<std::string>> user_id = text("user_id", kMaxNameLength);
  if (!user_id.ok()) return user_id.status();
  absl::StatusOr<std::optional<std::string>> type = text("type", kMaxNameLength);
  if (!type.ok()) return type.status();
  if (subject->has_value() && user_id->has_value() && **subject != **user_id) {
    return Invalid(prefix, "user_id",
                   "differs from subject; user_id is another name for subject, give one");
  }
  if (!subject->has_value()) *subject = std::move(*user_id);
  const std::pair<std::string_view, std::optional<std::string>*> fields[] = {
      {"id", &*id}, {"subject", &*subject}, {"type", &*type}};
  for (const auto& [key, value] : fields) {
    if (!value->has_value() && !options.identity_optional) {
      return Invalid(prefix, key, "is required");
    }
    if (value->has_value() && (*value)->empty()) return Invalid(prefix, key, "must not be empty");
  }
  event->id = id->value_or("");
  event->subject = subject->value_or("");
  event->type = type->value_or("");
  return absl::OkStatus();
}

absl::StatusOr<Micros> DecodeTime(const json::object& o, std::string_view prefix) {
  const json::value* v = Find(o, "time");
  if (v == nullptr) return 0;
  const json::string* text = v->if_string();
  const std::optional<Micros> time = text == nullptr ? std::nullopt : ParseRfc3339(AsView(*text));
  if (!time.has_value()) return Invalid(prefix, "time", kTimeProblem);
  // 0 means "when received", so an epoch-zero time (a client bug) cannot be
  // told from none; past year 9999 (with an offset) it cannot be formatted.
  constexpr Micros kLast = int64_t{253'402'300'799} * kMicrosPerSecond + 999'999;
  if (*time <= 0 || *time > kLast) {
    return Invalid(prefix, "time", "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
  }
  return *time;
}

absl::Status DecodeData(const json::object& o, std::string_view prefix, Event* event) {
  absl::StatusOr<const json::object*> data = OptionalObject(o, "data", prefix);
  if (!data.ok()) return data.status();
  if (*data == nullptr) return absl::OkStatus();
  if ((*data)->size() > kMaxDataFields) {
    return Invalid(prefix, "data", absl::StrCat("at most ", kMaxDataFields, " fields"));
  }
  event->data.reserve((*data)->size());
  for (const auto& entry : **data) {
    const std::string_view key(entry.key().data(), entry.key().size());
    absl::StatusOr<int64_t> count = Count(entry.value(), prefix, key);
    if (!count.ok()) return count.status();
    event->data.emplace_back(std::string(key), *count);
  }
  return absl::OkStatus();
}

absl::Status DecodeContext(const json::object& o, std::string_view prefix, Event* event) {
  absl::StatusOr<const json::object*> context = OptionalObject(o, "context", prefix);
  if (!context.ok()) return context.status();
  if (*context == nullptr) return absl::OkStatus();
  const std::string inner = absl::StrCat(std::string(prefix), "context.");
  if (absl::Status s = RejectUnknown(**context, kContextKeys, inner); !s.ok()) return s;
  EventContext& out = event->context;
  std::string* const targets[] = {&out.session_id, &out.ip,     &out.user_agent,
                                  &out.endpoint,   &out.method, &out.error_code};
  for (size_t i = 0; i < std::size(kContextStringKeys); ++i) {
    absl::StatusOr<std::optional<std::string>> text =
        OptionalString(**context, kContextStringKeys[i], inner, kMaxContextLength);
    if (!text.ok()) return text.status();
    if (text->has_value()) *targets[i] = **std::move(text);
  }
  absl::StatusOr<std::optional<int64_t>> ms =
      OptionalInt(**context, "processing_ms", inner, 0, std::numeric_limits<int64_t>::max());
  if (!ms.ok()) return ms.status();
  if (ms->has_value()) out.processing_ms = **ms;
  return absl::OkStatus();
}

// ValidateEvent, with identity fields the options let be absent stood in for.
absl::Status Validate(const Event& event, const EventDecodeOptions& options) {
  absl::Status status;
  if (options.identity_optional &&
      (event.id.empty() || event.subject.empty() || event.type.empty())) {
    Event probe = event;
    if (probe.id.empty()) probe.id = "-";
    if (probe.subject.empty()) probe.subject = "-";
    if (probe.type.empty()) probe.type = "-";
    status = ValidateEvent(probe);
  } else {
    status = ValidateEvent(event);
  }
  if (status.ok() || options.prefix.empty()) return status;
  return absl::Status(status.code(), absl::StrCat(std::string(options.prefix), status.message()));
}

}  // namespace

absl::StatusOr<json::value> ParseJsonBody(std::string_view body) {
  if (std::all_of(body.begin(), body.end(), IsJsonWhitespace)) {
    return absl::InvalidArgumentError("request body is empty; expected a JSON object");
  }
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  unsigned char temp[4096];
  try {
    json::basic_parser<BodyHandler> parser(options, temp, sizeof(temp));
    // The value and everything in it live in one arena, freed with the value.
    parser.handler().stack().reset(
        json::make_shared_resource<json::monotonic_resource>(std::max<size_t>(body.size(), 1024)));
    json::error_code ec;
    const size_t used = parser.write_some(/*more=*/false, body.data(), body.size(), ec);
    if (!ec && used < body.size()) ec = json::error::extra_data;
    if (!parser.handler().duplicate().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(parser.handler().duplicate(), ": given more than once"));
    }
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid JSON at byte ", used, ": ", DescribeParseError(ec, body, used)));
    }
    return parser.handler().stack().release();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("request body is too large to parse");
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON: ", e.what()));
  }
}

ApiError JsonBodyError(const absl::Status& status) {
  ApiError error = FromStatus(status);
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    return PayloadTooLarge(std::move(error.message));
  }
  error.status = 400;
  error.code = "invalid_json";
  return error;
}

absl::Status RejectUnknownKeys(const json::object& o,
                               std::initializer_list<std::string_view> allowed,
                               std::string_view prefix) {
  return RejectUnknown(o, Names(allowed.begin(), allowed.size()), prefix);
}

absl::StatusOr<std::optional<std::string>> OptionalString(const json::object& o,
                                                          std::string_view key,
                                                          std::string_view prefix, size_t max_len) {
  const json::value* v = Find(o, key);
  if (v == nullptr) return std::nullopt;
  const json::string* s = v->if_string();
  if (s == nullptr) {
    return Invalid(prefix, key, absl::StrCat("must be a string, not ", KindName(*v)));
  }
  if (s->size() > max_len) {
    return Invalid(prefix, key, absl::StrCat("must be at most ", max_len, " bytes long"));
  }
  return std::string(AsView(*s));
}

absl::StatusOr<std::string> RequiredString(const json::object& o, std::string_view key,
                                           std::string_view prefix, size_t max_len) {
  absl::StatusOr<std::optional<std::string>> s = OptionalString(o, key, prefix, max_len);
  if (!s.ok()) return s.status();
  if (!s->has_value()) return Invalid(prefix, key, "is required");
  if ((*s)->empty()) return Invalid(prefix, key, "must not be empty");
  return **std::move(s);
}

absl::StatusOr<std::optional<int64_t>> OptionalInt(const json::object& o, std::string_view key,
                                                   std::string_view prefix, int64_t min,
                                                   int64_t max) {
  const json::value* v = Find(o, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64() && v->get_int64() >= min && v->get_int64() <= max) return v->get_int64();
  if (v->is_uint64() && max >= 0 && v->get_uint64() <= static_cast<uint64_t>(max) &&
      static_cast<int64_t>(v->get_uint64()) >= min) {
    return static_cast<int64_t>(v->get_uint64());
  }
  const std::string range = absl::StrCat("must be an integer from ", min, " to ", max);
  if (v->is_double()) {
    const double d = v->get_double();
    // Boost reads integers past the uint64 range as doubles.
    const bool huge = std::trunc(d) == d && std::fabs(d) >= 0x1p63;
    if (!huge) return Invalid(prefix, key, range + ", written without a fraction or exponent");
  } else if (!v->is_number()) {
    return Invalid(prefix, key, absl::StrCat(range, ", not ", KindName(*v)));
  }
  return Invalid(prefix, key, range);
}

absl::StatusOr<std::optional<bool>> OptionalBool(const json::object& o, std::string_view key,
                                                 std::string_view prefix) {
  const json::value* v = Find(o, key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_bool()) {
    return Invalid(prefix, key, absl::StrCat("must be true or false, not ", KindName(*v)));
  }
  return v->get_bool();
}

absl::StatusOr<const json::object*> OptionalObject(const json::object& o, std::string_view key,
                                                   std::string_view prefix) {
  const json::value* v = Find(o, key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    return Invalid(prefix, key, absl::StrCat("must be a JSON object, not ", KindName(*v)));
  }
  return &v->get_object();
}

absl::StatusOr<Event> DecodeEvent(const json::value& v, const EventDecodeOptions& options) {
  const std::string_view prefix = options.prefix;
  const json::object* o = v.if_object();
  if (o == nullptr) {
    std::string what = prefix.empty() ? "body" : std::string(prefix.substr(0, prefix.size() - 1));
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": must be a JSON object, not ", KindName(v)));
  }
  std::vector<std::string_view> allowed(std::begin(kEventKeys), std::end(kEventKeys));
  allowed.insert(allowed.end(), options.extra_keys.begin(), options.extra_keys.end());
  if (absl::Status s = RejectUnknown(*o, allowed, prefix); !s.ok()) return s;
  Event event;
  if (absl::Status s = DecodeIdentity(*o, options, &event); !s.ok()) return s;
  absl::StatusOr<Micros> time = DecodeTime(*o, prefix);
  if (!time.ok()) return time.status();
  event.time = *time;
  if (absl::Status s = DecodeData(*o, prefix, &event); !s.ok()) return s;
  if (absl::Status s = DecodeContext(*o, prefix, &event); !s.ok()) return s;
  if (absl::Status s = Validate(event, options); !s.ok()) return s;
  return event;
}

absl::StatusOr<std::vector<Event>> DecodeEventBatch(const json::object& body, size_t max_events) {
  if (absl::Status s = RejectUnknownKeys(body, {"events"}, ""); !s.ok()) return s;
  const json::value* events = Find(body, "events");
  if (events == nullptr) return Invalid("", "events", "is required");
  const json::array* list = events->if_array();
  const std::string count_rule = absl::StrCat("must hold 1 to ", max_events, " events");
  if (list == nullptr) {
    return Invalid("", "events",
                   absl::StrCat("must be an array of events, not ", KindName(*events)));
  }
  if (list->empty() || list->size() > max_events) return Invalid("", "events", count_rule);
  std::vector<Event> out;
  out.reserve(list->size());
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string prefix = absl::StrCat("events[", i, "].");
    absl::StatusOr<Event> event = DecodeEvent((*list)[i], {.prefix = prefix});
    if (!event.ok()) return event.status();
    out.push_back(*std::move(event));
  }
  return out;
}

}  // namespace tally
