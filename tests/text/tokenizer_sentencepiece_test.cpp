// SentencePiece: tokenizer.model files trained here with spm_train (Debian's sentencepiece) on
// a committed corpus, loaded through libsentencepiece and converted to Llama-2-style
// tokenizer.json files that must encode and decode exactly as libsentencepiece does.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "text/sentencepiece_converter.h"
#include "text/sentencepiece_model_proto.h"
#include "text/tokenizer.h"

namespace gradients::text {
namespace {

using nlohmann::json;
using testing::FindExecutable;
using testing::ProcessResult;
using testing::RunProcess;
using testing::TempDir;

const std::filesystem::path kDataDir = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "tokenizers";

// Trains a small model on the committed corpus into `dir`/sp.model; Llama-2's settings by default.
std::filesystem::path TrainModel(const testing::TempDir& dir, std::vector<std::string> overrides = {}) {
  std::filesystem::path spm_train = testing::FindExecutable("spm_train");
  EXPECT_FALSE(spm_train.empty()) << "spm_train is not on PATH (Debian package sentencepiece)";
  std::vector<std::string> args = {spm_train.string(),
                                   "--input=" + (kDataDir / "sentencepiece_training_corpus.txt").string(),
                                   "--model_prefix=" + (dir / "sp").string(),
                                   "--vocab_size=700",
                                   "--model_type=bpe",
                                   "--byte_fallback=true",
                                   "--normalization_rule_name=identity",
                                   "--remove_extra_whitespaces=false",
                                   "--add_dummy_prefix=true",
                                   "--split_digits=true",
                                   "--allow_whitespace_only_pieces=true",
                                   "--character_coverage=1.0",
                                   "--num_threads=1",
                                   "--minloglevel=2"};
  args.insert(args.end(), overrides.begin(), overrides.end());
  testing::ProcessResult result = testing::RunProcess(args);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return dir / "sp.model";
}

std::vector<std::string> CorpusTexts() {
  std::ifstream file(kDataDir / "varied_corpus.jsonl");
  std::vector<std::string> texts;
  for (std::string line; std::getline(file, line);) {
    if (!line.empty()) texts.push_back(json::parse(line).get<std::string>());
  }
  return texts;
}

std::unique_ptr<Tokenizer> MustLoad(const std::filesystem::path& path) {
  common::Result<std::unique_ptr<Tokenizer>> loaded = LoadTokenizer(path);
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  return loaded.ok() ? std::move(loaded).value() : nullptr;
}

TEST(SentencePieceModel, EncodesAsTheSpmEncodeCommand) {
  testing::TempDir dir;
  std::filesystem::path model = TrainModel(dir);
  // spm_encode reads one sentence per line: the texts without line breaks.
  std::vector<std::string> texts;
  std::ofstream input(dir / "input.txt");
  for (const std::string& text : CorpusTexts()) {
    if (text.find_first_of("\r\n") != std::string::npos) continue;
    texts.push_back(text);
    input << text << "\n";
  }
  input.close();
  std::filesystem::path spm_encode = testing::FindExecutable("spm_encode");
  ASSERT_FALSE(spm_encode.empty()) << "spm_encode is not on PATH (Debian package sentencepiece)";
  testing::ProcessResult reference = testing::RunProcess({spm_encode.string(), "--model=" + model.string(), "--output_format=id",
                                        "--input=" + (dir / "input.txt").string()});
  ASSERT_EQ(reference.exit_code, 0) << reference.err;

  auto tokenizer = MustLoad(model);
  ASSERT_NE(tokenizer, nullptr);
  std::stringstream lines(reference.out);
  size_t i = 0;
  for (std::string line; std::getline(lines, line); ++i) {
    ASSERT_LT(i, texts.size());
    std::vector<int32_t> expected;
    std::stringstream ids(line);
    for (int32_t id; ids >> id;) expected.push_back(id);
    EXPECT_EQ(tokenizer->Encode(texts[i], false), expected) << texts[i];
  }
  EXPECT_EQ(i, texts.size());
}

TEST(SentencePieceModel, AddsBosDeclaresSpecialTokensAndSkipsThemWhenDecoding) {
  testing::TempDir dir;
  auto tokenizer = MustLoad(TrainModel(dir));
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->vocab_size(), 700);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->TokenToId("<s>"), 1);
  EXPECT_EQ(tokenizer->TokenToId("<0x0A>"), 13);
  EXPECT_EQ(tokenizer->TokenToId("no such piece"), std::nullopt);
  std::vector<int32_t> ids = tokenizer->Encode("Hello world", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_NE(ids.back(), 2);
  ids.push_back(2);
  EXPECT_EQ(tokenizer->Decode(ids, true), "Hello world");
  // As Hugging Face's Llama tokenizer decodes: the dummy-prefix space is stripped only at the very start.
  EXPECT_EQ(tokenizer->Decode(ids, false), "<s> Hello world</s>");
}

TEST(SentencePieceModel, TokenizerConfigAddsEosAndRenamesSpecialTokens) {
  testing::TempDir dir;
  std::filesystem::path model = TrainModel(dir);
  std::ofstream(dir / "tokenizer_config.json") << R"({"add_bos_token": false, "add_eos_token": true,
                                                      "eos_token": "<unk>"})";
  auto tokenizer = MustLoad(model);
  ASSERT_NE(tokenizer, nullptr);
  std::vector<int32_t> ids = tokenizer->Encode("Hello", true);
  ASSERT_FALSE(ids.empty());
  EXPECT_NE(ids.front(), 1);
  EXPECT_EQ(ids.back(), 0);
  EXPECT_EQ(tokenizer->eos_id(), 0);

  std::ofstream(dir / "tokenizer_config.json") << R"({"bos_token": "<|begin|>"})";
  common::Result<std::unique_ptr<Tokenizer>> unknown = LoadTokenizer(model);
  EXPECT_EQ(unknown.status().message(),
            model.string() + ": cannot convert to tokenizer.json: special token \"<|begin|>\" is not a piece of the model");
}

// The converted tokenizer.json must give libsentencepiece's ids and text on every corpus line
// (but those that start with a space, with `skip_leading_space`).
void ExpectConversionMatchesSentencePiece(const SentencePieceConversionOptions& options, bool skip_leading_space) {
  testing::TempDir dir;
  std::filesystem::path model = TrainModel(dir);
  common::Result<json> converted = ConvertSentencePieceModel(model, options);
  ASSERT_TRUE(converted.ok()) << converted.status().ToString();
  std::filesystem::create_directory(dir / "converted");
  std::ofstream(dir / "converted" / "tokenizer.json") << converted->dump();
  auto sentencepiece = MustLoad(model);
  auto huggingface = MustLoad(dir / "converted");
  ASSERT_NE(sentencepiece, nullptr);
  ASSERT_NE(huggingface, nullptr);
  EXPECT_EQ(huggingface->vocab_size(), sentencepiece->vocab_size());
  EXPECT_EQ(huggingface->bos_id(), 1);
  for (const std::string& text : CorpusTexts()) {
    if (skip_leading_space && text[0] == ' ') continue;
    std::vector<int32_t> ids = sentencepiece->Encode(text, true);
    EXPECT_EQ(huggingface->Encode(text, true), ids) << text;
    EXPECT_EQ(huggingface->Decode(ids, true), text) << text;
    EXPECT_EQ(sentencepiece->Decode(ids, true), text) << text;
  }
}

TEST(SentencePieceConversion, LegacyLlamaTokenizerJsonMatchesSentencePiece) {
  ExpectConversionMatchesSentencePiece({.legacy = true}, /*skip_leading_space=*/false);
}

TEST(SentencePieceConversion, MetaspaceTokenizerJsonMatchesSentencePieceButForALeadingSpace) {
  ExpectConversionMatchesSentencePiece({.legacy = false}, /*skip_leading_space=*/true);
  // Hugging Face's Metaspace does not prepend "▁" to a text that already starts with one (a
  // space), where SentencePiece's dummy prefix always adds it: " a" is "▁a", not "▁▁a".
  testing::TempDir dir;
  std::filesystem::path model = TrainModel(dir);
  common::Result<json> converted = ConvertSentencePieceModel(model, {.legacy = false});
  ASSERT_TRUE(converted.ok()) << converted.status().ToString();
  std::ofstream(dir / "tokenizer.json") << converted->dump();
  auto huggingface = MustLoad(dir / "tokenizer.json");
  ASSERT_NE(huggingface, nullptr);
  EXPECT_EQ(huggingface->Encode(" the", false), huggingface->Encode("the", false));
}

TEST(SentencePieceConversion, WritesLlamaComponents) {
  testing::TempDir dir;
  common::Result<json> converted = ConvertSentencePieceModel(TrainModel(dir));
  ASSERT_TRUE(converted.ok()) << converted.status().ToString();
  EXPECT_EQ((*converted)["model"]["unk_token"], "<unk>");
  EXPECT_EQ((*converted)["model"]["byte_fallback"], true);
  EXPECT_EQ((*converted)["model"]["fuse_unk"], true);
  EXPECT_EQ((*converted)["normalizer"]["normalizers"][0]["type"], "Prepend");
  EXPECT_EQ((*converted)["post_processor"]["special_tokens"]["<s>"]["ids"], json({1}));
  ASSERT_EQ((*converted)["added_tokens"].size(), 3u);
  EXPECT_EQ((*converted)["added_tokens"][2]["content"], "</s>");
  EXPECT_EQ((*converted)["model"]["merges"][0], json({"▁", "t"}));
}

TEST(SentencePieceConversion, RejectsModelsTokenizerJsonCannotExpress) {
  testing::TempDir unigram_dir, nfkc_dir, whitespace_dir;
  std::filesystem::path unigram = TrainModel(unigram_dir, {"--model_type=unigram", "--vocab_size=600"});
  std::filesystem::path nfkc = TrainModel(nfkc_dir, {"--normalization_rule_name=nmt_nfkc"});
  std::filesystem::path whitespace = TrainModel(whitespace_dir, {"--remove_extra_whitespaces=true"});
  EXPECT_EQ(ConvertSentencePieceModel(unigram).status().message(),
            unigram.string() + ": cannot convert to tokenizer.json: only BPE models are supported");
  EXPECT_EQ(ConvertSentencePieceModel(nfkc).status().message(),
            nfkc.string() +
                ": cannot convert to tokenizer.json: the normalization rule \"nmt_nfkc\" has no tokenizer.json "
                "equivalent here");
  EXPECT_EQ(ConvertSentencePieceModel(whitespace).status().message(),
            whitespace.string() + ": cannot convert to tokenizer.json: remove_extra_whitespaces is not supported");
  // The loader runs tokenizer.model files through the same conversion, so it refuses them too.
  EXPECT_EQ(LoadTokenizer(unigram).status().message(),
            unigram.string() + ": cannot convert to tokenizer.json: only BPE models are supported");
}

TEST(SentencePieceConversion, RejectsHandMadeModelsWithWhatIsWrong) {
  using namespace std::string_literals;
  // Serialized ModelProto parts: a normal piece "a", a BPE trainer_spec, and a normalizer_spec
  // that keeps extra whitespace.
  const std::string piece = "\x0a\x03\x0a\x01"s "a";
  const std::string bpe = "\x12\x02\x18\x02"s;
  const std::string keep_whitespace = "\x1a\x02\x20\x00"s;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {piece + piece + bpe + keep_whitespace, "piece \"a\" appears twice"},
      {piece + "\x12\x05\x18\x02\xc0\x01\x01"s + keep_whitespace, "treat_whitespace_as_suffix is not supported"},
      {piece + bpe + "\x1a\x04\x20\x00\x28\x00"s, "escape_whitespaces=false is not supported"},
  };
  for (const auto& [bytes, problem] : cases) {
    testing::TempDir dir;
    std::ofstream(dir / "m.model", std::ios::binary) << bytes;
    EXPECT_EQ(ConvertSentencePieceModel(dir / "m.model").status().message(),
              (dir / "m.model").string() + ": cannot convert to tokenizer.json: " + problem);
  }
  testing::TempDir dir;
  std::ofstream(dir / "bad.model", std::ios::binary) << "\x0a\x09"s;
  EXPECT_EQ(ConvertSentencePieceModel(dir / "bad.model").status().message(),
            (dir / "bad.model").string() + ": not a valid SentencePiece model: truncated at byte 2");
}

std::string Message(std::string_view bytes) {
  return ParseSentencePieceModelProto(bytes).status().message();
}

TEST(SentencePieceModelProto, RejectsMalformedModelsWithAReason) {
  using namespace std::string_literals;
  EXPECT_EQ(Message(""), "not a valid SentencePiece model: it has no pieces");
  EXPECT_EQ(Message("\x0a\x09"s "ab"), "not a valid SentencePiece model: truncated at byte 2");
  EXPECT_EQ(Message("\x00"s), "not a valid SentencePiece model: field number 0");
  EXPECT_EQ(Message("\x08\x01"s), "not a valid SentencePiece model: a ModelProto field has wire type 0");
  EXPECT_EQ(Message("\x0a\x05\x0a\x01"s "a\x18\x09"), "not a valid SentencePiece model: piece 0: type 9 is not a piece type");
  EXPECT_EQ(Message("\x0a\x02\x18\x01"s), "not a valid SentencePiece model: piece 0: empty piece");
  EXPECT_EQ(Message("\x0a\x03\x0a\x01\xff"s), "not a valid SentencePiece model: piece 0: piece is not valid UTF-8");
  EXPECT_EQ(Message("\x0a\x03\x0a\x01"s "a\x12\x02\x18\x07"), "not a valid SentencePiece model: trainer_spec.model_type 7 is unknown");
  EXPECT_EQ(Message("\x0a\x03\x0a\x01"s "a\x12\x02\x0b\x07"), "not a valid SentencePiece model: unsupported wire type 3 at byte 1");
  EXPECT_EQ(Message("\x0a\x03\x0a\x01"s "a\x1a\x02\x18\xff"), "not a valid SentencePiece model: truncated at byte 2");
  EXPECT_EQ(Message(std::string(11, '\xff')), "not a valid SentencePiece model: malformed varint at byte 10");
}

TEST(SentencePieceModelProto, LoaderRejectsUnigramModelsWithTheReason) {
  testing::TempDir dir;
  // One well-formed piece in a model whose trainer_spec says unigram (model_type 1).
  std::ofstream(dir / "tokenizer.model", std::ios::binary) << std::string("\x0a\x05\x0a\x01" "a\x18\x01" "\x12\x02\x18\x01", 11);
  common::Result<std::unique_ptr<Tokenizer>> loaded = LoadTokenizer(dir.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().message(),
            (dir / "tokenizer.model").string() + ": cannot convert to tokenizer.json: only BPE models are supported");
}

}  // namespace
}  // namespace gradients::text
