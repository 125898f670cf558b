// Base64url without padding (see base64url.h). Pure functions.
#include "server/auth/base64url.h"

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tally {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr int8_t kInvalid = -1;

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& entry : table) entry = kInvalid;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}

constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

std::string DescribeChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u <= 0x7e) return absl::StrCat("'", std::string(1, c), "'");
  static constexpr char kHex[] = "0123456789abcdef";
  return absl::StrCat("byte 0x", std::string{kHex[u >> 4], kHex[u & 0xf]});
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8 |
                       static_cast<unsigned char>(data[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const size_t rest = data.size() - i;
  if (rest == 1) {
    const uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
  } else if (rest == 2) {
    const uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
  }
  return out;
}

absl::StatusOr<std::string> Base64UrlDecode(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (kDecode[static_cast<unsigned char>(text[i])] == kInvalid) {
      return absl::InvalidArgumentError(absl::StrCat("character ", i + 1, " (", DescribeChar(text[i]),
                                                     ") is not base64url (A-Z a-z 0-9 - _, no padding)"));
    }
  }
  if (text.size() % 4 == 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("length ", text.size(), " is impossible for base64url (one character too many or too few)"));
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    acc = (acc << 6) | static_cast<uint32_t>(kDecode[static_cast<unsigned char>(c)]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // The last character may carry 2 or 4 bits that belong to no byte; a
  // canonical encoder leaves them zero.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError("the last character has non-zero unused bits (not canonical base64url)");
  }
  return out;
}

}  // namespace tally
