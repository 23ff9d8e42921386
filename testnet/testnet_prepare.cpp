#include "testnet/testnet_prepare.h"

#include <fmt/format.h>

#include <chrono>

#include "common/keys.h"
#include "corpora/task_datasets.h"
#include "testnet/base_model.h"
#include "trainers/trainer.h"

namespace gradients::testnet {

common::Status PrepareTestnetFiles(const TestnetOptions& options, const LoadedTestnet& testnet,
                                   const std::atomic<bool>& stop, std::ostream& out) {
  using Clock = std::chrono::steady_clock;
  std::error_code error;
  std::filesystem::create_directories(options.dir, error);
  if (error) return common::Status::IoError("creating " + options.dir.string() + ": " + error.message());

  const TestnetBaseModel& base = testnet.plan.base_model;
  const std::filesystem::path corpus = options.dir / "corpora" / (base.corpus + ".jsonl");
  std::filesystem::create_directories(corpus.parent_path(), error);
  corpora::CorpusOptions corpus_options;
  corpus_options.rows = static_cast<size_t>(base.corpus_rows);
  common::Result<std::vector<nlohmann::json>> documents = corpora::MakeCorpus(base.corpus, corpus_options);
  if (!documents.ok()) return documents.status().WithContext("base model corpus");
  GRADIENTS_RETURN_IF_ERROR(corpora::WriteJsonLines(corpus, *documents));

  BaseModelOptions model;
  model.corpus = corpus;
  model.out = InDir(options.dir, base.out);
  model.recipe = base.recipe;
  model.cache_dir = BaseModelCacheDir(options);
  model.cancel = &stop;
  out << fmt::format("base model: preset {}, {} tokens of {} ({} documents), cache {}\n", base.recipe.preset,
                     base.recipe.train_tokens, base.corpus, documents->size(), model.cache_dir.string())
      << std::flush;
  auto last_report = Clock::now();
  model.on_progress = [&](const train::TrainProgress& progress) {
    if (Clock::now() - last_report < std::chrono::seconds(10) && progress.step != progress.total_steps) return;
    last_report = Clock::now();
    out << fmt::format("  pretraining step {}/{}  loss {:.3f}  {:.0f} tok/s\n", progress.step, progress.total_steps,
                       progress.loss, progress.tokens_per_second)
        << std::flush;
  };
  common::Result<BaseModelResult> made = MakeBaseModel(model);
  if (!made.ok()) return made.status().WithContext("base model");
  out << (made->cached ? fmt::format("base model: {} (cached, recipe {})\n", model.out.string(),
                                     made->recipe_digest.substr(0, 16))
                       : fmt::format("base model: {} pretrained on {} tokens, final loss {:.3f}\n", model.out.string(),
                                     made->tokens, made->final_loss));

  for (const TestnetDataset& dataset : testnet.plan.datasets) {
    if (stop) return common::Status::Aborted("stopped");
    corpora::CorpusOptions corpus_options;
    corpus_options.rows = static_cast<size_t>(dataset.rows);
    corpus_options.seed = dataset.seed;
    common::Result<std::vector<nlohmann::json>> rows = corpora::MakeCorpus(dataset.corpus, corpus_options);
    if (!rows.ok()) return rows.status().WithContext("dataset " + dataset.out);
    const std::filesystem::path path = InDir(options.dir, dataset.out);
    std::filesystem::create_directories(path.parent_path(), error);
    GRADIENTS_RETURN_IF_ERROR(corpora::WriteJsonLines(path, *rows));
    out << fmt::format("dataset: {} ({} rows of {})\n", path.string(), rows->size(), dataset.corpus);
  }

  for (const TestnetMiner& miner : testnet.miners) {
    const std::filesystem::path key = InDir(options.dir, miner.options.key_file);
    if (!std::filesystem::exists(key)) {
      std::filesystem::create_directories(key.parent_path(), error);
      GRADIENTS_RETURN_IF_ERROR(common::WriteKeyFile(key, common::SigningKey::Generate()));
    }
    common::Result<common::SigningKey> signing = common::ReadKeyFile(key);
    if (!signing.ok()) return signing.status();
    out << fmt::format("{}: strategy {}, key {}\n", miner.name, miner.options.strategy.name,
                       signing->public_key().ToHex().substr(0, 16));
  }
  return common::Status::Ok();
}

}  // namespace gradients::testnet
