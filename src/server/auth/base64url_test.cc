#include "server/auth/base64url.h"

#include <gtest/gtest.h>

#include <string>

namespace tally {
namespace {

TEST(Base64UrlTest, EncodesRfc4648VectorsWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode(std::string("\xfb\xff\xfe", 3)), "-__-");
}

TEST(Base64UrlTest, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n <= all.size(); ++n) {
    const std::string data = all.substr(all.size() - n);
    absl::StatusOr<std::string> decoded = Base64UrlDecode(Base64UrlEncode(data));
    ASSERT_TRUE(decoded.ok()) << n << ": " << decoded.status();
    EXPECT_EQ(*decoded, data) << n;
  }
}

TEST(Base64UrlTest, RejectsPaddingAndCharactersOutsideTheUrlAlphabet) {
  absl::StatusOr<std::string> padded = Base64UrlDecode("Zm8=");
  ASSERT_FALSE(padded.ok());
  EXPECT_EQ(padded.status().message(), "character 4 ('=') is not base64url (A-Z a-z 0-9 - _, no padding)");
  EXPECT_FALSE(Base64UrlDecode("-+/_").ok());  // '+' and '/' are plain base64
  EXPECT_FALSE(Base64UrlDecode("Zm9v YmFy").ok());
  absl::StatusOr<std::string> control = Base64UrlDecode(std::string("Zm\n9v"));
  ASSERT_FALSE(control.ok());
  EXPECT_NE(control.status().message().find("byte 0x0a"), std::string::npos) << control.status();
}

TEST(Base64UrlTest, RejectsImpossibleLengthsAndNonCanonicalTrailingBits) {
  EXPECT_FALSE(Base64UrlDecode("Z").ok());
  EXPECT_FALSE(Base64UrlDecode("Zm9vY").ok());
  EXPECT_TRUE(Base64UrlDecode("Zg").ok());
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());   // same byte as "Zg", low bits set
  EXPECT_TRUE(Base64UrlDecode("Zm8").ok());
  EXPECT_FALSE(Base64UrlDecode("Zm9").ok());  // same bytes as "Zm8", low bits set
}

}  // namespace
}  // namespace tally
