#include "cli/tokenize_command.h"

#include <string>

#include <nlohmann/json.hpp>

#include "common/strict_json.h"
#include "text/tokenizer.h"

namespace gradients::cli {
namespace {

// A line longer than this is refused rather than encoded.
constexpr size_t kMaxLineBytes = 64 << 20;

}  // namespace

int RunTokenize(const std::filesystem::path& tokenizer_path, bool add_special, std::istream& in, std::ostream& out,
                std::ostream& err) {
  common::Result<std::unique_ptr<text::Tokenizer>> tokenizer = text::LoadTokenizer(tokenizer_path);
  if (!tokenizer.ok()) {
    err << tokenizer.status().message() << "\n";
    return 1;
  }
  std::string line;
  for (size_t line_number = 1; std::getline(in, line); ++line_number) {
    const std::string where = "line " + std::to_string(line_number) + ": ";
    if (line.size() > kMaxLineBytes) {
      err << where << "longer than " << kMaxLineBytes << " bytes\n";
      return 1;
    }
    common::Result<nlohmann::json> json = common::ParseStrictJson(line);
    if (!json.ok()) {
      err << where << json.status().message() << "\n";
      return 1;
    }
    if (!json->is_string()) {
      err << where << "expected a JSON string, got " << common::JsonSnippet(*json) << "\n";
      return 1;
    }
    out << nlohmann::json((*tokenizer)->Encode(json->get_ref<const std::string&>(), add_special)).dump() << "\n";
  }
  if (in.bad()) {
    err << "reading the input failed\n";
    return 1;
  }
  return 0;
}

}  // namespace gradients::cli
