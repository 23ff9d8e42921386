// Readers for text that Debian packages install: WordNet's synsets (package wordnet-base,
// /usr/share/wordnet) and fortune cookies (package fortunes, /usr/share/games/fortunes). The
// local testnet pretrains its base model and makes its task from them; the market benchmark
// makes its task families from them too.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace gradients {

inline constexpr char kWordnetDir[] = "/usr/share/wordnet";
inline constexpr char kFortunesDir[] = "/usr/share/games/fortunes";

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
Result<std::vector<WordnetSynset>> ReadWordnetSynsets(const std::filesystem::path& wordnet_dir,
                                                      const std::string& part_of_speech);

// Every fortune of the fortune files in `fortunes_dir` (the files without an extension; the
// `.dat` indexes and `.u8` links are skipped), files in name order, each fortune with its lines
// kept and surrounding blank lines trimmed. Fortunes that are not valid UTF-8 are skipped.
Result<std::vector<std::string>> ReadFortunes(const std::filesystem::path& fortunes_dir);

}  // namespace gradients
