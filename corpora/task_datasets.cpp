#include "corpora/task_datasets.h"

#include <algorithm>
#include <set>

#include "common/digest.h"
#include "common/durable_file.h"
#include "corpora/synthetic_tasks.h"

namespace gradients::corpora {
namespace {

std::string JoinWords(const std::vector<std::string>& words) {
  std::string joined;
  for (const std::string& word : words) joined += (joined.empty() ? "" : ", ") + word;
  return joined;
}

// The first `rows` (all when 0) of `items` in the seed's order.
template <typename T>
std::vector<T> TakeInSeedOrder(const std::vector<T>& items, const std::vector<std::string>& keys,
                               const CorpusOptions& options) {
  std::vector<T> taken;
  for (size_t index : OrderBySeed(keys, options.seed)) {
    if (options.rows != 0 && taken.size() == options.rows) break;
    taken.push_back(items[index]);
  }
  return taken;
}

common::Result<std::vector<nlohmann::json>> PretrainingText(const CorpusOptions& options) {
  common::Result<std::vector<std::string>> fortunes = ReadFortunes(options.fortunes_dir);
  if (!fortunes.ok()) return fortunes.status();
  std::vector<std::string> documents = *fortunes;
  for (const char* part : {"verb", "adjective", "adverb"}) {
    common::Result<std::vector<WordnetSynset>> synsets = ReadWordnetSynsets(options.wordnet_dir, part);
    if (!synsets.ok()) return synsets.status();
    for (const WordnetSynset& synset : *synsets) {
      std::string document = JoinWords(synset.words) + ": " + synset.definition + ".";
      for (const std::string& example : synset.examples) document += " " + example + ".";
      documents.push_back(std::move(document));
    }
  }
  std::vector<nlohmann::json> rows;
  for (std::string& document : TakeInSeedOrder(documents, documents, options)) {
    rows.push_back({{"text", std::move(document)}});
  }
  return rows;
}

common::Result<std::vector<nlohmann::json>> WordnetDefinitions(const CorpusOptions& options) {
  common::Result<std::vector<WordnetSynset>> synsets = ReadWordnetSynsets(options.wordnet_dir, "noun");
  if (!synsets.ok()) return synsets.status();
  std::vector<std::string> keys;
  for (const WordnetSynset& synset : *synsets) keys.push_back(synset.offset);
  // One sense per word, the first in the seed's order: a question with one right answer.
  std::set<std::string> words_taken;
  std::vector<nlohmann::json> rows;
  for (size_t index : OrderBySeed(keys, options.seed)) {
    if (options.rows != 0 && rows.size() == options.rows) break;
    const WordnetSynset& synset = (*synsets)[index];
    const std::string& word = synset.words.front();
    if (!words_taken.insert(word).second) continue;
    rows.push_back({{"instruction", "Define the noun \"" + word + "\"."}, {"output", synset.definition}});
  }
  return rows;
}

// Each country's capital, currency and ISO code where the list gives one: the question kinds mixed.
common::Result<std::vector<nlohmann::json>> CountryFacts(const CorpusOptions& options) {
  common::Result<std::vector<Country>> countries = ReadCountries(options.miscfiles_dir);
  if (!countries.ok()) return countries.status();
  std::vector<nlohmann::json> facts;
  std::vector<std::string> keys;
  auto add = [&](const std::string& kind, const std::string& country, const std::string& question,
                 const std::string& answer) {
    if (answer.empty()) return;
    keys.push_back(kind + ":" + country);
    facts.push_back({{"instruction", question}, {"output", answer}});
  };
  for (const Country& country : *countries) {
    add("capital", country.name, "What is the capital of " + country.name + "?", country.capital);
    add("currency", country.name, "What is the currency of " + country.name + "?", country.currency);
    add("alpha-2", country.name, "What is the two-letter ISO 3166 code of " + country.name + "?", country.alpha2);
  }
  return TakeInSeedOrder(facts, keys, options);
}

// Rows in rounds: round r holds each language's r-th word in the seed's order, in the seed's order
// too, so that any first rows mix the languages evenly (FreeDict's English-German dictionary has
// ten times the words of the others) until the smaller dictionaries run out.
common::Result<std::vector<nlohmann::json>> WordTranslations(const CorpusOptions& options) {
  struct Language {
    const char* code;
    const char* name;
  };
  std::vector<std::vector<nlohmann::json>> rows_by_language;
  std::vector<std::vector<std::string>> keys_by_language;
  for (const Language language : {Language{"fra", "French"}, Language{"deu", "German"}, Language{"spa", "Spanish"}}) {
    common::Result<std::vector<WordTranslation>> translations = ReadFreedictTranslations(options.freedict_dir, language.code);
    if (!translations.ok()) return translations.status();
    std::vector<nlohmann::json> rows;
    std::vector<std::string> keys;
    for (const WordTranslation& pair : *translations) {
      rows.push_back({{"instruction", "Translate the English word \"" + pair.word + "\" into " + language.name + "."},
                      {"output", pair.translation}});
      keys.push_back(std::string(language.code) + ":" + pair.word);
    }
    std::vector<nlohmann::json> ordered_rows;
    std::vector<std::string> ordered_keys;
    for (size_t index : OrderBySeed(keys, options.seed)) {
      ordered_rows.push_back(std::move(rows[index]));
      ordered_keys.push_back(std::move(keys[index]));
    }
    rows_by_language.push_back(std::move(ordered_rows));
    keys_by_language.push_back(std::move(ordered_keys));
  }
  std::vector<nlohmann::json> taken;
  for (size_t round = 0;; ++round) {
    std::vector<nlohmann::json> round_rows;
    std::vector<std::string> round_keys;
    for (size_t language = 0; language < rows_by_language.size(); ++language) {
      if (round >= rows_by_language[language].size()) continue;
      round_rows.push_back(rows_by_language[language][round]);
      round_keys.push_back(keys_by_language[language][round]);
    }
    if (round_rows.empty()) return taken;
    for (size_t index : OrderBySeed(round_keys, options.seed)) {
      if (options.rows != 0 && taken.size() == options.rows) return taken;
      taken.push_back(std::move(round_rows[index]));
    }
  }
}

// A generator that cannot fail, as a source.
auto Synthetic(std::vector<nlohmann::json> (*generate)(const CorpusOptions&)) {
  return [generate](const CorpusOptions& options) -> common::Result<std::vector<nlohmann::json>> { return generate(options); };
}

}  // namespace

const std::vector<CorpusSource>& CorpusSources() {
  static const std::vector<CorpusSource> sources = {
      {"pretraining-text", "text",
       "fortunes and WordNet's verb, adjective and adverb glosses (packages fortunes, wordnet-base)", PretrainingText},
      {"wordnet-definitions", "instruct", "noun -> its WordNet definition, one sense per word (package wordnet-base)",
       WordnetDefinitions},
      {"country-facts", "instruct",
       "a country -> its capital, its currency or its two-letter ISO 3166 code, where the list gives one (package "
       "miscfiles)",
       CountryFacts},
      {"word-translation", "instruct",
       "an English word -> its first translation into French, German or Spanish, for words of one entry and one "
       "sense (packages dict-freedict-eng-fra, -deu, -spa)",
       WordTranslations},
      {"arithmetic", "instruct", "synthetic: \"What is 47 + 385?\" -> \"432\" (+, -, x)", Synthetic(ArithmeticRows)},
      {"word-problems", "instruct", "synthetic: a story of two to four steps about counted things -> the count",
       Synthetic(WordProblemRows)},
      {"retrieval", "instruct", "synthetic: eight \"The code of NAME is NNNN.\" facts (input) and a question about one",
       Synthetic(RetrievalRows)},
  };
  return sources;
}

common::Result<std::vector<nlohmann::json>> MakeCorpus(const std::string& name, const CorpusOptions& options) {
  std::string known;
  for (const CorpusSource& source : CorpusSources()) {
    if (source.name == name) return source.make(options);
    known += (known.empty() ? "" : ", ") + source.name;
  }
  return common::Status::InvalidArgument("unknown corpus \"" + name + "\" (known: " + known + ")");
}

std::vector<size_t> OrderBySeed(const std::vector<std::string>& keys, uint64_t seed) {
  std::vector<std::pair<common::Digest, size_t>> ranked;
  ranked.reserve(keys.size());
  const std::string prefix = std::to_string(seed) + ":";
  for (size_t i = 0; i < keys.size(); ++i) {
    ranked.emplace_back(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, prefix + keys[i]), i);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<size_t> order;
  order.reserve(ranked.size());
  for (const auto& [digest, index] : ranked) order.push_back(index);
  return order;
}

common::Status WriteJsonLines(const std::filesystem::path& path, const std::vector<nlohmann::json>& rows) {
  std::string text;
  for (const nlohmann::json& row : rows) text += row.dump() + "\n";
  return common::WriteFileDurably(path, text);
}

}  // namespace gradients::corpora
