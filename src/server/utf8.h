// UTF-8 well-formedness, shared by the request decoders and the error writer.
//
// Thread-safety: pure function.
#ifndef TALLY_SERVER_UTF8_H_
#define TALLY_SERVER_UTF8_H_

#include <cstddef>
#include <string_view>

namespace tally {

// Length of the well-formed UTF-8 sequence at s[i], or 0 (overlong, surrogate,
// past U+10FFFF, truncated or a stray continuation byte). REQUIRES: i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

}  // namespace tally

#endif  // TALLY_SERVER_UTF8_H_
