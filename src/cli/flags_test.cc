#include "cli/flags.h"

#include "gtest/gtest.h"

namespace tally::cli {
namespace {

CommandSpec Spec() {
  CommandSpec spec;
  spec.name = "commit";
  spec.positionals = "RESERVATION_ID";
  spec.summary = "Settle a reservation.";
  spec.flags = {{"data", "K=V", "none", "meter inputs", true},
                {"subject", "S", "", "the subject"},
                {"json", "", "off", "print JSON"}};
  spec.min_positionals = spec.max_positionals = 1;
  return spec;
}

TEST(FlagsTest, ParsesBothFormsRepeatsSwitchesAndPositionals) {
  ParsedFlags f;
  std::string error;
  ASSERT_TRUE(ParseFlags(Spec(), {"r1", "--data", "chars=1", "--data=tokens=2", "--json",
                                  "--subject=a"},
                         f, error))
      << error;
  EXPECT_EQ(f.positionals, std::vector<std::string>{"r1"});
  EXPECT_EQ(f.All("data"), (std::vector<std::string>{"chars=1", "tokens=2"}));
  EXPECT_EQ(f.Get("subject"), "a");
  EXPECT_TRUE(f.Has("json"));
  EXPECT_FALSE(f.help);
}

TEST(FlagsTest, ErrorsSayWhatIsWrong) {
  auto error_of = [](std::vector<std::string> args) {
    ParsedFlags f;
    std::string error;
    EXPECT_FALSE(ParseFlags(Spec(), args, f, error));
    return error;
  };
  EXPECT_EQ(error_of({"r1", "--subjet", "a"}),
            "commit: unknown flag --subjet (did you mean --subject?); see tally commit --help");
  EXPECT_EQ(error_of({"r1", "--zzzzzz"}), "commit: unknown flag --zzzzzz; see tally commit --help");
  EXPECT_EQ(error_of({"r1", "--subject"}), "commit: --subject needs a value (S)");
  EXPECT_EQ(error_of({"r1", "--subject", "a", "--subject", "b"}), "commit: --subject given twice");
  EXPECT_EQ(error_of({"r1", "--json=yes"}), "commit: --json takes no value");
  EXPECT_EQ(error_of({}), "commit: missing RESERVATION_ID (usage: tally commit RESERVATION_ID [flags])");
  EXPECT_EQ(error_of({"r1", "r2"}), "commit: unexpected argument \"r2\"");
}

TEST(FlagsTest, HelpWinsAndDoubleDashEndsFlags) {
  ParsedFlags f;
  std::string error;
  ASSERT_TRUE(ParseFlags(Spec(), {"--help"}, f, error));
  EXPECT_TRUE(f.help);
  ParsedFlags g;
  ASSERT_TRUE(ParseFlags(Spec(), {"--", "--odd-id"}, g, error)) << error;
  EXPECT_EQ(g.positionals, std::vector<std::string>{"--odd-id"});
}

TEST(FlagsTest, UsageListsEveryFlagWithItsDefault) {
  EXPECT_EQ(Usage(Spec()),
            "usage: tally commit RESERVATION_ID [flags]\n\n"
            "Settle a reservation.\n\n"
            "flags:\n"
            "  --data K=V   meter inputs (repeatable) (default: none)\n"
            "  --subject S  the subject\n"
            "  --json       print JSON (default: off)\n"
            "  -h, --help   show this help\n");
}

}  // namespace
}  // namespace tally::cli
