#include "server/router.h"

#include <utility>


namespace tally {

std::string_view MethodName(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      break;
  }
  return "OTHER";
}

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

// Matches `path` against `pattern`, appending "{name}" segments to `params`.
bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::vector<std::string>* params) {
  const std::vector<std::string_view> want = Segments(pattern);
  const std::vector<std::string_view> got = Segments(path);
  if (want.size() != got.size()) return false;
  params->clear();
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].empty() && want[i].front() == '{') {
      if (got[i].empty()) return false;
      params->emplace_back(got[i]);
    } else if (want[i] != got[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::Add(Route route) { routes_.push_back(std::move(route)); }

Router::Match Router::Find(Method method, std::string_view path) const {
  Match match;
  std::vector<std::string> params;
  for (const Route& r : routes_) {
    if (!MatchPattern(r.pattern, path, &params)) continue;
    if (r.method == method || (method == Method::kHead && r.method == Method::kGet)) {
      match.route = &r;
      match.params = std::move(params);
      return match;
    }
    match.allowed.push_back(r.method);
  }
  return match;
}

}  // namespace tally
