// Prompt templates (instruct) and chat templates (chat).
#include <gtest/gtest.h>

#include "common/strict_json.h"
#include "text/chat_template.h"
#include "text/prompt_template.h"

namespace gradients::text {
namespace {

using json = nlohmann::json;

TEST(PromptTemplate, AlpacaShowsOnlyTheNonEmptyOptionalSections) {
  PromptTemplate alpaca = PromptTemplate::Alpaca();
  EXPECT_EQ(alpaca.Render({.instruction = "Do it."}), "### Instruction:\nDo it.\n\n### Response:\n");
  EXPECT_EQ(alpaca.Render({.system = "S", .instruction = "I", .input = "N"}),
            "S\n\n### Instruction:\nI\n\n### Input:\nN\n\n### Response:\n");
  EXPECT_TRUE(alpaca.shows_input());
  EXPECT_TRUE(alpaca.shows_system());
}

TEST(PromptTemplate, AnEmptyCustomTemplateIsAlpaca) {
  common::Result<PromptTemplate> parsed = PromptTemplate::Parse("");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->Render({.instruction = "I"}), PromptTemplate::Alpaca().Render({.instruction = "I"}));
}

TEST(PromptTemplate, SubstitutesEveryPlaceholderAndWritesEscapedBraces) {
  common::Result<PromptTemplate> parsed = PromptTemplate::Parse("{{{system}}} {instruction}/{instruction} [{input}] }");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->Render({.system = "S", .instruction = "I", .input = ""}), "{S} I/I [] }");
  EXPECT_TRUE(parsed->shows_system());
  EXPECT_TRUE(parsed->shows_input());
}

TEST(PromptTemplate, SaysWhichOptionalFieldsACustomTemplateShows) {
  common::Result<PromptTemplate> parsed = PromptTemplate::Parse("Q: {instruction}\nA: ");
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->shows_system());
  EXPECT_FALSE(parsed->shows_input());
  EXPECT_EQ(parsed->Render({.instruction = "why"}), "Q: why\nA: ");
}

TEST(PromptTemplate, RejectsUnknownPlaceholdersUnclosedBracesAndAMissingInstruction) {
  EXPECT_EQ(
      PromptTemplate::Parse("{instruction} {question}").status().message(),
      "unknown placeholder {question} (known: {system}, {instruction}, {input}; write \"{{\" for a literal brace)");
  EXPECT_EQ(PromptTemplate::Parse("{instruction} {\"a\": 1").status().message(),
            "\"{\" at byte 14 has no closing \"}\" (write \"{{\" for a literal brace)");
  EXPECT_EQ(PromptTemplate::Parse("{input}").status().message(), "the {instruction} placeholder is missing");
  EXPECT_EQ(PromptTemplate::Parse("{{instruction}}").status().message(), "the {instruction} placeholder is missing");
  EXPECT_EQ(PromptTemplate::Parse("{instruction}{" + std::string(50, 'x') + "}").status().message(),
            "unknown placeholder {" + std::string(40, 'x') +
                "...} (known: {system}, {instruction}, {input}; write \"{{\" for a literal brace)");
}

TEST(ChatTemplate, FindsChatMlByNameAndRejectsUnknownNames) {
  common::Result<ChatTemplate> chatml = FindChatTemplate("chatml");
  ASSERT_TRUE(chatml.ok());
  EXPECT_EQ(chatml->turn_start, "<|im_start|>");
  EXPECT_EQ(chatml->turn_end, "<|im_end|>");
  EXPECT_EQ(FindChatTemplate("ChatML").status().message(), "unknown chat template \"ChatML\" (known: chatml)");
}

TEST(ChatTemplate, RendersTurnsAsSegmentsTrainingAssistantContentAndTurnEnd) {
  std::vector<ChatMessage> messages = {{"user", "Hi"}, {"assistant", ""}, {"assistant", "Yo"}};
  std::vector<ChatSegment> segments = RenderChat(*FindChatTemplate("chatml"), messages);
  std::vector<std::tuple<std::string, bool, bool>> flattened;
  for (const ChatSegment& segment : segments)
    flattened.emplace_back(segment.text, segment.is_special_token, segment.trained);
  EXPECT_EQ(flattened, (std::vector<std::tuple<std::string, bool, bool>>{
                           {"<|im_start|>", true, false}, {"user\n", false, false}, {"Hi", false, false},
                           {"<|im_end|>", true, false}, {"\n", false, false},
                           {"<|im_start|>", true, false}, {"assistant\n", false, false},
                           {"<|im_end|>", true, true}, {"\n", false, false},
                           {"<|im_start|>", true, false}, {"assistant\n", false, false}, {"Yo", false, true},
                           {"<|im_end|>", true, true}, {"\n", false, false}}));
}

TEST(ChatTemplate, ParsesMessagesFromAnArrayOrAJsonStringIgnoringExtraKeys) {
  json array = json::parse(R"([{"role": "system", "content": "S", "name": "x"}, {"role": "user", "content": ""}])");
  common::Result<std::vector<ChatMessage>> from_array = ParseChatMessages(array);
  ASSERT_TRUE(from_array.ok()) << from_array.status().ToString();
  ASSERT_EQ(from_array->size(), 2u);
  EXPECT_EQ((*from_array)[0].role, "system");
  EXPECT_EQ((*from_array)[0].content, "S");
  EXPECT_EQ((*from_array)[1].content, "");
  common::Result<std::vector<ChatMessage>> from_string = ParseChatMessages(array.dump());
  ASSERT_TRUE(from_string.ok());
  EXPECT_EQ((*from_string)[1].role, "user");
}

TEST(ChatTemplate, RejectsDuplicateKeysInAMessageString) {
  EXPECT_EQ(ParseChatMessages(R"([{"role": "user", "role": "assistant", "content": ""}])").status().message(),
            "the string is not a JSON list of messages: duplicate key \"role\"");
}

TEST(ChatTemplate, RejectsAnUnknownRoleNamingTheMessage) {
  json messages = json::parse(R"([{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}])");
  EXPECT_EQ(ParseChatMessages(messages).status().message(),
            "message 2: unknown role \"tool\" (allowed: system, user, assistant)");
}

}  // namespace
}  // namespace gradients::text
