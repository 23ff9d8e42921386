#include "corpora/task_datasets.h"

#include <algorithm>
#include <set>

#include "common/digest.h"
#include "common/durable_file.h"
#include "corpora/synthetic_tasks.h"

namespace gradients {
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

Result<std::vector<nlohmann::json>> PretrainingText(const CorpusOptions& options) {
  Result<std::vector<std::string>> fortunes = ReadFortunes(options.fortunes_dir);
  if (!fortunes.ok()) return fortunes.status();
  std::vector<std::string> documents = *fortunes;
  for (const char* part : {"verb", "adjective", "adverb"}) {
    Result<std::vector<WordnetSynset>> synsets = ReadWordnetSynsets(options.wordnet_dir, part);
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

Result<std::vector<nlohmann::json>> WordnetDefinitions(const CorpusOptions& options) {
  Result<std::vector<WordnetSynset>> synsets = ReadWordnetSynsets(options.wordnet_dir, "noun");
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

// A generator that cannot fail, as a source.
auto Synthetic(std::vector<nlohmann::json> (*generate)(const CorpusOptions&)) {
  return [generate](const CorpusOptions& options) -> Result<std::vector<nlohmann::json>> { return generate(options); };
}

}  // namespace

const std::vector<CorpusSource>& CorpusSources() {
  static const std::vector<CorpusSource> sources = {
      {"pretraining-text", "text",
       "fortunes and WordNet's verb, adjective and adverb glosses (packages fortunes, wordnet-base)", PretrainingText},
      {"wordnet-definitions", "instruct", "noun -> its WordNet definition, one sense per word (package wordnet-base)",
       WordnetDefinitions},
      {"arithmetic", "instruct", "synthetic: \"What is 47 + 385?\" -> \"432\" (+, -, x)", Synthetic(ArithmeticRows)},
      {"word-problems", "instruct", "synthetic: a story of two to four steps about counted things -> the count",
       Synthetic(WordProblemRows)},
      {"retrieval", "instruct", "synthetic: eight \"The code of NAME is NNNN.\" facts (input) and a question about one",
       Synthetic(RetrievalRows)},
  };
  return sources;
}

Result<std::vector<nlohmann::json>> MakeCorpus(const std::string& name, const CorpusOptions& options) {
  std::string known;
  for (const CorpusSource& source : CorpusSources()) {
    if (source.name == name) return source.make(options);
    known += (known.empty() ? "" : ", ") + source.name;
  }
  return Status::InvalidArgument("unknown corpus \"" + name + "\" (known: " + known + ")");
}

std::vector<size_t> OrderBySeed(const std::vector<std::string>& keys, uint64_t seed) {
  std::vector<std::pair<Digest, size_t>> ranked;
  ranked.reserve(keys.size());
  const std::string prefix = std::to_string(seed) + ":";
  for (size_t i = 0; i < keys.size(); ++i) {
    ranked.emplace_back(ComputeDigest(DigestAlgorithm::kBlake2b256, prefix + keys[i]), i);
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<size_t> order;
  order.reserve(ranked.size());
  for (const auto& [digest, index] : ranked) order.push_back(index);
  return order;
}

Status WriteJsonLines(const std::filesystem::path& path, const std::vector<nlohmann::json>& rows) {
  std::string text;
  for (const nlohmann::json& row : rows) text += row.dump() + "\n";
  return WriteFileDurably(path, text);
}

}  // namespace gradients
