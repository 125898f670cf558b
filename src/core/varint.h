// Compact binary encoding for tally's own blobs (checkpoints, rollup cells,
// sketches): LEB128 varints, zigzag for signed values, length-prefixed strings.
//
// VarintReader never reads past its input: on truncated or malformed input it
// fails (ok() turns false) and returns zeros from then on, so decoders can read
// everything and check ok() once at the end.
//
// Thread-safety: plain value types.
#ifndef TALLY_CORE_VARINT_H_
#define TALLY_CORE_VARINT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace tally {

class VarintWriter {
 public:
  void U(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void S(int64_t v) { U((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Str(std::string_view s) {
    U(s.size());
    out_.append(s);
  }
  void Raw(std::string_view s) { out_.append(s); }
  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class VarintReader {
 public:
  explicit VarintReader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  uint64_t U() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return Fail();
      const uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Fail();
  }
  int64_t S() {
    const uint64_t v = U();
    return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  std::string Str() {
    const uint64_t n = U();
    if (!ok_ || n > in_.size() - pos_) return Fail(), std::string();
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  // A count that cannot exceed the bytes left (each item takes at least one).
  uint64_t Count() {
    const uint64_t n = U();
    if (n > in_.size() - pos_) return Fail();
    return n;
  }
  bool Expect(std::string_view s) {
    if (in_.substr(pos_, s.size()) != s) return Fail(), false;
    pos_ += s.size();
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  uint64_t Fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace tally

#endif  // TALLY_CORE_VARINT_H_
