#include "common/strict_json.h"

#include <gtest/gtest.h>

namespace gradients::common {
namespace {

TEST(StrictJson, ParsesNestedValues) {
  Result<nlohmann::json> json = ParseStrictJson(R"( {"a": [1, 2.5, "x", null, true], "b": {"c": {}}} )");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ((*json)["a"][1].get<double>(), 2.5);
  EXPECT_TRUE((*json)["b"]["c"].is_object());
}

TEST(StrictJson, RejectsDuplicateKeysAtAnyDepth) {
  Result<nlohmann::json> top = ParseStrictJson(R"({"a": 1, "a": 2})");
  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.status().message(), "duplicate key \"a\"");
  EXPECT_FALSE(ParseStrictJson(R"({"x": [{"k": 1, "k": 1}]})").ok());
}

TEST(StrictJson, AllowsTheSameKeyInSiblingObjects) {
  EXPECT_TRUE(ParseStrictJson(R"({"a": {"k": 1}, "b": {"k": 2}})").ok());
}

TEST(StrictJson, RejectsNestingBeyondTheLimit) {
  Result<nlohmann::json> json = ParseStrictJson("[[[[1]]]]", {.max_depth = 3});
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().message(), "nesting deeper than 3 levels");
  EXPECT_TRUE(ParseStrictJson("[[[1]]]", {.max_depth = 3}).ok());
}

TEST(StrictJson, ReportsSyntaxErrorsWithTheirByteOffset) {
  Result<nlohmann::json> json = ParseStrictJson(R"({"a": tru})");
  ASSERT_FALSE(json.ok());
  EXPECT_NE(json.status().message().find("invalid JSON at byte"), std::string::npos) << json.status().message();
}

TEST(StrictJson, RejectsTrailingGarbageAndInvalidUtf8) {
  EXPECT_FALSE(ParseStrictJson(R"({"a": 1} x)").ok());
  EXPECT_FALSE(ParseStrictJson("{\"a\": \"\xff\"}").ok());
}

TEST(StrictJson, SnippetIsShortAndPrintable) {
  EXPECT_EQ(JsonSnippet(nlohmann::json("ten")), "\"ten\"");
  EXPECT_EQ(JsonSnippet(nlohmann::json(std::string(100, 'x')), 10), "\"xxxxxxxxx...");
}

}  // namespace
}  // namespace gradients::common
