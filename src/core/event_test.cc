#include "core/event.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace tally {
namespace {

Event ValidEvent() {
  Event e;
  e.id = "evt-1";
  e.subject = "alice";
  e.type = "correction";
  e.time = 1'700'000'000'000'000;
  e.data = {{"chars", 523}, {"tokens", 1200}};
  e.context = {.session_id = "s1",
               .ip = "192.0.2.1",
               .user_agent = "curl/8",
               .endpoint = "/api/correct",
               .method = "POST",
               .processing_ms = 12,
               .error_code = ""};
  return e;
}

// The message of ValidateEvent's error, or "" when the event is valid.
std::string ErrorOf(const std::function<void(Event&)>& mutate) {
  Event e = ValidEvent();
  mutate(e);
  const absl::Status s = ValidateEvent(e);
  if (s.ok()) return "";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

TEST(EventContextTest, FieldReturnsEachNamedField) {
  const EventContext c = ValidEvent().context;
  EXPECT_EQ(c.Field("session_id"), "s1");
  EXPECT_EQ(c.Field("ip"), "192.0.2.1");
  EXPECT_EQ(c.Field("user_agent"), "curl/8");
  EXPECT_EQ(c.Field("endpoint"), "/api/correct");
  EXPECT_EQ(c.Field("method"), "POST");
  EXPECT_EQ(c.Field("processing_ms"), "12");
  EXPECT_EQ(c.Field("error_code"), "");
  EXPECT_EQ(c.Field("nope"), "");
}

TEST(EventContextTest, UnreportedProcessingTimeIsEmpty) {
  EXPECT_EQ(EventContext{}.Field("processing_ms"), "");
  EXPECT_EQ(EventContext{.processing_ms = 0}.Field("processing_ms"), "0");
}

TEST(EventTest, FindReturnsTheValueOrNull) {
  const Event e = ValidEvent();
  ASSERT_NE(e.Find("tokens"), nullptr);
  EXPECT_EQ(*e.Find("tokens"), 1200);
  EXPECT_EQ(e.Find("token"), nullptr);
}

TEST(ValidateEventTest, AcceptsAValidEvent) {
  EXPECT_EQ(ErrorOf([](Event&) {}), "");
  EXPECT_EQ(ErrorOf([](Event& e) { e.data.clear(); }), "");
  EXPECT_EQ(ErrorOf([](Event& e) { e.subject = "Jürgen 👋"; }), "");
  EXPECT_EQ(ErrorOf([](Event& e) {
              e.data = {{"x", INT64_MAX}, {"y", 0}};
            }),
            "");
}

TEST(ValidateEventTest, RejectsBadIds) {
  EXPECT_EQ(ErrorOf([](Event& e) { e.id = ""; }),
            "id: must be 1 to 256 printable ASCII characters");
  EXPECT_EQ(ErrorOf([](Event& e) { e.id = std::string(kMaxIdLength, 'a'); }),
            "");
  EXPECT_NE(
      ErrorOf([](Event& e) { e.id = std::string(kMaxIdLength + 1, 'a'); }), "");
  EXPECT_NE(ErrorOf([](Event& e) { e.id = "a\nb"; }), "");
  EXPECT_NE(ErrorOf([](Event& e) { e.id = "caf\xc3\xa9"; }), "");
}

TEST(ValidateEventTest, RejectsBadSubjectAndType) {
  EXPECT_EQ(ErrorOf([](Event& e) { e.subject = ""; }).substr(0, 9),
            "subject: ");
  EXPECT_EQ(ErrorOf([](Event& e) { e.subject = "a\tb"; }).substr(0, 9),
            "subject: ");
  EXPECT_EQ(ErrorOf([](Event& e) { e.subject = "a\xc2\x85"; }).substr(0, 9),
            "subject: ");
  EXPECT_EQ(ErrorOf([](Event& e) { e.subject = "\xff"; }).substr(0, 9),
            "subject: ");
  EXPECT_EQ(
      ErrorOf([](Event& e) { e.subject = std::string(kMaxNameLength, 's'); }),
      "");
  EXPECT_EQ(ErrorOf([](Event& e) {
              e.subject = std::string(kMaxNameLength + 1, 's');
            }).substr(0, 9),
            "subject: ");
  EXPECT_EQ(ErrorOf([](Event& e) { e.type = ""; }).substr(0, 6), "type: ");
  EXPECT_EQ(ErrorOf([](Event& e) { e.type = "x\x7f"; }).substr(0, 6), "type: ");
}

TEST(ValidateEventTest, RejectsBadData) {
  EXPECT_EQ(ErrorOf([](Event& e) { e.data[0].second = -1; }),
            "data.chars: must be a non-negative integer");
  EXPECT_EQ(ErrorOf([](Event& e) {
              e.data.push_back({"chars", 1});
            }),
            "data.chars: duplicate key");
  EXPECT_EQ(ErrorOf([](Event& e) {
              e.data.push_back({"a b", 1});
            }),
            "data: key \"a b\" must match [A-Za-z0-9_.-]{1,128}");
  EXPECT_EQ(ErrorOf([](Event& e) {
              e.data.push_back({"\n", 1});
            }),
            "data: key \"\\x0a\" must match [A-Za-z0-9_.-]{1,128}");
  EXPECT_NE(ErrorOf([](Event& e) { e.data.push_back({"", 1}); }), "");
  EXPECT_NE(ErrorOf([](Event& e) {
              e.data.push_back({std::string(129, 'k'), 1});
            }),
            "");
  EXPECT_EQ(ErrorOf([](Event& e) { e.data.push_back({"Aa0_.-", 1}); }), "");
}

TEST(ValidateEventTest, LimitsTheNumberOfDataFields) {
  const auto fill = [](size_t n) {
    return [n](Event& e) {
      e.data.clear();
      for (size_t i = 0; i < n; ++i)
        e.data.push_back({"f" + std::to_string(i), 1});
    };
  };
  EXPECT_EQ(ErrorOf(fill(kMaxDataFields)), "");
  EXPECT_EQ(ErrorOf(fill(kMaxDataFields + 1)), "data: at most 64 fields");
}

TEST(ValidateEventTest, RejectsBadContext) {
  EXPECT_EQ(
      ErrorOf([](Event& e) { e.context.user_agent = std::string(1025, 'u'); }),
      "context.user_agent: longer than 1024 bytes");
  EXPECT_EQ(
      ErrorOf([](Event& e) { e.context.user_agent = std::string(1024, 'u'); }),
      "");
  EXPECT_EQ(ErrorOf([](Event& e) { e.context.endpoint = "/\xc0\xaf"; }),
            "context.endpoint: must be valid UTF-8");
  EXPECT_EQ(ErrorOf([](Event& e) { e.context.ip = "\xed\xa0\x80"; }),
            "context.ip: must be valid UTF-8");
  EXPECT_EQ(ErrorOf([](Event& e) { e.context.processing_ms = -2; }),
            "context.processing_ms: must be a non-negative integer");
  EXPECT_EQ(ErrorOf([](Event& e) { e.context.processing_ms = -1; }), "");
}

TEST(FingerprintTest, EqualForEqualBodiesAndReorderedData) {
  const Event a = ValidEvent();
  Event b = ValidEvent();
  std::swap(b.data[0], b.data[1]);
  EXPECT_EQ(Fingerprint(a), Fingerprint(ValidEvent()));
  EXPECT_EQ(Fingerprint(a), Fingerprint(b));
}

TEST(FingerprintTest, DiffersWhenAnyFieldDiffers) {
  const uint64_t base = Fingerprint(ValidEvent());
  const std::function<void(Event&)> changes[] = {
      [](Event& e) { e.id += "x"; },
      [](Event& e) { e.subject += "x"; },
      [](Event& e) { e.type += "x"; },
      [](Event& e) { e.time += 1; },
      [](Event& e) { e.data[0].second += 1; },
      [](Event& e) { e.data[0].first = "chars2"; },
      [](Event& e) {
        e.data.push_back({"extra", 0});
      },
      [](Event& e) { e.data.pop_back(); },
      [](Event& e) { e.context.session_id += "x"; },
      [](Event& e) { e.context.ip += "x"; },
      [](Event& e) { e.context.user_agent += "x"; },
      [](Event& e) { e.context.endpoint += "x"; },
      [](Event& e) { e.context.method += "x"; },
      [](Event& e) { e.context.processing_ms += 1; },
      [](Event& e) { e.context.error_code += "x"; },
  };
  for (size_t i = 0; i < std::size(changes); ++i) {
    Event e = ValidEvent();
    changes[i](e);
    EXPECT_NE(Fingerprint(e), base) << "change #" << i;
  }
}

TEST(FingerprintTest, FramingKeepsFieldBoundaries) {
  Event a = ValidEvent();
  Event b = ValidEvent();
  a.subject = "ab";
  a.type = "c";
  b.subject = "a";
  b.type = "bc";
  EXPECT_NE(Fingerprint(a), Fingerprint(b));
  a.context = {.session_id = "x", .ip = ""};
  b.context = {.session_id = "", .ip = "x"};
  EXPECT_NE(Fingerprint(a), Fingerprint(b));
}

TEST(FingerprintTest, IsXxh64OfTheDocumentedFraming) {
  // Persisted in the log: a change here breaks every stored dedup entry.
  // An empty event frames as eleven zero u64s (lengths, time, data count)
  // then processing_ms = -1, all little-endian.
  const std::string framed = std::string(88, '\0') + std::string(8, '\xff');
  EXPECT_EQ(Fingerprint(Event{}), StableHash(framed));

  Event e;
  e.id = "i";
  e.data = {{"k", 2}};
  std::string expected;
  const auto u64 = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) expected += static_cast<char>(v >> (8 * i));
  };
  const auto str = [&](std::string_view s) {
    u64(s.size());
    expected += s;
  };
  str("i");
  str("");  // subject
  str("");  // type
  u64(0);   // time
  u64(1);   // data fields
  str("k");
  u64(2);
  for (int i = 0; i < 6; ++i) str("");  // context strings
  u64(static_cast<uint64_t>(-1));       // processing_ms
  EXPECT_EQ(Fingerprint(e), StableHash(expected));
}

TEST(StableHashTest, IsXxh64WithSeedZero) {
  EXPECT_EQ(StableHash(""), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(StableHash("a"), 0xD24EC4F1A98C6E5BULL);
  EXPECT_EQ(StableHash("abc"), 0x44BC2CF5AD770999ULL);
  EXPECT_EQ(StableHash("Call me Ishmael."), 0x6D04390FC9D61A90ULL);
  EXPECT_EQ(StableHash("Nobody inspects the spammish repetition"),
            0xFBCEA83C8A378BF1ULL);
}

TEST(StableHashTest, HashesLongInputsAcrossStripes) {
  const std::string long_text(1000, 'z');
  EXPECT_EQ(StableHash(long_text), StableHash(std::string(1000, 'z')));
  EXPECT_NE(StableHash(long_text), StableHash(std::string(999, 'z') + "y"));
}

}  // namespace
}  // namespace tally
