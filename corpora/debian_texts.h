// Readers for text that Debian packages install: WordNet's synsets (package wordnet-base,
// /usr/share/wordnet), fortune cookies (package fortunes, /usr/share/games/fortunes), the
// countries and currencies of miscfiles (/usr/share/misc) and FreeDict's English dictionaries
// (packages dict-freedict-eng-*, /usr/share/dictd). The local testnet pretrains its base model
// and makes its task from them; the market benchmark makes its task families from them too.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace gradients::corpora {

inline constexpr char kWordnetDir[] = "/usr/share/wordnet";
inline constexpr char kFortunesDir[] = "/usr/share/games/fortunes";
inline constexpr char kMiscfilesDir[] = "/usr/share/misc";
inline constexpr char kFreedictDir[] = "/usr/share/dictd";

// One WordNet synset: the words that share a sense, the sense's definition and its example
// sentences. Words have WordNet's underscores turned into spaces and adjective markers
// ("galore(ip)") removed.
struct WordnetSynset {
  std::string offset;          // the synset's byte offset in its data file: its id within a part of speech
  std::string part_of_speech;  // "noun", "verb", "adjective" or "adverb"
  std::vector<std::string> words;
  std::string definition;
  std::vector<std::string> examples;
};

// The synsets of `data.<noun|verb|adj|adv>` in `wordnet_dir`, in file order. `part_of_speech` is
// "noun", "verb", "adjective" or "adverb". A line that does not parse is an error naming the file
// and line.
common::Result<std::vector<WordnetSynset>> ReadWordnetSynsets(const std::filesystem::path& wordnet_dir,
                                                      const std::string& part_of_speech);

// Every fortune of the fortune files in `fortunes_dir` (the files without an extension; the
// `.dat` indexes and `.u8` links are skipped), files in name order, each fortune with its lines
// kept and surrounding blank lines trimmed. Fortunes that are not valid UTF-8 are skipped.
common::Result<std::vector<std::string>> ReadFortunes(const std::filesystem::path& fortunes_dir);

// A country of miscfiles' ISO 3166 list, with its capital and its currency where each is one
// clear answer.
struct Country {
  std::string number;  // ISO 3166's three-digit code
  std::string alpha2;  // "FR"; empty for the few entries that have no ISO code (Channel Islands)
  std::string name;
  std::string capital;  // empty where the list names none or several ("Pretoria (official), ...")
  // The ISO 4217 currency numbered as the country is; empty where none is. As of miscfiles' list,
  // which predates the euro's later members (Estonia's is the kroon).
  std::string currency;
};

// The countries of `countries.gz` in `misc_dir` (lines "number:alpha-2:alpha-3:name:capital"),
// in file order, each with the currency of `currency.gz` (lines "code:number:name") whose ISO 4217
// number is the country's: ISO 4217 numbers a national currency after its country, so shared
// currencies (the euro, CFA francs) and funds (BOV, USN) belong to no country. Files are read
// with zlib, which reads a file that is not gzip'd as it is. A line that does not parse is an
// error naming the file and line.
common::Result<std::vector<Country>> ReadCountries(const std::filesystem::path& misc_dir);

// An English word and its translation.
struct WordTranslation {
  std::string word;  // as the dictionary writes it: "house", "Abkhazia"
  std::string translation;
};

// The English words of FreeDict's `freedict-eng-<language>` dictionary in `dictd_dir` (the dictd
// `.index` and the dictzip'd `.dict.dz`; `language` is "fra", "deu", "spa", ...) that have one
// clear translation, in index order: the first translation of a headword of ASCII letters alone
// with one entry and one sense, without its grammar tags and usage labels ("<fem>", "[Am.]").
// Headwords of several words, entries or numbered senses, and translations that are the word
// itself, run past three words or hold anything but letters, spaces, hyphens and apostrophes
// ("jdn. (wegen etw.) einsperren") are skipped. An index line that does not parse or
// points past the end of the dictionary is an error naming the file and line.
common::Result<std::vector<WordTranslation>> ReadFreedictTranslations(const std::filesystem::path& dictd_dir,
                                                              const std::string& language);

}  // namespace gradients::corpora
