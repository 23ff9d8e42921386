#include "cli/tokenize_command.h"

#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
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

void AddTokenizeCommand(CLI::App& app) {
  auto tokenizer_path = std::make_shared<std::string>();
  auto add_special = std::make_shared<bool>(false);
  CLI::App* tokenize =
      app.add_subcommand("tokenize", "Encode stdin (one JSON string per line) to token ids (one JSON array per line)");
  tokenize->add_option("--tokenizer", *tokenizer_path, "tokenizer.json, tokenizer.model or a model directory")
      ->required();
  tokenize->add_flag("--add-special", *add_special, "Add what the tokenizer's post-processor adds (BOS/EOS)");
  tokenize->callback([tokenizer_path, add_special] {
    ExitWith(RunTokenize(*tokenizer_path, *add_special, std::cin, std::cout, std::cerr));
  });
}

}  // namespace gradients::cli
