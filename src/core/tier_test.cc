#include "core/tier.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace tally {
namespace {

Quota Q(std::string meter, std::optional<int64_t> limit) {
  return Quota{.meter = std::move(meter), .limit = limit};
}

const Tier* Find(const std::vector<Tier>& tiers, std::string_view name) {
  for (const Tier& t : tiers) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

TEST(OverageTest, NamesRoundTrip) {
  for (Overage o : {Overage::kBlock, Overage::kAllow, Overage::kAllowUpTo}) {
    EXPECT_EQ(ParseOverage(OverageName(o)), o);
  }
  EXPECT_EQ(OverageName(Overage::kAllowUpTo), "allow_up_to");
  EXPECT_EQ(ParseOverage("deny"), std::nullopt);
}

TEST(TierTest, FindQuotaByMeter) {
  const Tier t{.name = "free",
               .quotas = {Q("chars", 10), Q("tokens", std::nullopt)}};
  ASSERT_NE(t.FindQuota("chars"), nullptr);
  EXPECT_EQ(t.FindQuota("chars")->limit, 10);
  ASSERT_NE(t.FindQuota("tokens"), nullptr);
  EXPECT_EQ(t.FindQuota("tokens")->limit, std::nullopt);
  EXPECT_EQ(t.FindQuota("requests"), nullptr);
}

TEST(ResolveTiersTest, TiersWithoutParentsAreUnchanged) {
  const std::vector<Tier> tiers = {{.name = "a", .quotas = {Q("chars", 1)}},
                                   {.name = "b", .quotas = {Q("tokens", 2)}}};
  absl::StatusOr<std::vector<Tier>> resolved = ResolveTiers(tiers);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(*resolved, tiers);
}

TEST(ResolveTiersTest, ChildReplacesQuotasAndRateLimitsByMeter) {
  const std::vector<Tier> tiers = {
      {.name = "pro",
       .inherits = "base",
       .quotas = {Q("chars", 500)},
       .rate_limits = {{.meter = "requests", .rate = 100}}},
      {.name = "base",
       .quotas = {Q("chars", 100), Q("requests", 10)},
       .rate_limits = {{.meter = "requests", .rate = 5},
                       {.meter = "requests", .rate = 50, .per = kMicrosPerHour},
                       {.meter = "tokens", .rate = 1000}}},
  };
  absl::StatusOr<std::vector<Tier>> resolved = ResolveTiers(tiers);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  const Tier& pro = (*resolved)[0];
  EXPECT_EQ(pro.name, "pro");
  EXPECT_EQ(pro.inherits, "");
  EXPECT_EQ(pro.FindQuota("chars")->limit, 500);
  EXPECT_EQ(pro.FindQuota("requests")->limit, 10);
  EXPECT_EQ(pro.quotas.size(), 2u);
  ASSERT_EQ(pro.rate_limits.size(), 2u);
  EXPECT_EQ(pro.rate_limits[0].meter, "tokens");
  EXPECT_EQ(pro.rate_limits[1].meter, "requests");
  EXPECT_EQ(pro.rate_limits[1].rate, 100);
  EXPECT_EQ((*resolved)[1], tiers[1]);
}

TEST(ResolveTiersTest, InheritanceChainsResolveTransitively) {
  const std::vector<Tier> tiers = {
      {.name = "c", .inherits = "b", .quotas = {Q("tokens", 3)}},
      {.name = "b", .inherits = "a", .quotas = {Q("requests", 2)}},
      {.name = "a",
       .quotas = {Q("chars", 1), Q("requests", 1), Q("tokens", 1)}},
  };
  absl::StatusOr<std::vector<Tier>> resolved = ResolveTiers(tiers);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  const Tier* c = Find(*resolved, "c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->FindQuota("chars")->limit, 1);
  EXPECT_EQ(c->FindQuota("requests")->limit, 2);
  EXPECT_EQ(c->FindQuota("tokens")->limit, 3);
}

TEST(ResolveTiersTest, PricingMergesPerMeterAndOverridesNonDefaultBase) {
  const std::vector<Tier> tiers = {
      {.name = "base",
       .pricing = {.base_cents = 2900,
                   .currency = "eur",
                   .overage = {{"chars", {.cents = 1, .per = 1000}},
                               {"tokens", {.cents = 2, .per = 1000}}}}},
      {.name = "plus",
       .inherits = "base",
       .pricing = {.overage = {{"chars", {.cents = 5, .per = 1000}}}}},
      {.name = "max",
       .inherits = "base",
       .pricing = {.base_cents = 9900, .currency = "gbp"}},
  };
  absl::StatusOr<std::vector<Tier>> resolved = ResolveTiers(tiers);
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  const Tier& plus = (*resolved)[1];
  EXPECT_EQ(plus.pricing.base_cents, 2900);
  EXPECT_EQ(plus.pricing.currency, "eur");
  EXPECT_EQ(plus.pricing.overage.at("chars").cents, 5);
  EXPECT_EQ(plus.pricing.overage.at("tokens").cents, 2);
  const Tier& max = (*resolved)[2];
  EXPECT_EQ(max.pricing.base_cents, 9900);
  EXPECT_EQ(max.pricing.currency, "gbp");
  EXPECT_EQ(max.pricing.overage.size(), 2u);
}

TEST(ResolveTiersTest, UnknownParentNamesBothTiers) {
  absl::StatusOr<std::vector<Tier>> resolved =
      ResolveTiers({{.name = "pro", .inherits = "bsae"}, {.name = "base"}});
  ASSERT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(resolved.status().message(),
            "tier \"pro\" inherits unknown tier \"bsae\"");
}

TEST(ResolveTiersTest, CycleNamesEveryTierInIt) {
  absl::StatusOr<std::vector<Tier>> resolved = ResolveTiers({
      {.name = "x", .inherits = "a"},
      {.name = "a", .inherits = "b"},
      {.name = "b", .inherits = "c"},
      {.name = "c", .inherits = "a"},
  });
  ASSERT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(resolved.status().message(),
            "tiers inherit in a cycle: a -> b -> c -> a");
}

TEST(ResolveTiersTest, SelfInheritanceIsACycle) {
  absl::StatusOr<std::vector<Tier>> resolved =
      ResolveTiers({{.name = "a", .inherits = "a"}});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().message(), "tiers inherit in a cycle: a -> a");
}

TEST(ResolveTiersTest, DuplicateNamesAreRejected) {
  absl::StatusOr<std::vector<Tier>> resolved =
      ResolveTiers({{.name = "a"}, {.name = "a"}});
  ASSERT_FALSE(resolved.ok());
  EXPECT_TRUE(absl::StrContains(resolved.status().message(), "defined twice"));
}

}  // namespace
}  // namespace tally
