#include "corpora/debian_texts.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "common/utf8.h"

namespace gradients::corpora {
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

// The lines of `text`, without their '\n' or "\r\n".
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return lines;
}

std::vector<std::string_view> SplitOn(std::string_view text, char separator) {
  std::vector<std::string_view> fields;
  for (size_t end = text.find(separator); end != std::string_view::npos; end = text.find(separator)) {
    fields.push_back(text.substr(0, end));
    text.remove_prefix(end + 1);
  }
  fields.push_back(text);
  return fields;
}

bool IsDigits(std::string_view text, size_t count) {
  return text.size() == count && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string AsciiLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

// The whole of a gzip'd file (dictzip is gzip too); zlib reads a file that is not gzip'd as it is.
// `source` says what the file is and which package installs it, for the error.
common::Result<std::string> ReadGzipFile(const std::filesystem::path& path, const std::string& source) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return common::Status::NotFound("cannot read " + path.string() + " (" + source + ")");
  gzbuffer(file, 1 << 17);
  std::string text;
  std::vector<char> buffer(1 << 17);
  int count = 0;
  while ((count = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) {
    text.append(buffer.data(), count);
  }
  int error = Z_OK;
  const std::string why = count < 0 ? gzerror(file, &error) : "";
  const int closed = gzclose(file);  // Z_BUF_ERROR: the file ends inside a gzip stream
  if (count < 0) return common::Status::DataLoss(path.string() + ": " + why);
  if (closed != Z_OK) return common::Status::DataLoss(path.string() + ": truncated gzip data");
  return text;
}

// A dictd index number: base64 digits (A-Z a-z 0-9 + /), most significant first.
std::optional<uint64_t> DecodeDictdNumber(std::string_view digits) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (digits.empty() || digits.size() > 10) return std::nullopt;  // 10 digits: 60 bits
  uint64_t value = 0;
  for (char digit : digits) {
    const size_t at = kAlphabet.find(digit);
    if (at == std::string_view::npos) return std::nullopt;
    value = value * 64 + at;
  }
  return value;
}

// `text` without its "<...>" grammar tags and "[...]" usage labels, with runs of spaces made one.
std::string WithoutAnnotations(std::string_view text) {
  std::string kept;
  char closing = 0;
  for (char c : text) {
    if (closing != 0) {
      if (c == closing) closing = 0;
    } else if (c == '<' || c == '[') {
      closing = c == '<' ? '>' : ']';
    } else if (c != ' ' || (!kept.empty() && kept.back() != ' ')) {
      kept += c;
    }
  }
  return Trim(kept);
}

// Letters (ASCII, or Latin ones with diacritics: U+00C0 to U+024F but for x and the division
// sign), spaces, hyphens and apostrophes, beginning and ending with a letter, in at most three
// words: a translation, not an explanation.
bool IsCleanTranslation(std::string_view text) {
  if (text.empty() || text.front() == ' ' || text.front() == '-' || text.front() == '\'') return false;
  if (text.back() == ' ' || text.back() == '-' || text.back() == '\'') return false;
  if (std::count(text.begin(), text.end(), ' ') > 2) return false;
  for (size_t i = 0; i < text.size();) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      if (!IsAsciiLetter(text[i]) && text[i] != ' ' && text[i] != '-' && text[i] != '\'') return false;
      ++i;
      continue;
    }
    size_t bad = 0;
    if (common::WellFormedUtf8Length(text, i, &bad) != 2) return false;
    const char32_t code = (char32_t{lead} & 0x1F) << 6 | (static_cast<unsigned char>(text[i + 1]) & 0x3F);
    if (code < 0xC0 || code > 0x24F || code == 0xD7 || code == 0xF7) return false;
    i += 2;
  }
  return true;
}

struct DictdEntry {
  std::string_view headword;  // as the index writes it: lower case
  uint64_t offset = 0;
  uint64_t length = 0;
};

// The word and the one clear translation of a dictionary entry ("house /haus/\nmaison\n"), or
// nullopt when it has none: its first line must be `headword` itself (not an abbreviation's
// expansion, "computed axial tomography ... (CAT)"), its second line one sense, whose first
// translation must be clean.
std::optional<WordTranslation> ClearTranslation(std::string_view entry, std::string_view headword) {
  const std::vector<std::string_view> lines = SplitLines(entry);
  if (lines.size() < 2) return std::nullopt;
  WordTranslation pair;
  pair.word = lines[0].substr(0, lines[0].find(' '));
  if (AsciiLower(pair.word) != headword) return std::nullopt;
  std::string_view senses = lines[1];
  senses.remove_prefix(std::min(senses.find_first_not_of(' '), senses.size()));
  const size_t digits = std::min(senses.find_first_not_of("0123456789"), senses.size());
  if (digits > 0 && senses.substr(digits).starts_with('.')) return std::nullopt;  // "1. chat\n2. ...": numbered
  const std::string sense = WithoutAnnotations(senses);
  pair.translation = Trim(std::string_view(sense).substr(0, sense.find_first_of(",;")));
  if (!IsCleanTranslation(pair.translation) || AsciiLower(pair.translation) == headword) return std::nullopt;
  return pair;
}

}  // namespace

common::Result<std::vector<WordnetSynset>> ReadWordnetSynsets(const std::filesystem::path& wordnet_dir,
                                                      const std::string& part_of_speech) {
  const auto suffix = DataFileSuffixes().find(part_of_speech);
  if (suffix == DataFileSuffixes().end()) {
    return common::Status::InvalidArgument("WordNet part of speech must be noun, verb, adjective or adverb, got \"" +
                                   part_of_speech + "\"");
  }
  const std::filesystem::path path = wordnet_dir / ("data." + suffix->second);
  std::ifstream file(path);
  if (!file) {
    return common::Status::NotFound("cannot read " + path.string() + " (WordNet's data; Debian package wordnet-base)");
  }
  std::vector<WordnetSynset> synsets;
  std::string line;
  for (int64_t number = 1; std::getline(file, line); ++number) {
    if (line.starts_with("  ")) continue;  // the license header
    if (!common::IsValidUtf8(line)) {
      return common::Status::InvalidArgument(path.string() + ": line " + std::to_string(number) + ": not UTF-8 text");
    }
    auto bad = [&](const std::string& why) {
      return common::Status::InvalidArgument(path.string() + ": line " + std::to_string(number) + ": " + why);
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
  if (synsets.empty()) return common::Status::InvalidArgument(path.string() + ": no synsets");
  return synsets;
}

common::Result<std::vector<std::string>> ReadFortunes(const std::filesystem::path& fortunes_dir) {
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(fortunes_dir, error)) {
    if (entry.is_regular_file() && !entry.path().has_extension()) files.push_back(entry.path());
  }
  if (error) {
    return common::Status::NotFound("cannot list " + fortunes_dir.string() +
                            " (fortune files; Debian package fortunes): " + error.message());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> fortunes;
  for (const std::filesystem::path& path : files) {
    std::ifstream file(path);
    if (!file) return common::Status::IoError("cannot read " + path.string());
    std::string fortune, line;
    auto finish = [&] {
      if (std::string text = Trim(fortune); !text.empty() && common::IsValidUtf8(text)) fortunes.push_back(std::move(text));
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
  if (fortunes.empty()) return common::Status::NotFound("no fortunes in " + fortunes_dir.string());
  return fortunes;
}

common::Result<std::vector<Country>> ReadCountries(const std::filesystem::path& misc_dir) {
  const std::filesystem::path currency_path = misc_dir / "currency.gz";
  common::Result<std::string> currency_text = ReadGzipFile(currency_path, "ISO 4217 currencies; Debian package miscfiles");
  if (!currency_text.ok()) return currency_text.status();
  // Currency names by ISO 4217 number; "" where two currencies share a number.
  std::map<std::string, std::string, std::less<>> currencies;
  const std::vector<std::string_view> currency_lines = SplitLines(*currency_text);
  for (size_t number = 1; number <= currency_lines.size(); ++number) {
    const std::string_view line = currency_lines[number - 1];
    if (line.empty() || line.starts_with('#')) continue;
    auto bad = [&](const std::string& why) {
      return common::Status::InvalidArgument(currency_path.string() + ": line " + std::to_string(number) + ": " + why);
    };
    if (!common::IsValidUtf8(line)) return bad("not UTF-8 text");
    const std::vector<std::string_view> fields = SplitOn(line, ':');
    if (fields.size() != 3) return bad("expected code:number:name, got " + std::to_string(fields.size()) + " fields");
    if (!IsDigits(fields[1], 3)) return bad("currency number \"" + std::string(fields[1]) + "\" is not three digits");
    const std::string name = Trim(fields[2]);
    if (name.empty()) return bad("no currency name");
    if (auto [at, added] = currencies.emplace(fields[1], name); !added && at->second != name) at->second.clear();
  }

  const std::filesystem::path countries_path = misc_dir / "countries.gz";
  common::Result<std::string> countries_text = ReadGzipFile(countries_path, "ISO 3166 countries; Debian package miscfiles");
  if (!countries_text.ok()) return countries_text.status();
  std::vector<Country> countries;
  const std::vector<std::string_view> country_lines = SplitLines(*countries_text);
  for (size_t number = 1; number <= country_lines.size(); ++number) {
    const std::string_view line = country_lines[number - 1];
    if (line.empty() || line.starts_with('#')) continue;
    auto bad = [&](const std::string& why) {
      return common::Status::InvalidArgument(countries_path.string() + ": line " + std::to_string(number) + ": " + why);
    };
    if (!common::IsValidUtf8(line)) return bad("not UTF-8 text");
    const std::vector<std::string_view> fields = SplitOn(line, ':');
    if (fields.size() != 5) {
      return bad("expected number:alpha-2:alpha-3:name:capital, got " + std::to_string(fields.size()) + " fields");
    }
    if (!IsDigits(fields[0], 3)) return bad("country number \"" + std::string(fields[0]) + "\" is not three digits");
    const std::string_view alpha2 = fields[1];
    if (!alpha2.empty() && (alpha2.size() != 2 || !std::all_of(alpha2.begin(), alpha2.end(), IsAsciiLetter))) {
      return bad("alpha-2 code \"" + std::string(alpha2) + "\" is not two letters");
    }
    Country country;
    country.number = fields[0];
    country.alpha2 = alpha2;
    country.name = Trim(fields[3]);
    if (country.name.empty()) return bad("no country name");
    country.capital = Trim(fields[4]);
    if (country.capital.find('(') != std::string::npos) country.capital.clear();  // "Sucre (legal capital), ..."
    if (const auto currency = currencies.find(country.number); currency != currencies.end()) {
      country.currency = currency->second;
    }
    countries.push_back(std::move(country));
  }
  if (countries.empty()) return common::Status::InvalidArgument(countries_path.string() + ": no countries");
  return countries;
}

common::Result<std::vector<WordTranslation>> ReadFreedictTranslations(const std::filesystem::path& dictd_dir,
                                                              const std::string& language) {
  if (language.empty() || !std::all_of(language.begin(), language.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return common::Status::InvalidArgument("FreeDict language must be a code like \"fra\", got \"" + language + "\"");
  }
  const std::string name = "freedict-eng-" + language;
  const std::string source = "FreeDict's English-" + language + " dictionary; Debian package dict-" + name;
  const std::filesystem::path index_path = dictd_dir / (name + ".index");
  const std::filesystem::path dict_path = dictd_dir / (name + ".dict.dz");
  common::Result<std::string> index_text = ReadGzipFile(index_path, source);
  if (!index_text.ok()) return index_text.status();
  common::Result<std::string> dict = ReadGzipFile(dict_path, source);
  if (!dict.ok()) return dict.status();

  const std::vector<std::string_view> index_lines = SplitLines(*index_text);
  if (index_lines.empty()) return common::Status::InvalidArgument(index_path.string() + ": no entries");
  std::vector<DictdEntry> entries;  // of the headwords of one word
  std::unordered_map<std::string_view, size_t> entries_per_headword;
  for (size_t number = 1; number <= index_lines.size(); ++number) {
    auto bad = [&](const std::string& why) {
      return common::Status::InvalidArgument(index_path.string() + ": line " + std::to_string(number) + ": " + why);
    };
    const std::vector<std::string_view> fields = SplitOn(index_lines[number - 1], '\t');
    if (fields.size() < 3) return bad("expected headword, offset and length separated by tabs");
    const std::optional<uint64_t> offset = DecodeDictdNumber(fields[1]);
    const std::optional<uint64_t> length = DecodeDictdNumber(fields[2]);
    if (!offset || !length) {
      return bad("offset \"" + std::string(fields[1]) + "\" or length \"" + std::string(fields[2]) +
                 "\" is not a dictd base64 number");
    }
    if (*offset > dict->size() || *length > dict->size() - *offset) {
      return bad("entry ends past the end of " + dict_path.filename().string() + " (" + std::to_string(dict->size()) +
                 " bytes)");
    }
    // Skips dictd's metadata ("00databaseinfo") and the headwords of several words.
    if (fields[0].empty() || !std::all_of(fields[0].begin(), fields[0].end(), IsAsciiLetter)) continue;
    entries.push_back({fields[0], *offset, *length});
    ++entries_per_headword[fields[0]];
  }

  std::vector<WordTranslation> translations;
  for (const DictdEntry& entry : entries) {
    if (entries_per_headword[entry.headword] != 1) continue;
    std::optional<WordTranslation> translation =
        ClearTranslation(std::string_view(*dict).substr(entry.offset, entry.length), entry.headword);
    if (translation) translations.push_back(std::move(*translation));
  }
  return translations;
}

}  // namespace gradients::corpora
