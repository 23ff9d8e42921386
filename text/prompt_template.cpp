#include "text/prompt_template.h"

#include <algorithm>

namespace gradients::text {
namespace {

constexpr size_t kMaxShownPlaceholderChars = 40;

}  // namespace

PromptTemplate PromptTemplate::Alpaca() { return PromptTemplate(); }

common::Result<PromptTemplate> PromptTemplate::Parse(std::string_view text) {
  if (text.empty()) return Alpaca();
  PromptTemplate parsed;
  parsed.is_alpaca_ = false;
  Piece piece;
  bool has_instruction = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      piece.literal += c;
      ++i;
      continue;
    }
    if (c != '{') {
      piece.literal += c;
      continue;
    }
    size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos) {
      return common::Status::InvalidArgument("\"{\" at byte " + std::to_string(i) +
                                     " has no closing \"}\" (write \"{{\" for a literal brace)");
    }
    std::string_view name = text.substr(i + 1, close - i - 1);
    if (name == "system") {
      piece.placeholder = Placeholder::kSystem;
    } else if (name == "instruction") {
      piece.placeholder = Placeholder::kInstruction;
      has_instruction = true;
    } else if (name == "input") {
      piece.placeholder = Placeholder::kInput;
    } else {
      std::string shown(name.substr(0, kMaxShownPlaceholderChars));
      if (name.size() > kMaxShownPlaceholderChars) shown += "...";
      return common::Status::InvalidArgument("unknown placeholder {" + shown +
                                     "} (known: {system}, {instruction}, {input}; write \"{{\" for a literal brace)");
    }
    parsed.pieces_.push_back(std::move(piece));
    piece = Piece();
    i = close;
  }
  if (!has_instruction) return common::Status::InvalidArgument("the {instruction} placeholder is missing");
  if (!piece.literal.empty()) parsed.pieces_.push_back(std::move(piece));
  return parsed;
}

bool PromptTemplate::Has(Placeholder placeholder) const {
  return std::any_of(pieces_.begin(), pieces_.end(),
                     [&](const Piece& piece) { return piece.placeholder == placeholder; });
}

std::string PromptTemplate::Render(const PromptFields& fields) const {
  if (is_alpaca_) return RenderAlpaca(fields);
  std::string out;
  for (const Piece& piece : pieces_) {
    out += piece.literal;
    switch (piece.placeholder) {
      case Placeholder::kNone: break;
      case Placeholder::kSystem: out += fields.system; break;
      case Placeholder::kInstruction: out += fields.instruction; break;
      case Placeholder::kInput: out += fields.input; break;
    }
  }
  return out;
}

std::string PromptTemplate::RenderAlpaca(const PromptFields& fields) const {
  std::string out;
  if (!fields.system.empty()) {
    out += fields.system;
    out += "\n\n";
  }
  out += "### Instruction:\n";
  out += fields.instruction;
  out += "\n\n";
  if (!fields.input.empty()) {
    out += "### Input:\n";
    out += fields.input;
    out += "\n\n";
  }
  out += "### Response:\n";
  return out;
}

}  // namespace gradients::text
