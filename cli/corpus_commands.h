// gradients corpus NAME --out FILE: a dataset made from Debian's texts (corpora/task_datasets.h).
// gradients base-model --corpus FILE --out DIR: a base model pretrained on a text corpus (testnet/base_model.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>

#include "corpora/task_datasets.h"
#include "testnet/base_model.h"

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

struct CorpusArgs {
  std::string name;  // empty: list the sources
  std::filesystem::path out;
  corpora::CorpusOptions options;
};
int RunCorpus(const CorpusArgs& args, std::ostream& out, std::ostream& err);

int RunBaseModel(const testnet::BaseModelOptions& options, std::ostream& out, std::ostream& err);

// Declares `gradients corpus` and `gradients base-model` on `app`; each runs from its CLI11 callback
// and ends with its exit code.
void AddCorpusCommands(CLI::App& app);

}  // namespace gradients::cli
