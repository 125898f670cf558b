// What the HTTP integration tests share beyond the client and the process:
// user tokens (HS256 JWTs signed here with OpenSSL), event bodies, checks of
// the API's error shape, lookups in quota lists, and a parser for the
// structured-field lists (RFC 8941) of the RateLimit headers.
//
// Thread-safety: pure functions.
#ifndef TALLY_TESTS_HTTP_TEST_SUPPORT_H_
#define TALLY_TESTS_HTTP_TEST_SUPPORT_H_

#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "http_client.h"
#include "server_process.h"

namespace tally::http_test {

namespace json = boost::json;

// Seconds since the epoch, now.
int64_t NowSeconds();

// A compact HS256 JWT over `claims` (header {"alg":"HS256","typ":"JWT"}).
std::string SignJwt(const json::object& claims, std::string_view secret = kJwtSecret);
// A user token for `subject` expiring `expires_in_s` from now (negative: already expired).
std::string UserToken(const std::string& subject, int64_t expires_in_s = 3600);

// {"id","subject","type","data"}.
json::object EventBody(const std::string& id, const std::string& subject,
                       const json::object& data = {}, const std::string& type = "api_call");

// The response is `status` with the API's error shape
// {"error":{"code","message","field"?}}: a JSON body, code == `code`, a
// non-empty message, and (when given) field == `field`. With `only_error`,
// the body holds nothing but "error" and error nothing but code, message and
// field.
::testing::AssertionResult IsError(const Response& r, int status, std::string_view code,
                                   std::optional<std::string> field = std::nullopt,
                                   bool only_error = true);

// The entry of `quotas` (an array) for `meter` and `scope`, or nullptr.
const json::object* FindQuota(const json::value& quotas, std::string_view meter,
                              std::string_view scope = "subject");
// Its "used", or -1 when there is no such entry.
int64_t UsedOf(const json::value& quotas, std::string_view meter,
               std::string_view scope = "subject");

// GET /api/usage/current?user_id=<subject> through `client` (an admin or
// service key): the subject's "used" of `meter`, or -1 on any failure (with
// a test failure recorded).
int64_t CurrentUsed(HttpClient& client, const std::string& subject, std::string_view meter,
                    std::string_view scope = "subject");

// Creates an API key through POST /api/admin/keys; its secret, or "" (with a
// test failure recorded).
std::string CreateKey(HttpClient& admin, const std::string& role, const json::object& extra = {});

// One member of an RFC 8941 list: a bare item (its text: a string without
// quotes and escapes, a token, an integer) and its parameters.
struct SfItem {
  enum class Kind { kString, kToken, kInteger, kBoolean };
  Kind kind = Kind::kToken;
  std::string value;
  struct Param {
    Kind kind = Kind::kBoolean;
    std::string value;  // "?1" for a bare key
  };
  std::map<std::string, Param> params;
};
// Parses `text` as an sf-list of items whose bare items are strings, tokens,
// integers or booleans (all the RateLimit draft uses); nullopt with `error`
// when it is not one.
std::optional<std::vector<SfItem>> ParseSfList(std::string_view text, std::string* error);

// The value of the metric sample line that starts with `prefix` (name and
// labels, e.g. "tally_events_total"), or -1.
// The value at `key` of an object, or null. Points into `v`.
const json::value& At(const json::value& v, std::string_view key);
// A string's text, or "" for anything else.
std::string Str(const json::value& v);
// An integer's value, or -999 for anything else.
int64_t Int(const json::value& v);

double MetricValue(const std::string& metrics, const std::string& prefix);

// A number from /proc/<pid>/status, e.g. "VmRSS" (KiB) or "Threads"; -1 if
// the process or the field is not there.
int64_t ProcStatus(pid_t pid, std::string_view field);

}  // namespace tally::http_test

#endif  // TALLY_TESTS_HTTP_TEST_SUPPORT_H_
