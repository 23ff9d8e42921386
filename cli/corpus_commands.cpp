#include "cli/corpus_commands.h"

#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "trainers/trainer.h"

namespace gradients::cli {

int RunCorpus(const CorpusArgs& args, std::ostream& out, std::ostream& err) {
  if (args.name.empty()) {
    for (const corpora::CorpusSource& source : corpora::CorpusSources()) {
      out << nlohmann::json{{"name", source.name}, {"format", source.format}, {"description", source.description}}
                 .dump()
          << "\n";
    }
    return 0;
  }
  if (args.out.empty()) return Fail(err, "corpus", common::Status::InvalidArgument("--out is required"));
  common::Result<std::vector<nlohmann::json>> rows = corpora::MakeCorpus(args.name, args.options);
  if (!rows.ok()) return Fail(err, "corpus", rows.status());
  if (common::Status status = corpora::WriteJsonLines(args.out, *rows); !status.ok()) return Fail(err, "corpus", status);
  out << nlohmann::json{{"out", args.out.string()}, {"rows", rows->size()}}.dump() << "\n";
  return 0;
}

int RunBaseModel(const testnet::BaseModelOptions& options, std::ostream& out, std::ostream& err) {
  testnet::BaseModelOptions with_progress = options;
  with_progress.on_progress = [&](const train::TrainProgress& progress) {
    err << "step " << progress.step << "/" << progress.total_steps << "  loss " << progress.loss << "  "
        << static_cast<int64_t>(progress.tokens_per_second) << " tok/s\n";
  };
  common::Result<testnet::BaseModelResult> made = testnet::MakeBaseModel(with_progress);
  if (!made.ok()) return Fail(err, "base-model", made.status());
  out << nlohmann::json{{"out", options.out.string()},
                        {"recipe_digest", made->recipe_digest},
                        {"cached", made->cached},
                        {"trained_tokens", made->tokens},
                        {"final_loss", made->final_loss}}
             .dump()
      << "\n";
  return 0;
}

void AddCorpusCommands(CLI::App& app) {
  auto corpus_args = std::make_shared<CorpusArgs>();
  CLI::App* corpus = app.add_subcommand(
      "corpus",
      "Make a dataset from Debian's data (WordNet, fortunes, miscfiles, FreeDict) or a synthetic generator as JSONL; "
      "without NAME, list the sources");
  corpus->add_option("name", corpus_args->name, "The source: pretraining-text, wordnet-definitions, ...");
  corpus->add_option("--out", corpus_args->out, "The .jsonl file to write");
  corpus->add_option("--rows", corpus_args->options.rows, "Rows to keep (0: all), in the seed's order")
      ->capture_default_str();
  corpus->add_option("--seed", corpus_args->options.seed, "Orders the rows")->capture_default_str();
  corpus->add_option("--wordnet", corpus_args->options.wordnet_dir, "WordNet's data directory (wordnet-base)")
      ->capture_default_str();
  corpus->add_option("--fortunes", corpus_args->options.fortunes_dir, "The fortune files (fortunes)")
      ->capture_default_str();
  corpus->add_option("--miscfiles", corpus_args->options.miscfiles_dir, "countries.gz and currency.gz (miscfiles)")
      ->capture_default_str();
  corpus->add_option("--freedict", corpus_args->options.freedict_dir, "FreeDict dictionaries (dict-freedict-eng-*)")
      ->capture_default_str();
  corpus->callback([corpus_args] { ExitWith(RunCorpus(*corpus_args, std::cout, std::cerr)); });

  auto base_model_args = std::make_shared<testnet::BaseModelOptions>();
  CLI::App* base_model = app.add_subcommand(
      "base-model", "Pretrain a base model on a text corpus: a SentencePiece tokenizer, a preset, full training");
  base_model->add_option("--corpus", base_model_args->corpus, "JSONL of {\"text\": ...} documents")->required();
  base_model->add_option("--out", base_model_args->out, "The model directory to write")->required();
  base_model->add_option("--preset", base_model_args->recipe.preset, "tiny, small, base, ...")->capture_default_str();
  base_model->add_option("--vocab", base_model_args->recipe.vocab_size, "Tokenizer vocabulary size")
      ->capture_default_str();
  base_model->add_option("--tokens", base_model_args->recipe.train_tokens, "Training tokens")->capture_default_str();
  base_model->add_option("--max-len", base_model_args->recipe.max_length, "Tokens per training row")
      ->capture_default_str();
  base_model->add_option("--lr", base_model_args->recipe.learning_rate, "Peak learning rate (cosine)")
      ->capture_default_str();
  base_model->add_option("--batch", base_model_args->recipe.micro_batch_size, "Rows per step")->capture_default_str();
  base_model->add_option("--seed", base_model_args->recipe.seed, "Initialisation and data order")->capture_default_str();
  base_model->add_option("--threads", base_model_args->recipe.cpu_threads, "CPU threads (part of the recipe)")
      ->capture_default_str();
  base_model->add_option("--cache", base_model_args->cache_dir, "Keep made models here, by recipe, and reuse them");
  base_model->callback([base_model_args] { ExitWith(RunBaseModel(*base_model_args, std::cout, std::cerr)); });
}

}  // namespace gradients::cli
