// Tests for event_json.h (and the error body of api_error.h, which every
// decoding failure ends up in): the hostile-input list of request bodies.
#include "server/event_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "server/api_error.h"

namespace tally {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// 2026-03-08T07:00:00Z.
constexpr Micros k20260308T0700Z = int64_t{1'772'953'200} * kMicrosPerSecond;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

json::value MustParse(std::string_view body) {
  absl::StatusOr<json::value> v = ParseJsonBody(body);
  EXPECT_TRUE(v.ok()) << v.status() << " for " << body;
  return v.ok() ? *std::move(v) : json::value();
}

// The message of ParseJsonBody's error for `body` ("" if it parsed).
std::string ParseError(std::string_view body) {
  absl::StatusOr<json::value> v = ParseJsonBody(body);
  EXPECT_FALSE(v.ok()) << "parsed: " << body;
  if (!v.ok()) {
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
  return v.ok() ? "" : Message(v.status());
}

// The message of DecodeEvent's error for `body`, which must parse.
std::string DecodeError(std::string_view body, const EventDecodeOptions& options = {}) {
  absl::StatusOr<Event> event = DecodeEvent(MustParse(body), options);
  EXPECT_FALSE(event.ok()) << "decoded: " << body;
  if (!event.ok()) {
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument) << body;
  }
  return event.ok() ? "" : Message(event.status());
}

// "[[[...]]]" nested `depth` deep.
std::string NestedArrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// ---------------------------------------------------------------------------
// ParseJsonBody

TEST(ParseJsonBodyTest, ParsesOneValue) {
  const json::value v = MustParse(" \r\n\t{\"a\": [1, -2, 3.5, \"x\", true, null]} \n");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.at("a").as_array().size(), 6u);
  EXPECT_EQ(v.at("a").at(1).as_int64(), -2);
  EXPECT_TRUE(MustParse("42").is_int64());
  EXPECT_TRUE(MustParse("18446744073709551615").is_uint64());
}

TEST(ParseJsonBodyTest, RejectsEmptyBodies) {
  for (const char* body : {"", " ", "\r\n\t "}) {
    EXPECT_EQ(ParseError(body), "request body is empty; expected a JSON object");
  }
}

TEST(ParseJsonBodyTest, SaysWhatIsWrongAndWhere) {
  EXPECT_EQ(ParseError("{\"a\":1,}"), "invalid JSON at byte 7: syntax error near '}'");
  EXPECT_EQ(ParseError("{'a':1}"), "invalid JSON at byte 1: syntax error near '''");
  EXPECT_EQ(ParseError("{\"a\" 1}"), "invalid JSON at byte 5: syntax error near '1'");
  EXPECT_EQ(ParseError("{\"a\":1"),
            "invalid JSON at byte 6: the body ends before the JSON value does");
  EXPECT_EQ(ParseError("[1,2"), "invalid JSON at byte 4: the body ends before the JSON value does");
  EXPECT_EQ(ParseError("\"abc"),
            "invalid JSON at byte 4: the body ends before the JSON value does");
  EXPECT_EQ(ParseError("{\"a\":tru}"), "invalid JSON at byte 5: syntax error near 't'");
  EXPECT_EQ(ParseError("{\"a\":01}"), "invalid JSON at byte 6: syntax error near '1'");
  EXPECT_EQ(ParseError("{\"a\":NaN}"), "invalid JSON at byte 5: syntax error near 'N'");
  EXPECT_EQ(ParseError("{\"a\":\"\x01\"}"),
            "invalid JSON at byte 6: syntax error near control character 1 (escape it in strings)");
  EXPECT_THAT(ParseError("{\"a\":\"\\x41\"}"), StartsWith("invalid JSON at byte 7: "));
  // No comments or trailing commas: only standard JSON.
  EXPECT_THAT(ParseError("{\"a\":1 /* c */}"), StartsWith("invalid JSON at byte 7: "));
  EXPECT_THAT(ParseError("[1,]"), StartsWith("invalid JSON at byte 3: "));
}

TEST(ParseJsonBodyTest, RejectsTrailingGarbage) {
  EXPECT_EQ(ParseError("{\"a\":1} x"),
            "invalid JSON at byte 8: unexpected data after the JSON value");
  EXPECT_EQ(ParseError("{}{}"), "invalid JSON at byte 2: unexpected data after the JSON value");
  EXPECT_EQ(ParseError("1 2"), "invalid JSON at byte 2: unexpected data after the JSON value");
  EXPECT_THAT(ParseError(std::string_view("{}\0", 3)), HasSubstr("unexpected data"));
}

TEST(ParseJsonBodyTest, AcceptsDepth32AndRejectsDepth33) {
  EXPECT_TRUE(ParseJsonBody(NestedArrays(32)).ok());
  EXPECT_EQ(ParseError(NestedArrays(33)), "invalid JSON at byte 32: nested deeper than 32 levels");
  std::string objects;
  for (int i = 0; i < 32; ++i) objects += "{\"a\":";
  EXPECT_TRUE(ParseJsonBody(objects + "1" + std::string(32, '}')).ok());
  EXPECT_THAT(ParseError("[" + objects + "1" + std::string(32, '}') + "]"),
              HasSubstr("nested deeper than 32 levels"));
  // Far deeper input fails the same way, without recursing.
  EXPECT_THAT(ParseError(NestedArrays(100'000)), HasSubstr("nested deeper than 32 levels"));
}

TEST(ParseJsonBodyTest, RejectsInvalidUtf8InStringsAndKeys) {
  for (const char* body : {
           "{\"a\":\"\xFF\"}",              // never valid
           "{\"a\":\"\xC3\x28\"}",          // bad continuation
           "{\"a\":\"\xC0\xAF\"}",          // overlong '/'
           "{\"a\":\"\xED\xA0\x80\"}",      // UTF-16 surrogate
           "{\"a\":\"\xF4\x90\x80\x80\"}",  // past U+10FFFF
           "{\"a\":\"\xE2\x82\"}",          // truncated
           "{\"\xFF\":1}",                  // in a key
           "{\"ok\xC3\":1}",                // truncated, in a key
       }) {
    EXPECT_THAT(ParseError(body), HasSubstr("invalid UTF-8")) << body;
  }
  EXPECT_THAT(ParseError("{\"a\":\"\\ud800\"}"), StartsWith("invalid JSON"));  // lone surrogate
  EXPECT_THAT(ParseError("{\"a\":\"\\udc00\"}"), StartsWith("invalid JSON"));
  const json::value v = MustParse("{\"a\":\"\\u00e9\\ud83d\\ude00\xE2\x82\xAC\"}");
  EXPECT_EQ(v.at("a").as_string(), "\xC3\xA9\xF0\x9F\x98\x80\xE2\x82\xAC");
}

TEST(ParseJsonBodyTest, RejectsNumbersTooLargeForADouble) {
  EXPECT_EQ(ParseError("{\"a\":1e400}"), "invalid JSON at byte 10: number too large");
  EXPECT_THAT(ParseError("[-1e99999]"), HasSubstr("number too large"));
  // Integers past uint64 fit a double, so they parse; OptionalInt rejects them.
  EXPECT_TRUE(MustParse("18446744073709551616").is_double());
}

TEST(ParseJsonBodyTest, RejectsDuplicateKeysByPath) {
  EXPECT_EQ(ParseError("{\"a\":1,\"a\":2}"), "a: given more than once");
  EXPECT_EQ(ParseError("{\"a\":1,\"\\u0061\":1}"), "a: given more than once");  // same once decoded
  EXPECT_EQ(ParseError("{\"data\":{\"chars\":1,\"x\":2,\"chars\":1}}"),
            "data.chars: given more than once");
  EXPECT_EQ(ParseError("{\"events\":[{\"id\":\"a\"},{\"subject\":\"u\",\"subject\":\"v\"}]}"),
            "events[1].subject: given more than once");
  EXPECT_EQ(ParseError("[[1,{}],[{\"k\":[0,{\"a b\":1,\"a b\":2}]}]]"),
            "[1][0].k[1].\"a b\": given more than once");
  // The same key in sibling objects is fine.
  EXPECT_TRUE(ParseJsonBody("[{\"a\":1},{\"a\":2},{\"b\":{\"a\":3}}]").ok());
}

TEST(ParseJsonBodyTest, HandlesHugeStringsAndManyKeys) {
  const std::string big(4 << 20, 'x');
  const json::value v = MustParse("{\"a\":\"" + big + "\"}");
  EXPECT_EQ(v.at("a").as_string().size(), big.size());
  std::string many = "{";
  for (int i = 0; i < 50'000; ++i)
    many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  many += "\"k7\":0}";
  EXPECT_EQ(ParseError(many), "k7: given more than once");
}

TEST(ParseJsonBodyTest, ErrorsMapToInvalidJson) {
  ApiError error = JsonBodyError(ParseJsonBody("{").status());
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.code, "invalid_json");
  EXPECT_EQ(error.field, "");
  error = JsonBodyError(ParseJsonBody("{\"events\":[{\"id\":1,\"id\":2}]}").status());
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.code, "invalid_json");
  EXPECT_EQ(error.field, "events[0].id");
}

// ---------------------------------------------------------------------------
// Field accessors

TEST(RejectUnknownKeysTest, ListsTheChoicesAndSuggestsTheNearest) {
  const json::object o = MustParse("{\"user_id\":1,\"quota_typ\":2}").as_object();
  EXPECT_TRUE(RejectUnknownKeys(o, {"user_id", "quota_typ"}, "").ok());
  EXPECT_EQ(Message(RejectUnknownKeys(o, {"user_id", "quota_type", "reason"}, "")),
            "quota_typ: unknown field; expected one of user_id, quota_type, reason; "
            "did you mean \"quota_type\"?");
  EXPECT_EQ(Message(RejectUnknownKeys(o, {"user_id", "limit"}, "updates[2].")),
            "updates[2].quota_typ: unknown field; expected one of user_id, limit");
  // Swapped letters are one edit; very short names do not suggest anything.
  EXPECT_THAT(Message(RejectUnknownKeys(MustParse("{\"tyep\":1}").as_object(), {"type"}, "")),
              HasSubstr("did you mean \"type\"?"));
  EXPECT_THAT(Message(RejectUnknownKeys(MustParse("{\"a\":1}").as_object(), {"id"}, "")),
              Not(HasSubstr("did you mean")));
  // An absurd key is quoted and cut short in the message.
  const std::string key(10'000, ' ');
  const absl::Status status =
      RejectUnknownKeys(MustParse("{\"" + key + "\":1}").as_object(), {"id"}, "");
  EXPECT_LT(status.message().size(), 200u);
}

TEST(OptionalStringTest, ChecksTypeAndLength) {
  const json::object o =
      MustParse("{\"s\":\"abc\",\"n\":1,\"null\":null,\"e\":\"\",\"long\":\"abcd\"}").as_object();
  EXPECT_EQ(*OptionalString(o, "s", "", 3), "abc");
  EXPECT_EQ(*OptionalString(o, "e", "", 3), "");
  EXPECT_EQ(*OptionalString(o, "null", "", 3), std::nullopt);
  EXPECT_EQ(*OptionalString(o, "absent", "", 3), std::nullopt);
  EXPECT_EQ(Message(OptionalString(o, "n", "x.", 3).status()),
            "x.n: must be a string, not a number");
  EXPECT_EQ(Message(OptionalString(o, "long", "", 3).status()),
            "long: must be at most 3 bytes long");
}

TEST(RequiredStringTest, RequiresANonEmptyString) {
  const json::object o = MustParse("{\"s\":\"abc\",\"null\":null,\"e\":\"\",\"a\":[]}").as_object();
  EXPECT_EQ(*RequiredString(o, "s", "", 10), "abc");
  EXPECT_EQ(Message(RequiredString(o, "absent", "p.", 10).status()), "p.absent: is required");
  EXPECT_EQ(Message(RequiredString(o, "null", "", 10).status()), "null: is required");
  EXPECT_EQ(Message(RequiredString(o, "e", "", 10).status()), "e: must not be empty");
  EXPECT_EQ(Message(RequiredString(o, "a", "", 10).status()), "a: must be a string, not an array");
}

TEST(OptionalIntTest, AcceptsOnlyIntegersInRange) {
  const json::object o = MustParse(
                             "{\"i\":5,\"neg\":-5,\"u\":18446744073709551615,\"f\":1.0,\"e\":1e3,"
                             "\"big\":99999999999999999999,\"s\":\"5\",\"b\":true,\"max\":"
                             "9223372036854775807,\"min\":-9223372036854775808,\"n\":null}")
                             .as_object();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(*OptionalInt(o, "i", "", 0, 10), 5);
  EXPECT_EQ(*OptionalInt(o, "neg", "", -5, 0), -5);
  EXPECT_EQ(*OptionalInt(o, "max", "", 0, kMax), kMax);
  EXPECT_EQ(*OptionalInt(o, "min", "", kMin, 0), kMin);
  EXPECT_EQ(*OptionalInt(o, "n", "", 0, 10), std::nullopt);
  EXPECT_EQ(*OptionalInt(o, "absent", "", 0, 10), std::nullopt);
  EXPECT_EQ(Message(OptionalInt(o, "i", "", 6, 10).status()), "i: must be an integer from 6 to 10");
  EXPECT_EQ(Message(OptionalInt(o, "neg", "", 0, 10).status()),
            "neg: must be an integer from 0 to 10");
  EXPECT_EQ(Message(OptionalInt(o, "u", "", 0, kMax).status()),
            "u: must be an integer from 0 to 9223372036854775807");
  EXPECT_EQ(Message(OptionalInt(o, "big", "", 0, kMax).status()),
            "big: must be an integer from 0 to 9223372036854775807");
  EXPECT_EQ(Message(OptionalInt(o, "f", "", 0, 10).status()),
            "f: must be an integer from 0 to 10, written without a fraction or exponent");
  EXPECT_EQ(Message(OptionalInt(o, "e", "", 0, 10000).status()),
            "e: must be an integer from 0 to 10000, written without a fraction or exponent");
  EXPECT_EQ(Message(OptionalInt(o, "s", "", 0, 10).status()),
            "s: must be an integer from 0 to 10, not a string");
  EXPECT_EQ(Message(OptionalInt(o, "b", "", 0, 10).status()),
            "b: must be an integer from 0 to 10, not a boolean");
}

TEST(OptionalBoolAndObjectTest, CheckTypes) {
  const json::object o =
      MustParse("{\"t\":true,\"f\":false,\"o\":{\"a\":1},\"s\":\"true\",\"a\":[]}").as_object();
  EXPECT_EQ(*OptionalBool(o, "t", ""), true);
  EXPECT_EQ(*OptionalBool(o, "f", ""), false);
  EXPECT_EQ(*OptionalBool(o, "absent", ""), std::nullopt);
  EXPECT_EQ(Message(OptionalBool(o, "s", "").status()), "s: must be true or false, not a string");
  absl::StatusOr<const json::object*> inner = OptionalObject(o, "o", "");
  ASSERT_TRUE(inner.ok());
  ASSERT_NE(*inner, nullptr);
  EXPECT_EQ((*inner)->size(), 1u);
  EXPECT_EQ(*OptionalObject(o, "absent", ""), nullptr);
  EXPECT_EQ(Message(OptionalObject(o, "a", "").status()), "a: must be a JSON object, not an array");
}

// ---------------------------------------------------------------------------
// DecodeEvent

constexpr char kFullEvent[] = R"({
  "id": "evt-1", "subject": "user-42", "type": "chat.completion",
  "time": "2026-03-08T02:00:00-05:00",
  "data": {"input_tokens": 1200, "output_tokens": 0, "max": 9223372036854775807},
  "context": {"session_id": "s1", "ip": "203.0.113.7", "user_agent": "curl/8",
              "endpoint": "/v1/chat", "method": "POST", "processing_ms": 35,
              "error_code": ""}
})";

TEST(DecodeEventTest, DecodesAFullEvent) {
  absl::StatusOr<Event> event = DecodeEvent(MustParse(kFullEvent));
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id, "evt-1");
  EXPECT_EQ(event->subject, "user-42");
  EXPECT_EQ(event->type, "chat.completion");
  EXPECT_EQ(event->time, k20260308T0700Z);
  ASSERT_EQ(event->data.size(), 3u);
  EXPECT_EQ(*event->Find("input_tokens"), 1200);
  EXPECT_EQ(*event->Find("output_tokens"), 0);
  EXPECT_EQ(*event->Find("max"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(event->context.session_id, "s1");
  EXPECT_EQ(event->context.ip, "203.0.113.7");
  EXPECT_EQ(event->context.user_agent, "curl/8");
  EXPECT_EQ(event->context.endpoint, "/v1/chat");
  EXPECT_EQ(event->context.method, "POST");
  EXPECT_EQ(event->context.processing_ms, 35);
  EXPECT_EQ(event->context.error_code, "");
}

TEST(DecodeEventTest, DefaultsOptionalParts) {
  absl::StatusOr<Event> event =
      DecodeEvent(MustParse(R"({"id":"e","subject":"u","type":"t","time":null,"data":null})"));
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->time, 0);
  EXPECT_TRUE(event->data.empty());
  EXPECT_EQ(event->context, EventContext());
}

TEST(DecodeEventTest, AcceptsUserIdForSubject) {
  absl::StatusOr<Event> event = DecodeEvent(MustParse(R"({"id":"e","user_id":"u","type":"t"})"));
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->subject, "u");
  event = DecodeEvent(MustParse(R"({"id":"e","user_id":"u","subject":"u","type":"t"})"));
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->subject, "u");
  EXPECT_THAT(DecodeError(R"({"id":"e","user_id":"u","subject":"v","type":"t"})"),
              StartsWith("user_id: differs from subject"));
}

TEST(DecodeEventTest, RequiresAnObject) {
  EXPECT_EQ(DecodeError("[]"), "body: must be a JSON object, not an array");
  EXPECT_EQ(DecodeError("\"e\""), "body: must be a JSON object, not a string");
  EXPECT_EQ(DecodeError("null", {.prefix = "events[2]."}),
            "events[2]: must be a JSON object, not null");
}

TEST(DecodeEventTest, RequiresIdentity) {
  EXPECT_EQ(DecodeError(R"({"subject":"u","type":"t"})"), "id: is required");
  EXPECT_EQ(DecodeError(R"({"id":"e","type":"t"})"), "subject: is required");
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u"})"), "type: is required");
  EXPECT_EQ(DecodeError(R"({"id":null,"subject":"u","type":"t"})"), "id: is required");
  EXPECT_EQ(DecodeError(R"({"id":"","subject":"u","type":"t"})"), "id: must not be empty");
  EXPECT_EQ(DecodeError("{}"), "id: is required");
}

TEST(DecodeEventTest, RejectsWrongTypes) {
  EXPECT_EQ(DecodeError(R"({"id":7,"subject":"u","type":"t"})"),
            "id: must be a string, not a number");
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":["u"],"type":"t"})"),
            "subject: must be a string, not an array");
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":{}})"),
            "type: must be a string, not an object");
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":"t","data":[1]})"),
            "data: must be a JSON object, not an array");
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":"t","context":"x"})"),
            "context: must be a JSON object, not a string");
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":"t","context":{"ip":1}})"),
            "context.ip: must be a string, not a number");
}

TEST(DecodeEventTest, RejectsBadDataValues) {
  for (const char* value : {"-1", "1.5", "1.0", "1e3", "-0.0", "\"5\"", "true", "null", "[]", "{}",
                            "-9223372036854775808"}) {
    const std::string body =
        std::string(R"({"id":"e","subject":"u","type":"t","data":{"chars":)") + value + "}}";
    EXPECT_EQ(DecodeError(body), "data.chars: must be a non-negative integer") << value;
  }
  for (const char* value :
       {"9223372036854775808", "18446744073709551615", "18446744073709551616"}) {
    const std::string body =
        std::string(R"({"id":"e","subject":"u","type":"t","data":{"chars":)") + value + "}}";
    EXPECT_THAT(DecodeError(body), StartsWith("data.chars: must be a non-negative integer"))
        << value;
  }
}

TEST(DecodeEventTest, RejectsBadDataKeysAndTooManyFields) {
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"u","type":"t","data":{"a b":1}})"),
              StartsWith("data: key \"a b\" must match"));
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"u","type":"t","data":{"":1}})"),
              StartsWith("data: key \"\" must match"));
  std::string body = R"({"id":"e","subject":"u","type":"t","data":{)";
  for (size_t i = 0; i <= kMaxDataFields; ++i) {
    body += (i ? ",\"f" : "\"f") + std::to_string(i) + "\":1";
  }
  EXPECT_EQ(DecodeError(body + "}}"), "data: at most 64 fields");
}

TEST(DecodeEventTest, RejectsHugeStrings) {
  const std::string big(1 << 20, 'x');
  EXPECT_EQ(DecodeError(R"({"id":")" + big + R"(","subject":"u","type":"t"})"),
            "id: must be at most 256 bytes long");
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":")" + std::string(129, 'u') + R"(","type":"t"})"),
            "subject: must be at most 128 bytes long");
  EXPECT_TRUE(DecodeEvent(MustParse(R"({"id":")" + std::string(256, 'e') + R"(","subject":")" +
                                    std::string(128, 'u') + R"(","type":"t"})"))
                  .ok());
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":"t","context":{"user_agent":")" +
                        std::string(1025, 'a') + "\"}}"),
            "context.user_agent: must be at most 1024 bytes long");
}

TEST(DecodeEventTest, AppliesValidateEvent) {
  EXPECT_THAT(DecodeError(R"({"id":"e\u00e9","subject":"u","type":"t"})"),
              StartsWith("id: must be 1 to 256 printable ASCII characters"));
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"a\nb","type":"t"})"),
              StartsWith("subject: must be 1 to 128 bytes of UTF-8 text"));
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"u","type":"\u0000"})"),
              StartsWith("type: must be 1 to 128 bytes of UTF-8 text"));
}

TEST(DecodeEventTest, RejectsBadTimes) {
  for (const char* time :
       {"\"yesterday\"", "\"2026-03-08\"", "\"2026-03-08T07:00:00\"", "\"2026-02-29T00:00:00Z\"",
        "\"2026-03-08T24:00:00Z\"", "1772953200", "\"\"", "{}"}) {
    const std::string body =
        std::string(R"({"id":"e","subject":"u","type":"t","time":)") + time + "}";
    EXPECT_EQ(DecodeError(body),
              "time: must be an RFC 3339 time string such as 2026-03-08T07:00:00Z")
        << time;
  }
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":"t","time":"1970-01-01T00:00:00Z"})"),
            "time: must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":"t","time":"1969-12-31T23:59:59Z"})"),
            "time: must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
  EXPECT_EQ(
      DecodeError(R"({"id":"e","subject":"u","type":"t","time":"9999-12-31T23:00:00-05:00"})"),
      "time: must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
  absl::StatusOr<Event> last = DecodeEvent(
      MustParse(R"({"id":"e","subject":"u","type":"t","time":"9999-12-31T23:59:59.999999Z"})"));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(FormatRfc3339(last->time), "9999-12-31T23:59:59.999999Z");
}

TEST(DecodeEventTest, RejectsUnknownKeys) {
  EXPECT_EQ(DecodeError(R"({"id":"e","subjet":"u","type":"t"})"),
            "subjet: unknown field; expected one of id, subject, user_id, type, time, data, "
            "context; did you mean \"subject\"?");
  EXPECT_EQ(
      DecodeError(R"({"id":"e","subject":"u","type":"t","ttl_s":5})"),
      "ttl_s: unknown field; expected one of id, subject, user_id, type, time, data, context");
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"u","type":"t","context":{"sesion_id":"s"}})"),
              StartsWith("context.sesion_id: unknown field; expected one of session_id, ip, "));
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"u","type":"t","context":{"sesion_id":"s"}})"),
              HasSubstr("did you mean \"session_id\"?"));
}

TEST(DecodeEventTest, LetsExtraKeysThrough) {
  absl::StatusOr<Event> event = DecodeEvent(
      MustParse(R"({"id":"e","subject":"u","type":"t","ttl_s":30})"), {.extra_keys = {"ttl_s"}});
  EXPECT_TRUE(event.ok()) << event.status();
}

TEST(DecodeEventTest, ChecksContextNumbers) {
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":"t","context":{"processing_ms":-1}})"),
            "context.processing_ms: must be an integer from 0 to 9223372036854775807");
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"u","type":"t","context":{"processing_ms":1.5}})"),
              StartsWith("context.processing_ms: must be an integer"));
}

TEST(DecodeEventTest, IdentityOptionalLeavesItEmpty) {
  const EventDecodeOptions commit{.identity_optional = true};
  absl::StatusOr<Event> event = DecodeEvent(MustParse(R"({"data":{"chars":5}})"), commit);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id, "");
  EXPECT_EQ(event->subject, "");
  EXPECT_EQ(event->type, "");
  EXPECT_EQ(*event->Find("chars"), 5);
  event = DecodeEvent(MustParse(R"({"id":"e","subject":"u","type":"t"})"), commit);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->subject, "u");
  // What is given is still checked.
  EXPECT_EQ(DecodeError(R"({"subject":""})", commit), "subject: must not be empty");
  EXPECT_THAT(DecodeError(R"({"id":"\u00e9"})", commit), StartsWith("id: must be 1 to 256"));
  EXPECT_EQ(DecodeError(R"({"data":{"chars":-5}})", commit),
            "data.chars: must be a non-negative integer");
}

TEST(DecodeEventTest, PrefixesEveryMessage) {
  const EventDecodeOptions in_batch{.prefix = "events[3]."};
  EXPECT_EQ(DecodeError(R"({"id":"e","subject":"u","type":"t","data":{"chars":-1}})", in_batch),
            "events[3].data.chars: must be a non-negative integer");
  EXPECT_EQ(DecodeError(R"({"subject":"u","type":"t"})", in_batch), "events[3].id: is required");
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"a\u0001","type":"t"})", in_batch),
              StartsWith("events[3].subject: must be 1 to 128 bytes"));
  EXPECT_THAT(DecodeError(R"({"id":"e","subject":"u","type":"t","x":1})", in_batch),
              StartsWith("events[3].x: unknown field"));
}

// ---------------------------------------------------------------------------
// DecodeEventBatch

TEST(DecodeEventBatchTest, DecodesEveryEvent) {
  absl::StatusOr<std::vector<Event>> events =
      DecodeEventBatch(MustParse(R"({"events":[{"id":"a","subject":"u","type":"t"},
                              {"id":"b","user_id":"v","type":"t","data":{"n":2}}]})")
                           .as_object(),
                       10);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].id, "a");
  EXPECT_EQ((*events)[1].subject, "v");
  EXPECT_EQ(*(*events)[1].Find("n"), 2);
}

TEST(DecodeEventBatchTest, NamesTheBadEvent) {
  absl::StatusOr<std::vector<Event>> events =
      DecodeEventBatch(MustParse(R"({"events":[{"id":"a","subject":"u","type":"t"},
                              {"id":"b","subject":"u","type":"t","data":{"chars":1.5}}]})")
                           .as_object(),
                       10);
  ASSERT_FALSE(events.ok());
  EXPECT_EQ(Message(events.status()), "events[1].data.chars: must be a non-negative integer");
  EXPECT_EQ(FromStatus(events.status()).field, "events[1].data.chars");
}

TEST(DecodeEventBatchTest, ChecksTheList) {
  const auto error = [](std::string_view body, size_t max) {
    absl::StatusOr<std::vector<Event>> events = DecodeEventBatch(MustParse(body).as_object(), max);
    return events.ok() ? std::string() : Message(events.status());
  };
  EXPECT_EQ(error(R"({"events":[]})", 10), "events: must hold 1 to 10 events");
  EXPECT_EQ(error(R"({"events":[{"id":"a","subject":"u","type":"t"},
                                {"id":"b","subject":"u","type":"t"}]})",
                  1),
            "events: must hold 1 to 1 events");
  EXPECT_EQ(error("{}", 10), "events: is required");
  EXPECT_EQ(error(R"({"events":{}})", 10), "events: must be an array of events, not an object");
  EXPECT_EQ(error(R"({"events":[1]})", 10), "events[0]: must be a JSON object, not a number");
  EXPECT_THAT(error(R"({"events":[],"evnts":[]})", 10),
              StartsWith("evnts: unknown field; expected one of events; did you mean \"events\"?"));
}

// ---------------------------------------------------------------------------
// ApiError (api_error.h): where every decoding error ends up.

TEST(ApiErrorTest, MapsStatusCodes) {
  const std::pair<absl::Status, int> cases[] = {
      {absl::InvalidArgumentError("x"), 422},    {absl::OutOfRangeError("x"), 422},
      {absl::NotFoundError("x"), 404},           {absl::AlreadyExistsError("x"), 409},
      {absl::FailedPreconditionError("x"), 409}, {absl::AbortedError("x"), 409},
      {absl::UnauthenticatedError("x"), 401},    {absl::PermissionDeniedError("x"), 403},
      {absl::ResourceExhaustedError("x"), 429},  {absl::UnavailableError("x"), 503},
      {absl::InternalError("x"), 500},           {absl::UnknownError("x"), 500},
  };
  for (const auto& [status, http] : cases) {
    EXPECT_EQ(FromStatus(status).status, http) << status;
    EXPECT_EQ(FromStatus(status).message, "x");
  }
  EXPECT_EQ(FromStatus(absl::InvalidArgumentError("x")).code, "invalid_request");
  EXPECT_EQ(FromStatus(absl::ResourceExhaustedError("x")).code, "rate_limited");
  EXPECT_EQ(FromStatus(absl::AbortedError("x")).code, "conflict");
  EXPECT_EQ(FromStatus(absl::DataLossError("x")).code, "internal");
}

TEST(ApiErrorTest, LiftsTheLeadingFieldPath) {
  const auto field = [](const char* message) {
    return FromStatus(absl::InvalidArgumentError(message)).field;
  };
  EXPECT_EQ(field("events[2].data.chars: must be a non-negative integer"), "events[2].data.chars");
  EXPECT_EQ(field("user-id_2: is required"), "user-id_2");
  EXPECT_EQ(field("no field here"), "");
  EXPECT_EQ(field("invalid JSON at byte 3: syntax error"), "");
  EXPECT_EQ(field("a:b"), "");
  EXPECT_EQ(field(": empty"), "");
  EXPECT_EQ(field("\"a b\": given more than once"), "");
  const ApiError error = FromStatus(absl::InvalidArgumentError("id: is required"));
  EXPECT_EQ(error.message, "id: is required");  // the whole message is kept
}

TEST(ApiErrorTest, Constructors) {
  EXPECT_EQ(InvalidJson("m").status, 400);
  EXPECT_EQ(InvalidJson("m").code, "invalid_json");
  const ApiError request = InvalidRequest("limit", "limit: too big");
  EXPECT_EQ(request.status, 422);
  EXPECT_EQ(request.field, "limit");
  EXPECT_EQ(Unauthorized("m").status, 401);
  EXPECT_EQ(Forbidden("m").code, "forbidden");
  EXPECT_EQ(NotFound("m").status, 404);
  EXPECT_EQ(MethodNotAllowed("m").code, "method_not_allowed");
  EXPECT_EQ(PayloadTooLarge("m").status, 413);
}

TEST(ApiErrorTest, ErrorBodyIsValidJson) {
  EXPECT_EQ(ErrorBody(InvalidRequest("data.chars", "data.chars: must be a non-negative integer")),
            R"({"error":{"code":"invalid_request","message":"data.chars: must be a non-negative )"
            R"(integer","field":"data.chars"}})");
  EXPECT_EQ(ErrorBody(NotFound("no such subject")),
            R"({"error":{"code":"not_found","message":"no such subject"}})");
  // Quotes, backslashes, control characters and broken UTF-8 from client input.
  const std::string nasty = std::string("a\"b\\c\n\x01\xFF\xC3") + '\0' + "\xE2\x82\xAC";
  const std::string body = ErrorBody(InvalidJson(nasty));
  absl::StatusOr<json::value> parsed = ParseJsonBody(body);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << " in " << body;
  EXPECT_EQ(parsed->at("error").at("message").as_string(),
            std::string("a\"b\\c\n\x01\xEF\xBF\xBD\xEF\xBF\xBD") + '\0' + "\xE2\x82\xAC");
}

}  // namespace
}  // namespace tally
