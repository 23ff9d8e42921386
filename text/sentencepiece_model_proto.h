// The parts of a SentencePiece model file (a serialized `sentencepiece.ModelProto`) that the
// loader checks and the tokenizer.json converter needs, read straight from the protobuf wire
// format: libsentencepiece's headers do not expose the proto, and a bounded reader of our own
// rejects a malformed file with a reason before libsentencepiece sees it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::text {

struct SentencePieceModelProto {
  enum class PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
  enum class ModelType { kUnigram = 1, kBpe = 2, kWord = 3, kChar = 4 };

  struct Piece {
    std::string piece;
    float score = 0;
    PieceType type = PieceType::kNormal;
  };

  std::vector<Piece> pieces;
  // trainer_spec
  ModelType model_type = ModelType::kUnigram;
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  std::string unk_piece = "<unk>";
  int32_t bos_id = 1;  // -1: none
  int32_t eos_id = 2;
  // normalizer_spec
  std::string normalizer_name;
  bool has_precompiled_charsmap = false;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses `bytes`. Errors say what is malformed ("piece 12: type 9 is not a piece type").
common::Result<SentencePieceModelProto> ParseSentencePieceModelProto(std::string_view bytes);

}  // namespace gradients::text
