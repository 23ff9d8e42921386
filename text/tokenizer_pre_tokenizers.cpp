#include "text/tokenizer_pre_tokenizers.h"

#include <algorithm>
#include <array>

#include "common/strict_json.h"
#include "text/tokenizer_json_fields.h"
#include "text/tokenizer_normalizers.h"
#include "text/tokenizer_unicode.h"

namespace gradients::text {
namespace {

constexpr int kMaxNesting = 8;

// The regex of GPT-2's encoder.py, which Hugging Face's ByteLevel uses when use_regex is set.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const TextPattern& Gpt2Pattern() {
  static const TextPattern pattern = std::move(TextPattern::Regex(kGpt2Pattern)).value();
  return pattern;
}

std::array<std::string, 256> BuildByteLevelTable() {
  std::array<std::string, 256> table;
  int next_unprintable = 0;
  for (int byte = 0; byte < 256; ++byte) {
    bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) || (byte >= 0xAE);
    char32_t c = printable ? static_cast<char32_t>(byte) : static_cast<char32_t>(256 + next_unprintable++);
    common::AppendUtf8(table[byte], c);
  }
  return table;
}

common::Result<SplitBehavior> ParseSplitBehavior(const nlohmann::json& object, std::string_view path) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string name, ReadJsonString(object, "behavior", path));
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return JsonFieldError(JsonChildPath(path, "behavior"), "unknown split behavior " + QuoteForMessage(name));
}

std::string ReplaceSpaces(const std::string& text, const std::string& replacement) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == ' ') {
      out += replacement;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

const std::string& ByteLevelCharacter(unsigned char byte) {
  static const std::array<std::string, 256> table = BuildByteLevelTable();
  return table[byte];
}

std::vector<TextSpan> SplitAroundMatches(std::string_view text, const std::vector<TextSpan>& matches,
                                         SplitBehavior behavior, bool invert) {
  struct Segment {
    TextSpan span;
    bool is_match;
  };
  std::vector<Segment> segments;
  size_t previous_end = 0;
  for (const TextSpan& match : matches) {
    if (match.begin > previous_end) segments.push_back({{previous_end, match.begin}, invert});
    segments.push_back({match, !invert});
    previous_end = match.end;
  }
  if (previous_end < text.size()) segments.push_back({{previous_end, text.size()}, invert});

  // (span, removed) in text order, following the folds of NormalizedString::split.
  std::vector<Segment> pieces;
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Segment& s : segments) pieces.push_back({s.span, false});
      break;
    case SplitBehavior::kRemoved:
      pieces = segments;
      break;
    case SplitBehavior::kContiguous:
      for (const Segment& s : segments) {
        if (s.is_match == previous_match && !pieces.empty()) {
          pieces.back().span.end = s.span.end;
        } else {
          pieces.push_back({s.span, false});
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Segment& s : segments) {
        if (s.is_match && !previous_match && !pieces.empty()) {
          pieces.back().span.end = s.span.end;
        } else {
          pieces.push_back({s.span, false});
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
        if (it->is_match && !previous_match && !pieces.empty()) {
          pieces.back().span.begin = it->span.begin;
        } else {
          pieces.push_back({it->span, false});
        }
        previous_match = it->is_match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
  }
  std::vector<TextSpan> kept;
  for (const Segment& piece : pieces) {
    if (!piece.is_match && piece.span.end > piece.span.begin) kept.push_back(piece.span);
  }
  return kept;
}

common::Result<MetaspaceSettings> ParseMetaspaceSettings(const nlohmann::json& value, std::string_view path) {
  MetaspaceSettings settings;
  GRADIENTS_ASSIGN_OR_RETURN(settings.replacement, ReadJsonCharacter(value, "replacement", path));
  GRADIENTS_ASSIGN_OR_RETURN(std::optional<std::string> scheme, ReadOptionalJsonString(value, "prepend_scheme", path));
  const nlohmann::json* add_prefix_space = FindJsonField(value, "add_prefix_space");
  if (add_prefix_space != nullptr && !add_prefix_space->is_boolean()) {
    return JsonFieldError(JsonChildPath(path, "add_prefix_space"), "expected true or false");
  }
  if (scheme.has_value()) {
    if (*scheme == "always") {
      settings.prepend_scheme = MetaspacePrependScheme::kAlways;
    } else if (*scheme == "first") {
      settings.prepend_scheme = MetaspacePrependScheme::kFirst;
    } else if (*scheme == "never") {
      settings.prepend_scheme = MetaspacePrependScheme::kNever;
    } else {
      return JsonFieldError(JsonChildPath(path, "prepend_scheme"),
                            "unknown prepend scheme " + QuoteForMessage(*scheme) + " (expected always, first or never)");
    }
    if (add_prefix_space != nullptr && !add_prefix_space->get<bool>() &&
        settings.prepend_scheme != MetaspacePrependScheme::kNever) {
      return JsonFieldError(path, "add_prefix_space does not match declared prepend_scheme");
    }
  } else if (add_prefix_space != nullptr && !add_prefix_space->get<bool>()) {
    settings.prepend_scheme = MetaspacePrependScheme::kNever;
  }
  GRADIENTS_ASSIGN_OR_RETURN(settings.split, ReadJsonBool(value, "split", path, true));
  return settings;
}

common::Result<PreTokenizer> PreTokenizer::Parse(const nlohmann::json& value, std::string_view path) {
  PreTokenizer pre_tokenizer;
  if (value.is_null()) return pre_tokenizer;
  GRADIENTS_RETURN_IF_ERROR(pre_tokenizer.ParseInto(value, path, 0));
  return pre_tokenizer;
}

common::Status PreTokenizer::ParseInto(const nlohmann::json& value, std::string_view path, int depth) {
  if (depth > kMaxNesting) return JsonFieldError(path, "pre-tokenizers nest too deeply");
  GRADIENTS_ASSIGN_OR_RETURN(std::string type, ReadJsonType(value, path));
  if (type == "Sequence") {
    const nlohmann::json* items = FindJsonField(value, "pretokenizers");
    std::string items_path = JsonChildPath(path, "pretokenizers");
    if (items == nullptr || !items->is_array()) return JsonFieldError(items_path, "expected an array");
    for (size_t i = 0; i < items->size(); ++i) {
      GRADIENTS_RETURN_IF_ERROR(ParseInto((*items)[i], JsonIndexPath(items_path, i), depth + 1));
    }
    return common::Status::Ok();
  }
  Step step{};
  if (type == "Split") {
    step.kind = Kind::kSplit;
    GRADIENTS_ASSIGN_OR_RETURN(step.pattern, ParsePatternField(value, path));
    GRADIENTS_ASSIGN_OR_RETURN(step.behavior, ParseSplitBehavior(value, path));
    GRADIENTS_ASSIGN_OR_RETURN(step.invert, ReadJsonBool(value, "invert", path, false));
  } else if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
    GRADIENTS_ASSIGN_OR_RETURN(step.add_prefix_space, ReadJsonBool(value, "add_prefix_space", path, true));
    GRADIENTS_ASSIGN_OR_RETURN(step.use_regex, ReadJsonBool(value, "use_regex", path, true));
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    GRADIENTS_ASSIGN_OR_RETURN(step.metaspace, ParseMetaspaceSettings(value, path));
  } else {
    return JsonFieldError(JsonChildPath(path, "type"), "unsupported pre-tokenizer " + QuoteForMessage(type) +
                                                           " (supported: Sequence, Split, ByteLevel, Metaspace)");
  }
  steps_.push_back(std::move(step));
  return common::Status::Ok();
}

void PreTokenizer::PreTokenize(std::vector<TextPiece>& pieces) const {
  for (const Step& step : steps_) {
    std::vector<TextPiece> next;
    next.reserve(pieces.size());
    for (const TextPiece& piece : pieces) Apply(step, piece, next);
    pieces = std::move(next);
  }
}

void PreTokenizer::Apply(const Step& step, const TextPiece& piece, std::vector<TextPiece>& out) {
  const auto emit_spans = [&out](const TextPiece& from, const std::vector<TextSpan>& spans) {
    for (const TextSpan& span : spans) {
      out.push_back({from.text.substr(span.begin, span.end - span.begin), from.at_input_start && span.begin == 0});
    }
  };
  switch (step.kind) {
    case Kind::kSplit:
      emit_spans(piece, SplitAroundMatches(piece.text, step.pattern.FindAll(piece.text), step.behavior, step.invert));
      return;
    case Kind::kByteLevel: {
      TextPiece prefixed = piece;
      if (step.add_prefix_space && (prefixed.text.empty() || prefixed.text[0] != ' ')) prefixed.text = " " + prefixed.text;
      size_t first = out.size();
      if (step.use_regex) {
        emit_spans(prefixed, SplitAroundMatches(prefixed.text, Gpt2Pattern().FindAll(prefixed.text),
                                                SplitBehavior::kIsolated, false));
      } else if (!prefixed.text.empty()) {
        out.push_back(std::move(prefixed));
      }
      for (size_t i = first; i < out.size(); ++i) {
        std::string mapped;
        mapped.reserve(out[i].text.size() * 2);
        for (char c : out[i].text) mapped += ByteLevelCharacter(static_cast<unsigned char>(c));
        out[i].text = std::move(mapped);
      }
      return;
    }
    case Kind::kMetaspace: {
      const MetaspaceSettings& settings = step.metaspace;
      TextPiece replaced{ReplaceSpaces(piece.text, settings.replacement), piece.at_input_start};
      bool starts_with_replacement = replaced.text.rfind(settings.replacement, 0) == 0;
      bool prepend = !starts_with_replacement &&
                     (settings.prepend_scheme == MetaspacePrependScheme::kAlways ||
                      (settings.prepend_scheme == MetaspacePrependScheme::kFirst && piece.at_input_start));
      if (prepend) replaced.text = settings.replacement + replaced.text;
      if (settings.split) {
        TextPattern delimiter = TextPattern::Literal(settings.replacement);
        emit_spans(replaced, SplitAroundMatches(replaced.text, delimiter.FindAll(replaced.text),
                                                SplitBehavior::kMergedWithNext, false));
      } else if (!replaced.text.empty()) {
        out.push_back(std::move(replaced));
      }
      return;
    }
  }
}

}  // namespace gradients::text
