// Tests for query.h: request targets and query strings as a careless or
// hostile client would send them.
#include "server/query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace tally {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// 2026-03-08T07:00:00Z.
constexpr Micros k20260308T0700Z = int64_t{1'772'953'200} * kMicrosPerSecond;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

QueryParams MustParse(std::string_view raw) {
  absl::StatusOr<QueryParams> params = QueryParams::Parse(raw);
  EXPECT_TRUE(params.ok()) << params.status();
  return params.ok() ? *std::move(params) : QueryParams();
}

TEST(PercentDecodeTest, DecodesEscapesInEitherCase) {
  EXPECT_EQ(*PercentDecode("a%20b%2fc%2Fd", false), "a b/c/d");
  EXPECT_EQ(*PercentDecode("%E2%82%AC", false), "\xE2\x82\xAC");  // U+20AC
  EXPECT_EQ(*PercentDecode("", false), "");
  EXPECT_EQ(*PercentDecode("%25", false), "%");
}

TEST(PercentDecodeTest, PlusIsSpaceOnlyWhenAsked) {
  EXPECT_EQ(*PercentDecode("a+b%2B", true), "a b+");
  EXPECT_EQ(*PercentDecode("a+b%2B", false), "a+b+");
}

TEST(PercentDecodeTest, RejectsBadEscapes) {
  for (const char* text : {"%", "%2", "a%zz", "%2G", "%%41", "abc%"}) {
    absl::StatusOr<std::string> decoded = PercentDecode(text, true);
    ASSERT_FALSE(decoded.ok()) << text;
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(decoded.status()), HasSubstr("bad percent escape")) << text;
    EXPECT_THAT(Message(decoded.status()), HasSubstr("%25")) << text;
  }
}

TEST(PercentDecodeTest, RejectsNulBytes) {
  EXPECT_THAT(Message(PercentDecode("a%00b", false).status()), HasSubstr("NUL"));
  EXPECT_FALSE(PercentDecode(std::string_view("a\0b", 3), false).ok());
}

TEST(PercentDecodeTest, RejectsInvalidUtf8) {
  for (const char* text :
       {"%FF", "%C3", "%C3%28", "%C0%AF", "%ED%A0%80", "%F4%90%80%80", "\xFF", "%80"}) {
    absl::StatusOr<std::string> decoded = PercentDecode(text, false);
    ASSERT_FALSE(decoded.ok()) << text;
    EXPECT_THAT(Message(decoded.status()), HasSubstr("UTF-8")) << text;
  }
  EXPECT_TRUE(PercentDecode("%F0%9F%98%80", false).ok());  // U+1F600
}

TEST(SplitTargetTest, SplitsPathAndQuery) {
  absl::StatusOr<RequestTarget> t = SplitTarget("/api/usage/history?user_id=u1&from=x");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->path, "/api/usage/history");
  EXPECT_EQ(t->query, "user_id=u1&from=x");

  t = SplitTarget("/healthz");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/healthz");
  EXPECT_EQ(t->query, "");

  t = SplitTarget("/a?b?c");  // only the first '?' splits
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/a");
  EXPECT_EQ(t->query, "b?c");
}

TEST(SplitTargetTest, DecodesThePathButNotPlus) {
  absl::StatusOr<RequestTarget> t = SplitTarget("/api/admin/users/j%C3%B6rg+x%20y");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->path, "/api/admin/users/j\xC3\xB6rg+x y");
}

TEST(SplitTargetTest, RejectsTargetsThatAreNotOriginForm) {
  for (const char* target : {"", "*", "api/usage", "http://example.com/api", "?a=1"}) {
    absl::StatusOr<RequestTarget> t = SplitTarget(target);
    ASSERT_FALSE(t.ok()) << target;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(t.status()), StartsWith("path: ")) << target;
    EXPECT_THAT(Message(t.status()), HasSubstr("start with '/'")) << target;
  }
}

TEST(SplitTargetTest, RejectsDotDotSegmentsEvenWhenEncoded) {
  for (const char* target : {"/..", "/api/../admin", "/api/..", "/api/%2E%2E/admin", "/api/.%2e"}) {
    absl::StatusOr<RequestTarget> t = SplitTarget(target);
    ASSERT_FALSE(t.ok()) << target;
    EXPECT_EQ(Message(t.status()), "path: must not contain a \"..\" segment") << target;
  }
  // ".." inside a segment and in the query is harmless.
  EXPECT_TRUE(SplitTarget("/api/admin/users/a..b").ok());
  EXPECT_TRUE(SplitTarget("/api/usage/export?name=../x").ok());
}

TEST(SplitTargetTest, RejectsEncodedSlashNulAndInvalidUtf8) {
  EXPECT_THAT(Message(SplitTarget("/api/admin/users/a%2Fb").status()), HasSubstr("%2F"));
  EXPECT_THAT(Message(SplitTarget("/api/admin/users/a%2f..%2fb").status()), HasSubstr("%2F"));
  EXPECT_EQ(Message(SplitTarget("/a%00b").status()), "path: must not contain a NUL byte (%00)");
  EXPECT_THAT(Message(SplitTarget("/a%FFb").status()), StartsWith("path: must be UTF-8"));
  EXPECT_THAT(Message(SplitTarget("/a%4").status()), StartsWith("path: has a bad percent escape"));
  // The query is not decoded here, so a bad escape there is Parse's business.
  EXPECT_TRUE(SplitTarget("/a?x=%FF").ok());
}

TEST(SplitTargetTest, EnforcesTheLengthLimit) {
  std::string target = "/" + std::string(kMaxTargetLength - 1, 'a');
  EXPECT_TRUE(SplitTarget(target).ok());
  target += 'a';
  absl::StatusOr<RequestTarget> t = SplitTarget(target);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(Message(t.status()), HasSubstr("longer than 8192 bytes"));
}

TEST(QueryParamsTest, ParsesPairsInOrder) {
  const QueryParams params = MustParse("user_id=u%201&granularity=day&flag&empty=&q=a+b%2Bc");
  ASSERT_EQ(params.all().size(), 5u);
  EXPECT_EQ(params.all()[0].first, "user_id");
  EXPECT_EQ(params.Get("user_id"), "u 1");
  EXPECT_EQ(params.Get("granularity"), "day");
  EXPECT_EQ(params.Get("flag"), "");
  EXPECT_EQ(params.Get("empty"), "");
  EXPECT_EQ(params.Get("q"), "a b+c");
  EXPECT_EQ(params.Get("missing"), std::nullopt);
  EXPECT_EQ(params.Get("USER_ID"), std::nullopt);  // names are case-sensitive
}

TEST(QueryParamsTest, KeepsEverythingAfterTheFirstEquals) {
  EXPECT_EQ(MustParse("a=b=c").Get("a"), "b=c");
}

TEST(QueryParamsTest, SkipsEmptyPairs) {
  const QueryParams params = MustParse("&a=1&&b=2&");
  EXPECT_EQ(params.all().size(), 2u);
  EXPECT_TRUE(MustParse("").all().empty());
  EXPECT_TRUE(MustParse("&&&").all().empty());
}

TEST(QueryParamsTest, RejectsDuplicateNames) {
  absl::StatusOr<QueryParams> params = QueryParams::Parse("meter=a&from=x&meter=b");
  ASSERT_FALSE(params.ok());
  EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(params.status()), "meter: given more than once");
  // Equal once decoded is still the same name.
  EXPECT_EQ(Message(QueryParams::Parse("a=1&%61=2").status()), "a: given more than once");
}

TEST(QueryParamsTest, RejectsEmptyNames) {
  for (const char* raw : {"=5", "a=1&=2", "%20x=1&="}) {
    absl::StatusOr<QueryParams> params = QueryParams::Parse(raw);
    ASSERT_FALSE(params.ok()) << raw;
    EXPECT_THAT(Message(params.status()), StartsWith("query: a parameter has an empty name"))
        << raw;
  }
}

TEST(QueryParamsTest, LimitsTheNumberOfParameters) {
  std::string raw;
  for (size_t i = 0; i < kMaxQueryParams; ++i) raw += "p" + std::to_string(i) + "=1&";
  EXPECT_TRUE(QueryParams::Parse(raw).ok());
  raw += "one_more=1";
  absl::StatusOr<QueryParams> params = QueryParams::Parse(raw);
  ASSERT_FALSE(params.ok());
  EXPECT_EQ(Message(params.status()), "query: at most 64 parameters");
}

TEST(QueryParamsTest, NamesTheParameterWhoseValueIsBad) {
  EXPECT_THAT(Message(QueryParams::Parse("from=%ZZ").status()),
              StartsWith("from: has a bad percent escape \"%ZZ\""));
  EXPECT_EQ(Message(QueryParams::Parse("tz=a%00").status()),
            "tz: must not contain a NUL byte (%00)");
  EXPECT_THAT(Message(QueryParams::Parse("tz=%C3").status()), StartsWith("tz: must be UTF-8"));
  EXPECT_THAT(Message(QueryParams::Parse("a%FF=1").status()),
              StartsWith("query: parameter name must be UTF-8"));
}

TEST(QueryParamsTest, QuotesNamesThatCannotBeFields) {
  absl::StatusOr<QueryParams> params = QueryParams::Parse("a+b=1&a%20b=2");
  ASSERT_FALSE(params.ok());
  EXPECT_EQ(Message(params.status()), "\"a b\": given more than once");
}

TEST(QueryParamsTest, GetIntAcceptsStrictDecimalInRange) {
  const QueryParams params =
      MustParse("limit=100&neg=-5&zero=0&max=9223372036854775807&min=-9223372036854775808");
  EXPECT_EQ(*params.GetInt("limit", 1, 1000), 100);
  EXPECT_EQ(*params.GetInt("neg", -10, 10), -5);
  EXPECT_EQ(*params.GetInt("zero", 0, 0), 0);
  EXPECT_EQ(*params.GetInt("max", 0, std::numeric_limits<int64_t>::max()),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(*params.GetInt("min", std::numeric_limits<int64_t>::min(), 0),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(*params.GetInt("absent", 1, 10), std::nullopt);
}

TEST(QueryParamsTest, GetIntRejectsEverythingElse) {
  for (const char* value :
       {"", "abc", "1.5", "1e3", "+5", " 5", "5 ", "0x10", "5abc", "--5", "9223372036854775808",
        "-9223372036854775809", "99999999999999999999999", "1001", "0", "-1"}) {
    const QueryParams params = MustParse(std::string("limit=") + value);
    absl::StatusOr<std::optional<int64_t>> limit = params.GetInt("limit", 1, 1000);
    ASSERT_FALSE(limit.ok()) << value;
    EXPECT_EQ(limit.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(Message(limit.status()), "limit: must be an integer from 1 to 1000") << value;
  }
}

TEST(QueryParamsTest, GetTimeParsesRfc3339) {
  const QueryParams params = MustParse(
      "from=2026-03-08T07:00:00Z&to=2026-03-08T02:00:00-05:00&"
      "encoded=2026-03-08T12:30:00%2B05:30&plus=2026-03-08T12:30:00+05:30");
  EXPECT_EQ(*params.GetTime("from"), k20260308T0700Z);
  EXPECT_EQ(*params.GetTime("to"), k20260308T0700Z);
  EXPECT_EQ(*params.GetTime("encoded"), k20260308T0700Z);
  // An unencoded '+' arrives as a space; it can only have meant '+'.
  EXPECT_EQ(*params.GetTime("plus"), k20260308T0700Z);
  EXPECT_EQ(*params.GetTime("absent"), std::nullopt);
}

TEST(QueryParamsTest, GetTimeRejectsBadTimes) {
  for (const char* value : {"", "yesterday", "2026-03-08", "2026-03-08T07:00:00",
                            "2026-02-30T00:00:00Z", "1772953200", "2026-03-08+07:00:00Z"}) {
    const QueryParams params = MustParse(std::string("from=") + value);
    absl::StatusOr<std::optional<Micros>> from = params.GetTime("from");
    ASSERT_FALSE(from.ok()) << value;
    EXPECT_EQ(Message(from.status()), "from: must be an RFC 3339 time such as 2026-03-08T07:00:00Z")
        << value;
  }
}

TEST(QueryParamsTest, AllowOnlyNamesTheUnknownParameterAndTheChoices) {
  const QueryParams params = MustParse("user_id=u1&granularty=day");
  EXPECT_TRUE(params.AllowOnly({"user_id", "granularty"}).ok());
  absl::Status status = params.AllowOnly({"user_id", "granularity", "from", "to"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(status),
            "granularty: unknown parameter; expected one of user_id, granularity, from, to");
  EXPECT_THAT(Message(MustParse("x=1").AllowOnly({})), HasSubstr("takes none"));
  EXPECT_TRUE(MustParse("").AllowOnly({}).ok());
}

TEST(NameForMessageTest, QuotesAndTruncatesOddNames) {
  EXPECT_EQ(NameForMessage("user_id"), "user_id");
  EXPECT_EQ(NameForMessage("a.b-c_9"), "a.b-c_9");
  EXPECT_EQ(NameForMessage(""), "\"\"");
  EXPECT_EQ(NameForMessage("a b"), "\"a b\"");
  EXPECT_EQ(NameForMessage("q\"\\"), "\"q\\\"\\\\\"");
  EXPECT_EQ(NameForMessage(std::string_view("\n\0", 2)), "\"\\x0a\\x00\"");
  EXPECT_EQ(NameForMessage(std::string(100, 'x') + " "), "\"" + std::string(64, 'x') + "...\"");
  // Cut before a multi-byte character rather than through it.
  std::string text = " ";
  for (int i = 0; i < 30; ++i) text += "\xE2\x82\xAC";
  std::string expected = "\" ";
  for (int i = 0; i < 21; ++i) expected += "\xE2\x82\xAC";  // 1 + 21 * 3 = 64 bytes
  EXPECT_EQ(NameForMessage(text), expected + "...\"");
  text.insert(0, " ");  // now the 64-byte cut falls inside the 21st character
  expected = "\"  ";
  for (int i = 0; i < 20; ++i) expected += "\xE2\x82\xAC";
  EXPECT_EQ(NameForMessage(text), expected + "...\"");
}

}  // namespace
}  // namespace tally
