// Fuzzes the parsers of operator- and miner-supplied dataset text: CSV records, prompt
// templates, and chat message lists (JSON, strictly parsed). Accepted input must be consistent:
// a CSV record re-encoded and re-read gives the same fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/strict_json.h"
#include "text/chat_template.h"
#include "text/csv.h"
#include "text/prompt_template.h"

namespace {

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

void FuzzCsv(std::string_view text) {
  gradients::text::CsvReader reader(text, 1 << 16);
  std::vector<std::string> fields;
  for (int records = 0; records < 64; ++records) {
    gradients::common::Result<bool> more = reader.Next(fields);
    if (!more.ok() || !*more) return;
    std::string encoded;
    gradients::text::AppendCsvRecord(fields, encoded);
    gradients::text::CsvReader again(encoded, 1 << 20);
    std::vector<std::string> reread;
    gradients::common::Result<bool> got = again.Next(reread);
    Require(got.ok() && *got && reread == fields);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the parser, so one corpus covers all three.
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzCsv(text);
      break;
    case 1:
      (void)gradients::text::PromptTemplate::Parse(text);
      break;
    default: {
      auto json = gradients::common::ParseStrictJson(text, {.max_depth = 8});
      if (json.ok()) (void)gradients::text::ParseChatMessages(*json);
      break;
    }
  }
  return 0;
}
