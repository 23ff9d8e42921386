#include "corpora/debian_texts.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "common/utf8.h"

namespace gradients {
namespace {

const std::map<std::string, std::string>& DataFileSuffixes() {
  static const std::map<std::string, std::string> suffixes = {
      {"noun", "noun"}, {"verb", "verb"}, {"adjective", "adj"}, {"adverb", "adv"}};
  return suffixes;
}

std::vector<std::string> SplitOnSpaces(const std::string& text) {
  std::vector<std::string> tokens;
  std::istringstream stream(text);
  for (std::string token; stream >> token;) tokens.push_back(token);
  return tokens;
}

std::string Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  const size_t end = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(begin, end - begin + 1));
}

// "laying_waste" -> "laying waste"; "galore(ip)" -> "galore" (an adjective's syntactic marker).
std::string ReadableWord(std::string word) {
  for (const char* marker : {"(a)", "(p)", "(ip)"}) {
    if (word.ends_with(marker)) word.resize(word.size() - std::string_view(marker).size());
  }
  std::replace(word.begin(), word.end(), '_', ' ');
  return word;
}

// Where the next example begins: a ';' followed by optional spaces and a '"'; the position of the
// '"', or npos.
size_t NextExampleQuote(std::string_view gloss, size_t from) {
  for (size_t semicolon = gloss.find(';', from); semicolon != std::string_view::npos;
       semicolon = gloss.find(';', semicolon + 1)) {
    const size_t quote = gloss.find_first_not_of(' ', semicolon + 1);
    if (quote != std::string_view::npos && gloss[quote] == '"') return quote;
  }
  return std::string_view::npos;
}

// The gloss after "| ": the definition, then example sentences in double quotes, each after a ';'.
void ParseGloss(std::string_view gloss, WordnetSynset& synset) {
  size_t quote = NextExampleQuote(gloss, 0);
  const size_t definition_end = quote == std::string_view::npos ? gloss.size() : gloss.rfind(';', quote);
  synset.definition = Trim(gloss.substr(0, definition_end));
  while (quote != std::string_view::npos) {
    const size_t close = gloss.find('"', quote + 1);
    if (close == std::string_view::npos) break;  // an unbalanced quote: the rest is not an example
    if (std::string example = Trim(gloss.substr(quote + 1, close - quote - 1)); !example.empty()) {
      synset.examples.push_back(std::move(example));
    }
    quote = NextExampleQuote(gloss, close + 1);
  }
  while (!synset.definition.empty() && (synset.definition.back() == ';' || synset.definition.back() == ' ')) {
    synset.definition.pop_back();
  }
}

}  // namespace

Result<std::vector<WordnetSynset>> ReadWordnetSynsets(const std::filesystem::path& wordnet_dir,
                                                      const std::string& part_of_speech) {
  const auto suffix = DataFileSuffixes().find(part_of_speech);
  if (suffix == DataFileSuffixes().end()) {
    return Status::InvalidArgument("WordNet part of speech must be noun, verb, adjective or adverb, got \"" +
                                   part_of_speech + "\"");
  }
  const std::filesystem::path path = wordnet_dir / ("data." + suffix->second);
  std::ifstream file(path);
  if (!file) {
    return Status::NotFound("cannot read " + path.string() + " (WordNet's data; Debian package wordnet-base)");
  }
  std::vector<WordnetSynset> synsets;
  std::string line;
  for (int64_t number = 1; std::getline(file, line); ++number) {
    if (line.starts_with("  ")) continue;  // the license header
    if (!IsValidUtf8(line)) {
      return Status::InvalidArgument(path.string() + ": line " + std::to_string(number) + ": not UTF-8 text");
    }
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument(path.string() + ": line " + std::to_string(number) + ": " + why);
    };
    const size_t bar = line.find(" | ");
    if (bar == std::string::npos) return bad("no gloss (\" | \")");
    const std::vector<std::string> fields = SplitOnSpaces(line.substr(0, bar));
    if (fields.size() < 6) return bad("too few fields");
    size_t word_count = 0;
    const auto [end, error] = std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), word_count, 16);
    if (error != std::errc() || end != fields[3].data() + fields[3].size()) {
      return bad("word count \"" + fields[3] + "\" is not hexadecimal");
    }
    if (word_count == 0 || fields.size() < 4 + 2 * word_count) return bad("word count " + fields[3] + " out of range");
    WordnetSynset synset;
    synset.offset = fields[0];
    synset.part_of_speech = part_of_speech;
    for (size_t i = 0; i < word_count; ++i) synset.words.push_back(ReadableWord(fields[4 + 2 * i]));
    ParseGloss(std::string_view(line).substr(bar + 3), synset);
    if (synset.definition.empty()) return bad("empty definition");
    synsets.push_back(std::move(synset));
  }
  if (synsets.empty()) return Status::InvalidArgument(path.string() + ": no synsets");
  return synsets;
}

Result<std::vector<std::string>> ReadFortunes(const std::filesystem::path& fortunes_dir) {
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(fortunes_dir, error)) {
    if (entry.is_regular_file() && !entry.path().has_extension()) files.push_back(entry.path());
  }
  if (error) {
    return Status::NotFound("cannot list " + fortunes_dir.string() +
                            " (fortune files; Debian package fortunes): " + error.message());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> fortunes;
  for (const std::filesystem::path& path : files) {
    std::ifstream file(path);
    if (!file) return Status::IoError("cannot read " + path.string());
    std::string fortune, line;
    auto finish = [&] {
      if (std::string text = Trim(fortune); !text.empty() && IsValidUtf8(text)) fortunes.push_back(std::move(text));
      fortune.clear();
    };
    while (std::getline(file, line)) {
      if (line.ends_with('\r')) line.pop_back();
      if (line == "%") {
        finish();
      } else {
        fortune += line;
        fortune += '\n';
      }
    }
    finish();
  }
  if (fortunes.empty()) return Status::NotFound("no fortunes in " + fortunes_dir.string());
  return fortunes;
}

}  // namespace gradients
