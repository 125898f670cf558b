// UTF-8 decoding, shared by event validation and the HTTP request decoders.
//
// Thread-safety: pure function.
#ifndef TALLY_CORE_UTF8_H_
#define TALLY_CORE_UTF8_H_

#include <cstddef>
#include <string_view>

namespace tally {

// Decodes the UTF-8 sequence at s[i] into *code_point and returns its length,
// or returns 0 if it is malformed (overlong, surrogate, past U+10FFFF,
// truncated or a stray continuation byte). REQUIRES: i < s.size().
size_t DecodeUtf8(std::string_view s, size_t i, char32_t* code_point);

}  // namespace tally

#endif  // TALLY_CORE_UTF8_H_
