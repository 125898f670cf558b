// libFuzzer target: request targets and query strings, as the GET endpoints
// receive them. Feeds the bytes to SplitTarget and QueryParams::Parse (both on
// the split-off query and on the raw bytes) and reads every parameter with
// Get, GetInt and GetTime. Beyond "no crash, no leak, no UB" it checks that:
//   - every error is InvalidArgument and its error body is valid JSON;
//   - a split path starts with '/', is valid UTF-8 without NUL or ".." segments;
//   - Get returns what all() holds, names are unique and non-empty;
//   - GetInt's result lies in the range asked for.
//
// Thread-safety: libFuzzer calls it from one thread.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <string_view>

#include "server/api_error.h"
#include "server/event_json.h"
#include "server/query.h"

namespace tally {
namespace {

void Require(bool condition, const char* what, std::string_view detail = "") {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s: %.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

void CheckError(const absl::Status& status) {
  Require(status.code() == absl::StatusCode::kInvalidArgument, "error code",
          std::string(status.message()));
  const std::string body = ErrorBody(FromStatus(status));
  Require(ParseJsonBody(body).ok(), "error body is not JSON", body);
}

void CheckPath(const std::string& path) {
  Require(!path.empty() && path.front() == '/', "path must start with '/'", path);
  Require(path.find('\0') == std::string::npos, "NUL in path", path);
  Require(path.find("/../") == std::string::npos && !path.ends_with("/.."), "'..' in path", path);
  // Without '%', decoding is the identity plus the UTF-8 and NUL checks.
  if (path.find('%') == std::string::npos) {
    Require(PercentDecode(path, false).ok(), "path is not UTF-8", path);
  }
}

void ReadAll(const QueryParams& params) {
  std::set<std::string> names;
  for (const auto& [name, value] : params.all()) {
    Require(!name.empty(), "empty name");
    Require(names.insert(name).second, "duplicate name", name);
    Require(params.Get(name) == std::string_view(value), "Get disagrees with all()", name);
    constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    const std::pair<int64_t, int64_t> ranges[] = {{1, 1000}, {kMin, kMax}, {0, 0}, {-5, -1}};
    for (const auto& [min, max] : ranges) {
      absl::StatusOr<std::optional<int64_t>> n = params.GetInt(name, min, max);
      if (!n.ok()) {
        CheckError(n.status());
        continue;
      }
      Require(n->has_value() && **n >= min && **n <= max, "GetInt out of range", value);
    }
    absl::StatusOr<std::optional<Micros>> t = params.GetTime(name);
    if (t.ok()) {
      Require(t->has_value(), "GetTime lost a present value", name);
    } else {
      CheckError(t.status());
    }
  }
  Require(params.all().size() <= kMaxQueryParams, "too many parameters");
  if (absl::Status s = params.AllowOnly({"user_id", "from", "to", "granularity"}); !s.ok()) {
    CheckError(s);
  }
}

void ParseQuery(std::string_view raw) {
  absl::StatusOr<QueryParams> params = QueryParams::Parse(raw);
  if (params.ok()) {
    ReadAll(*params);
  } else {
    CheckError(params.status());
  }
}

}  // namespace
}  // namespace tally

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tally;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<RequestTarget> target = SplitTarget(input);
  if (target.ok()) {
    CheckPath(target->path);
    ParseQuery(target->query);
  } else {
    CheckError(target.status());
  }
  ParseQuery(input);
  return 0;
}
