#include "text/dataset.h"

#include <gtest/gtest.h>

#include "common/strict_json.h"
#include "tests/support/byte_tokenizer.h"

namespace gradients::text {
namespace {

using json = nlohmann::json;
using testing::ByteTokenizer;

constexpr int32_t kBos = testing::ByteTokenizer::kBosId;
constexpr int32_t kEos = testing::ByteTokenizer::kEosId;
constexpr int32_t kImStart = testing::ByteTokenizer::kImStartId;
constexpr int32_t kImEnd = testing::ByteTokenizer::kImEndId;

// Ids (or labels) built from pieces: a string is its bytes, an id is itself.
struct Ids : std::vector<int32_t> {
  Ids& Add(std::string_view text) {
    for (int32_t id : testing::ByteTokenizer::Bytes(text)) push_back(id);
    return *this;
  }
  Ids& Add(int32_t id) {
    push_back(id);
    return *this;
  }
  // As many ignored labels as `text` has bytes.
  Ids& Masked(std::string_view text) {
    insert(end(), text.size(), kIgnoredLabel);
    return *this;
  }
};

TokenizedExample Tokenize(const json& row, const DatasetOptions& options,
                          const Tokenizer& tokenizer = testing::ByteTokenizer()) {
  common::Result<TokenizedExample> example = TokenizeRow(row, tokenizer, options);
  EXPECT_TRUE(example.ok()) << example.status().ToString();
  return example.ok() ? *example : TokenizedExample{};
}

std::string TokenizeError(const json& row, const DatasetOptions& options,
                          const Tokenizer& tokenizer = testing::ByteTokenizer()) {
  common::Result<TokenizedExample> example = TokenizeRow(row, tokenizer, options);
  EXPECT_FALSE(example.ok());
  return example.status().message();
}

DatasetOptions Options(DatasetFormat format) {
  DatasetOptions options;
  options.format = format;
  return options;
}

TEST(DatasetFormat, ParsesEachNameAndNamesItBack) {
  for (DatasetFormat format : {DatasetFormat::kText, DatasetFormat::kInstruct, DatasetFormat::kChat}) {
    common::Result<DatasetFormat> parsed = ParseDatasetFormat(DatasetFormatName(format));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, format);
  }
  EXPECT_EQ(DatasetFormatName(DatasetFormat::kInstruct), "instruct");
}

TEST(DatasetFormat, RejectsAnUnknownNameListingTheKnownOnes) {
  EXPECT_EQ(ParseDatasetFormat("jsonl").status().message(),
            "unknown dataset format \"jsonl\" (expected text, instruct or chat)");
}

TEST(ColumnMapping, ParsesRolePairsIgnoringSpacesAroundNames) {
  common::Result<ColumnMapping> mapping = ParseColumnMapping(" instruction = my question ,output=a", DatasetFormat::kInstruct);
  ASSERT_TRUE(mapping.ok()) << mapping.status().ToString();
  EXPECT_EQ(mapping->columns, (std::map<std::string, std::string>{{"instruction", "my question"}, {"output", "a"}}));
  EXPECT_EQ(ColumnFor(*mapping, "output"), "a");
  EXPECT_EQ(ColumnFor(*mapping, "input"), "input");
}

TEST(ColumnMapping, EmptySpecMapsNothing) {
  common::Result<ColumnMapping> mapping = ParseColumnMapping("  ", DatasetFormat::kChat);
  ASSERT_TRUE(mapping.ok());
  EXPECT_TRUE(mapping->columns.empty());
}

TEST(ColumnMapping, RejectsMalformedPairsNamingThem) {
  auto error = [](std::string_view spec) {
    return ParseColumnMapping(spec, DatasetFormat::kInstruct).status().message();
  };
  EXPECT_EQ(error("instruction=q,output"), "column mapping: \"output\" is not role=column");
  EXPECT_EQ(error("output=a=b"), "column mapping: \"output=a=b\" is not role=column");
  EXPECT_EQ(error("=q"), "column mapping: \"=q\" has no role");
  EXPECT_EQ(error("output= "), "column mapping: \"output=\" has no column");
  EXPECT_EQ(error("output=a,"), "column mapping: empty entry (a stray comma?)");
  EXPECT_EQ(error("output=a,output=b"), "column mapping: role \"output\" is mapped twice");
}

TEST(ColumnMapping, RejectsARoleTheFormatDoesNotRead) {
  EXPECT_EQ(ParseColumnMapping("question=q", DatasetFormat::kInstruct).status().message(),
            "column mapping: role \"question\" is not read by format \"instruct\" "
            "(roles: instruction, input, output, system)");
  EXPECT_EQ(ParseColumnMapping("text=body", DatasetFormat::kChat).status().message(),
            "column mapping: role \"text\" is not read by format \"chat\" (roles: messages)");
}

TEST(DatasetText, TrainsOnEveryTokenBetweenBosAndEos) {
  TokenizedExample example = Tokenize({{"text", "Hi!"}}, Options(DatasetFormat::kText));
  std::vector<int32_t> expected = Ids().Add(kBos).Add("Hi!").Add(kEos);
  EXPECT_EQ(example.input_ids, expected);
  EXPECT_EQ(example.labels, expected);
}

TEST(DatasetText, LeavesOutBosAndEosWhenDisabledOrAbsentFromTheTokenizer) {
  DatasetOptions options = Options(DatasetFormat::kText);
  options.add_bos = false;
  EXPECT_EQ(Tokenize({{"text", "a"}}, options).input_ids, Ids().Add("a").Add(kEos));
  options.add_bos = true;
  options.add_eos = false;
  EXPECT_EQ(Tokenize({{"text", "a"}}, options).input_ids, Ids().Add(kBos).Add("a"));
  testing::ByteTokenizer without_specials({.has_bos = false, .has_eos = false});
  EXPECT_EQ(Tokenize({{"text", "a"}}, Options(DatasetFormat::kText), without_specials).input_ids, Ids().Add("a"));
}

TEST(DatasetText, TruncatesLongExamplesAtTheEnd) {
  DatasetOptions options = Options(DatasetFormat::kText);
  options.max_length = 3;
  TokenizedExample example = Tokenize({{"text", "abcdef"}}, options);
  EXPECT_EQ(example.input_ids, Ids().Add(kBos).Add("ab"));
  EXPECT_EQ(example.labels, Ids().Add(kBos).Add("ab"));
}

TEST(DatasetText, ReadsAMappedColumn) {
  DatasetOptions options = Options(DatasetFormat::kText);
  options.columns.columns["text"] = "body";
  EXPECT_EQ(Tokenize({{"body", "x"}, {"text", 5}}, options).input_ids, Ids().Add(kBos).Add("x").Add(kEos));
}

TEST(DatasetInstruct, MasksTheAlpacaPromptAndTrainsOnOutputAndEos) {
  TokenizedExample example =
      Tokenize({{"instruction", "Add 2 and 2."}, {"output", "4"}}, Options(DatasetFormat::kInstruct));
  std::string prompt = "### Instruction:\nAdd 2 and 2.\n\n### Response:\n";
  EXPECT_EQ(example.input_ids, Ids().Add(kBos).Add(prompt).Add("4").Add(kEos));
  EXPECT_EQ(example.labels, Ids().Add(kIgnoredLabel).Masked(prompt).Add("4").Add(kEos));
}

TEST(DatasetInstruct, AlpacaPromptShowsSystemAndInputWhenNotEmpty) {
  json row = {{"system", "Be brief."}, {"instruction", "Add."}, {"input", "2 2"}, {"output", "4"}};
  TokenizedExample example = Tokenize(row, Options(DatasetFormat::kInstruct));
  std::string prompt = "Be brief.\n\n### Instruction:\nAdd.\n\n### Input:\n2 2\n\n### Response:\n";
  EXPECT_EQ(example.input_ids, Ids().Add(kBos).Add(prompt).Add("4").Add(kEos));
  EXPECT_EQ(example.labels, Ids().Add(kIgnoredLabel).Masked(prompt).Add("4").Add(kEos));
}

TEST(DatasetInstruct, EmptyOrNullInputAndSystemAreLeftOutOfThePrompt) {
  json row = {{"system", nullptr}, {"instruction", "Add."}, {"input", ""}, {"output", "4"}};
  TokenizedExample example = Tokenize(row, Options(DatasetFormat::kInstruct));
  EXPECT_EQ(example.input_ids, Ids().Add(kBos).Add("### Instruction:\nAdd.\n\n### Response:\n4").Add(kEos));
}

TEST(DatasetInstruct, ReadsMappedColumns) {
  DatasetOptions options = Options(DatasetFormat::kInstruct);
  options.columns = *ParseColumnMapping("instruction=q,input=ctx,output=a,system=persona", DatasetFormat::kInstruct);
  json row = {{"q", "Q"}, {"ctx", "C"}, {"a", "A"}, {"persona", "P"}};
  std::string prompt = "P\n\n### Instruction:\nQ\n\n### Input:\nC\n\n### Response:\n";
  EXPECT_EQ(Tokenize(row, options).input_ids, Ids().Add(kBos).Add(prompt).Add("A").Add(kEos));
}

TEST(DatasetInstruct, UsesACustomPromptTemplate) {
  DatasetOptions options = Options(DatasetFormat::kInstruct);
  options.prompt_template = "<{system}> Q: {instruction} {{{input}}}\nA: ";
  json row = {{"system", "S"}, {"instruction", "I"}, {"input", "N"}, {"output", "O"}};
  TokenizedExample example = Tokenize(row, options);
  std::string prompt = "<S> Q: I {N}\nA: ";
  EXPECT_EQ(example.input_ids, Ids().Add(kBos).Add(prompt).Add("O").Add(kEos));
  EXPECT_EQ(example.labels, Ids().Add(kIgnoredLabel).Masked(prompt).Add("O").Add(kEos));
}

TEST(DatasetInstruct, RefusesTextTheCustomTemplateWouldDrop) {
  DatasetOptions options = Options(DatasetFormat::kInstruct);
  options.prompt_template = "Q: {instruction}\nA: ";
  options.columns.columns["input"] = "context";
  EXPECT_EQ(Tokenize({{"instruction", "I"}, {"context", ""}, {"output", "O"}}, options).input_ids,
            Ids().Add(kBos).Add("Q: I\nA: O").Add(kEos));
  EXPECT_EQ(TokenizeError({{"instruction", "I"}, {"context", "C"}, {"output", "O"}}, options),
            "field \"input\" (column \"context\"): not empty, but the prompt template has no {input} placeholder");
  EXPECT_EQ(TokenizeError({{"instruction", "I"}, {"system", "S"}, {"output", "O"}}, options),
            "field \"system\": not empty, but the prompt template has no {system} placeholder");
}

TEST(DatasetInstruct, TokenizesPromptAndOutputSeparatelySoTheMaskBoundaryIsExact) {
  // Joined, "<" + "s>" would read as the special token <s>; tokenized apart they stay bytes.
  DatasetOptions options = Options(DatasetFormat::kInstruct);
  options.prompt_template = "{instruction}<";
  TokenizedExample example = Tokenize({{"instruction", "I"}, {"output", "s>"}}, options);
  EXPECT_EQ(example.input_ids, Ids().Add(kBos).Add("I<").Add("s>").Add(kEos));
  EXPECT_EQ(example.labels, Ids().Add(kIgnoredLabel).Masked("I<").Add("s>").Add(kEos));
}

TEST(DatasetInstruct, TruncationCutsIntoTheOutputAndDropsTheEos) {
  DatasetOptions options = Options(DatasetFormat::kInstruct);
  options.prompt_template = "{instruction}:";
  options.max_length = 5;
  TokenizedExample example = Tokenize({{"instruction", "I"}, {"output", "out"}}, options);
  EXPECT_EQ(example.input_ids, Ids().Add(kBos).Add("I:").Add("ou"));
  EXPECT_EQ(example.labels, Ids().Add(kIgnoredLabel).Masked("I:").Add("ou"));
}

json Messages(std::initializer_list<std::pair<std::string, std::string>> turns) {
  json messages = json::array();
  for (const auto& [role, content] : turns) messages.push_back({{"role", role}, {"content", content}});
  return messages;
}

TEST(DatasetChat, ChatMlTrainsOnAssistantContentAndItsImEndOnly) {
  testing::ByteTokenizer tokenizer({.chatml_tokens = true});
  json row = {{"messages", Messages({{"system", "S"}, {"user", "U"}, {"assistant", "A"}})}};
  TokenizedExample example = Tokenize(row, Options(DatasetFormat::kChat), tokenizer);
  EXPECT_EQ(example.input_ids, Ids()
                                   .Add(kBos)
                                   .Add(kImStart).Add("system\n").Add("S").Add(kImEnd).Add("\n")
                                   .Add(kImStart).Add("user\n").Add("U").Add(kImEnd).Add("\n")
                                   .Add(kImStart).Add("assistant\n").Add("A").Add(kImEnd).Add("\n"));
  EXPECT_EQ(example.labels, Ids()
                                .Add(kIgnoredLabel)
                                .Add(kIgnoredLabel).Masked("system\n").Masked("S").Add(kIgnoredLabel).Masked("\n")
                                .Add(kIgnoredLabel).Masked("user\n").Masked("U").Add(kIgnoredLabel).Masked("\n")
                                .Add(kIgnoredLabel).Masked("assistant\n").Add("A").Add(kImEnd).Masked("\n"));
}

TEST(DatasetChat, EncodesChatMlMarkersAsTextWhenTheTokenizerLacksThem) {
  testing::ByteTokenizer tokenizer({.has_bos = false});
  json row = {{"messages", Messages({{"user", "U"}, {"assistant", "A"}})}};
  TokenizedExample example = Tokenize(row, Options(DatasetFormat::kChat), tokenizer);
  EXPECT_EQ(example.input_ids, Ids()
                                   .Add("<|im_start|>").Add("user\n").Add("U").Add("<|im_end|>").Add("\n")
                                   .Add("<|im_start|>").Add("assistant\n").Add("A").Add("<|im_end|>").Add("\n"));
  EXPECT_EQ(example.labels, Ids()
                                .Masked("<|im_start|>user\nU<|im_end|>\n")
                                .Masked("<|im_start|>assistant\n").Add("A").Add("<|im_end|>").Masked("\n"));
}

TEST(DatasetChat, TrainsOnEveryAssistantTurnAndAddsNoEos) {
  testing::ByteTokenizer tokenizer({.has_bos = false, .chatml_tokens = true});
  json row = {{"messages", Messages({{"user", "1"}, {"assistant", "2"}, {"user", "3"}, {"assistant", "4"}})}};
  TokenizedExample example = Tokenize(row, Options(DatasetFormat::kChat), tokenizer);
  std::vector<int32_t> expected = Ids()
                                      .Add(kIgnoredLabel).Masked("user\n1").Add(kIgnoredLabel).Masked("\n")
                                      .Add(kIgnoredLabel).Masked("assistant\n").Add("2").Add(kImEnd).Masked("\n")
                                      .Add(kIgnoredLabel).Masked("user\n3").Add(kIgnoredLabel).Masked("\n")
                                      .Add(kIgnoredLabel).Masked("assistant\n").Add("4").Add(kImEnd).Masked("\n");
  EXPECT_EQ(example.labels, expected);
  EXPECT_EQ(example.input_ids.back(), testing::ByteTokenizer::Bytes("\n")[0]);
}

TEST(DatasetChat, ReadsMessagesHeldAsAJsonStringAsCsvCellsHoldThem) {
  testing::ByteTokenizer tokenizer({.chatml_tokens = true});
  json messages = Messages({{"user", "U"}, {"assistant", "A"}});
  DatasetOptions options = Options(DatasetFormat::kChat);
  options.columns.columns["messages"] = "conversation";
  EXPECT_EQ(Tokenize({{"conversation", messages.dump()}}, options, tokenizer).input_ids,
            Tokenize({{"conversation", messages}}, options, tokenizer).input_ids);
}

TEST(DatasetChat, RejectsMalformedMessagesNamingTheMessage) {
  DatasetOptions options = Options(DatasetFormat::kChat);
  EXPECT_EQ(TokenizeError({{"messages", Messages({{"user", "U"}, {"bot", "B"}})}}, options),
            "field \"messages\": message 2: unknown role \"bot\" (allowed: system, user, assistant)");
  EXPECT_EQ(TokenizeError({{"messages", json::array()}}, options), "field \"messages\": the list of messages is empty");
  EXPECT_EQ(TokenizeError({{"messages", {"hi"}}}, options),
            "field \"messages\": message 1: expected an object with \"role\" and \"content\", got \"hi\"");
  EXPECT_EQ(TokenizeError({{"messages", {{{"role", "user"}, {"content", nullptr}}}}}, options),
            "field \"messages\": message 1: \"content\": expected a string, got null");
  EXPECT_EQ(TokenizeError({{"messages", {{{"content", "x"}}}}}, options),
            "field \"messages\": message 1: \"role\" is missing");
  EXPECT_EQ(TokenizeError({{"messages", "[]"}}, options), "field \"messages\": the list of messages is empty");
  EXPECT_EQ(TokenizeError({{"messages", "{\"role\": \"user\"}"}}, options),
            "field \"messages\": the string is not a JSON list of messages, it holds {\"role\":\"user\"}");
  EXPECT_EQ(
      TokenizeError({{"messages", "[{"}}, options),
      "field \"messages\": the string is not a JSON list of messages: " + common::ParseStrictJson("[{").status().message());
  options.columns.columns["messages"] = "conversation";
  EXPECT_EQ(TokenizeError({{"conversation", 5}}, options),
            "field \"messages\" (column \"conversation\"): expected a list of messages (a JSON array, or a string "
            "holding one), got 5");
}

TEST(DatasetTokenizeRow, NamesFieldAndColumnOfAMissingOrMistypedField) {
  DatasetOptions options = Options(DatasetFormat::kInstruct);
  options.columns.columns["output"] = "answer";
  EXPECT_EQ(TokenizeError({{"instruction", "I"}, {"answer", 5}}, options),
            "field \"output\" (column \"answer\"): expected a string, got 5");
  EXPECT_EQ(TokenizeError({{"instruction", "I"}, {"output", "O"}}, options),
            "field \"output\" (column \"answer\"): missing (the row's columns: \"instruction\", \"output\")");
  EXPECT_EQ(TokenizeError({{"instruction", "I"}, {"answer", "A"}, {"input", 1.5}}, options),
            "field \"input\": expected a string, got 1.5");
  EXPECT_EQ(TokenizeError(json::object(), Options(DatasetFormat::kText)),
            "field \"text\": missing (the row's columns: none)");
  EXPECT_EQ(TokenizeError(json::array({1}), Options(DatasetFormat::kText)), "expected a JSON object, got [1]");
}

TEST(DatasetTokenizeRow, ListsAtMostTenColumnsOfARowMissingAField) {
  json row = json::object();
  for (char c = 'a'; c <= 'l'; ++c) row[std::string(1, c)] = "";
  EXPECT_EQ(
      TokenizeError(row, Options(DatasetFormat::kText)),
      "field \"text\": missing (the row's columns: \"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", \"i\", "
      "\"j\", ...)");
}

TEST(DatasetTokenizeRow, RejectsInvalidOptions) {
  json row = {{"text", "t"}};
  DatasetOptions options = Options(DatasetFormat::kText);
  options.max_length = 0;
  EXPECT_EQ(TokenizeError(row, options), "max_length must be positive, got 0");
  options = Options(DatasetFormat::kText);
  options.columns.columns["output"] = "answer";
  EXPECT_EQ(TokenizeError(row, options),
            "column mapping: role \"output\" is not read by format \"text\" (roles: text)");
  options = Options(DatasetFormat::kText);
  options.prompt_template = "{question}";
  EXPECT_EQ(TokenizeError(row, options),
            "prompt template: unknown placeholder {question} (known: {system}, {instruction}, {input}; write \"{{\" "
            "for a literal brace)");
  options = Options(DatasetFormat::kText);
  options.chat_template = "llama9";
  EXPECT_EQ(TokenizeError(row, options), "unknown chat template \"llama9\" (known: chatml)");
}

TEST(DatasetOptions, ReadsEveryKeyFromAConfig) {
  json config = {{"format", "instruct"},
                 {"columns", {{"instruction", "q"}, {"output", "a"}, {"input", "input"}}},
                 {"max_length", 512},
                 {"prompt_template", "Q: {instruction}\nA: "},
                 {"chat_template", "chatml"},
                 {"add_bos", false},
                 {"add_eos", false}};
  common::Result<DatasetOptions> options = common::ParseConfig<DatasetOptions>(config, "dataset");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->format, DatasetFormat::kInstruct);
  EXPECT_EQ(options->columns.columns, (std::map<std::string, std::string>{{"instruction", "q"}, {"output", "a"}}));
  EXPECT_EQ(options->max_length, 512);
  EXPECT_EQ(options->prompt_template, "Q: {instruction}\nA: ");
  EXPECT_FALSE(options->add_bos);
  EXPECT_FALSE(options->add_eos);
}

TEST(DatasetOptions, AnEmptyConfigKeepsTheDefaults) {
  common::Result<DatasetOptions> options = common::ParseConfig<DatasetOptions>(json::object(), "dataset");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->format, DatasetFormat::kText);
  EXPECT_EQ(options->max_length, 2048);
  EXPECT_EQ(options->chat_template, "chatml");
  EXPECT_TRUE(options->add_bos && options->add_eos);
}

TEST(DatasetOptions, ConfigErrorsNameTheKeyAndTheProblem) {
  json config = {{"format", "jsonl"},
                 {"columns", {{"question", "q"}, {"output", ""}}},
                 {"max_length", 0},
                 {"prompt_template", "{input}"},
                 {"chat_template", "llama9"}};
  EXPECT_EQ(common::ParseConfig<DatasetOptions>(config, "dataset").status().message(),
            "dataset.format: expected one of \"text\", \"instruct\", \"chat\", got \"jsonl\"\n"
            "dataset.columns.output: the column name is empty\n"
            "dataset.columns.question: unknown key\n"
            "dataset.max_length: must be positive\n"
            "dataset.prompt_template: the {instruction} placeholder is missing\n"
            "dataset.chat_template: unknown chat template \"llama9\" (known: chatml)");
  json wrong_role = {{"format", "chat"}, {"columns", {{"text", "body"}}}};
  EXPECT_EQ(common::ParseConfig<DatasetOptions>(wrong_role, "dataset").status().message(),
            "dataset.columns: role \"text\" is not read by format \"chat\" (roles: messages)");
}

}  // namespace
}  // namespace gradients::text
