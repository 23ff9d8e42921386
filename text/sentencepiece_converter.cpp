#include "text/sentencepiece_converter.h"

#include <algorithm>
#include <unordered_map>

#include "common/durable_file.h"
#include "text/sentencepiece_model_proto.h"
#include "text/tokenizer_json_fields.h"
#include "text/tokenizer_unicode.h"

namespace gradients::text {
namespace {

constexpr uint64_t kMaxModelBytes = 64 << 20;
constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // ▁

using Piece = SentencePieceModelProto::Piece;
using PieceType = SentencePieceModelProto::PieceType;

struct Merge {
  std::string left;
  std::string right;
  float score;
  size_t left_chars;
  size_t right_chars;
};

size_t CountCharacters(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return count;
}

// transformers' generate_merges: every split of every piece into two pieces of the vocabulary,
// ordered by the piece's score (highest first), then longer left and right parts first; ties
// keep vocabulary order, and splits of one piece are ordered by the ids of their parts.
std::vector<Merge> GenerateMerges(const std::vector<Piece>& pieces, const std::unordered_map<std::string, int32_t>& ids) {
  std::vector<Merge> merges;
  for (size_t id = 0; id < pieces.size(); ++id) {
    const Piece& piece = pieces[id];
    // LlamaConverter scores its first three pieces (unk, bos, eos) 0.
    float score = id < 3 ? 0.0f : piece.score;
    std::vector<Merge> local;
    const std::string& text = piece.piece;
    for (size_t cut = Utf8SequenceLength(static_cast<unsigned char>(text[0])); cut < text.size();
         cut += Utf8SequenceLength(static_cast<unsigned char>(text[cut]))) {
      std::string left = text.substr(0, cut), right = text.substr(cut);
      if (ids.count(left) && ids.count(right)) {
        local.push_back({left, right, score, CountCharacters(left), CountCharacters(right)});
      }
    }
    std::stable_sort(local.begin(), local.end(), [&ids](const Merge& a, const Merge& b) {
      return std::make_pair(ids.at(a.left), ids.at(a.right)) < std::make_pair(ids.at(b.left), ids.at(b.right));
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    return std::tie(a.score, a.left_chars, a.right_chars) > std::tie(b.score, b.left_chars, b.right_chars);
  });
  return merges;
}

nlohmann::json SpecialTokenPiece(const std::string& token) {
  return {{"SpecialToken", {{"id", token}, {"type_id", 0}}}};
}

nlohmann::json PostProcessor(const SentencePieceModelProto& model, const SentencePieceConversionOptions& options,
                             int32_t bos_id, int32_t eos_id) {
  nlohmann::json single = nlohmann::json::array();
  nlohmann::json special_tokens = nlohmann::json::object();
  const auto add_special = [&](int32_t id) {
    if (id < 0 || static_cast<size_t>(id) >= model.pieces.size()) return;
    const std::string& token = model.pieces[static_cast<size_t>(id)].piece;
    single.push_back(SpecialTokenPiece(token));
    special_tokens[token] = {{"id", token}, {"ids", {id}}, {"tokens", {token}}};
  };
  if (options.add_bos) add_special(bos_id);
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (options.add_eos) add_special(eos_id);
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", nlohmann::json::array()},
          {"special_tokens", special_tokens}};
}

}  // namespace

common::Result<nlohmann::json> ConvertSentencePieceModel(const std::filesystem::path& model_path,
                                                 const SentencePieceConversionOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string bytes, common::ReadFileToString(model_path, kMaxModelBytes));
  common::Result<nlohmann::json> converted = ConvertSentencePieceModelBytes(bytes, options);
  if (!converted.ok()) return converted.status().WithContext(model_path.string());
  return converted;
}

common::Result<nlohmann::json> ConvertSentencePieceModelBytes(std::string_view bytes,
                                                      const SentencePieceConversionOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(SentencePieceModelProto model, ParseSentencePieceModelProto(bytes));
  const auto reject = [](const std::string& why) {
    return common::Status::InvalidArgument("cannot convert to tokenizer.json: " + why);
  };
  if (model.model_type != SentencePieceModelProto::ModelType::kBpe) return reject("only BPE models are supported");
  if (model.has_precompiled_charsmap) {
    return reject("the normalization rule " + QuoteForMessage(model.normalizer_name) + " has no tokenizer.json equivalent here");
  }
  if (model.remove_extra_whitespaces) return reject("remove_extra_whitespaces is not supported");
  if (model.treat_whitespace_as_suffix) return reject("treat_whitespace_as_suffix is not supported");
  if (!model.escape_whitespaces) return reject("escape_whitespaces=false is not supported");

  std::unordered_map<std::string, int32_t> ids;
  nlohmann::json vocab = nlohmann::json::object();
  nlohmann::json added_tokens = nlohmann::json::array();
  for (size_t id = 0; id < model.pieces.size(); ++id) {
    const Piece& piece = model.pieces[id];
    if (!ids.emplace(piece.piece, static_cast<int32_t>(id)).second) {
      return reject("piece " + QuoteForMessage(piece.piece) + " appears twice");
    }
    vocab[piece.piece] = id;
    if (piece.type == PieceType::kControl || piece.type == PieceType::kUserDefined || piece.type == PieceType::kUnknown) {
      added_tokens.push_back({{"id", id},
                              {"content", piece.piece},
                              {"single_word", false},
                              {"lstrip", false},
                              {"rstrip", false},
                              {"normalized", false},
                              {"special", piece.type != PieceType::kUserDefined}});
    }
  }
  // The template adds the named BOS/EOS (tokenizer_config.json's), else the model's own pieces.
  int32_t bos_id = model.bos_id, eos_id = model.eos_id;
  for (auto [name, id] : {std::pair{&options.bos_token, &bos_id}, std::pair{&options.eos_token, &eos_id}}) {
    if (!*name) continue;
    auto found = ids.find(**name);
    if (found == ids.end()) return reject("special token " + QuoteForMessage(**name) + " is not a piece of the model");
    *id = found->second;
  }
  nlohmann::json merges = nlohmann::json::array();
  for (const Merge& merge : GenerateMerges(model.pieces, ids)) merges.push_back({merge.left, merge.right});

  std::string metaspace(kMetaspace);
  nlohmann::json normalizer = nullptr, pre_tokenizer = nullptr;
  if (options.legacy) {
    nlohmann::json steps = nlohmann::json::array();
    if (model.add_dummy_prefix) steps.push_back({{"type", "Prepend"}, {"prepend", metaspace}});
    steps.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", metaspace}});
    normalizer = {{"type", "Sequence"}, {"normalizers", steps}};
  } else {
    pre_tokenizer = {{"type", "Metaspace"},
                     {"replacement", metaspace},
                     {"prepend_scheme", model.add_dummy_prefix ? "first" : "never"},
                     {"split", false}};
  }
  nlohmann::json decoders = nlohmann::json::array();
  decoders.push_back({{"type", "Replace"}, {"pattern", {{"String", metaspace}}}, {"content", " "}});
  decoders.push_back({{"type", "ByteFallback"}});
  decoders.push_back({{"type", "Fuse"}});
  if (model.add_dummy_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});

  return nlohmann::json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added_tokens},
      {"normalizer", normalizer},
      {"pre_tokenizer", pre_tokenizer},
      {"post_processor", PostProcessor(model, options, bos_id, eos_id)},
      {"decoder", {{"type", "Sequence"}, {"decoders", decoders}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", model.unk_piece},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", merges}}},
  };
}

}  // namespace gradients::text
