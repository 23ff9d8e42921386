// A Tokenizer over a SentencePiece BPE tokenizer.model (Llama-2, Mistral, TinyLlama).
//
// The model is converted to the tokenizer.json that transformers' LlamaConverter writes for it
// (sentencepiece_converter.h) and run by the Hugging Face pipeline here: identical ids to
// libsentencepiece (tests compare with spm_encode), without linking libsentencepiece, whose
// embedded copy of protobuf clashes with the libprotobuf that libtorch and gRPC load into the same
// process. BOS/EOS are added as tokenizer_config.json's add_bos_token/add_eos_token say
// (Llama's defaults: BOS only). Unigram models are rejected with the reason.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "text/tokenizer.h"
#include "text/tokenizer_huggingface.h"

namespace gradients::text {

// `serialized_model` is the content of a tokenizer.model. Errors say what is wrong with it.
common::Result<std::unique_ptr<Tokenizer>> CreateSentencePieceTokenizer(const std::string& serialized_model,
                                                                const TokenizerConfig& config);

}  // namespace gradients::text
