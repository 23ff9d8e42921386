// The stages of a tokenizer.json one at a time: BPE model, normalizers, pre-tokenizers (with the
// Llama-3 and Qwen2 regexes against reference splits), decoders, regexes.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/strict_json.h"
#include "text/bpe_model.h"
#include "text/tokenizer_decoders.h"
#include "text/tokenizer_normalizers.h"
#include "text/tokenizer_pre_tokenizers.h"
#include "text/tokenizer_regex.h"

namespace gradients::text {
namespace {

using nlohmann::json;

const std::filesystem::path kDataDir = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "tokenizers";

// The "pre_tokenizer" Split regexes of meta-llama/Meta-Llama-3-8B and Qwen/Qwen2-7B, verbatim.
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

TokenIdMap Vocab(std::initializer_list<std::pair<const char*, int32_t>> entries) {
  TokenIdMap vocab;
  for (const auto& [token, id] : entries) vocab.emplace(token, id);
  return vocab;
}

std::vector<int32_t> Tokenize(const BpeModel& model, std::string_view word) {
  std::vector<int32_t> ids;
  model.Tokenize(word, ids);
  return ids;
}

TEST(BpeModel, MergesByRankWhereverThePairIs) {
  // Hugging Face's "unrelated" example.
  TokenIdMap vocab = Vocab({{"u", 0}, {"n", 1}, {"r", 2}, {"e", 3}, {"l", 4}, {"a", 5}, {"t", 6}, {"d", 7},
                            {"re", 8}, {"at", 9}, {"ed", 10}, {"un", 11}, {"ated", 12}, {"rel", 13},
                            {"related", 14}, {"unrelated", 15}});
  common::Result<BpeModel> model = BpeModel::Create(
      std::move(vocab),
      {{"r", "e"}, {"a", "t"}, {"e", "d"}, {"u", "n"}, {"at", "ed"}, {"re", "l"}, {"rel", "ated"}, {"un", "related"}},
      {});
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(Tokenize(*model, "unrelated"), std::vector<int32_t>{15});
  EXPECT_EQ(Tokenize(*model, "unrelated"), std::vector<int32_t>{15});  // from the cache
  EXPECT_EQ(Tokenize(*model, "related"), std::vector<int32_t>{14});
  EXPECT_EQ(Tokenize(*model, "dune"), (std::vector<int32_t>{7, 11, 3}));
}

TEST(BpeModel, UnknownCharactersBecomeUnkTokensFusedOrNot) {
  BpeModelOptions options;
  options.unk_token = "<unk>";
  common::Result<BpeModel> separate = BpeModel::Create(Vocab({{"<unk>", 0}, {"a", 1}, {"b", 2}}), {}, options);
  options.fuse_unk = true;
  common::Result<BpeModel> fused = BpeModel::Create(Vocab({{"<unk>", 0}, {"a", 1}, {"b", 2}}), {}, options);
  ASSERT_TRUE(separate.ok() && fused.ok());
  EXPECT_EQ(Tokenize(*separate, "accb"), (std::vector<int32_t>{1, 0, 0, 2}));
  EXPECT_EQ(Tokenize(*fused, "accb"), (std::vector<int32_t>{1, 0, 2}));
}

TEST(BpeModel, WithoutAnUnkTokenUnknownCharactersAreDropped) {
  common::Result<BpeModel> model = BpeModel::Create(Vocab({{"a", 0}, {"b", 1}}), {}, {});
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(Tokenize(*model, "a?b"), (std::vector<int32_t>{0, 1}));
}

TEST(BpeModel, ByteFallbackSpellsUnknownCharactersAsTheirBytes) {
  BpeModelOptions options;
  options.unk_token = "<unk>";
  options.byte_fallback = true;
  common::Result<BpeModel> model = BpeModel::Create(
      Vocab({{"<unk>", 0}, {"<0x61>", 1}, {"<0xC3>", 2}, {"<0xA9>", 3}, {"<0x0A>", 4}, {"x", 5}}), {}, options);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(Tokenize(*model, "a\n"), (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(Tokenize(*model, "x\xC3\xA9"), (std::vector<int32_t>{5, 2, 3}));  // é
  EXPECT_EQ(Tokenize(*model, "c"), (std::vector<int32_t>{0}));               // no <0x63>
}

TEST(BpeModel, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  // Hugging Face's ignore_merges example (Llama-3 sets ignore_merges).
  const auto make = [](bool ignore_merges) {
    BpeModelOptions options;
    options.ignore_merges = ignore_merges;
    return BpeModel::Create(
        Vocab({{".:.:", 0}, {"Ġbelirtilen", 1}, {".", 2}, {":", 3}, {"bel", 4}, {"irtilen", 5}, {"Ġ", 6}, {".:", 7},
               {"belirtilen", 8}, {".:.", 9}, {"be", 10}, {"l", 11}, {"ir", 12}, {"ti", 13}, {"en", 14},
               {"irtil", 15}, {"irti", 16}, {"i", 17}, {"r", 18}, {"t", 19}, {"b", 20}, {"e", 21}, {"n", 22}}),
        {{".", ":"}, {"b", "e"}, {"be", "l"}, {"i", "r"}, {"t", "i"}, {"ir", "ti"}, {"e", "n"}, {"irti", "l"}},
        options);
  };
  common::Result<BpeModel> ignoring = make(true), merging = make(false);
  ASSERT_TRUE(ignoring.ok() && merging.ok());
  EXPECT_EQ(Tokenize(*ignoring, ".:.:"), std::vector<int32_t>{0});
  EXPECT_EQ(Tokenize(*ignoring, "Ġbelirtilen"), std::vector<int32_t>{1});
  EXPECT_EQ(Tokenize(*merging, ".:.:"), (std::vector<int32_t>{7, 7}));
  EXPECT_EQ(Tokenize(*merging, "Ġbelirtilen"), (std::vector<int32_t>{6, 4, 15, 14}));
}

TEST(BpeModel, ContinuingSubwordPrefixMarksNonInitialSymbols) {
  BpeModelOptions options;
  options.continuing_subword_prefix = "##";
  common::Result<BpeModel> model = BpeModel::Create(Vocab({{"a", 0}, {"##b", 1}, {"##c", 2}, {"ab", 3}, {"abc", 4}}),
                                            {{"a", "##b"}, {"ab", "##c"}}, options);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(Tokenize(*model, "abc"), std::vector<int32_t>{4});
  EXPECT_EQ(Tokenize(*model, "ab"), std::vector<int32_t>{3});
}

TEST(BpeModel, RejectsAMergeWhosePartLacksThePrefix) {
  BpeModelOptions options;
  options.continuing_subword_prefix = "##";
  common::Result<BpeModel> model = BpeModel::Create(Vocab({{"a", 0}, {"b", 1}, {"a##", 2}}), {{"a", "b"}}, options);
  EXPECT_EQ(model.status().message(), "merges[0]: \"b\" lacks the continuing subword prefix");
}

std::vector<std::string> PreTokenize(const json& config, std::string text) {
  common::Result<PreTokenizer> pre_tokenizer = PreTokenizer::Parse(config, "pre_tokenizer");
  EXPECT_TRUE(pre_tokenizer.ok()) << pre_tokenizer.status().ToString();
  if (!pre_tokenizer.ok()) return {};
  std::vector<TextPiece> pieces = {{std::move(text), true}};
  pre_tokenizer->PreTokenize(pieces);
  std::vector<std::string> words;
  for (const TextPiece& piece : pieces) words.push_back(piece.text);
  return words;
}

json SplitConfig(const std::string& behavior, bool invert = false) {
  return {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}};
}

TEST(TokenizerPreTokenizer, SplitBehavesAsHuggingFaceDocumentsIt) {
  using Words = std::vector<std::string>;
  const std::string text = "the-final--countdown";
  EXPECT_EQ(PreTokenize(SplitConfig("Removed"), text), (Words{"the", "final", "countdown"}));
  EXPECT_EQ(PreTokenize(SplitConfig("Isolated"), text), (Words{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(PreTokenize(SplitConfig("MergedWithPrevious"), text), (Words{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(PreTokenize(SplitConfig("MergedWithNext"), text), (Words{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(PreTokenize(SplitConfig("Contiguous"), text), (Words{"the", "-", "final", "--", "countdown"}));
  EXPECT_EQ(PreTokenize(SplitConfig("Removed", /*invert=*/true), text), (Words{"-", "-", "-"}));
}

TEST(TokenizerPreTokenizer, Llama3AndQwen2RegexesSplitLikeTheReference) {
  std::ifstream file(kDataDir / "pretokenizer_splits.json");
  std::stringstream content;
  content << file.rdbuf();
  common::Result<json> fixture = common::ParseStrictJson(content.str());
  ASSERT_TRUE(fixture.ok()) << fixture.status().ToString();
  ASSERT_EQ((*fixture)["llama3_pattern"], kLlama3Pattern);
  ASSERT_EQ((*fixture)["qwen2_pattern"], kQwen2Pattern);
  const auto config = [](std::string_view pattern) {
    return json{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
  };
  ASSERT_GT((*fixture)["cases"].size(), 40u);
  for (const json& c : (*fixture)["cases"]) {
    const std::string text = c["text"];
    EXPECT_EQ(PreTokenize(config(kLlama3Pattern), text), c["llama3"].get<std::vector<std::string>>()) << text;
    EXPECT_EQ(PreTokenize(config(kQwen2Pattern), text), c["qwen2"].get<std::vector<std::string>>()) << text;
  }
}

TEST(TokenizerPreTokenizer, ByteLevelMapsBytesAndOptionallyPrefixesASpace) {
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  EXPECT_EQ(PreTokenize(byte_level, "Hello there\n é"),
            (std::vector<std::string>{"Hello", "Ġthere", "Ċ", "ĠÃ©"}));
  byte_level["add_prefix_space"] = true;
  byte_level["use_regex"] = false;
  EXPECT_EQ(PreTokenize(byte_level, "Hi you"), std::vector<std::string>{"ĠHiĠyou"});
}

TEST(TokenizerPreTokenizer, MetaspaceReplacesSpacesAndPrependsBySchemes) {
  using Words = std::vector<std::string>;
  json metaspace = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}, {"split", true}};
  EXPECT_EQ(PreTokenize(metaspace, "Hey   friend!"), (Words{"▁Hey", "▁", "▁", "▁friend!"}));
  metaspace["split"] = false;
  EXPECT_EQ(PreTokenize(metaspace, "Hey friend"), (Words{"▁Hey▁friend"}));
  metaspace["prepend_scheme"] = "never";
  EXPECT_EQ(PreTokenize(metaspace, "Hey friend"), (Words{"Hey▁friend"}));
  // "first" prepends only to the piece at the start of the input.
  metaspace["prepend_scheme"] = "first";
  common::Result<PreTokenizer> first = PreTokenizer::Parse(metaspace, "pre_tokenizer");
  ASSERT_TRUE(first.ok());
  std::vector<TextPiece> pieces = {{"Hey", true}, {"how", false}};
  first->PreTokenize(pieces);
  EXPECT_EQ(pieces[0].text, "▁Hey");
  EXPECT_EQ(pieces[1].text, "how");
  // The older spelling: add_prefix_space instead of prepend_scheme.
  json legacy = {{"type", "Metaspace"}, {"replacement", "▁"}, {"add_prefix_space", false}};
  EXPECT_EQ(PreTokenize(legacy, "a b"), (Words{"a", "▁b"}));
}

std::string Normalize(const json& config, std::string text) {
  common::Result<TextNormalizer> normalizer = TextNormalizer::Parse(config, "normalizer");
  EXPECT_TRUE(normalizer.ok()) << normalizer.status().ToString();
  return normalizer.ok() ? normalizer->Normalize(std::move(text)) : "";
}

TEST(TokenizerNormalizer, UnicodeFormsComposeAndDecompose) {
  EXPECT_EQ(Normalize({{"type", "NFC"}}, "e\u0301 A\u030A"), "\u00e9 \u00c5");
  EXPECT_EQ(Normalize({{"type", "NFD"}}, "\u00e9"), "e\u0301");
  EXPECT_EQ(Normalize({{"type", "NFKC"}}, "\uFB01 \u2460 \uFF21"), "fi 1 A");
  EXPECT_EQ(Normalize({{"type", "NFKD"}}, "\u00bd"), "1\u20442");
}

TEST(TokenizerNormalizer, PrependAndReplaceWriteSentencePieceWhitespace) {
  json llama = {{"type", "Sequence"},
                {"normalizers",
                 {{{"type", "Prepend"}, {"prepend", "▁"}},
                  {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  EXPECT_EQ(Normalize(llama, "Hello  world"), "▁Hello▁▁world");
  EXPECT_EQ(Normalize(llama, ""), "");
  json regex = {{"type", "Replace"}, {"pattern", {{"Regex", "\\s+"}}}, {"content", " "}};
  EXPECT_EQ(Normalize(regex, "a \t\u3000b"), "a b");
}

TEST(TokenizerNormalizer, StripRemovesUnicodeWhitespaceFromTheChosenEnds) {
  EXPECT_EQ(Normalize({{"type", "Strip"}, {"strip_left", true}, {"strip_right", true}}, "\u3000 x y\t\n"), "x y");
  EXPECT_EQ(Normalize({{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}}, "  x  "), "  x");
}

std::string Decode(const json& config, std::vector<std::string> tokens) {
  common::Result<TokenDecoder> decoder = TokenDecoder::Parse(config, "decoder");
  EXPECT_TRUE(decoder.ok()) << decoder.status().ToString();
  return decoder.ok() ? decoder->Decode(std::move(tokens)) : "";
}

TEST(TokenizerDecoder, LlamaSequenceRebuildsTextFromPiecesAndBytes) {
  json llama = {{"type", "Sequence"},
                {"decoders",
                 {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
                  {{"type", "ByteFallback"}},
                  {{"type", "Fuse"}},
                  {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  EXPECT_EQ(Decode(llama, {"▁Hello", "▁wor", "ld", "<0xE5>", "<0x8f>", "<0xab>", "!"}), "Hello world叫!");
  EXPECT_EQ(Decode(llama, {"▁a", "<0xE5>", "<0x8f>", "▁b"}), "a\uFFFD\uFFFD b");
  EXPECT_EQ(Decode(llama, {"▁▁x"}), " x");
}

TEST(TokenizerDecoder, ByteLevelDecodesBytesAndKeepsForeignTokens) {
  json byte_level = {{"type", "ByteLevel"}};
  EXPECT_EQ(Decode(byte_level, {"Hello", "Ġthere", "Ċ", "ĠÃ©"}), "Hello there\n é");
  EXPECT_EQ(Decode(byte_level, {"Ã", "<|im_end|>"}), "\uFFFD<|im_end|>");
  EXPECT_EQ(Decode(byte_level, {"a b"}), "a b");  // ' ' is no byte-level character: kept as is
}

TEST(TokenizerDecoder, MetaspaceDropsTheFirstTokensPrefix) {
  json metaspace = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}};
  EXPECT_EQ(Decode(metaspace, {"▁Hey", "▁friend!"}), "Hey friend!");
  metaspace["prepend_scheme"] = "never";
  EXPECT_EQ(Decode(metaspace, {"▁Hey", "▁friend!"}), " Hey friend!");
}

TEST(TokenizerDecoder, WithoutADecoderTokensAreJoinedWithSpaces) {
  EXPECT_EQ(Decode(nullptr, {"a", "b"}), "a b");
}

TEST(TokenizerRegex, WhitespaceClassesAreUnicodeWhiteSpace) {
  common::Result<TextPattern> spaces = TextPattern::Regex("\\s+");
  ASSERT_TRUE(spaces.ok());
  // U+180E is no longer whitespace (PCRE2's own \s would match it); U+2028 and U+3000 are.
  EXPECT_EQ(spaces->FindAll("a\u180Eb").size(), 0u);
  EXPECT_EQ(spaces->FindAll("a\u2028b\u3000c").size(), 2u);
  EXPECT_EQ(RewriteWhitespaceClasses("[^\\s\\p{L}]\\\\s\\S"), "[^\\p{White_Space}\\p{L}]\\\\s\\P{White_Space}");
}

TEST(TokenizerRegex, EmptyMatchesAdvanceOneCharacter) {
  common::Result<TextPattern> maybe_x = TextPattern::Regex("x*");
  ASSERT_TRUE(maybe_x.ok());
  std::vector<TextSpan> matches = maybe_x->FindAll("ax\u00e9");
  ASSERT_EQ(matches.size(), 3u);  // "" at 0, "x" at 1, "" at 4 (after é); none right after "x"
  EXPECT_EQ(matches[1].begin, 1u);
  EXPECT_EQ(matches[1].end, 2u);
  EXPECT_EQ(matches[2].begin, 4u);
}

}  // namespace
}  // namespace gradients::text
