#include "text/sentencepiece_tokenizer.h"

#include "text/sentencepiece_converter.h"
#include "text/sentencepiece_model_proto.h"

namespace gradients::text {

common::Result<std::unique_ptr<Tokenizer>> CreateSentencePieceTokenizer(const std::string& serialized_model,
                                                                const TokenizerConfig& config) {
  SentencePieceConversionOptions options;
  options.legacy = true;  // what Llama-2's own tokenizer.json holds, and what matches SentencePiece exactly
  options.add_bos = config.add_bos_token;
  options.add_eos = config.add_eos_token;
  options.bos_token = config.bos_token;
  options.eos_token = config.eos_token;
  GRADIENTS_ASSIGN_OR_RETURN(nlohmann::json converted, ConvertSentencePieceModelBytes(serialized_model, options));
  // The model's own BOS/EOS pieces are its special tokens unless tokenizer_config.json names others
  // (the converted post-processor only knows the ones it adds).
  GRADIENTS_ASSIGN_OR_RETURN(SentencePieceModelProto model, ParseSentencePieceModelProto(serialized_model));
  TokenizerConfig with_model_tokens = config;
  const auto piece = [&model](int32_t id) -> std::optional<std::string> {
    if (id < 0 || static_cast<size_t>(id) >= model.pieces.size()) return std::nullopt;
    return model.pieces[static_cast<size_t>(id)].piece;
  };
  if (!with_model_tokens.bos_token) with_model_tokens.bos_token = piece(model.bos_id);
  if (!with_model_tokens.eos_token) with_model_tokens.eos_token = piece(model.eos_id);
  return CreateHuggingFaceTokenizer(converted, with_model_tokens);
}

}  // namespace gradients::text
