#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "corpora/debian_texts.h"
#include "corpora/task_datasets.h"
#include "tests/support/temp_dir.h"

namespace gradients {
namespace {

// Three synsets in WordNet's data-file layout, after a license header line.
constexpr char kNouns[] =
    "  1 This software and database is being provided to you, the LICENSEE\n"
    "00217499 04 n 01 disaster 0 001 @ 00217014 n 0000 | an act that has disastrous consequences  \n"
    "00217593 04 n 01 kill 1 002 @ 00217014 n 0000 + 00355365 v 0101 | the destruction of an enemy plane; \"the "
    "pilot reported two kills during the mission\"; \"a clean kill\"  \n"
    "00217773 04 n 02 laying_waste 0 ruin 0 001 @ 00217014 n 0000 | destruction achieved by causing something to be "
    "wrecked  \n"
    "00217800 04 n 01 responsiveness(a) 0 000 | quick to respond;\"an alert mind\"; \"responsive to the touch\"; "
    "an \"unbalanced quote  \n";

std::filesystem::path WriteWordnet(const std::filesystem::path& dir, const std::string& nouns) {
  std::ofstream(dir / "data.noun") << nouns;
  return dir;
}

TEST(WordnetSynsets, AreReadWithTheirWordsDefinitionAndExamples) {
  testing::TempDir dir;
  Result<std::vector<WordnetSynset>> synsets = ReadWordnetSynsets(WriteWordnet(dir.path(), kNouns), "noun");
  ASSERT_TRUE(synsets.ok()) << synsets.status().message();
  ASSERT_EQ(synsets->size(), 4u);
  EXPECT_EQ((*synsets)[0].words, std::vector<std::string>{"disaster"});
  EXPECT_EQ((*synsets)[0].definition, "an act that has disastrous consequences");
  EXPECT_TRUE((*synsets)[0].examples.empty());
  EXPECT_EQ((*synsets)[1].definition, "the destruction of an enemy plane");
  EXPECT_EQ((*synsets)[1].examples,
            (std::vector<std::string>{"the pilot reported two kills during the mission", "a clean kill"}));
  EXPECT_EQ((*synsets)[2].words, (std::vector<std::string>{"laying waste", "ruin"}));
  EXPECT_EQ((*synsets)[2].offset, "00217773");
  // An example right after the ';', a marker on the word, a quote that never closes.
  EXPECT_EQ((*synsets)[3].words, std::vector<std::string>{"responsiveness"});
  EXPECT_EQ((*synsets)[3].definition, "quick to respond");
  EXPECT_EQ((*synsets)[3].examples, (std::vector<std::string>{"an alert mind", "responsive to the touch"}));
}

TEST(WordnetSynsets, ALineThatDoesNotParseIsNamedWithItsFileAndNumber) {
  testing::TempDir dir;
  Result<std::vector<WordnetSynset>> synsets = ReadWordnetSynsets(
      WriteWordnet(dir.path(), std::string(kNouns) + "00300000 04 n zz broken 0 000 | gloss\n"), "noun");
  ASSERT_FALSE(synsets.ok());
  EXPECT_NE(synsets.status().message().find("data.noun: line 6: word count \"zz\""), std::string::npos)
      << synsets.status().message();
  EXPECT_FALSE(ReadWordnetSynsets(dir.path(), "pronoun").ok());
  Result<std::vector<WordnetSynset>> missing = ReadWordnetSynsets(dir.path() / "nowhere", "noun");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("wordnet-base"), std::string::npos) << missing.status().message();
}

TEST(Fortunes, AreSplitOnPercentLinesSkippingIndexesAndInvalidText) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "b") << "Second file.\r\n%\r\nWith CRLF lines.\r\n";
  std::ofstream(dir.path() / "a") << "\nOne.\n  -- someone\n%\nTwo\n%\n\xff\xfe not UTF-8\n%\n%\nThree";
  std::ofstream(dir.path() / "a.dat") << "binary index";
  std::ofstream(dir.path() / "a.u8") << "a copy";
  Result<std::vector<std::string>> fortunes = ReadFortunes(dir.path());
  ASSERT_TRUE(fortunes.ok()) << fortunes.status().message();
  EXPECT_EQ(*fortunes,
            (std::vector<std::string>{"One.\n  -- someone", "Two", "Three", "Second file.", "With CRLF lines."}));
}

TEST(Corpora, TheSameSourceRowsAndSeedGiveTheSameRowsAndAnotherSeedAnotherOrder) {
  testing::TempDir dir;
  CorpusOptions options;
  options.wordnet_dir = WriteWordnet(dir.path(), kNouns);
  Result<std::vector<nlohmann::json>> first = MakeCorpus("wordnet-definitions", options);
  Result<std::vector<nlohmann::json>> again = MakeCorpus("wordnet-definitions", options);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
  ASSERT_EQ(first->size(), 4u);
  for (const nlohmann::json& row : *first) {
    EXPECT_TRUE(row["instruction"].get<std::string>().starts_with("Define the noun \"")) << row;
    EXPECT_FALSE(row["output"].get<std::string>().empty());
  }
  bool another_order = false;
  for (uint64_t seed = 1; seed < 8 && !another_order; ++seed) {
    options.seed = seed;
    Result<std::vector<nlohmann::json>> reseeded = MakeCorpus("wordnet-definitions", options);
    ASSERT_TRUE(reseeded.ok());
    another_order = *reseeded != *first;
  }
  EXPECT_TRUE(another_order);
  options.rows = 2;
  EXPECT_EQ(MakeCorpus("wordnet-definitions", options)->size(), 2u);
  Result<std::vector<nlohmann::json>> unknown = MakeCorpus("poetry", options);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("known: pretraining-text, wordnet-definitions, arithmetic"),
            std::string::npos);
}

TEST(Corpora, TheSeedOrderDependsOnTheKeysNotOnTheirPositions) {
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e"};
  const std::vector<std::string> reversed(keys.rbegin(), keys.rend());
  std::vector<std::string> in_order, reversed_in_order;
  for (size_t i : OrderBySeed(keys, 3)) in_order.push_back(keys[i]);
  for (size_t i : OrderBySeed(reversed, 3)) reversed_in_order.push_back(reversed[i]);
  EXPECT_EQ(in_order, reversed_in_order);
}

TEST(SyntheticTasks, EachRowsAnswerIsRightAndTheSeedFixesTheRows) {
  CorpusOptions options;
  options.rows = 300;
  for (const char* name : {"arithmetic", "word-problems", "retrieval"}) {
    Result<std::vector<nlohmann::json>> rows = MakeCorpus(name, options);
    ASSERT_TRUE(rows.ok()) << name;
    ASSERT_EQ(rows->size(), 300u) << name;
    EXPECT_EQ(*MakeCorpus(name, options), *rows) << name;
    CorpusOptions reseeded = options;
    reseeded.seed = 1;
    EXPECT_NE(*MakeCorpus(name, reseeded), *rows) << name;
  }
  const std::vector<nlohmann::json> arithmetic = *MakeCorpus("arithmetic", options);
  for (const nlohmann::json& row : arithmetic) {
    int64_t a = 0, b = 0;
    char op = 0;
    ASSERT_EQ(std::sscanf(row["instruction"].get<std::string>().c_str(), "What is %ld %c %ld?", &a, &op, &b), 3) << row;
    const int64_t expected = op == '+' ? a + b : op == '-' ? a - b : a * b;
    EXPECT_EQ(row["output"], std::to_string(expected)) << row;
    EXPECT_GE(expected, 0) << row;
  }
  const std::vector<nlohmann::json> problems = *MakeCorpus("word-problems", options);
  for (const nlohmann::json& row : problems) {
    // Replays the story: "X has N things." then "Y gives X M more." or "X gives M to Y."
    const std::string story = row["instruction"];
    const std::string hero = story.substr(0, story.find(' '));
    EXPECT_EQ(story.find(hero + " gives " + hero), std::string::npos) << story;
    int64_t count = std::stoll(story.substr(story.find(" has ") + 5));
    for (size_t at = story.find(". "); at != std::string::npos; at = story.find(". ", at + 2)) {
      const std::string sentence = story.substr(at + 2, story.find('.', at + 2) - at - 2);
      if (const size_t more = sentence.find(" more"); more != std::string::npos) {
        count += std::stoll(sentence.substr(sentence.rfind(' ', more - 1) + 1));
      } else if (const size_t to = sentence.find(" to "); to != std::string::npos) {
        count -= std::stoll(sentence.substr(sentence.rfind(' ', to - 1) + 1));
      }
    }
    EXPECT_EQ(row["output"], std::to_string(count)) << story;
  }
  const std::vector<nlohmann::json> retrieval = *MakeCorpus("retrieval", options);
  for (const nlohmann::json& row : retrieval) {
    const std::string name = row["instruction"].get<std::string>().substr(std::string("What is the code of ").size());
    const std::string fact =
        "The code of " + name.substr(0, name.size() - 1) + " is " + row["output"].get<std::string>() + ".";
    EXPECT_NE(row["input"].get<std::string>().find(fact), std::string::npos) << row;
  }
}

// The packages install-deps.sh installs: what the testnet and the market benchmark read.
TEST(Corpora, DebiansWordnetAndFortunesGiveTheTestnetsDatasets) {
  Result<std::vector<WordnetSynset>> nouns = ReadWordnetSynsets(kWordnetDir, "noun");
  ASSERT_TRUE(nouns.ok()) << nouns.status().message();
  EXPECT_GT(nouns->size(), 80000u);  // WordNet 3.0 has 82,115 noun synsets
  CorpusOptions options;
  options.rows = 1500;
  Result<std::vector<nlohmann::json>> definitions = MakeCorpus("wordnet-definitions", options);
  ASSERT_TRUE(definitions.ok()) << definitions.status().message();
  EXPECT_EQ(definitions->size(), 1500u);
  std::set<std::string> questions;
  for (const nlohmann::json& row : *definitions) questions.insert(row["instruction"].get<std::string>());
  EXPECT_EQ(questions.size(), 1500u);  // one sense per word
  options.rows = 0;
  Result<std::vector<nlohmann::json>> text = MakeCorpus("pretraining-text", options);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_GT(text->size(), 40000u);
}

}  // namespace
}  // namespace gradients
