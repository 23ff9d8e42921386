// The post-processor of a tokenizer.json: what encode(text, add_special_tokens=True) adds around
// the ids of a single sequence (Hugging Face `processors`).
//
// Supported: TemplateProcessing, ByteLevel (offsets only, so nothing for ids), RobertaProcessing
// and BertProcessing (cls ... sep), and Sequence of these.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace gradients::text {

class PostProcessor {
 public:
  // Adds nothing.
  PostProcessor() = default;

  // Parses the "post_processor" value at `path` (null adds nothing). Every id it would add must
  // satisfy `is_known_id`.
  static common::Result<PostProcessor> Parse(const nlohmann::json& value, std::string_view path,
                                     const std::function<bool(int64_t)>& is_known_id);

  // The ids of a single sequence with the special tokens around them.
  std::vector<int32_t> Process(std::vector<int32_t> ids) const;

  // The first id the template puts before the sequence, and the last it puts after it.
  std::optional<int32_t> leading_id() const;
  std::optional<int32_t> trailing_id() const;

 private:
  common::Status ParseInto(const nlohmann::json& value, std::string_view path,
                   const std::function<bool(int64_t)>& is_known_id, int depth);

  // Applied in order; each wraps the previous result.
  struct Wrap {
    std::vector<int32_t> before;
    std::vector<int32_t> after;
  };
  std::vector<Wrap> wraps_;
};

}  // namespace gradients::text
