// LoadTokenizer on tokenizer.json files built here: byte-level BPE, added tokens, the
// post-processor, tokenizer_config.json, model directories, and every malformed-file error.
#include "text/tokenizer.h"

#include <fstream>
#include <functional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"
#include "text/tokenizer_json_fields.h"
#include "text/tokenizer_pre_tokenizers.h"

namespace gradients::text {
namespace {

using nlohmann::json;
using testing::TempDir;

// Ids 0..255 are the byte-level characters of bytes 0..255, so a byte's id is its value; then
// hello = 259 and Ġworld = 264 by these merges.
json SmallByteLevelTokenizer() {
  json vocab = json::object();
  for (int byte = 0; byte < 256; ++byte) vocab[ByteLevelCharacter(static_cast<unsigned char>(byte))] = byte;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"Ġ", "w"},
      {"o", "r"}, {"Ġw", "or"}, {"Ġwor", "l"}, {"Ġworl", "d"}};
  json merge_lines = json::array();
  int next_id = 256;
  for (const auto& [left, right] : merges) {
    if (!vocab.contains(left + right)) vocab[left + right] = next_id++;
    merge_lines.push_back(left + " " + right);
  }
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", byte_level},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", ""},
            {"end_of_word_suffix", ""},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"vocab", vocab},
            {"merges", merge_lines}}}};
}

json AddedTokenJson(int id, const std::string& content, bool special, bool lstrip = false, bool rstrip = false,
                    bool single_word = false, bool normalized = false) {
  return {{"id", id},           {"content", content}, {"single_word", single_word}, {"lstrip", lstrip},
          {"rstrip", rstrip}, {"normalized", normalized}, {"special", special}};
}

json WithChatTokens(json tokenizer) {
  tokenizer["added_tokens"] = {AddedTokenJson(265, "<|im_start|>", true), AddedTokenJson(266, "<|im_end|>", true)};
  return tokenizer;
}

void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

common::Result<std::unique_ptr<Tokenizer>> LoadJson(const testing::TempDir& dir, const json& tokenizer) {
  WriteFile(dir / "tokenizer.json", tokenizer.dump());
  return LoadTokenizer(dir / "tokenizer.json");
}

std::unique_ptr<Tokenizer> MustLoad(const testing::TempDir& dir, const json& tokenizer) {
  common::Result<std::unique_ptr<Tokenizer>> loaded = LoadJson(dir, tokenizer);
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  return loaded.ok() ? std::move(loaded).value() : nullptr;
}

std::vector<int32_t> Ids(std::initializer_list<int32_t> ids) { return ids; }

TEST(TokenizerJson, EncodesAndDecodesByteLevelBpe) {
  testing::TempDir dir;
  auto tokenizer = MustLoad(dir, SmallByteLevelTokenizer());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Encode("hello world", true), Ids({259, 264}));
  EXPECT_EQ(tokenizer->Encode("hello  world!", false), Ids({259, 32, 264, 33}));
  EXPECT_EQ(tokenizer->Decode(Ids({259, 32, 264, 33}), false), "hello  world!");
  EXPECT_EQ(tokenizer->vocab_size(), 265);
  EXPECT_EQ(tokenizer->TokenToId("Ġworld"), 264);
  EXPECT_EQ(tokenizer->TokenToId("nope"), std::nullopt);
  EXPECT_EQ(tokenizer->bos_id(), std::nullopt);
  EXPECT_EQ(tokenizer->eos_id(), std::nullopt);
}

TEST(TokenizerJson, MergesGivenAsPairsEncodeLikeMergesGivenAsStrings) {
  json tokenizer = SmallByteLevelTokenizer();
  json pairs = json::array();
  for (const json& line : tokenizer["model"]["merges"]) {
    std::string text = line.get<std::string>();
    size_t space = text.find(' ');
    pairs.push_back({text.substr(0, space), text.substr(space + 1)});
  }
  tokenizer["model"]["merges"] = pairs;
  testing::TempDir dir;
  auto loaded = MustLoad(dir, tokenizer);
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->Encode("hello world", false), Ids({259, 264}));
}

TEST(TokenizerJson, InvalidUtf8InputIsEncodedAsReplacementCharacters) {
  testing::TempDir dir;
  auto tokenizer = MustLoad(dir, SmallByteLevelTokenizer());
  ASSERT_NE(tokenizer, nullptr);
  // U+FFFD is EF BF BD: three byte-level ids.
  EXPECT_EQ(tokenizer->Encode("h\xFFi", false), Ids({104, 0xEF, 0xBF, 0xBD, 105}));
}

TEST(TokenizerJson, IdsOutsideTheVocabularyDecodeToNothing) {
  testing::TempDir dir;
  auto tokenizer = MustLoad(dir, SmallByteLevelTokenizer());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Decode(Ids({-1, 259, 100000, 264}), false), "hello world");
}

TEST(TokenizerJson, IgnoresTruncationAndPaddingAsTransformersDoes) {
  json tokenizer = SmallByteLevelTokenizer();
  tokenizer["truncation"] = {{"max_length", 1}, {"strategy", "LongestFirst"}, {"stride", 0}};
  testing::TempDir dir;
  auto loaded = MustLoad(dir, tokenizer);
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->Encode("hello world", true).size(), 2u);
}

TEST(TokenizerAddedTokens, KeepsSpecialTokensWholeInAChatTurn) {
  testing::TempDir dir;
  auto tokenizer = MustLoad(dir, WithChatTokens(SmallByteLevelTokenizer()));
  ASSERT_NE(tokenizer, nullptr);
  std::vector<int32_t> ids = tokenizer->Encode("<|im_start|>user\nhi<|im_end|>", false);
  EXPECT_EQ(ids, Ids({265, 'u', 's', 'e', 'r', '\n', 'h', 'i', 266}));
  EXPECT_EQ(tokenizer->Decode(ids, false), "<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(tokenizer->Decode(ids, true), "user\nhi");
  EXPECT_EQ(tokenizer->TokenToId("<|im_end|>"), 266);
  EXPECT_EQ(tokenizer->vocab_size(), 267);
}

TEST(TokenizerAddedTokens, LstripAndRstripSwallowTheWhitespaceAroundTheToken) {
  json plain = SmallByteLevelTokenizer();
  plain["added_tokens"] = {AddedTokenJson(265, "<mask>", true)};
  json stripping = SmallByteLevelTokenizer();
  stripping["added_tokens"] = {AddedTokenJson(265, "<mask>", true, /*lstrip=*/true, /*rstrip=*/true)};
  testing::TempDir plain_dir, stripping_dir;
  auto with_spaces = MustLoad(plain_dir, plain);
  auto without_spaces = MustLoad(stripping_dir, stripping);
  ASSERT_NE(with_spaces, nullptr);
  ASSERT_NE(without_spaces, nullptr);
  EXPECT_EQ(with_spaces->Encode("a \t<mask>  b", false), Ids({'a', 32, '\t', 265, 32, 32, 'b'}));
  EXPECT_EQ(without_spaces->Encode("a \t<mask>  b", false), Ids({'a', 265, 'b'}));
}

TEST(TokenizerAddedTokens, SingleWordTokensDoNotMatchInsideWords) {
  json tokenizer = SmallByteLevelTokenizer();
  tokenizer["added_tokens"] = {AddedTokenJson(265, "<mask>", false, false, false, /*single_word=*/true)};
  testing::TempDir dir;
  auto loaded = MustLoad(dir, tokenizer);
  ASSERT_NE(loaded, nullptr);
  std::vector<int32_t> ids = loaded->Encode("a<mask> <mask>", false);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 265), 1);
  EXPECT_EQ(ids.back(), 265);
}

TEST(TokenizerAddedTokens, NormalizedTokensMatchTheNormalizedText) {
  json tokenizer = SmallByteLevelTokenizer();
  tokenizer["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", "A"}}}, {"content", "a"}};
  tokenizer["added_tokens"] = {AddedTokenJson(265, "ab", false, false, false, false, /*normalized=*/true),
                               AddedTokenJson(266, "Xy", false, false, false, false, /*normalized=*/false)};
  testing::TempDir dir;
  auto loaded = MustLoad(dir, tokenizer);
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->Encode("Ab", false), Ids({265}));
  EXPECT_EQ(loaded->Encode("Xy", false), Ids({266}));
  EXPECT_EQ(loaded->Encode("xy", false), Ids({'x', 'y'}));
}

TEST(TokenizerAddedTokens, TheLongestTokenWinsWhereSeveralStart) {
  json tokenizer = SmallByteLevelTokenizer();
  tokenizer["added_tokens"] = {AddedTokenJson(265, "<a>", true), AddedTokenJson(266, "<a><b>", true)};
  testing::TempDir dir;
  auto loaded = MustLoad(dir, tokenizer);
  ASSERT_NE(loaded, nullptr);
  EXPECT_EQ(loaded->Encode("<a><b><a>", false), Ids({266, 265}));
}

json WithBosTemplate(json tokenizer) {
  tokenizer["added_tokens"] = {AddedTokenJson(265, "<s>", true), AddedTokenJson(266, "</s>", true)};
  tokenizer["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}},
        {{"type", "TemplateProcessing"},
         {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
         {"pair", json::array()},
         {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {265}}, {"tokens", {"<s>"}}}}}}}}}};
  return tokenizer;
}

TEST(TokenizerJson, TemplateProcessingAddsBosOnlyWithSpecialTokens) {
  testing::TempDir dir;
  auto tokenizer = MustLoad(dir, WithBosTemplate(SmallByteLevelTokenizer()));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Encode("hello", true), Ids({265, 259}));
  EXPECT_EQ(tokenizer->Encode("hello", false), Ids({259}));
  EXPECT_EQ(tokenizer->Encode("", true), Ids({265}));
  EXPECT_EQ(tokenizer->bos_id(), 265);
  EXPECT_EQ(tokenizer->eos_id(), std::nullopt);
}

TEST(TokenizerJson, TokenizerConfigNamesBosAndEos) {
  testing::TempDir dir;
  WriteFile(dir / "tokenizer_config.json",
            R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "chat_template": "x"})");
  auto tokenizer = MustLoad(dir, WithBosTemplate(SmallByteLevelTokenizer()));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->bos_id(), 265);
  EXPECT_EQ(tokenizer->eos_id(), 266);
}

TEST(TokenizerLoad, ADirectoryUsesItsTokenizerJsonBeforeItsTokenizerModel) {
  testing::TempDir dir;
  WriteFile(dir / "tokenizer.model", "not a model");
  ASSERT_TRUE(LoadJson(dir, SmallByteLevelTokenizer()).ok());
  common::Result<std::unique_ptr<Tokenizer>> loaded = LoadTokenizer(dir.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->Encode("hello", false), Ids({259}));
}

TEST(TokenizerLoad, ErrorsNameTheFileOrDirectory) {
  testing::TempDir dir;
  common::Result<std::unique_ptr<Tokenizer>> empty_dir = LoadTokenizer(dir.path());
  EXPECT_EQ(empty_dir.status().code(), common::StatusCode::kNotFound);
  EXPECT_EQ(empty_dir.status().message(), dir.path().string() + ": holds neither tokenizer.json nor tokenizer.model");

  common::Result<std::unique_ptr<Tokenizer>> missing = LoadTokenizer(dir / "absent.json");
  EXPECT_EQ(missing.status().message(), (dir / "absent.json").string() + ": no such file or directory");

  WriteFile(dir / "tokenizer.json", "{\"model\": ");
  common::Result<std::unique_ptr<Tokenizer>> truncated = LoadTokenizer(dir / "tokenizer.json");
  EXPECT_EQ(truncated.status().message().rfind((dir / "tokenizer.json").string() + ": invalid JSON", 0), 0u)
      << truncated.status().message();

  WriteFile(dir / "tokenizer.model", std::string("\x0a\x09" "ab"));
  common::Result<std::unique_ptr<Tokenizer>> garbage = LoadTokenizer(dir / "tokenizer.model");
  EXPECT_EQ(garbage.status().message(),
            (dir / "tokenizer.model").string() + ": not a valid SentencePiece model: truncated at byte 2");
}

TEST(TokenizerLoad, RejectsABadTokenizerConfigNamingIt) {
  testing::TempDir dir;
  WriteFile(dir / "tokenizer_config.json", R"({"bos_token": 7})");
  common::Result<std::unique_ptr<Tokenizer>> wrong_type = LoadJson(dir, SmallByteLevelTokenizer());
  EXPECT_EQ(wrong_type.status().message(),
            (dir / "tokenizer_config.json").string() + ": bos_token: expected a string, got 7");

  WriteFile(dir / "tokenizer_config.json", R"({"eos_token": "<|nope|>"})");
  common::Result<std::unique_ptr<Tokenizer>> unknown = LoadJson(dir, SmallByteLevelTokenizer());
  EXPECT_EQ(unknown.status().message(),
            (dir / "tokenizer.json").string() +
                ": tokenizer_config.json: eos_token \"<|nope|>\" is not in the tokenizer's vocabulary");
}

// One malformed variant of the small tokenizer and the error it must give (after "<file>: ").
struct MalformedCase {
  std::function<void(json&)> mutate;
  std::string expected;
};

TEST(TokenizerJson, RejectsMalformedFilesNamingTheFieldAndTheProblem) {
  const json template_processing = {{"type", "TemplateProcessing"},
                                    {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
                                    {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {7}}, {"tokens", {"<s>"}}}}}}};
  const std::vector<MalformedCase> cases = {
      {[](json& t) { t = json::array(); }, "top level: expected an object, got []"},
      {[](json& t) { t["version"] = "2.0"; }, "version: unknown tokenizer.json version \"2.0\""},
      {[](json& t) { t.erase("model"); }, "model: required field is missing"},
      {[](json& t) { t["model"]["type"] = "WordPiece"; }, "model.type: unsupported model \"WordPiece\" (supported: BPE)"},
      {[](json& t) { t["model"]["type"] = "Unigram"; }, "model.type: unsupported model \"Unigram\" (supported: BPE)"},
      {[](json& t) { t["model"].erase("type"); }, "model.type: required field is missing"},
      {[](json& t) { t["model"]["dropout"] = 0.1; },
       "model.dropout: BPE dropout makes encoding random and is not supported, got 0.1"},
      {[](json& t) { t["model"]["vocab"] = json::array(); }, "model.vocab: expected an object of token: id"},
      {[](json& t) { t["model"]["vocab"]["x1"] = -3; }, "model.vocab.\"x1\": expected a non-negative id, got -3"},
      {[](json& t) { t["model"]["vocab"]["x1"] = "3"; }, "model.vocab.\"x1\": expected a non-negative id, got \"3\""},
      {[](json& t) { t["model"]["vocab"]["x1"] = 5000000; },
       "model: vocab: id 5000000 of \"x1\" is outside 0..4194303"},
      {[](json& t) { t["model"]["vocab"]["x1"] = 259; }, "is given to both"},
      {[](json& t) { t["model"]["merges"] = "h e"; }, "model.merges: expected an array"},
      {[](json& t) { t["model"]["merges"][1] = "l l l"; },
       "model.merges[1]: expected \"left right\" with exactly one space, got \"l l l\""},
      {[](json& t) { t["model"]["merges"][1] = "ll"; },
       "model.merges[1]: expected \"left right\" with exactly one space, got \"ll\""},
      {[](json& t) { t["model"]["merges"][0] = 5; }, "model.merges[0]: expected \"left right\" or [left, right], got 5"},
      {[](json& t) { t["model"]["merges"][0] = {"h", 5}; }, "model.merges[0][1]: expected a string, got 5"},
      {[](json& t) { t["model"]["merges"][0] = "hé e"; }, "model: merges[0]: \"hé\" is not in the vocabulary"},
      {[](json& t) { t["model"]["merges"][0] = std::string(100, 'z') + " e"; },
       "model: merges[0]: \"" + std::string(64, 'z') + "...\" is not in the vocabulary"},
      {[](json& t) { t["model"]["merges"][0] = "h o"; },
       "model: merges[0]: the merged token \"ho\" is not in the vocabulary"},
      {[](json& t) { t["model"]["unk_token"] = "<unk>"; }, "model: unk_token \"<unk>\" is not in the vocabulary"},
      {[](json& t) { t["model"]["fuse_unk"] = "yes"; }, "model.fuse_unk: expected true or false, got \"yes\""},
      {[](json& t) { t["added_tokens"] = json::object(); }, "added_tokens: expected an array"},
      {[](json& t) { t["added_tokens"] = {7}; }, "added_tokens[0]: expected an object, got 7"},
      {[](json& t) { t["added_tokens"] = {{{"content", "<s>"}}}; }, "added_tokens[0].id: required field is missing"},
      {[](json& t) { t["added_tokens"] = {{{"id", 265}}}; }, "added_tokens[0].content: required field is missing"},
      {[](json& t) { t["added_tokens"] = {AddedTokenJson(265, "<s>", true), AddedTokenJson(266, "<s>", true)}; },
       "added_tokens[1]: \"<s>\" is listed twice"},
      {[](json& t) { t["added_tokens"] = {AddedTokenJson(300, "<s>", true)}; },
       "added_tokens[0].id: \"<s>\" declares id 300 but Hugging Face gives it 265"},
      {[](json& t) { t["added_tokens"] = {AddedTokenJson(265, "hello", true)}; },
       "added_tokens[0].id: \"hello\" declares id 265 but Hugging Face gives it 259"},
      {[](json& t) { t["normalizer"] = {{"type", "Lowercase"}}; },
       "normalizer.type: unsupported normalizer \"Lowercase\" (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, "
       "NFKD, Strip)"},
      {[](json& t) { t["normalizer"] = {{"type", "Sequence"}}; }, "normalizer.normalizers: expected an array"},
      {[](json& t) { t["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "BertNormalizer"}}}}}; },
       "normalizer.normalizers[0].type: unsupported normalizer \"BertNormalizer\""},
      {[](json& t) { t["normalizer"] = {{"type", "Prepend"}}; }, "normalizer.prepend: required field is missing"},
      {[](json& t) { t["normalizer"] = {{"type", "Replace"}, {"pattern", "x"}, {"content", "y"}}; },
       "normalizer.pattern: expected {\"String\": ...} or {\"Regex\": ...}, got \"x\""},
      {[](json& t) { t["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Glob", "x"}}}, {"content", "y"}}; },
       "normalizer.pattern: expected {\"String\": ...} or {\"Regex\": ...}"},
      {[](json& t) { t["normalizer"] = 3; }, "normalizer: expected an object, got 3"},
      {[](json& t) {
         json nested = {{"type", "NFC"}};
         for (int i = 0; i < 12; ++i) nested = {{"type", "Sequence"}, {"normalizers", {nested}}};
         t["normalizer"] = nested;
       },
       "normalizers nest too deeply"},
      {[](json& t) { t["pre_tokenizer"] = {{"type", "Whitespace"}}; },
       "pre_tokenizer.type: unsupported pre-tokenizer \"Whitespace\" (supported: Sequence, Split, ByteLevel, Metaspace)"},
      {[](json& t) { t["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", 1}}; },
       "pre_tokenizer.pretokenizers: expected an array"},
      {[](json& t) {
         t["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
       },
       "pre_tokenizer.pattern.Regex: invalid regex: missing closing parenthesis"},
      {[](json& t) {
         t["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
       },
       "pre_tokenizer.behavior: unknown split behavior \"Sideways\""},
      {[](json& t) { t["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "ab"}}; },
       "pre_tokenizer.replacement: expected a single character, got \"ab\""},
      {[](json& t) { t["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "often"}}; },
       "pre_tokenizer.prepend_scheme: unknown prepend scheme \"often\" (expected always, first or never)"},
      {[](json& t) {
         t["pre_tokenizer"] = {
             {"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "always"}, {"add_prefix_space", false}};
       },
       "pre_tokenizer: add_prefix_space does not match declared prepend_scheme"},
      {[](json& t) { t["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}, {"add_prefix_space", 1}}; },
       "pre_tokenizer.add_prefix_space: expected true or false"},
      {[](json& t) { t["decoder"] = {{"type", "WordPiece"}}; },
       "decoder.type: unsupported decoder \"WordPiece\" (supported: Sequence, ByteLevel, Metaspace, Replace, "
       "ByteFallback, Fuse, Strip)"},
      {[](json& t) { t["decoder"] = {{"type", "Sequence"}}; }, "decoder.decoders: expected an array"},
      {[](json& t) { t["decoder"] = {{"type", "Strip"}, {"content", " "}, {"start", -1}}; },
       "decoder.start: expected a non-negative integer, got -1"},
      {[](json& t) { t["decoder"] = {{"type", "Strip"}, {"content", " "}, {"start", 1 << 21}}; },
       "decoder.start: 2097152 exceeds the limit of 1048576"},
      {[](json& t) { t["post_processor"] = {{"type", "BlowUp"}}; },
       "post_processor.type: unsupported post-processor \"BlowUp\""},
      {[](json& t) { t["post_processor"] = {{"type", "Sequence"}, {"processors", {}}}; },
       "post_processor.processors: expected an array"},
      {[](json& t) { t["post_processor"] = {{"type", "RobertaProcessing"}, {"sep", {"</s>", 2}}, {"cls", "<s>"}}; },
       "post_processor.cls: expected [token, id]"},
      {[](json& t) { t["post_processor"] = {{"type", "BertProcessing"}, {"sep", {"[SEP]", 9999}}, {"cls", {"[CLS]", 1}}}; },
       "post_processor.sep: id 9999 is not in the vocabulary"},
      {[&](json& t) {
         t["post_processor"] = template_processing;
         t["post_processor"].erase("single");
       },
       "post_processor.single: expected an array"},
      {[&](json& t) {
         t["post_processor"] = template_processing;
         t["post_processor"].erase("special_tokens");
       },
       "post_processor.special_tokens: expected an object"},
      {[&](json& t) {
         t["post_processor"] = template_processing;
         t["post_processor"]["special_tokens"] = json::object();
       },
       "post_processor.special_tokens.<s>: the template uses a special token that is not declared"},
      {[&](json& t) {
         t["post_processor"] = template_processing;
         t["post_processor"]["special_tokens"]["<s>"]["ids"] = {99999};
       },
       "post_processor.special_tokens.<s>.ids[0]: 99999 is not an id in the vocabulary"},
      {[&](json& t) {
         t["post_processor"] = template_processing;
         t["post_processor"]["special_tokens"]["<s>"]["ids"] = "7";
       },
       "post_processor.special_tokens.<s>.ids: expected an array of ids"},
      {[&](json& t) {
         t["post_processor"] = template_processing;
         t["post_processor"]["single"][1]["Sequence"]["id"] = "B";
       },
       "post_processor.single[1]: a single-sequence template must hold sequence A exactly once"},
      {[&](json& t) {
         t["post_processor"] = template_processing;
         t["post_processor"]["single"].erase(1);
       },
       "post_processor.single: the template never places sequence A"},
      {[&](json& t) {
         t["post_processor"] = template_processing;
         t["post_processor"]["single"][0] = {{"Nothing", 1}};
       },
       "post_processor.single[0]: expected {\"Sequence\": ...} or {\"SpecialToken\": ...}, got {\"Nothing\":1}"},
  };
  for (const MalformedCase& malformed : cases) {
    json tokenizer = SmallByteLevelTokenizer();
    malformed.mutate(tokenizer);
    testing::TempDir dir;
    common::Result<std::unique_ptr<Tokenizer>> loaded = LoadJson(dir, tokenizer);
    ASSERT_FALSE(loaded.ok()) << malformed.expected;
    EXPECT_EQ(loaded.status().code(), common::StatusCode::kInvalidArgument) << loaded.status().ToString();
    const std::string prefix = (dir / "tokenizer.json").string() + ": ";
    const std::string message = loaded.status().message();
    EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
    EXPECT_NE(message.find(malformed.expected), std::string::npos)
        << "expected: " << malformed.expected << "\n     got: " << message;
  }
}

TEST(TokenizerJson, StringsThatAreNotUtf8AreRejectedByPath) {
  json not_utf8 = std::string("\xC3(", 2);
  common::Result<std::string> text = JsonToUtf8String(not_utf8, "model.unk_token");
  EXPECT_EQ(text.status().message(), "model.unk_token: string is not valid UTF-8");
}

}  // namespace
}  // namespace gradients::text
