#include "cli/json_out.h"

#include "gtest/gtest.h"

namespace tally::cli {
namespace {

TEST(JsonOutTest, EscapesPerRfc8259) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
  EXPECT_EQ(JsonString("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
  EXPECT_EQ(JsonString(std::string("\x00\x01\x1f\x7f", 4)), "\"\\u0000\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");  // UTF-8 as is
}

TEST(JsonOutTest, NumbersAndNulls) {
  EXPECT_EQ(JsonInt(std::nullopt), "null");
  EXPECT_EQ(JsonInt(-42), "-42");
  EXPECT_EQ(JsonPercent(12.5), "12.5");
  EXPECT_EQ(JsonPercent(100), "100");
  EXPECT_EQ(JsonPercent(0.123), "0.12");
  EXPECT_EQ(JsonPercent(0), "0");
}

TEST(JsonOutTest, DecisionShape) {
  Decision d;
  d.allowed = false;
  d.reason = DenyReason::kQuotaExceeded;
  d.denied_meter = "requests";
  d.retry_at = 1'772'323'200'000'000;  // 2026-03-01T00:00:00Z
  QuotaView v;
  v.meter = "requests";
  v.account = "alice";
  v.limit = std::nullopt;
  v.used = 7;
  v.period = Window{1'769'904'000'000'000, 1'772'323'200'000'000};
  d.quotas.push_back(v);
  d.crossings.push_back(ThresholdCrossing{"requests", Scope::kOrg, "acme", 90});
  EXPECT_EQ(DecisionJson(d),
            "{\"allowed\":false,\"reason\":\"quota_exceeded\",\"replayed\":false,"
            "\"over_limit\":false,\"retry_at\":\"2026-03-01T00:00:00Z\","
            "\"denied_meter\":\"requests\",\"denied_scope\":\"subject\",\"quotas\":["
            "{\"meter\":\"requests\",\"scope\":\"subject\",\"account\":\"alice\",\"limit\":null,"
            "\"used\":7,\"reserved\":0,\"remaining\":null,\"percent\":0,\"status\":\"ok\","
            "\"period\":{\"start\":\"2026-02-01T00:00:00Z\",\"end\":\"2026-03-01T00:00:00Z\"},"
            "\"reset_at\":\"2026-03-01T00:00:00Z\"}],"
            "\"crossings\":[{\"meter\":\"requests\",\"scope\":\"org\",\"account\":\"acme\","
            "\"percent\":90}]}");
}

TEST(JsonOutTest, UnboundedWindowIsNull) {
  QuotaView v;
  v.meter = "tokens";
  EXPECT_NE(QuotaViewJson(v).find("\"period\":{\"start\":null,\"end\":null},\"reset_at\":null"),
            std::string::npos);
}

}  // namespace
}  // namespace tally::cli
