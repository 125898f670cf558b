#include "analytics/archive_manifest.h"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "analytics/archive_io.h"

namespace tally {
namespace json = boost::json;

const ArchiveEntry* Manifest::FindBySha256(const std::string& sha256) const {
  for (const ArchiveEntry& e : files) {
    if (e.sha256 == sha256) return &e;
  }
  return nullptr;
}

const ArchiveEntry* Manifest::FindByName(const std::string& file) const {
  for (const ArchiveEntry& e : files) {
    if (e.file == file) return &e;
  }
  return nullptr;
}

std::string ManifestToJson(const Manifest& manifest) {
  json::array files;
  for (const ArchiveEntry& e : manifest.files) {
    files.push_back(json::object{
        {"file", e.file},
        {"first_seq", e.first_seq},
        {"last_seq", e.last_seq},
        {"rows", e.rows},
        {"min_time", FormatRfc3339(e.min_time)},
        {"max_time", FormatRfc3339(e.max_time)},
        {"bytes", e.bytes},
        {"sha256", e.sha256},
        {"created", FormatRfc3339(e.created)},
        {"cutoff", FormatRfc3339(e.cutoff)},
        {"after_seq", e.after_seq},
        {"upto_seq", e.upto_seq},
    });
  }
  // One file per line: readable, and diffs well.
  std::string out = "{\"version\":1,\"files\":[";
  for (size_t i = 0; i < files.size(); ++i) {
    out += i == 0 ? "\n" : ",\n";
    out += json::serialize(files[i]);
  }
  out += "\n]}\n";
  return out;
}

absl::StatusOr<Manifest> ManifestFromJson(const std::string& text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return absl::DataLossError(absl::StrCat("not JSON: ", ec.message()));
  const json::object* obj = root.if_object();
  if (obj == nullptr) return absl::DataLossError("not a JSON object");
  const json::value* version = obj->if_contains("version");
  if (version == nullptr || !version->is_int64() || version->as_int64() != 1) {
    return absl::DataLossError("\"version\" must be 1");
  }
  const json::value* files = obj->if_contains("files");
  if (files == nullptr || !files->is_array()) return absl::DataLossError("\"files\" must be an array");
  Manifest manifest;
  size_t index = 0;
  for (const json::value& f : files->as_array()) {
    const std::string where = absl::StrCat("files[", index++, "]");
    const json::object* o = f.if_object();
    if (o == nullptr) return absl::DataLossError(absl::StrCat(where, ": not an object"));
    ArchiveEntry e;
    auto str = [&](const char* key, std::string& out) -> absl::Status {
      const json::value* v = o->if_contains(key);
      if (v == nullptr || !v->is_string()) {
        return absl::DataLossError(absl::StrCat(where, ".", key, ": missing or not a string"));
      }
      out = std::string(v->as_string());
      return absl::OkStatus();
    };
    auto num = [&](const char* key, uint64_t& out) -> absl::Status {
      const json::value* v = o->if_contains(key);
      if (v != nullptr && v->is_uint64()) {
        out = v->as_uint64();
      } else if (v != nullptr && v->is_int64() && v->as_int64() >= 0) {
        out = static_cast<uint64_t>(v->as_int64());
      } else {
        return absl::DataLossError(absl::StrCat(where, ".", key, ": missing or not a non-negative integer"));
      }
      return absl::OkStatus();
    };
    auto time = [&](const char* key, Micros& out) -> absl::Status {
      std::string s;
      if (absl::Status st = str(key, s); !st.ok()) return st;
      std::optional<Micros> t = ParseRfc3339(s);
      if (!t) return absl::DataLossError(absl::StrCat(where, ".", key, ": not an RFC 3339 time"));
      out = *t;
      return absl::OkStatus();
    };
    for (absl::Status s :
         {str("file", e.file), num("first_seq", e.first_seq), num("last_seq", e.last_seq),
          num("rows", e.rows), time("min_time", e.min_time), time("max_time", e.max_time),
          num("bytes", e.bytes), str("sha256", e.sha256), time("created", e.created),
          time("cutoff", e.cutoff), num("after_seq", e.after_seq), num("upto_seq", e.upto_seq)}) {
      if (!s.ok()) return s;
    }
    if (e.file.empty() || e.file.find('/') != std::string::npos) {
      return absl::DataLossError(absl::StrCat(where, ".file: must be a plain file name"));
    }
    manifest.files.push_back(std::move(e));
  }
  return manifest;
}

absl::StatusOr<Manifest> LoadManifest(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kManifestName).string();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Manifest{};
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<Manifest> manifest = ManifestFromJson(text.str());
  if (!manifest.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", manifest.status().message()));
  }
  return manifest;
}

absl::Status SaveManifest(const std::string& dir, const Manifest& manifest) {
  return WriteFileAtomically((std::filesystem::path(dir) / kManifestName).string(),
                             ManifestToJson(manifest));
}

ArchiveCoverage::ArchiveCoverage(const Manifest& manifest) {
  for (const ArchiveEntry& e : manifest.files) {
    if (e.upto_seq <= e.after_seq) continue;
    bounds_.push_back(e.after_seq);
    bounds_.push_back(e.upto_seq);
  }
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  if (bounds_.size() < 2) {
    bounds_.clear();
    return;
  }
  cutoffs_.assign(bounds_.size() - 1, kBeginningOfTime);
  // Paint segments with the largest cutoff first; `next` skips painted ones.
  std::vector<const ArchiveEntry*> by_cutoff;
  for (const ArchiveEntry& e : manifest.files) {
    if (e.upto_seq > e.after_seq) by_cutoff.push_back(&e);
  }
  std::sort(by_cutoff.begin(), by_cutoff.end(),
            [](const ArchiveEntry* a, const ArchiveEntry* b) { return a->cutoff > b->cutoff; });
  std::vector<size_t> next(cutoffs_.size() + 1);
  std::iota(next.begin(), next.end(), 0);
  auto find = [&](size_t i) {
    size_t root = i;
    while (next[root] != root) root = next[root];
    while (next[i] != root) {
      const size_t up = next[i];
      next[i] = root;
      i = up;
    }
    return root;
  };
  for (const ArchiveEntry* e : by_cutoff) {
    const size_t lo = std::lower_bound(bounds_.begin(), bounds_.end(), e->after_seq) - bounds_.begin();
    const size_t hi = std::lower_bound(bounds_.begin(), bounds_.end(), e->upto_seq) - bounds_.begin();
    for (size_t i = find(lo); i < hi; i = find(i)) {
      cutoffs_[i] = e->cutoff;
      next[i] = i + 1;
    }
  }
}

bool ArchiveCoverage::Covers(uint64_t seq, Micros time) const {
  if (cutoffs_.empty() || seq <= bounds_.front() || seq > bounds_.back()) return false;
  // The segment (bounds_[i], bounds_[i+1]] holding seq.
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), seq) - bounds_.begin() - 1;
  return time < cutoffs_[i];
}

}  // namespace tally
