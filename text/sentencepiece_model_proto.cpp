#include "text/sentencepiece_model_proto.h"

#include <cstdint>
#include <cstring>
#include <functional>

#include "text/tokenizer_unicode.h"

namespace gradients::text {
namespace {

constexpr size_t kMaxPieces = 1 << 22;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// A bounded reader of protobuf wire format.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  bool done() const { return pos_ >= data_.size(); }

  common::Result<uint64_t> Varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Truncated();
      auto byte = static_cast<unsigned char>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return common::Status::InvalidArgument("malformed varint at byte " + std::to_string(pos_));
  }

  common::Result<std::string_view> Bytes() {
    GRADIENTS_ASSIGN_OR_RETURN(uint64_t length, Varint());
    if (length > data_.size() - pos_) return Truncated();
    std::string_view bytes = data_.substr(pos_, length);
    pos_ += length;
    return bytes;
  }

  common::Result<uint32_t> Fixed32() {
    if (data_.size() - pos_ < 4) return Truncated();
    uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = (value << 8) | static_cast<unsigned char>(data_[pos_ + static_cast<size_t>(i)]);
    pos_ += 4;
    return value;
  }

  // Skips a field of `wire_type` the caller does not need.
  common::Status Skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: return Varint().status();
      case kLengthDelimited: return Bytes().status();
      case kFixed32: return Fixed32().status();
      case kFixed64:
        if (data_.size() - pos_ < 8) return Truncated();
        pos_ += 8;
        return common::Status::Ok();
      default:
        return common::Status::InvalidArgument("unsupported wire type " + std::to_string(wire_type) + " at byte " +
                                       std::to_string(pos_));
    }
  }

 private:
  common::Status Truncated() const { return common::Status::InvalidArgument("truncated at byte " + std::to_string(pos_)); }

  std::string_view data_;
  size_t pos_ = 0;
};

// Calls `on_field(number, wire_type, reader)` for each field of the message in `data`; the
// callback reads the value or returns false to have it skipped.
common::Status ForEachField(std::string_view data, const std::function<common::Result<bool>(uint32_t, uint32_t, WireReader&)>& on_field) {
  WireReader reader(data);
  while (!reader.done()) {
    GRADIENTS_ASSIGN_OR_RETURN(uint64_t tag, reader.Varint());
    auto number = static_cast<uint32_t>(tag >> 3), wire_type = static_cast<uint32_t>(tag & 7);
    if (number == 0) return common::Status::InvalidArgument("field number 0");
    GRADIENTS_ASSIGN_OR_RETURN(bool consumed, on_field(number, wire_type, reader));
    if (!consumed) GRADIENTS_RETURN_IF_ERROR(reader.Skip(wire_type));
  }
  return common::Status::Ok();
}

common::Status ExpectWireType(uint32_t actual, uint32_t expected, const char* field) {
  if (actual == expected) return common::Status::Ok();
  return common::Status::InvalidArgument(std::string(field) + " has wire type " + std::to_string(actual));
}

common::Result<SentencePieceModelProto::Piece> ParsePiece(std::string_view data) {
  SentencePieceModelProto::Piece piece;
  GRADIENTS_RETURN_IF_ERROR(ForEachField(data, [&](uint32_t number, uint32_t wire, WireReader& r) -> common::Result<bool> {
    if (number == 1) {
      GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kLengthDelimited, "piece"));
      GRADIENTS_ASSIGN_OR_RETURN(std::string_view text, r.Bytes());
      piece.piece = std::string(text);
    } else if (number == 2) {
      GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kFixed32, "score"));
      GRADIENTS_ASSIGN_OR_RETURN(uint32_t bits, r.Fixed32());
      std::memcpy(&piece.score, &bits, sizeof(bits));
    } else if (number == 3) {
      GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kVarint, "type"));
      GRADIENTS_ASSIGN_OR_RETURN(uint64_t type, r.Varint());
      if (type < 1 || type > 6) return common::Status::InvalidArgument("type " + std::to_string(type) + " is not a piece type");
      piece.type = static_cast<SentencePieceModelProto::PieceType>(type);
    } else {
      return false;
    }
    return true;
  }));
  if (piece.piece.empty()) return common::Status::InvalidArgument("empty piece");
  if (!common::IsValidUtf8(piece.piece)) return common::Status::InvalidArgument("piece is not valid UTF-8");
  return piece;
}

common::Result<bool> ReadBool(uint32_t wire, WireReader& reader, const char* field) {
  GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kVarint, field));
  GRADIENTS_ASSIGN_OR_RETURN(uint64_t value, reader.Varint());
  return value != 0;
}

common::Status ParseTrainerSpec(std::string_view data, SentencePieceModelProto& model) {
  return ForEachField(data, [&](uint32_t number, uint32_t wire, WireReader& r) -> common::Result<bool> {
    if (number == 3) {
      GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kVarint, "trainer_spec.model_type"));
      GRADIENTS_ASSIGN_OR_RETURN(uint64_t type, r.Varint());
      if (type < 1 || type > 4) return common::Status::InvalidArgument("trainer_spec.model_type " + std::to_string(type) + " is unknown");
      model.model_type = static_cast<SentencePieceModelProto::ModelType>(type);
    } else if (number == 24) {
      GRADIENTS_ASSIGN_OR_RETURN(model.treat_whitespace_as_suffix, ReadBool(wire, r, "treat_whitespace_as_suffix"));
    } else if (number == 35) {
      GRADIENTS_ASSIGN_OR_RETURN(model.byte_fallback, ReadBool(wire, r, "byte_fallback"));
    } else if (number == 41 || number == 42) {
      GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kVarint, "trainer_spec.bos_id/eos_id"));
      GRADIENTS_ASSIGN_OR_RETURN(uint64_t id, r.Varint());
      // int32 fields: -1 travels as a 64-bit two's complement varint.
      (number == 41 ? model.bos_id : model.eos_id) = static_cast<int32_t>(static_cast<int64_t>(id));
    } else if (number == 45) {
      GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kLengthDelimited, "unk_piece"));
      GRADIENTS_ASSIGN_OR_RETURN(std::string_view unk, r.Bytes());
      model.unk_piece = std::string(unk);
    } else {
      return false;
    }
    return true;
  });
}

common::Status ParseNormalizerSpec(std::string_view data, SentencePieceModelProto& model) {
  return ForEachField(data, [&](uint32_t number, uint32_t wire, WireReader& r) -> common::Result<bool> {
    if (number == 1) {
      GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kLengthDelimited, "normalizer_spec.name"));
      GRADIENTS_ASSIGN_OR_RETURN(std::string_view name, r.Bytes());
      model.normalizer_name = std::string(name);
    } else if (number == 2) {
      GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kLengthDelimited, "precompiled_charsmap"));
      GRADIENTS_ASSIGN_OR_RETURN(std::string_view charsmap, r.Bytes());
      model.has_precompiled_charsmap = !charsmap.empty();
    } else if (number == 3) {
      GRADIENTS_ASSIGN_OR_RETURN(model.add_dummy_prefix, ReadBool(wire, r, "add_dummy_prefix"));
    } else if (number == 4) {
      GRADIENTS_ASSIGN_OR_RETURN(model.remove_extra_whitespaces, ReadBool(wire, r, "remove_extra_whitespaces"));
    } else if (number == 5) {
      GRADIENTS_ASSIGN_OR_RETURN(model.escape_whitespaces, ReadBool(wire, r, "escape_whitespaces"));
    } else {
      return false;
    }
    return true;
  });
}

}  // namespace

common::Result<SentencePieceModelProto> ParseSentencePieceModelProto(std::string_view bytes) {
  SentencePieceModelProto model;
  common::Status status = ForEachField(bytes, [&](uint32_t number, uint32_t wire, WireReader& r) -> common::Result<bool> {
    if (number < 1 || number > 3) return false;
    GRADIENTS_RETURN_IF_ERROR(ExpectWireType(wire, kLengthDelimited, "a ModelProto field"));
    GRADIENTS_ASSIGN_OR_RETURN(std::string_view message, r.Bytes());
    if (number == 1) {
      if (model.pieces.size() >= kMaxPieces) return common::Status::InvalidArgument("more than " + std::to_string(kMaxPieces) + " pieces");
      common::Result<SentencePieceModelProto::Piece> piece = ParsePiece(message);
      if (!piece.ok()) return piece.status().WithContext("piece " + std::to_string(model.pieces.size()));
      model.pieces.push_back(std::move(piece).value());
    } else if (number == 2) {
      GRADIENTS_RETURN_IF_ERROR(ParseTrainerSpec(message, model));
    } else {
      GRADIENTS_RETURN_IF_ERROR(ParseNormalizerSpec(message, model));
    }
    return true;
  });
  if (!status.ok()) return status.WithContext("not a valid SentencePiece model");
  if (model.pieces.empty()) return common::Status::InvalidArgument("not a valid SentencePiece model: it has no pieces");
  return model;
}

}  // namespace gradients::text
