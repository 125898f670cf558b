#include "core/meter.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

Event MakeEvent(std::string type,
                std::vector<std::pair<std::string, int64_t>> data) {
  Event e;
  e.id = "e1";
  e.subject = "alice";
  e.type = std::move(type);
  e.data = std::move(data);
  return e;
}

TEST(AggregationTest, NamesRoundTrip) {
  for (Aggregation a :
       {Aggregation::kSum, Aggregation::kCount, Aggregation::kMax,
        Aggregation::kLatest, Aggregation::kUniqueCount}) {
    EXPECT_EQ(ParseAggregation(AggregationName(a)), a);
  }
  EXPECT_EQ(AggregationName(Aggregation::kUniqueCount), "unique_count");
  EXPECT_EQ(ParseAggregation("Sum"), std::nullopt);
  EXPECT_EQ(ParseAggregation(""), std::nullopt);
}

TEST(MeterTest, SumAppliesOnlyWhenTheFieldIsPresent) {
  const Meter chars{
      .name = "chars", .aggregation = Aggregation::kSum, .value = "chars"};
  const Event with = MakeEvent("correction", {{"chars", 523}});
  EXPECT_TRUE(chars.Applies(with));
  EXPECT_EQ(chars.InputOf(with), 523u);
  EXPECT_FALSE(chars.Applies(MakeEvent("correction", {{"tokens", 5}})));
}

TEST(MeterTest, CountAppliesToEveryEventAndCountsOne) {
  const Meter requests{.name = "requests", .aggregation = Aggregation::kCount};
  const Event e = MakeEvent("anything", {});
  EXPECT_TRUE(requests.Applies(e));
  EXPECT_EQ(requests.InputOf(e), 1u);
}

TEST(MeterTest, TypeFilterRestrictsWhichEventsApply) {
  const Meter m{.name = "llm_tokens",
                .aggregation = Aggregation::kSum,
                .value = "tokens",
                .types = {"completion", "embedding"}};
  EXPECT_TRUE(m.Applies(MakeEvent("completion", {{"tokens", 3}})));
  EXPECT_TRUE(m.Applies(MakeEvent("embedding", {{"tokens", 3}})));
  EXPECT_FALSE(m.Applies(MakeEvent("correction", {{"tokens", 3}})));
  const Meter counted{
      .name = "c", .aggregation = Aggregation::kCount, .types = {"x"}};
  EXPECT_FALSE(counted.Applies(MakeEvent("y", {})));
}

TEST(MeterTest, MaxAndLatestReadTheField) {
  const Event e = MakeEvent("job", {{"concurrent", 7}});
  for (Aggregation a : {Aggregation::kMax, Aggregation::kLatest}) {
    const Meter m{.name = "m", .aggregation = a, .value = "concurrent"};
    EXPECT_TRUE(m.Applies(e));
    EXPECT_EQ(m.InputOf(e), 7u);
  }
}

TEST(MeterTest, UniqueCountHashesTheDecimalValue) {
  const Meter m{
      .name = "docs", .aggregation = Aggregation::kUniqueCount, .value = "doc"};
  const Event e = MakeEvent("edit", {{"doc", 42}});
  EXPECT_TRUE(m.Applies(e));
  EXPECT_EQ(m.InputOf(e), StableHash("42"));
  EXPECT_NE(m.InputOf(e), m.InputOf(MakeEvent("edit", {{"doc", 43}})));
}

TEST(MeterTest, UniqueCountCanReadAContextField) {
  const Meter sessions{.name = "sessions",
                       .aggregation = Aggregation::kUniqueCount,
                       .value = "context.session_id"};
  Event e = MakeEvent("edit", {});
  EXPECT_FALSE(sessions.Applies(e));
  e.context.session_id = "s-9";
  EXPECT_TRUE(sessions.Applies(e));
  EXPECT_EQ(sessions.InputOf(e), StableHash("s-9"));

  const Meter timings{.name = "t",
                      .aggregation = Aggregation::kUniqueCount,
                      .value = "context.processing_ms"};
  EXPECT_FALSE(timings.Applies(e));
  e.context.processing_ms = 15;
  EXPECT_TRUE(timings.Applies(e));
  EXPECT_EQ(timings.InputOf(e), StableHash("15"));
}

TEST(MeterTest, ContextValueIsADataFieldForOtherAggregations) {
  const Meter m{
      .name = "m", .aggregation = Aggregation::kSum, .value = "context.ip"};
  Event e = MakeEvent("x", {{"context.ip", 4}});
  e.context.ip = "192.0.2.1";
  EXPECT_TRUE(m.Applies(e));
  EXPECT_EQ(m.InputOf(e), 4u);
}

TEST(DefaultMetersTest, AreCharsRequestsAndTokens) {
  const std::vector<Meter> meters = DefaultMeters();
  ASSERT_EQ(meters.size(), 3u);
  const Event e = MakeEvent("correction", {{"chars", 100}, {"tokens", 7}});
  EXPECT_EQ(meters[0].name, "chars");
  EXPECT_EQ(meters[0].InputOf(e), 100u);
  EXPECT_EQ(meters[1].name, "requests");
  EXPECT_EQ(meters[1].aggregation, Aggregation::kCount);
  EXPECT_EQ(meters[2].name, "tokens");
  EXPECT_EQ(meters[2].InputOf(e), 7u);
  for (const Meter& m : meters) {
    EXPECT_TRUE(m.types.empty());
    EXPECT_TRUE(m.Applies(e)) << m.name;
  }
}

}  // namespace
}  // namespace tally
