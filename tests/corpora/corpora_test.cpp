#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>

#include "corpora/debian_texts.h"
#include "corpora/task_datasets.h"
#include "tests/support/temp_dir.h"

namespace gradients::corpora {
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
  common::Result<std::vector<WordnetSynset>> synsets = ReadWordnetSynsets(WriteWordnet(dir.path(), kNouns), "noun");
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
  common::Result<std::vector<WordnetSynset>> synsets = ReadWordnetSynsets(
      WriteWordnet(dir.path(), std::string(kNouns) + "00300000 04 n zz broken 0 000 | gloss\n"), "noun");
  ASSERT_FALSE(synsets.ok());
  EXPECT_NE(synsets.status().message().find("data.noun: line 6: word count \"zz\""), std::string::npos)
      << synsets.status().message();
  EXPECT_FALSE(ReadWordnetSynsets(dir.path(), "pronoun").ok());
  common::Result<std::vector<WordnetSynset>> missing = ReadWordnetSynsets(dir.path() / "nowhere", "noun");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("wordnet-base"), std::string::npos) << missing.status().message();
}

TEST(Fortunes, AreSplitOnPercentLinesSkippingIndexesAndInvalidText) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "b") << "Second file.\r\n%\r\nWith CRLF lines.\r\n";
  std::ofstream(dir.path() / "a") << "\nOne.\n  -- someone\n%\nTwo\n%\n\xff\xfe not UTF-8\n%\n%\nThree";
  std::ofstream(dir.path() / "a.dat") << "binary index";
  std::ofstream(dir.path() / "a.u8") << "a copy";
  common::Result<std::vector<std::string>> fortunes = ReadFortunes(dir.path());
  ASSERT_TRUE(fortunes.ok()) << fortunes.status().message();
  EXPECT_EQ(*fortunes,
            (std::vector<std::string>{"One.\n  -- someone", "Two", "Three", "Second file.", "With CRLF lines."}));
}

// miscfiles' layout: a comment, then "number:alpha-2:alpha-3:name:capital" and "code:number:name".
constexpr char kCountries[] =
    "# UN Code number: 2 letter ISO abbrev : 3 letter ISO abbrev : name : capital\n"
    "250:FR:FRA:France:Paris\n"
    "392:JP:JPN:Japan:Tokyo\n"
    "068:BO:BOL:Bolivia:La Paz (seat of government), Sucre (legal capital and seat of judiciary)\n"
    "830:::Channel Islands:\n"
    "840:US:USA:United States of America:Washington, DC\n";
constexpr char kCurrencies[] =
    "# ISO Currency Abbreviation:ISO Currency code:Name\n"
    "BOB:068:Boliviano\n"
    "BOV:984:Mvdol\n"
    "EUR:978:Euro\n"
    "JPY:392:Yen\n"
    "USD:840:US dollar\n";

void WriteGzip(const std::filesystem::path& path, const std::string& text) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  ASSERT_EQ(gzwrite(file, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  ASSERT_EQ(gzclose(file), Z_OK);
}

std::filesystem::path WriteMiscfiles(const std::filesystem::path& dir, const std::string& countries) {
  WriteGzip(dir / "countries.gz", countries);
  WriteGzip(dir / "currency.gz", kCurrencies);
  return dir;
}

// A dictd number: base64 digits, most significant first.
std::string DictdNumber(uint64_t value) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string digits;
  do {
    digits.insert(digits.begin(), kAlphabet[value % 64]);
    value /= 64;
  } while (value != 0);
  return digits;
}

// A FreeDict dictionary of (index headword, entry) pairs, in order: `freedict-eng-<language>.index`
// and a gzip'd `.dict.dz`.
void WriteFreedict(const std::filesystem::path& dir, const std::string& language,
                   const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string dict, index;
  for (const auto& [headword, entry] : entries) {
    index += headword + "\t" + DictdNumber(dict.size()) + "\t" + DictdNumber(entry.size()) + "\n";
    dict += entry;
  }
  std::ofstream(dir / ("freedict-eng-" + language + ".index")) << index;
  WriteGzip(dir / ("freedict-eng-" + language + ".dict.dz"), dict);
}

// FreeDict's layouts (English-French's numbered senses, English-German's tags, labels, examples
// and abbreviations), with an entry of each kind that has no clear translation.
const std::vector<std::pair<std::string, std::string>> kGermanEntries = {
    {"00databaseinfo", "English - German FreeDict dictionary\n"},
    {"abkhazia", "Abkhazia /əbkheiziə/\nAbchasien\n"},
    {"book", "book /buk/\n1. Buch\n2. buchen, reservieren\n"},
    {"cat", "computed axial tomography /kəmpjˈuːtɪd/ (CAT /kˈat/)\nComputertomografie <fem> [med.]\n"},
    {"dog", "dog /dɔg/\nHund, Köter\n"},
    {"house", "house /hˈaʊs/\nHaus <neut>\n      \"build a house\"  - ein Haus bauen\n see: {houses}\n\n"},
    {"ice cream", "ice cream /ˈaɪs kɹˈiːm/\nEis\n"},
    {"ladder", "ladder /ˈladə/\n [Am.] Laufmasche <fem>, Fallmasche <fem> [textil.]\n"},
    {"lock", "lock /lˈɒk/ <v>\n [Am.] jdn. einsperren <v, trans>\n"},
    {"run", "run /ɹˈʌn/\nLauf <masc>\n"},
    {"run", "run /ɹˈʌn/ <v>\nlaufen <v, intr>\n"},
    {"styx", "Styx /stiks/\nStyx\n"},
    {"wait", "wait /wˈeɪt/\n„warten“\n"},
};

TEST(Countries, AreReadWithTheirCapitalAndTheCurrencyNumberedAsTheyAre) {
  testing::TempDir dir;
  common::Result<std::vector<Country>> countries = ReadCountries(WriteMiscfiles(dir.path(), kCountries));
  ASSERT_TRUE(countries.ok()) << countries.status().message();
  ASSERT_EQ(countries->size(), 5u);
  const Country& france = (*countries)[0];
  EXPECT_EQ(france.name, "France");
  EXPECT_EQ(france.alpha2, "FR");
  EXPECT_EQ(france.capital, "Paris");
  EXPECT_EQ(france.currency, "");  // the euro is numbered as no country is
  EXPECT_EQ((*countries)[1].currency, "Yen");
  EXPECT_EQ((*countries)[2].capital, "");  // two capitals
  EXPECT_EQ((*countries)[2].currency, "Boliviano");
  EXPECT_EQ((*countries)[3].alpha2, "");
  EXPECT_EQ((*countries)[4].capital, "Washington, DC");
}

TEST(Countries, ALineThatDoesNotParseIsNamedWithItsFileAndNumber) {
  testing::TempDir dir;
  common::Result<std::vector<Country>> countries =
      ReadCountries(WriteMiscfiles(dir.path(), std::string(kCountries) + "276:DE:Germany:Berlin\n"));
  ASSERT_FALSE(countries.ok());
  EXPECT_NE(countries.status().message().find("countries.gz: line 7: expected number:alpha-2:alpha-3:name:capital"),
            std::string::npos)
      << countries.status().message();
  WriteGzip(dir.path() / "currency.gz", "JPY:39x:Yen\n");
  countries = ReadCountries(dir.path());
  ASSERT_FALSE(countries.ok());
  EXPECT_NE(countries.status().message().find("currency.gz: line 1: currency number \"39x\""), std::string::npos)
      << countries.status().message();
  WriteMiscfiles(dir.path(), kCountries);
  std::filesystem::resize_file(dir.path() / "countries.gz",
                               std::filesystem::file_size(dir.path() / "countries.gz") - 12);
  countries = ReadCountries(dir.path());
  ASSERT_FALSE(countries.ok());
  EXPECT_NE(countries.status().message().find("countries.gz"), std::string::npos) << countries.status().message();
  common::Result<std::vector<Country>> missing = ReadCountries(dir.path() / "nowhere");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("miscfiles"), std::string::npos) << missing.status().message();
}

TEST(FreedictTranslations, AreTheFirstTranslationOfSingleWordsWithOneEntryAndOneSense) {
  testing::TempDir dir;
  WriteFreedict(dir.path(), "deu", kGermanEntries);
  common::Result<std::vector<WordTranslation>> translations = ReadFreedictTranslations(dir.path(), "deu");
  ASSERT_TRUE(translations.ok()) << translations.status().message();
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const WordTranslation& pair : *translations) pairs.emplace_back(pair.word, pair.translation);
  EXPECT_EQ(pairs, (std::vector<std::pair<std::string, std::string>>{
                       {"Abkhazia", "Abchasien"}, {"dog", "Hund"}, {"house", "Haus"}, {"ladder", "Laufmasche"}}));
}

TEST(FreedictTranslations, AnIndexLineThatDoesNotParseIsNamedWithItsFileAndNumber) {
  testing::TempDir dir;
  WriteFreedict(dir.path(), "fra", {{"house", "house /haus/\nmaison\n"}});
  std::ofstream(dir.path() / "freedict-eng-fra.index", std::ios::app) << "dog\tv!\tU\n";
  common::Result<std::vector<WordTranslation>> translations = ReadFreedictTranslations(dir.path(), "fra");
  ASSERT_FALSE(translations.ok());
  EXPECT_NE(translations.status().message().find("freedict-eng-fra.index: line 2: offset \"v!\""), std::string::npos)
      << translations.status().message();
  std::ofstream(dir.path() / "freedict-eng-fra.index") << "house\tA\tV\n";  // 21 bytes of a 20-byte dictionary
  translations = ReadFreedictTranslations(dir.path(), "fra");
  ASSERT_FALSE(translations.ok());
  EXPECT_NE(translations.status().message().find("line 1: entry ends past the end of freedict-eng-fra.dict.dz"),
            std::string::npos)
      << translations.status().message();
  common::Result<std::vector<WordTranslation>> missing = ReadFreedictTranslations(dir.path(), "spa");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("Debian package dict-freedict-eng-spa"), std::string::npos)
      << missing.status().message();
  EXPECT_FALSE(ReadFreedictTranslations(dir.path(), "../fra").ok());
}

TEST(Corpora, CountryFactsAndWordTranslationsMixTheirKindsAndFollowTheSeed) {
  testing::TempDir dir;
  CorpusOptions options;
  options.miscfiles_dir = WriteMiscfiles(dir.path(), kCountries);
  options.freedict_dir = dir.path();
  common::Result<std::vector<nlohmann::json>> facts = MakeCorpus("country-facts", options);
  ASSERT_TRUE(facts.ok()) << facts.status().message();
  std::set<std::pair<std::string, std::string>> questions;
  for (const nlohmann::json& row : *facts) questions.emplace(row["instruction"], row["output"]);
  EXPECT_EQ(questions, (std::set<std::pair<std::string, std::string>>{
                           {"What is the capital of France?", "Paris"},
                           {"What is the two-letter ISO 3166 code of France?", "FR"},
                           {"What is the capital of Japan?", "Tokyo"},
                           {"What is the currency of Japan?", "Yen"},
                           {"What is the two-letter ISO 3166 code of Japan?", "JP"},
                           {"What is the currency of Bolivia?", "Boliviano"},
                           {"What is the two-letter ISO 3166 code of Bolivia?", "BO"},
                           {"What is the capital of United States of America?", "Washington, DC"},
                           {"What is the currency of United States of America?", "US dollar"},
                           {"What is the two-letter ISO 3166 code of United States of America?", "US"},
                       }));

  WriteFreedict(dir.path(), "deu", kGermanEntries);
  WriteFreedict(dir.path(), "fra", {{"dog", "dog /dɔg/\nchien, clébard\n"}, {"house", "house /haus/\nmaison\n"}});
  WriteFreedict(dir.path(), "spa", {{"cat", "cat /kæt/\ngato\n"}, {"dog", "dog /dɔg/\nperro\n"}});
  common::Result<std::vector<nlohmann::json>> translations = MakeCorpus("word-translation", options);
  ASSERT_TRUE(translations.ok()) << translations.status().message();
  ASSERT_EQ(translations->size(), 8u);
  EXPECT_NE(std::find(translations->begin(), translations->end(),
                      nlohmann::json{{"instruction", "Translate the English word \"house\" into French."},
                                     {"output", "maison"}}),
            translations->end());
  // Every round of three rows has each language once, until French and Spanish run out.
  for (size_t round = 0; round < 2; ++round) {
    std::set<std::string> languages;
    for (size_t i = 3 * round; i < 3 * round + 3; ++i) {
      const std::string instruction = (*translations)[i]["instruction"];
      languages.insert(instruction.substr(instruction.rfind(' ') + 1));
    }
    EXPECT_EQ(languages, (std::set<std::string>{"French.", "German.", "Spanish."})) << round;
  }

  for (const char* name : {"country-facts", "word-translation"}) {
    const std::vector<nlohmann::json> first = *MakeCorpus(name, options);
    EXPECT_EQ(*MakeCorpus(name, options), first) << name;
    bool another_order = false;
    for (CorpusOptions reseeded = options; reseeded.seed < 8 && !another_order;) {
      ++reseeded.seed;
      another_order = *MakeCorpus(name, reseeded) != first;
    }
    EXPECT_TRUE(another_order) << name;
    CorpusOptions fewer = options;
    fewer.rows = 4;
    EXPECT_EQ(*MakeCorpus(name, fewer), std::vector<nlohmann::json>(first.begin(), first.begin() + 4)) << name;
  }
}

TEST(Corpora, TheSameSourceRowsAndSeedGiveTheSameRowsAndAnotherSeedAnotherOrder) {
  testing::TempDir dir;
  CorpusOptions options;
  options.wordnet_dir = WriteWordnet(dir.path(), kNouns);
  common::Result<std::vector<nlohmann::json>> first = MakeCorpus("wordnet-definitions", options);
  common::Result<std::vector<nlohmann::json>> again = MakeCorpus("wordnet-definitions", options);
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
    common::Result<std::vector<nlohmann::json>> reseeded = MakeCorpus("wordnet-definitions", options);
    ASSERT_TRUE(reseeded.ok());
    another_order = *reseeded != *first;
  }
  EXPECT_TRUE(another_order);
  options.rows = 2;
  EXPECT_EQ(MakeCorpus("wordnet-definitions", options)->size(), 2u);
  common::Result<std::vector<nlohmann::json>> unknown = MakeCorpus("poetry", options);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find(
                "known: pretraining-text, wordnet-definitions, country-facts, word-translation, arithmetic"),
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
    common::Result<std::vector<nlohmann::json>> rows = MakeCorpus(name, options);
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
  common::Result<std::vector<WordnetSynset>> nouns = ReadWordnetSynsets(kWordnetDir, "noun");
  ASSERT_TRUE(nouns.ok()) << nouns.status().message();
  EXPECT_GT(nouns->size(), 80000u);  // WordNet 3.0 has 82,115 noun synsets
  CorpusOptions options;
  options.rows = 1500;
  common::Result<std::vector<nlohmann::json>> definitions = MakeCorpus("wordnet-definitions", options);
  ASSERT_TRUE(definitions.ok()) << definitions.status().message();
  EXPECT_EQ(definitions->size(), 1500u);
  std::set<std::string> questions;
  for (const nlohmann::json& row : *definitions) questions.insert(row["instruction"].get<std::string>());
  EXPECT_EQ(questions.size(), 1500u);  // one sense per word
  options.rows = 0;
  common::Result<std::vector<nlohmann::json>> text = MakeCorpus("pretraining-text", options);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_GT(text->size(), 40000u);
}

// The market benchmark's families from the packages install-deps.sh installs.
TEST(Corpora, DebiansMiscfilesAndFreedictGiveTheCountryFactsAndWordTranslations) {
  CorpusOptions options;
  common::Result<std::vector<nlohmann::json>> facts = MakeCorpus("country-facts", options);
  ASSERT_TRUE(facts.ok()) << facts.status().message();
  EXPECT_GT(facts->size(), 500u);  // miscfiles lists 243 countries
  for (const auto& [question, answer] :
       std::vector<std::pair<std::string, std::string>>{{"What is the capital of France?", "Paris"},
                                                        {"What is the currency of Japan?", "Yen"},
                                                        {"What is the two-letter ISO 3166 code of Germany?", "DE"}}) {
    EXPECT_NE(std::find(facts->begin(), facts->end(), nlohmann::json{{"instruction", question}, {"output", answer}}),
              facts->end())
        << question;
  }
  EXPECT_EQ(*MakeCorpus("country-facts", options), *facts);

  common::Result<std::vector<nlohmann::json>> translations = MakeCorpus("word-translation", options);
  ASSERT_TRUE(translations.ok()) << translations.status().message();
  EXPECT_GT(translations->size(), 50000u);
  options.rows = 3000;
  const std::vector<nlohmann::json> first_translations = *MakeCorpus("word-translation", options);
  EXPECT_EQ(first_translations, std::vector<nlohmann::json>(translations->begin(), translations->begin() + 3000));
  for (const char* language : {"French.", "German.", "Spanish."}) {
    EXPECT_EQ(std::count_if(
                  first_translations.begin(), first_translations.end(),
                  [&](const nlohmann::json& row) { return row["instruction"].get<std::string>().ends_with(language); }),
              1000)
        << language;
  }
  for (const auto& [question, answer] : std::vector<std::pair<std::string, std::string>>{
           {"Translate the English word \"house\" into French.", "maison"},
           {"Translate the English word \"dog\" into Spanish.", "perro"},
           {"Translate the English word \"surveillance\" into German.", "Überwachung"}}) {
    EXPECT_NE(std::find(translations->begin(), translations->end(),
                        nlohmann::json{{"instruction", question}, {"output", answer}}),
              translations->end())
        << question;
  }
}

}  // namespace
}  // namespace gradients::corpora
