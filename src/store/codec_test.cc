#include "store/codec.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tally {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Strings that break naive encoders.
const std::vector<std::string>& HostileStrings() {
  static const auto* strings = new std::vector<std::string>{
      "",
      "plain",
      "with \"quotes\"",
      "back\\slash\\",
      "new\nline\r\n",
      "tab\tand\bbell\x07",
      std::string("nul\0byte", 8),
      "del\x7f",
      "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
      "separators , ; | = % { } [ ] :",
      "%41 is not A",
      "\\u0041 is not A",
      "\xff\xfe raw high bytes",
  };
  return *strings;
}

// --- data ---------------------------------------------------------------------

TEST(DataCodecTest, EncodesCompactly) {
  EXPECT_EQ(EncodeData({{"chars", 523}, {"tokens", 10}}), "chars=523,tokens=10");
  EXPECT_EQ(EncodeData({}), "");
}

TEST(DataCodecTest, RoundTripsExtremesAndOrder) {
  const EventData data = {{"z", 0}, {"a", kMax}, {"neg", -5}, {"min", kMin}, {"x.y-z_1", 7}};
  absl::StatusOr<EventData> back = DecodeData(EncodeData(data));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, data);
}

TEST(DataCodecTest, RoundTripsHostileNames) {
  EventData data;
  int64_t i = 0;
  for (const std::string& s : HostileStrings()) data.emplace_back(s, i++);
  const std::string text = EncodeData(data);
  absl::StatusOr<EventData> back = DecodeData(text);
  ASSERT_TRUE(back.ok()) << back.status() << " for " << text;
  EXPECT_EQ(*back, data);
}

TEST(DataCodecTest, DecodeIntoReusesAndReplaces) {
  EventData out = {{"old", 1}, {"older", 2}, {"oldest", 3}};
  ASSERT_TRUE(DecodeDataInto("a=1", &out).ok());
  EXPECT_EQ(out, (EventData{{"a", 1}}));
  ASSERT_TRUE(DecodeDataInto("", &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(DataCodecTest, RejectsCorruptInput) {
  for (const char* bad :
       {"chars", "chars=", "=", "chars=1,", ",chars=1", "chars=1x", "chars=+1", "chars= 1",
        "chars=99999999999999999999", "ch ars=1", "ch%4=1", "ch%zz=1", "ch%=1", "a=1,,b=2",
        "chars=1.5", "a=1;b=2", "a=1=2", "a=-", "a=--1", "a=9223372036854775808",
        "a=-9223372036854775809", "a=1,b"}) {
    absl::StatusOr<EventData> result = DecodeData(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_NE(result.status().message().find("data entry"), std::string::npos)
        << result.status();
  }
}

// --- effects ------------------------------------------------------------------

TEST(EffectsCodecTest, EncodesCompactly) {
  const std::vector<Effect> effects = {
      {Scope::kSubject, "chars", 100, 200, 523, 0},
      {Scope::kSubject, "tokens", 100, 200, 10, 0},  // same window: left empty
      {Scope::kOrg, "chars", 100, 300, 523, 0},
      {Scope::kOrg, "users", kMin, kMax, 1, 42},
  };
  EXPECT_EQ(EncodeEffects(effects),
            "s|chars|100|200|523;s|tokens|||10;o|chars||300|523;"
            "o|users|-9223372036854775808|9223372036854775807|1|42");
}

TEST(EffectsCodecTest, AnOmittedWindowIsThePreviousOne) {
  absl::StatusOr<std::vector<Effect>> effects = DecodeEffects("s|a|1|2|3;o|b|||4;s|c|5||6");
  ASSERT_TRUE(effects.ok()) << effects.status();
  EXPECT_EQ(*effects, (std::vector<Effect>{{Scope::kSubject, "a", 1, 2, 3, 0},
                                           {Scope::kOrg, "b", 1, 2, 4, 0},
                                           {Scope::kSubject, "c", 5, 2, 6, 0}}));
}

TEST(EffectsCodecTest, RoundTrips) {
  std::vector<Effect> effects = {
      {Scope::kSubject, "chars", 100, 200, -523, 0},
      {Scope::kOrg, "u", kMin, kMax, kMin, std::numeric_limits<uint64_t>::max()},
      {Scope::kSubject, "", 0, 0, 0, 1},
  };
  for (const std::string& s : HostileStrings()) {
    effects.push_back({Scope::kOrg, s, 1, 2, 3, 4});
  }
  absl::StatusOr<std::vector<Effect>> back = DecodeEffects(EncodeEffects(effects));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, effects);

  absl::StatusOr<std::vector<Effect>> none = DecodeEffects(EncodeEffects({}));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(EffectsCodecTest, RejectsCorruptInput) {
  for (const char* bad :
       {"x|chars|1|2|3", "s|chars|1|2", "s|chars|1|2|3|4|5", "s|chars|a|2|3", "s|chars|1|2|3|-1",
        "s|chars|1|2|3;", ";s|chars|1|2|3", "s|ch;ars|1|2|3", "s|c h|1|2|3", "S|chars|1|2|3",
        "s|chars|1|2|99999999999999999999", "|||||", "s", "s|chars||2|3", "s|chars|1||3",
        "s|chars|1|2|3|", "s|chars|1|2|", "s|chars|1|2|-", "s|chars|9223372036854775808|2|3",
        "s|chars|1|2|3|18446744073709551616"}) {
    absl::StatusOr<std::vector<Effect>> result = DecodeEffects(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_NE(result.status().message().find("effects entry"), std::string::npos)
        << result.status();
  }
}

// --- event context --------------------------------------------------------------

TEST(ContextCodecTest, EmptyContextIsEmptyText) {
  EXPECT_EQ(EncodeContext(EventContext{}), "");
  absl::StatusOr<EventContext> back = DecodeContext("");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, EventContext{});
}

TEST(ContextCodecTest, RoundTrips) {
  for (const std::string& h : HostileStrings()) {
    EventContext c;
    c.session_id = h;
    c.ip = "::1";
    c.user_agent = h + "/1.0";
    c.endpoint = "/v1/correct";
    c.method = "POST";
    c.processing_ms = h.size();
    c.error_code = h;
    absl::StatusOr<EventContext> back = DecodeContext(EncodeContext(c));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, c);
  }
  EventContext zero_ms;
  zero_ms.processing_ms = 0;
  absl::StatusOr<EventContext> back = DecodeContext(EncodeContext(zero_ms));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, zero_ms);
  EXPECT_EQ(DecodeContext("{\"ip\":7}").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeContext("x").status().code(), absl::StatusCode::kDataLoss);
}

// --- subject and org ------------------------------------------------------------

Subject FullSubject() {
  Subject s;
  s.id = "user-1";
  s.tier = "premium";
  s.org = "acme";
  s.email = "a@example.com";
  s.timezone = "America/New_York";
  s.anchor_day = 31;
  s.overrides = {{"chars", 5000}, {"tokens", std::nullopt}, {"big", kMax}, {"neg", kMin}};
  s.stripe_customer_id = "cus_123";
  s.notify = {false, true, false};
  s.created = 1'700'000'000'000'000;
  return s;
}

TEST(SubjectCodecTest, RoundTrips) {
  const Subject s = FullSubject();
  absl::StatusOr<Subject> back = DecodeSubject(EncodeSubject(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);

  absl::StatusOr<Subject> defaults = DecodeSubject(EncodeSubject(Subject{}));
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(*defaults, Subject{});
}

TEST(SubjectCodecTest, RoundTripsHostileStrings) {
  for (const std::string& h : HostileStrings()) {
    Subject s = FullSubject();
    s.id = h;
    s.email = h + h;
    s.timezone = h;
    s.overrides[h] = 1;
    const std::string text = EncodeSubject(s);
    EXPECT_EQ(text.find('\n'), std::string::npos) << "one line: " << text;
    absl::StatusOr<Subject> back = DecodeSubject(text);
    ASSERT_TRUE(back.ok()) << back.status() << " for " << text;
    EXPECT_EQ(*back, s);
  }
}

TEST(SubjectCodecTest, ReadsStandardJsonEscapesAndDefaults) {
  absl::StatusOr<Subject> s = DecodeSubject(
      " { \"id\" : \"a\\u00e9\\ud83d\\ude00\\/\\b\\f\" , \"anchor_day\": 5,"
      " \"unknown\": {\"x\": [1, true, null, \"y\"]} } ");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, "a\xc3\xa9\xf0\x9f\x98\x80/\b\f");
  EXPECT_EQ(s->anchor_day, 5);
  EXPECT_EQ(s->timezone, "UTC");  // missing: default
  EXPECT_TRUE(s->notify.email);
}

TEST(SubjectCodecTest, RejectsCorruptInput) {
  for (const char* bad : {
           "",
           "null",
           "[]",
           "{",
           "{\"id\":\"a\"",
           "{\"id\":\"a\"}x",
           "{\"id\":1}",
           "{\"id\":\"unterminated}",
           "{\"id\":\"bad escape \\q\"}",
           "{\"id\":\"\\u12\"}",
           "{\"id\":\"\\udc00\"}",
           "{\"id\":\"\\ud800x\"}",
           "{\"id\":\"raw\nnewline\"}",
           "{\"anchor_day\":1.5}",
           "{\"anchor_day\":1e3}",
           "{\"anchor_day\":99999999999}",
           "{\"created\":99999999999999999999}",
           "{\"anchor_day\":\"1\"}",
           "{\"overrides\":[]}",
           "{\"overrides\":{\"chars\":\"1\"}}",
           "{\"notify\":{\"email\":1}}",
           "{\"notify\":true}",
           "{id:\"a\"}",
           "{\"id\" \"a\"}",
           "{\"id\":\"a\",}",
           "{\"x\":[1,]}",
           "{\"x\":tru}",
           "{\"x\":-}",
       }) {
    absl::StatusOr<Subject> result = DecodeSubject(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_NE(result.status().message().find("subject definition"), std::string::npos)
        << result.status();
  }
}

TEST(SubjectCodecTest, RejectsDeepNesting) {
  const std::string deep = "{\"x\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  absl::StatusOr<Subject> result = DecodeSubject(deep);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
}

TEST(SubjectCodecTest, NeverCrashesOnTruncationsAndFlips) {
  const std::string text = EncodeSubject(FullSubject());
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_FALSE(DecodeSubject(text.substr(0, n)).ok()) << n;
    std::string flipped = text;
    flipped[n] = static_cast<char>(flipped[n] ^ 0x5a);
    (void)DecodeSubject(flipped);  // may or may not decode; must not crash
  }
}

TEST(OrgCodecTest, RoundTrips) {
  Org org;
  org.id = "acme \"inc\"\n";
  org.tier = "enterprise";
  org.timezone = "Europe/Paris";
  org.anchor_day = 15;
  org.overrides = {{"chars", 1}, {"requests", std::nullopt}};
  absl::StatusOr<Org> back = DecodeOrg(EncodeOrg(org));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, org);

  absl::StatusOr<Org> defaults = DecodeOrg(EncodeOrg(Org{}));
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(*defaults, Org{});
  EXPECT_EQ(DecodeOrg("{\"anchor_day\":true}").status().code(),
            absl::StatusCode::kDataLoss);
}

// --- tier -----------------------------------------------------------------------

Tier FullTier() {
  Tier t;
  t.name = "premium";
  t.inherits = "free";
  Quota chars;
  chars.meter = "chars";
  chars.limit = 100'000;
  chars.period = PeriodUnit::kMonth;
  chars.overage = Overage::kAllowUpTo;
  chars.allow_up_to = 500;
  chars.rollover_cap = 1000;
  chars.warn_at = {80, 100};
  Quota tokens;
  tokens.meter = "tokens";
  tokens.limit = std::nullopt;
  tokens.period = PeriodUnit::kNever;
  tokens.overage = Overage::kAllow;
  tokens.warn_at = {};
  Quota daily;
  daily.meter = "requests";
  daily.limit = 0;
  daily.period = PeriodUnit::kDay;
  t.quotas = {chars, tokens, daily};
  t.rate_limits = {{"requests", 10, kMicrosPerSecond, 20}, {"chars", 1000, kMicrosPerMinute, 0}};
  t.pricing.base_cents = 2900;
  t.pricing.currency = "eur";
  t.pricing.overage = {{"chars", {1, 1000}}, {"tokens", {5, 1'000'000}}};
  return t;
}

TEST(TierCodecTest, RoundTrips) {
  const Tier t = FullTier();
  absl::StatusOr<Tier> back = DecodeTier(EncodeTier(t));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);

  absl::StatusOr<Tier> defaults = DecodeTier(EncodeTier(Tier{}));
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(*defaults, Tier{});
}

TEST(TierCodecTest, RoundTripsEveryPeriodAndOverage) {
  Tier t;
  t.name = "all";
  for (PeriodUnit unit : {PeriodUnit::kDay, PeriodUnit::kWeek, PeriodUnit::kMonth,
                          PeriodUnit::kYear, PeriodUnit::kNever}) {
    for (Overage overage : {Overage::kBlock, Overage::kAllow, Overage::kAllowUpTo}) {
      Quota q;
      q.meter = "m" + std::to_string(t.quotas.size());
      q.period = unit;
      q.overage = overage;
      t.quotas.push_back(q);
    }
  }
  absl::StatusOr<Tier> back = DecodeTier(EncodeTier(t));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);
}

TEST(TierCodecTest, RoundTripsHostileStrings) {
  for (const std::string& h : HostileStrings()) {
    Tier t = FullTier();
    t.name = h;
    t.quotas[0].meter = h;
    t.rate_limits[0].meter = h;
    t.pricing.currency = h;
    t.pricing.overage[h] = {7, 8};
    absl::StatusOr<Tier> back = DecodeTier(EncodeTier(t));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, t);
  }
}

TEST(TierCodecTest, RejectsCorruptInput) {
  for (const char* bad : {
           "{\"quotas\":{}}",
           "{\"quotas\":[1]}",
           "{\"quotas\":[{\"period\":\"fortnight\"}]}",
           "{\"quotas\":[{\"overage\":\"maybe\"}]}",
           "{\"quotas\":[{\"limit\":\"10\"}]}",
           "{\"quotas\":[{\"warn_at\":[50,\"75\"]}]}",
           "{\"quotas\":[{\"warn_at\":[99999999999]}]}",
           "{\"rate_limits\":[{\"rate\":null}]}",
           "{\"pricing\":[]}",
           "{\"pricing\":{\"overage\":{\"chars\":1}}}",
           "{\"pricing\":{\"overage\":{\"chars\":{\"cents\":true}}}}",
       }) {
    absl::StatusOr<Tier> result = DecodeTier(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_NE(result.status().message().find("tier definition"), std::string::npos)
        << result.status();
  }
}

TEST(TierCodecTest, ErrorNamesTheQuota) {
  absl::StatusOr<Tier> result =
      DecodeTier("{\"quotas\":[{},{\"period\":\"fortnight\"}]}");
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("quotas 1"), std::string::npos) << result.status();
  EXPECT_NE(result.status().message().find("fortnight"), std::string::npos) << result.status();
}

// --- API key --------------------------------------------------------------------

ApiKey FullKey() {
  ApiKey k;
  k.id = "key_3f9a2c1b";
  k.name = "billing backend \"prod\"";
  k.role = Role::kAdmin;
  k.hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  k.prefix = "tk_live_3f9a";
  k.created = 1'700'000'000'000'000;
  k.revoked = 1'700'000'500'000'000;
  k.write_rate_per_s = 250;
  return k;
}

TEST(ApiKeyCodecTest, RoundTripsEveryRole) {
  for (Role role : {Role::kAdmin, Role::kService, Role::kUser}) {
    ApiKey k = FullKey();
    k.role = role;
    const std::string text = EncodeApiKey(k);
    EXPECT_NE(text.find("\"role\":\"" + std::string(RoleName(role)) + "\""), std::string::npos)
        << text;
    absl::StatusOr<ApiKey> back = DecodeApiKey(text);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, k);
  }
  absl::StatusOr<ApiKey> defaults = DecodeApiKey(EncodeApiKey(ApiKey{}));
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(*defaults, ApiKey{});
}

TEST(ApiKeyCodecTest, RoundTripsHostileStrings) {
  for (const std::string& h : HostileStrings()) {
    ApiKey k = FullKey();
    k.id = h;
    k.name = h + h;
    k.prefix = h;
    const std::string text = EncodeApiKey(k);
    EXPECT_EQ(text.find('\n'), std::string::npos) << "one line: " << text;
    absl::StatusOr<ApiKey> back = DecodeApiKey(text);
    ASSERT_TRUE(back.ok()) << back.status() << " for " << text;
    EXPECT_EQ(*back, k);
  }
}

TEST(ApiKeyCodecTest, MissingKeysKeepDefaultsAndUnknownOnesAreIgnored) {
  absl::StatusOr<ApiKey> k =
      DecodeApiKey("{\"id\":\"key_1\",\"scopes\":[\"read\"],\"role\":\"admin\"}");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->id, "key_1");
  EXPECT_EQ(k->role, Role::kAdmin);
  EXPECT_EQ(k->revoked, 0);
  EXPECT_EQ(k->write_rate_per_s, 0);
  absl::StatusOr<ApiKey> no_role = DecodeApiKey("{}");
  ASSERT_TRUE(no_role.ok()) << no_role.status();
  EXPECT_EQ(no_role->role, Role::kService);  // ApiKey's default
}

TEST(ApiKeyCodecTest, RejectsCorruptInput) {
  for (const char* bad : {
           "",
           "[]",
           "{\"id\":\"a\"",
           "{\"id\":7}",
           "{\"role\":\"root\"}",
           "{\"role\":\"\"}",
           "{\"role\":1}",
           "{\"revoked\":\"yes\"}",
           "{\"created\":1.5}",
           "{\"write_rate_per_s\":99999999999999999999}",
       }) {
    absl::StatusOr<ApiKey> result = DecodeApiKey(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << bad;
    EXPECT_NE(result.status().message().find("API key definition"), std::string::npos)
        << result.status();
  }
  EXPECT_NE(DecodeApiKey("{\"role\":\"root\"}").status().message().find("unknown role \"root\""),
            std::string::npos);
}

TEST(ApiKeyCodecTest, NeverCrashesOnTruncationsAndFlips) {
  const std::string text = EncodeApiKey(FullKey());
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_FALSE(DecodeApiKey(text.substr(0, n)).ok()) << n;
    std::string flipped = text;
    flipped[n] = static_cast<char>(flipped[n] ^ 0x5a);
    (void)DecodeApiKey(flipped);  // may or may not decode; must not crash
  }
}

// --- dedup blocks ---------------------------------------------------------------

std::vector<DedupEntry> ReadBlock(std::string_view block, absl::Status* status) {
  std::vector<DedupEntry> out;
  DedupBlockReader reader(block);
  DedupEntry e;
  while (reader.Next(&e)) out.push_back(e);
  *status = reader.status();
  return out;
}

void ExpectSameEntries(const std::vector<DedupEntry>& a, const std::vector<DedupEntry>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].seq, b[i].seq) << i;
    EXPECT_EQ(a[i].id_hash, b[i].id_hash) << i;
    EXPECT_EQ(a[i].fingerprint, b[i].fingerprint) << i;
    EXPECT_EQ(a[i].received, b[i].received) << i;
  }
}

TEST(DedupBlockCodecTest, RoundTripsExtremesAndKeepsItsBounds) {
  const std::vector<DedupEntry> entries = {
      {0, 0, 1'700'000'000'000'000, 1},
      {UINT64_MAX, UINT64_MAX, 1'700'000'000'000'000, 2},  // same time: 1-byte delta
      {0x0123456789abcdefULL, 42, kMin, 3},                // time going back, far
      {7, 8, kMax, 1'000'000},                             // and forward, farther
      {9, 10, 1'699'999'999'000'000, static_cast<uint64_t>(kMax)},
  };
  DedupBlockWriter w;
  for (const DedupEntry& e : entries) w.Add(e);
  EXPECT_EQ(w.count(), 5u);
  EXPECT_EQ(w.first_seq(), 1u);
  EXPECT_EQ(w.last_seq(), static_cast<uint64_t>(kMax));
  EXPECT_EQ(w.max_received(), kMax);
  absl::Status status;
  ExpectSameEntries(ReadBlock(w.bytes(), &status), entries);
  EXPECT_TRUE(status.ok()) << status;

  w.Clear();
  EXPECT_TRUE(w.empty());
  w.Add(entries[1]);
  EXPECT_EQ(w.first_seq(), 2u);
  ExpectSameEntries(ReadBlock(w.bytes(), &status), {entries[1]});
}

TEST(DedupBlockCodecTest, IsCompact) {
  DedupBlockWriter w;
  for (uint64_t seq = 100; seq < 1100; ++seq) {
    w.Add(DedupEntry{seq * 0x9e3779b97f4a7c15ULL, ~seq, 1'700'000'000'000'000 + 3 * static_cast<int64_t>(seq), seq});
  }
  EXPECT_LE(w.bytes().size(), 1000u * 18 + 16);  // two 1-byte deltas and two hashes each
}

TEST(DedupBlockCodecTest, EmptyBlockHasNoEntries) {
  absl::Status status;
  EXPECT_TRUE(ReadBlock("", &status).empty());
  EXPECT_TRUE(status.ok());
}

TEST(DedupBlockCodecTest, RejectsCorruptInputWithoutCrashing) {
  DedupBlockWriter w;
  std::vector<size_t> ends;  // where each entry ends
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    w.Add(DedupEntry{seq, seq, 1000 * static_cast<int64_t>(seq), seq});
    ends.push_back(w.bytes().size());
  }
  const std::string block = w.bytes();
  for (size_t n = 1; n < block.size(); ++n) {
    absl::Status status;
    const std::vector<DedupEntry> read = ReadBlock(block.substr(0, n), &status);
    const size_t whole = std::upper_bound(ends.begin(), ends.end(), n) - ends.begin();
    EXPECT_EQ(read.size(), whole) << n;
    if (whole == 0 || ends[whole - 1] != n) {  // cut inside an entry
      EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << n;
    }
    std::string flipped = block;
    flipped[n] = static_cast<char>(flipped[n] ^ 0x5a);
    (void)ReadBlock(flipped, &status);  // may or may not decode; must not crash
  }
  absl::Status status;
  ReadBlock(std::string("\x00", 1) + std::string(17, 'x'), &status);  // seq delta 0
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("dedup entry 0: bad seq"), std::string::npos) << status;
  ReadBlock(std::string(11, '\xff'), &status);  // a varint longer than 64 bits
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tally
