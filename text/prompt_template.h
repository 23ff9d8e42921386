// Prompt templates for instruct datasets: how instruction, input and system become the prompt
// text that precedes the output.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::text {

// The texts of one instruct row; absent optional fields are empty.
struct PromptFields {
  std::string_view system = {};
  std::string_view instruction = {};
  std::string_view input = {};
};

// The default template is Alpaca's, which community SFT tools use:
//
//   {system}\n\n                  only when the system text is non-empty
//   ### Instruction:\n{instruction}\n\n
//   ### Input:\n{input}\n\n        only when the input is non-empty
//   ### Response:\n
//
// The output follows "### Response:\n" directly.
//
// A custom template is text with the placeholders {system}, {instruction} and {input}; it must
// contain {instruction}. "{{" and "}}" write literal braces; any other "{name}" is an error, so a
// misspelt placeholder is not silently printed. Absent fields substitute as empty text.
class PromptTemplate {
 public:
  static PromptTemplate Alpaca();

  // Parses a custom template; the empty string means Alpaca().
  static common::Result<PromptTemplate> Parse(std::string_view text);

  // Whether the template shows the system text / the input; Alpaca's shows both. Text in a field
  // the template does not show would silently vanish from the prompt, so callers refuse it.
  bool shows_system() const { return is_alpaca_ || Has(Placeholder::kSystem); }
  bool shows_input() const { return is_alpaca_ || Has(Placeholder::kInput); }

  std::string Render(const PromptFields& fields) const;

 private:
  enum class Placeholder { kNone, kSystem, kInstruction, kInput };
  // Literal text followed by a placeholder (kNone for trailing text).
  struct Piece {
    std::string literal;
    Placeholder placeholder = Placeholder::kNone;
  };

  PromptTemplate() = default;
  bool Has(Placeholder placeholder) const;
  std::string RenderAlpaca(const PromptFields& fields) const;

  bool is_alpaca_ = true;
  std::vector<Piece> pieces_;
};

}  // namespace gradients::text
