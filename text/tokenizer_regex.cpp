#include "text/tokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "text/tokenizer_unicode.h"

namespace gradients::text {
namespace {

// Backtracking bounds: a pathological pattern gives up instead of hanging an encode.
constexpr uint32_t kMatchLimit = 10'000'000;
constexpr uint32_t kDepthLimit = 100'000;
constexpr size_t kJitStackMaxBytes = 4 << 20;

// Per-thread matching state: PCRE2 match data, a match context with limits, and a JIT stack,
// none of which may be shared by threads matching at the same time.
class MatchState {
 public:
  MatchState() {
    match_data_ = pcre2_match_data_create(16, nullptr);
    context_ = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(context_, kMatchLimit);
    pcre2_set_depth_limit(context_, kDepthLimit);
    jit_stack_ = pcre2_jit_stack_create(32 << 10, kJitStackMaxBytes, nullptr);
    if (jit_stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
  }
  ~MatchState() {
    pcre2_jit_stack_free(jit_stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(match_data_);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;

  pcre2_match_data* match_data() { return match_data_; }
  pcre2_match_context* context() { return context_; }

 private:
  pcre2_match_data* match_data_ = nullptr;
  pcre2_match_context* context_ = nullptr;
  pcre2_jit_stack* jit_stack_ = nullptr;
};

MatchState& ThreadMatchState() {
  thread_local MatchState state;
  return state;
}

}  // namespace

struct TextPattern::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

std::string RewriteWhitespaceClasses(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out.push_back(pattern[i]);
      continue;
    }
    char escaped = pattern[i + 1];
    if (escaped == 's') {
      out += "\\p{White_Space}";
    } else if (escaped == 'S') {
      out += "\\P{White_Space}";
    } else {
      out.push_back('\\');
      out.push_back(escaped);
    }
    ++i;
  }
  return out;
}

TextPattern TextPattern::Literal(std::string text) {
  TextPattern pattern;
  pattern.literal_ = std::move(text);
  return pattern;
}

common::Result<TextPattern> TextPattern::Regex(std::string_view pattern) {
  std::string rewritten = RewriteWhitespaceClasses(pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return common::Status::InvalidArgument("invalid regex: " + std::string(reinterpret_cast<char*>(message)));
  }
  // Without JIT (unsupported CPU) the interpreter gives the same matches, only slower.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  auto compiled = std::make_shared<Compiled>();
  compiled->code = code;
  TextPattern result;
  result.regex_ = std::move(compiled);
  return result;
}

std::vector<TextSpan> TextPattern::FindAll(std::string_view text) const {
  std::vector<TextSpan> matches;
  if (!regex_) {
    if (literal_.empty()) return matches;
    for (size_t pos = text.find(literal_); pos != std::string_view::npos;
         pos = text.find(literal_, pos + literal_.size())) {
      matches.push_back({pos, pos + literal_.size()});
    }
    return matches;
  }
  MatchState& state = ThreadMatchState();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  bool previous_match_ended_here = false;
  while (start <= text.size()) {
    int rc = pcre2_match(regex_->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, state.match_data(),
                         state.context());
    if (rc < 0) break;  // no match, or the engine gave up: the rest is unmatched
    PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.match_data());
    size_t begin = ovector[0], end = ovector[1];
    bool empty = begin == end;
    if (!(empty && previous_match_ended_here && begin == start)) matches.push_back({begin, end});
    if (empty) {
      if (end >= text.size()) break;
      start = end + Utf8SequenceLength(static_cast<unsigned char>(text[end]));
      previous_match_ended_here = false;
    } else {
      start = end;
      previous_match_ended_here = true;
    }
  }
  return matches;
}

std::string TextPattern::ReplaceAll(std::string_view text, std::string_view replacement) const {
  std::string out;
  size_t copied = 0;
  for (const TextSpan& match : FindAll(text)) {
    out.append(text.substr(copied, match.begin - copied));
    out.append(replacement);
    copied = match.end;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace gradients::text
