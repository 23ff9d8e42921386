// `gradients tokenize TOKENIZER`: encodes text with a model's tokenizer (tokenizer.json,
// tokenizer.model, or a model directory), to check what a dataset becomes.
#pragma once

#include <filesystem>
#include <istream>
#include <ostream>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

// Reads `in` one JSON string per line and writes, per line, the JSON array of its ids to `out`
// (with the BOS/EOS the tokenizer adds when `add_special`). Returns 0 when every line encoded;
// otherwise writes the reason to `err` (a bad line is named by its 1-based number), stops, and
// returns 1.
int RunTokenize(const std::filesystem::path& tokenizer_path, bool add_special, std::istream& in, std::ostream& out,
                std::ostream& err);

// Declares `gradients tokenize` on `app`: stdin to stdout, from its CLI11 callback, ending with its
// exit code.
void AddTokenizeCommand(CLI::App& app);

}  // namespace gradients::cli
