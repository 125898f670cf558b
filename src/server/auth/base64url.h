// Base64url (RFC 4648 §5) without padding, as JWS compact serialization uses
// it (RFC 7515 §2). Decoding is strict: padding, characters outside the
// alphabet, an impossible length and non-zero unused trailing bits are all
// rejected, so every byte string has exactly one accepted encoding.
//
// Thread-safety: pure functions.
#ifndef TALLY_SERVER_AUTH_BASE64URL_H_
#define TALLY_SERVER_AUTH_BASE64URL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace tally {

// Encodes `data` with the URL-safe alphabet and no '=' padding.
std::string Base64UrlEncode(std::string_view data);

// Decodes unpadded base64url. Errors are InvalidArgument naming the offending
// character's position, e.g. "character 12 ('=') is not base64url (A-Z a-z
// 0-9 - _, no padding)".
absl::StatusOr<std::string> Base64UrlDecode(std::string_view text);

}  // namespace tally

#endif  // TALLY_SERVER_AUTH_BASE64URL_H_
