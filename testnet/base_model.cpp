#include "testnet/base_model.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/digest.h"
#include "common/durable_file.h"
#include "common/hex.h"
#include "common/subprocess.h"
#include "text/dataset.h"
#include "trainers/init_model.h"
#include "text/tokenizer.h"
#include "trainers/trainer.h"

namespace gradients::testnet {
namespace {

constexpr char kRecipeFile[] = "base_model.json";
constexpr uint64_t kMaxCorpusBytes = uint64_t{1} << 30;
constexpr double kWarmupRatio = 0.05;
constexpr double kWeightDecay = 0.01;

// spm_train's settings (Llama-2's): the rarest characters left to byte fallback, so that no text is
// unknown and a small vocabulary is not used up by them; one thread and the whole corpus in file
// order, so that the tokenizer depends on the corpus alone. Relative paths: the model records them
// (trainer_spec), and they must not depend on where it is made.
std::vector<std::string> SpmTrainFlags(int64_t vocab_size) {
  return {"--input=corpus.txt",
          "--model_prefix=tokenizer",
          "--vocab_size=" + std::to_string(vocab_size),
          "--model_type=bpe",
          "--byte_fallback=true",
          "--character_coverage=0.9995",
          "--unk_id=0",
          "--bos_id=1",
          "--eos_id=2",
          "--pad_id=-1",
          "--normalization_rule_name=identity",
          "--remove_extra_whitespaces=false",
          "--input_sentence_size=0",
          "--shuffle_input_sentence=false",
          "--num_threads=1",
          "--minloglevel=2"};
}

// Runs a program found on PATH in `cwd`; its output goes where ours goes, and it stays in our
// process group.
common::Status RunProgram(const std::vector<std::string>& argv, const std::filesystem::path& cwd) {
  common::SubprocessOptions options;
  options.argv = argv;
  options.search_path = true;
  options.working_directory = cwd;
  options.stdin_file.clear();
  options.own_process_group = false;
  common::Result<common::SubprocessResult> run = common::RunSubprocess(options);
  if (!run.ok()) {
    return common::Status::NotFound(run.status().message() +
                                    (argv[0] == "spm_train" ? " (Debian package sentencepiece)" : ""));
  }
  const common::ExitStatus& ended = run->ended;
  if (ended.signal != 0 || ended.exit_code != 0) {
    return common::Status::Internal(argv[0] + " failed (" +
                                    (ended.signal == 0 ? "exit " + std::to_string(ended.exit_code)
                                                       : "signal " + std::to_string(ended.signal)) +
                                    ")");
  }
  return common::Status::Ok();
}

// The threads OpenBLAS splits the matrix products over, by its own rule (OPENBLAS_NUM_THREADS,
// then GOTO_NUM_THREADS, then OMP_NUM_THREADS, else every core): the model's bits depend on it, so
// models made with different counts must not share a cache entry.
int64_t BlasThreads() {
  for (const char* name : {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    const long long threads = std::strtoll(value, &end, 10);
    if (*end == '\0' && threads > 0) return threads;
  }
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
}

// The corpus as spm_train reads it: one document a line.
common::Status WriteTokenizerInput(const std::filesystem::path& corpus, const std::filesystem::path& text_file) {
  common::Result<std::string> data = common::ReadFileToString(corpus, kMaxCorpusBytes);
  if (!data.ok()) return data.status();
  std::string lines;
  size_t begin = 0;
  for (int64_t number = 1; begin < data->size(); ++number) {
    size_t end = data->find('\n', begin);
    if (end == std::string::npos) end = data->size();
    const std::string_view line(data->data() + begin, end - begin);
    begin = end + 1;
    if (line.empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    if (row.is_discarded() || !row.is_object() || !row.contains("text") || !row["text"].is_string()) {
      return common::Status::InvalidArgument(corpus.string() + ": row " + std::to_string(number) +
                                     ": expected an object with a string \"text\"");
    }
    std::string text = row["text"].get<std::string>();
    for (char& c : text) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    lines += text + "\n";
  }
  if (lines.empty()) return common::Status::InvalidArgument(corpus.string() + ": no documents");
  return common::WriteFileDurably(text_file, lines);
}

constexpr const char* kModelFiles[] = {"config.json",
                                       "model.safetensors",
                                       "tokenizer.model",
                                       "tokenizer_config.json",
                                       "special_tokens_map.json",
                                       "generation_config.json",
                                       kRecipeFile};

// Each model file of `from` written durably into `to` (created).
common::Status CopyModelFiles(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::error_code error;
  std::filesystem::create_directories(to, error);
  if (error) return common::Status::IoError("creating " + to.string() + ": " + error.message());
  for (const char* name : kModelFiles) {
    if (!std::filesystem::exists(from / name)) continue;
    common::Result<std::string> bytes = common::ReadFileToString(from / name, uint64_t{64} << 30);
    if (!bytes.ok()) return bytes.status();
    GRADIENTS_RETURN_IF_ERROR(common::WriteFileDurably(to / name, *bytes));
  }
  return common::Status::Ok();
}

// The model files of `from` into `out`, whole or not at all: copied to `out`.partial, then renamed.
common::Status PublishModel(const std::filesystem::path& from, const std::filesystem::path& out) {
  const std::filesystem::path partial = out.string() + ".partial";
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(partial));
  GRADIENTS_RETURN_IF_ERROR(CopyModelFiles(from, partial));
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(out));  // empty, or an earlier recipe's model (checked by the caller)
  std::error_code error;
  std::filesystem::rename(partial, out, error);
  if (error) return common::Status::IoError("renaming " + partial.string() + " to " + out.string() + ": " + error.message());
  return common::SyncDirectory(out.parent_path().empty() ? "." : out.parent_path());
}

// The recipe found in `dir`'s base_model.json, or empty.
std::string RecipeDigestIn(const std::filesystem::path& dir) {
  common::Result<std::string> text = common::ReadFileToString(dir / kRecipeFile, 1 << 16);
  if (!text.ok()) return "";
  nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
  if (!json.is_object() || !json.contains("recipe_digest") || !json["recipe_digest"].is_string()) return "";
  return json["recipe_digest"].get<std::string>();
}

common::Result<BaseModelResult> Train(const BaseModelOptions& options, const nlohmann::json& recipe, const std::string& digest,
                              const std::filesystem::path& dir) {
  std::error_code error;
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(dir));
  std::filesystem::create_directories(dir / "tokenizer", error);
  if (error) return common::Status::IoError("creating " + dir.string() + ": " + error.message());

  GRADIENTS_RETURN_IF_ERROR(WriteTokenizerInput(options.corpus, dir / "tokenizer" / "corpus.txt"));
  std::vector<std::string> spm_train = SpmTrainFlags(options.recipe.vocab_size);
  spm_train.insert(spm_train.begin(), "spm_train");
  // Ctrl-C reaches spm_train too (our process group): its failure then is the stop.
  const common::Status tokenizer_trained = RunProgram(spm_train, dir / "tokenizer");
  if (options.cancel != nullptr && options.cancel->load()) return common::Status::Aborted("stopped");
  GRADIENTS_RETURN_IF_ERROR(tokenizer_trained);

  train::InitModelOptions init;
  init.preset = options.recipe.preset;
  init.tokenizer = dir / "tokenizer" / "tokenizer.model";
  init.seed = options.recipe.seed;
  GRADIENTS_RETURN_IF_ERROR(train::InitModel(dir / "init", init));

  common::Result<std::unique_ptr<text::Tokenizer>> tokenizer = text::LoadTokenizer(dir / "init");
  if (!tokenizer.ok()) return tokenizer.status();
  text::DatasetOptions dataset;
  dataset.format = text::DatasetFormat::kText;
  dataset.max_length = options.recipe.max_length;
  common::Result<std::vector<text::TokenizedExample>> examples = text::LoadTokenizedDataset(options.corpus, **tokenizer, dataset);
  if (!examples.ok()) return examples.status();
  int64_t corpus_tokens = 0;
  for (const text::TokenizedExample& example : *examples) corpus_tokens += static_cast<int64_t>(example.input_ids.size());
  if (corpus_tokens == 0) return common::Status::InvalidArgument(options.corpus.string() + ": no tokens");

  train::TrainOptions train;
  train::Hyperparameters& hp = train.hyperparameters;
  hp.mode = train::TrainingMode::kFull;
  hp.learning_rate = options.recipe.learning_rate;
  hp.lr_scheduler = train::LearningRateSchedule::kCosine;
  hp.warmup_steps = 0;
  hp.warmup_ratio = kWarmupRatio;
  // The schedule spans the budget: as many epochs (a fraction of one, or several) as it buys.
  hp.epochs = static_cast<double>(options.recipe.train_tokens) / static_cast<double>(corpus_tokens);
  hp.micro_batch_size = options.recipe.micro_batch_size;
  hp.gradient_accumulation_steps = 1;
  hp.max_length = options.recipe.max_length;
  hp.packing = true;
  hp.weight_decay = kWeightDecay;
  hp.seed = options.recipe.seed;
  hp.validation_fraction = 0;
  train.model_dir = dir / "init";
  train.out_dir = dir / "trained";
  train.device = "cpu";
  train.cpu_threads = options.recipe.cpu_threads;
  train.log_every_steps = 10;
  train.on_progress = options.on_progress;
  train.cancel = options.cancel;
  const int32_t pad_id = (*tokenizer)->eos_id().value_or(0);
  common::Result<train::TrainResult> trained = gradients::train::Train(train, std::move(*examples), pad_id);
  if (!trained.ok()) return trained.status();
  if (trained->stop_reason == train::StopReason::kCancelled) return common::Status::Aborted("stopped");

  GRADIENTS_RETURN_IF_ERROR(CopyModelFiles(dir / "trained", dir / "model"));
  nlohmann::json record = {{"recipe", recipe},
                           {"recipe_digest", digest},
                           {"corpus_tokens", corpus_tokens},
                           {"trained_tokens", trained->tokens},
                           {"steps", trained->steps},
                           {"final_loss", trained->train_loss}};
  GRADIENTS_RETURN_IF_ERROR(common::WriteFileDurably(dir / "model" / kRecipeFile, record.dump(2) + "\n"));
  BaseModelResult result;
  result.recipe_digest = digest;
  result.tokens = trained->tokens;
  result.final_loss = trained->train_loss;
  return result;
}

}  // namespace

void ReadRecipeKeys(common::ConfigReader& reader, BaseModelRecipe& recipe) {
  reader.Optional("preset", recipe.preset)
      .Optional("vocab_size", recipe.vocab_size)
      .Optional("train_tokens", recipe.train_tokens)
      .Optional("max_length", recipe.max_length)
      .Optional("learning_rate", recipe.learning_rate)
      .Optional("micro_batch_size", recipe.micro_batch_size)
      .Optional("seed", recipe.seed)
      .Optional("cpu_threads", recipe.cpu_threads);
  reader.Check(recipe.vocab_size >= 259, "vocab_size", "must be at least 259 (256 byte pieces and 3 specials)")
      .Check(recipe.train_tokens > 0, "train_tokens", "must be positive")
      .Check(recipe.max_length >= 8, "max_length", "must be at least 8")
      .Check(recipe.learning_rate > 0, "learning_rate", "must be positive")
      .Check(recipe.micro_batch_size > 0, "micro_batch_size", "must be positive")
      .Check(recipe.cpu_threads > 0, "cpu_threads", "must be positive");
}

common::Result<BaseModelResult> MakeBaseModel(const BaseModelOptions& options) {
  // The command line's recipe gets the config file's checks.
  nlohmann::json recipe_json = {{"preset", options.recipe.preset},
                                {"vocab_size", options.recipe.vocab_size},
                                {"train_tokens", options.recipe.train_tokens},
                                {"max_length", options.recipe.max_length},
                                {"learning_rate", options.recipe.learning_rate},
                                {"micro_batch_size", options.recipe.micro_batch_size},
                                {"seed", options.recipe.seed},
                                {"cpu_threads", options.recipe.cpu_threads}};
  BaseModelRecipe checked;
  common::ConfigReader reader(recipe_json, "base model");
  ReadRecipeKeys(reader, checked);
  GRADIENTS_RETURN_IF_ERROR(reader.Finish());
  common::Result<train::ModelPreset> preset = train::FindModelPreset(options.recipe.preset);
  if (!preset.ok()) return preset.status();
  common::Result<common::Digest> corpus_digest = common::DigestFile(common::DigestAlgorithm::kBlake2b256, options.corpus);
  if (!corpus_digest.ok()) return corpus_digest.status();

  // Everything else the model depends on, so that changing it makes another model rather than
  // serving a stale one from the cache: the preset's shape, the tokenizer's and the schedule's
  // fixed settings, and the program's version (its trainer).
  nlohmann::json recipe = recipe_json;
  recipe["version"] = GRADIENTS_VERSION;
  recipe["corpus_blake2b"] = common::ToHex(*corpus_digest);
  recipe["preset_shape"] = preset->description;
  recipe["tokenizer"] = SpmTrainFlags(0);
  recipe["blas_threads"] = BlasThreads();
  recipe["schedule"] = {{"lr_scheduler", "cosine"},
                        {"warmup_ratio", kWarmupRatio},
                        {"weight_decay", kWeightDecay},
                        {"packing", true},
                        {"optimizer", "adamw"}};
  const std::string digest = common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, recipe.dump()));

  std::error_code error;
  if (std::filesystem::exists(options.out, error)) {
    if (RecipeDigestIn(options.out) == digest) return BaseModelResult{digest, true, 0, 0};
    if (!std::filesystem::is_empty(options.out, error)) {
      return common::Status::AlreadyExists(options.out.string() +
                                   " holds something other than this recipe's base model (remove it, or choose another "
                                   "--out)");
    }
  }
  const std::filesystem::path cached = options.cache_dir.empty() ? "" : options.cache_dir / digest.substr(0, 32);
  if (!cached.empty() && RecipeDigestIn(cached) == digest) {
    GRADIENTS_RETURN_IF_ERROR(PublishModel(cached, options.out));
    return BaseModelResult{digest, true, 0, 0};
  }

  // A work directory of this process's own: two makers of one recipe do not share it.
  const std::filesystem::path work = (options.cache_dir.empty() ? options.out.parent_path() : options.cache_dir) /
                                     (".base-model-" + digest.substr(0, 16) + "-" + std::to_string(getpid()));
  common::Result<BaseModelResult> made = Train(options, recipe, digest, work);
  if (made.ok() && !cached.empty()) {
    // The model is complete and durable in work/model: the rename publishes it to the cache whole.
    // Another maker that got there first made the same files.
    std::filesystem::create_directories(cached.parent_path(), error);
    std::filesystem::rename(work / "model", cached, error);
    if (error && RecipeDigestIn(cached) != digest) {
      made = common::Status::IoError("moving the base model into " + cached.string() + ": " + error.message());
    } else {
      (void)common::SyncDirectory(cached.parent_path());
    }
  }
  if (made.ok()) {
    common::Status published = PublishModel(cached.empty() ? work / "model" : cached, options.out);
    if (!published.ok()) made = published;
  }
  (void)common::RemoveTree(work);
  return made;
}

}  // namespace gradients::testnet
