// Request-target and query-string parsing. See query.h.
//
// Thread-safety: pure functions and immutable values.
#include "server/query.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "core/utf8.h"

namespace tally {
namespace {

absl::Status Invalid(std::string_view field, std::string_view problem) {
  std::string message(field);
  message.append(": ").append(problem);
  return absl::InvalidArgumentError(message);
}

// absl::string_view is not std::string_view in the abseil this builds against.
std::string_view View(absl::string_view s) { return std::string_view(s.data(), s.size()); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

bool IsPlainNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// True if `path` has a segment that is exactly "..".
bool HasDotDotSegment(std::string_view path) {
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

bool ContainsEncodedSlash(std::string_view raw_path) {
  for (size_t i = 0; i + 2 < raw_path.size(); ++i) {
    if (raw_path[i] == '%' && raw_path[i + 1] == '2' &&
        (raw_path[i + 2] == 'f' || raw_path[i + 2] == 'F')) {
      return true;
    }
  }
  return false;
}

std::string IntRangeProblem(int64_t min, int64_t max) {
  return absl::StrCat("must be an integer from ", min, " to ", max);
}

}  // namespace

std::string NameForMessage(std::string_view name) {
  if (!name.empty() && std::all_of(name.begin(), name.end(), IsPlainNameChar)) {
    return std::string(name);
  }
  constexpr size_t kMaxShown = 64;
  size_t shown = std::min(name.size(), kMaxShown);
  // Cut before a multi-byte character rather than through it.
  while (shown < name.size() && shown > 0 &&
         (static_cast<unsigned char>(name[shown]) & 0xC0) == 0x80) {
    --shown;
  }
  std::string out = "\"";
  for (const char ch : name.substr(0, shown)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7F) {
      constexpr char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
    } else {
      out += ch;
    }
  }
  if (shown < name.size()) out += "...";
  return out + "\"";
}

absl::StatusOr<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("has a bad percent escape ", NameForMessage(text.substr(i, 3)),
                         "; '%' must be followed by two hex digits (write a literal '%' as %25)"));
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  if (out.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("must not contain a NUL byte (%00)");
  }
  if (!IsValidUtf8(out)) {
    return absl::InvalidArgumentError("must be UTF-8 text once percent-decoded");
  }
  return out;
}

absl::StatusOr<RequestTarget> SplitTarget(std::string_view target) {
  if (target.size() > kMaxTargetLength) {
    return Invalid("path",
                   absl::StrCat("the request target is longer than ", kMaxTargetLength, " bytes"));
  }
  if (target.empty() || target.front() != '/') {
    return Invalid("path", "the request target must start with '/'");
  }
  const size_t question = target.find('?');
  const std::string_view raw_path = target.substr(0, question);
  RequestTarget result;
  if (question != std::string_view::npos) result.query = std::string(target.substr(question + 1));
  if (ContainsEncodedSlash(raw_path)) {
    return Invalid("path", "must not contain an encoded '/' (%2F)");
  }
  absl::StatusOr<std::string> path = PercentDecode(raw_path, /*plus_is_space=*/false);
  if (!path.ok()) return Invalid("path", View(path.status().message()));
  if (HasDotDotSegment(*path)) return Invalid("path", "must not contain a \"..\" segment");
  result.path = *std::move(path);
  return result;
}

absl::StatusOr<QueryParams> QueryParams::Parse(std::string_view raw) {
  QueryParams params;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find('&', start);
    if (end == std::string_view::npos) end = raw.size();
    const std::string_view pair = raw.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    if (params.params_.size() == kMaxQueryParams) {
      return Invalid("query", absl::StrCat("at most ", kMaxQueryParams, " parameters"));
    }
    const size_t equals = pair.find('=');
    absl::StatusOr<std::string> name = PercentDecode(pair.substr(0, equals), true);
    if (!name.ok()) {
      return Invalid("query", absl::StrCat("parameter name ", name.status().message()));
    }
    if (name->empty()) {
      return Invalid("query",
                     absl::StrCat("a parameter has an empty name: ", NameForMessage(pair)));
    }
    const std::string shown = NameForMessage(*name);
    absl::StatusOr<std::string> value = std::string();
    if (equals != std::string_view::npos) value = PercentDecode(pair.substr(equals + 1), true);
    if (!value.ok()) return Invalid(shown, View(value.status().message()));
    if (params.Get(*name).has_value()) return Invalid(shown, "given more than once");
    params.params_.emplace_back(*std::move(name), *std::move(value));
  }
  return params;
}

std::optional<std::string_view> QueryParams::Get(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<int64_t>> QueryParams::GetInt(std::string_view name, int64_t min,
                                                           int64_t max) const {
  const std::optional<std::string_view> text = Get(name);
  if (!text.has_value()) return std::nullopt;
  int64_t value = 0;
  const char* const end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (text->empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    return Invalid(NameForMessage(name), IntRangeProblem(min, max));
  }
  return value;
}

absl::StatusOr<std::optional<Micros>> QueryParams::GetTime(std::string_view name) const {
  const std::optional<std::string_view> text = Get(name);
  if (!text.has_value()) return std::nullopt;
  std::string time(*text);
  std::replace(time.begin(), time.end(), ' ', '+');
  const std::optional<Micros> parsed = ParseRfc3339(time);
  if (!parsed.has_value()) {
    return Invalid(NameForMessage(name), "must be an RFC 3339 time such as 2026-03-08T07:00:00Z");
  }
  return *parsed;
}

absl::Status QueryParams::AllowOnly(std::initializer_list<std::string_view> names) const {
  for (const auto& [key, value] : params_) {
    if (std::find(names.begin(), names.end(), key) != names.end()) continue;
    std::string expected;
    for (std::string_view allowed : names) {
      if (!expected.empty()) expected += ", ";
      expected.append(allowed);
    }
    return Invalid(NameForMessage(key), names.size() == 0
                                            ? "unknown parameter; this endpoint takes none"
                                            : "unknown parameter; expected one of " + expected);
  }
  return absl::OkStatus();
}

}  // namespace tally
