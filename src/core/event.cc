#include "core/event.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/utf8.h"

namespace tally {
namespace {

// XXH64 (seed 0), streaming. Its output is persisted (id hashes, fingerprints,
// unique_count values), so this function and Fingerprint's framing are frozen.
class Xxh64 {
 public:
  Xxh64& Update(std::string_view bytes) {
    total_ += bytes.size();
    const char* p = bytes.data();
    size_t n = bytes.size();
    if (buffered_ > 0) {
      const size_t take = std::min(n, sizeof(buffer_) - buffered_);
      std::memcpy(buffer_ + buffered_, p, take);
      buffered_ += take;
      p += take;
      n -= take;
      if (buffered_ < sizeof(buffer_)) return *this;
      ConsumeStripe(buffer_);
      buffered_ = 0;
    }
    for (; n >= sizeof(buffer_); p += sizeof(buffer_), n -= sizeof(buffer_)) {
      ConsumeStripe(p);
    }
    std::memcpy(buffer_, p, n);
    buffered_ = n;
    return *this;
  }

  uint64_t Digest() const {
    uint64_t h;
    if (total_ >= sizeof(buffer_)) {
      h = Rotl(v_[0], 1) + Rotl(v_[1], 7) + Rotl(v_[2], 12) + Rotl(v_[3], 18);
      for (uint64_t v : v_) h = MergeRound(h, v);
    } else {
      h = kP5;
    }
    h += total_;
    const char* p = buffer_;
    size_t n = buffered_;
    for (; n >= 8; p += 8, n -= 8) {
      h ^= Round(0, Load64(p));
      h = Rotl(h, 27) * kP1 + kP4;
    }
    if (n >= 4) {
      h ^= Load32(p) * kP1;
      h = Rotl(h, 23) * kP2 + kP3;
      p += 4;
      n -= 4;
    }
    for (; n > 0; ++p, --n) {
      h ^= static_cast<uint64_t>(static_cast<unsigned char>(*p)) * kP5;
      h = Rotl(h, 11) * kP1;
    }
    return Avalanche(h);
  }

 private:
  static constexpr uint64_t kP1 = 0x9E3779B185EBCA87ULL;
  static constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4FULL;
  static constexpr uint64_t kP3 = 0x165667B19E3779F9ULL;
  static constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ULL;
  static constexpr uint64_t kP5 = 0x27D4EB2F165667C5ULL;

  static uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

  // Little-endian loads (XXH64 is defined on little-endian words).
  static uint64_t Load64(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, sizeof(v));
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    return v;
  }

  static uint64_t Load32(const char* p) {
    uint32_t v;
    std::memcpy(&v, p, sizeof(v));
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
    return v;
  }

  static uint64_t Round(uint64_t acc, uint64_t input) {
    return Rotl(acc + input * kP2, 31) * kP1;
  }

  static uint64_t MergeRound(uint64_t acc, uint64_t v) {
    return (acc ^ Round(0, v)) * kP1 + kP4;
  }

  static uint64_t Avalanche(uint64_t h) {
    h ^= h >> 33;
    h *= kP2;
    h ^= h >> 29;
    h *= kP3;
    h ^= h >> 32;
    return h;
  }

  void ConsumeStripe(const char* p) {
    for (int i = 0; i < 4; ++i) v_[i] = Round(v_[i], Load64(p + 8 * i));
  }

  uint64_t v_[4] = {kP1 + kP2, kP2, 0, 0 - kP1};
  char buffer_[32];
  size_t buffered_ = 0;
  uint64_t total_ = 0;
};

bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Valid UTF-8 and, unless `allow_control`, free of C0/C1 control characters.
bool IsCleanText(std::string_view s, bool allow_control) {
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0 || (!allow_control && IsControl(cp))) return false;
    i += len;
  }
  return true;
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return c >= 0x20 && c <= 0x7E; });
}

bool IsValidName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxNameLength &&
         IsCleanText(name, /*allow_control=*/false);
}

bool IsValidDataKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxNameLength) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

// `s` quoted for an error message: printable ASCII as is, other bytes as \xNN,
// at most 64 bytes of the original.
std::string Quote(std::string_view s) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out + "\"";
}

absl::Status Invalid(const std::string& path, const std::string& message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

absl::Status ValidateData(const Event& event) {
  if (event.data.size() > kMaxDataFields) {
    return Invalid("data", absl::StrCat("at most ", kMaxDataFields, " fields"));
  }
  for (size_t i = 0; i < event.data.size(); ++i) {
    const auto& [key, value] = event.data[i];
    if (!IsValidDataKey(key)) {
      return Invalid("data", absl::StrCat("key ", Quote(key),
                                          " must match [A-Za-z0-9_.-]{1,",
                                          kMaxNameLength, "}"));
    }
    if (value < 0) return Invalid(absl::StrCat("data.", key), "must be a non-negative integer");
    for (size_t j = 0; j < i; ++j) {
      if (event.data[j].first == key) return Invalid(absl::StrCat("data.", key), "duplicate key");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateContext(const EventContext& context) {
  const std::pair<const char*, const std::string*> fields[] = {
      {"session_id", &context.session_id}, {"ip", &context.ip},
      {"user_agent", &context.user_agent}, {"endpoint", &context.endpoint},
      {"method", &context.method},         {"error_code", &context.error_code},
  };
  for (const auto& [name, text] : fields) {
    if (text->size() > kMaxContextLength) {
      return Invalid(absl::StrCat("context.", name),
                     absl::StrCat("longer than ", kMaxContextLength, " bytes"));
    }
    if (!IsCleanText(*text, /*allow_control=*/true)) {
      return Invalid(absl::StrCat("context.", name), "must be valid UTF-8");
    }
  }
  if (context.processing_ms < -1) {
    return Invalid("context.processing_ms", "must be a non-negative integer");
  }
  return absl::OkStatus();
}

}  // namespace

std::string EventContext::Field(std::string_view name) const {
  if (name == "session_id") return session_id;
  if (name == "ip") return ip;
  if (name == "user_agent") return user_agent;
  if (name == "endpoint") return endpoint;
  if (name == "method") return method;
  if (name == "error_code") return error_code;
  if (name == "processing_ms" && processing_ms >= 0) {
    return std::to_string(processing_ms);
  }
  return "";
}

const int64_t* Event::Find(std::string_view field) const {
  for (const auto& [key, value] : data) {
    if (key == field) return &value;
  }
  return nullptr;
}

absl::Status ValidateEvent(const Event& event) {
  if (!IsValidId(event.id)) {
    return Invalid("id", absl::StrCat("must be 1 to ", kMaxIdLength,
                                      " printable ASCII characters"));
  }
  // Messages are built only on failure: this runs on every event.
  const auto name_rule = [] {
    return absl::StrCat("must be 1 to ", kMaxNameLength,
                        " bytes of UTF-8 text without control characters");
  };
  if (!IsValidName(event.subject)) return Invalid("subject", name_rule());
  if (!IsValidName(event.type)) return Invalid("type", name_rule());
  if (absl::Status s = ValidateData(event); !s.ok()) return s;
  return ValidateContext(event.context);
}

// The framing below is persisted (see Xxh64): length-prefixed strings and
// little-endian 64-bit integers, data sorted by key.
namespace {

// The fingerprint's byte layout: every string length-prefixed, integers as 8
// little-endian bytes, data sorted by key. Built in one buffer and hashed in
// one pass (the same bytes, so the same hash, as feeding them one by one).
class FingerprintBytes {
 public:
  void U64(uint64_t v) {
    if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
    char bytes[8];
    std::memcpy(bytes, &v, sizeof(bytes));
    out_.append(bytes, sizeof(bytes));
  }
  void Str(std::string_view s) {
    U64(s.size());
    out_.append(s);
  }
  std::string_view view() const { return out_; }
  void Clear() { out_.clear(); }

 private:
  std::string out_;
};

}  // namespace

uint64_t Fingerprint(const Event& event) {
  thread_local FingerprintBytes b;
  b.Clear();
  b.Str(event.id);
  b.Str(event.subject);
  b.Str(event.type);
  b.U64(static_cast<uint64_t>(event.time));
  b.U64(event.data.size());
  using Entry = std::pair<std::string, int64_t>;
  const auto add = [](const Entry& e) {
    b.Str(e.first);
    b.U64(static_cast<uint64_t>(e.second));
  };
  if (std::is_sorted(event.data.begin(), event.data.end())) {
    for (const Entry& e : event.data) add(e);
  } else {
    std::vector<const Entry*> sorted;
    sorted.reserve(event.data.size());
    for (const Entry& e : event.data) sorted.push_back(&e);
    std::sort(sorted.begin(), sorted.end(),
              [](const Entry* x, const Entry* y) { return *x < *y; });
    for (const Entry* e : sorted) add(*e);
  }
  const EventContext& c = event.context;
  b.Str(c.session_id);
  b.Str(c.ip);
  b.Str(c.user_agent);
  b.Str(c.endpoint);
  b.Str(c.method);
  b.Str(c.error_code);
  b.U64(static_cast<uint64_t>(c.processing_ms));
  return Xxh64().Update(b.view()).Digest();
}

uint64_t StableHash(std::string_view s) { return Xxh64().Update(s).Digest(); }

}  // namespace tally
