// `gradients`: the command-line tool. Only wiring lives here; each subcommand is a function in cli/.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <iostream>
#include <string>

#include "cli/corpus_commands.h"
#include "cli/inspect_command.h"
#include "cli/key_commands.h"
#include "cli/merge_command.h"
#include "cli/model_commands.h"
#ifdef GRADIENTS_CLI_REGISTRY
#include "cli/admin_commands.h"
#include "cli/registry_commands.h"
#include "cli/weight_commands.h"
#endif
#ifdef GRADIENTS_CLI_MINER
#include "cli/miner_commands.h"
#endif
#ifdef GRADIENTS_CLI_TESTNET
#include "testnet/testnet.h"
#endif
#include "cli/tokenize_command.h"
#include "cli/train_command.h"
#include "cli/version.h"
#include "common/clock.h"
#include "common/logging.h"

namespace {

#ifdef GRADIENTS_CLI_TESTNET
// `gradients testnet run|watch|prepare`: the first Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops cleanly,
// a second one kills the daemons at once.
gradients::testnet::TestnetSignals testnet_signals;

extern "C" void StopTestnet(int) {
  if (testnet_signals.stop.exchange(true)) testnet_signals.force = true;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Gradients: a competitive fine-tuning market. Tools for operators and miners."};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")->capture_default_str();

  std::string key_out;
  CLI::App* keygen = app.add_subcommand("keygen", "Create an ed25519 identity key file (mode 0600)");
  keygen->add_option("--out", key_out, "Where to write the 32-byte seed; an existing file is never overwritten")
      ->required();

  std::string key_in;
  CLI::App* pubkey = app.add_subcommand("pubkey", "Print the public key of a key file in hex");
  pubkey->add_option("--key", key_in, "The key file")->required()->check(CLI::ExistingFile);

  std::string tensors_file;
  CLI::App* inspect = app.add_subcommand("inspect", "Validate a .safetensors file and print its tensors as JSON");
  inspect->add_option("file", tensors_file, "The .safetensors file")->required();

  gradients::cli::EvalArgs eval_args;
  CLI::App* eval = app.add_subcommand("eval", "Mean next-token loss of a model on a dataset; prints JSON");
  eval->add_option("--model", eval_args.model, "Hugging Face model directory (config.json, safetensors, tokenizer)")
      ->required();
  eval->add_option("--adapter", eval_args.adapter, "PEFT LoRA adapter directory, merged into the model");
  eval->add_option("--data", eval_args.data, "Dataset file (.jsonl or .csv)")->required();
  eval->add_option("--format", eval_args.format, "text, instruct or chat")->capture_default_str();
  eval->add_option("--field", eval_args.field, "Text format: the column holding the text (default: text)");
  eval->add_option("--columns", eval_args.columns, "Role to column mapping, e.g. instruction=q,output=a");
  eval->add_option("--max-len", eval_args.max_length, "Tokens per document; longer ones are truncated")
      ->capture_default_str();
  eval->add_option("--device", eval_args.device, "auto (a GPU when present), cpu, cuda or cuda:N")
      ->capture_default_str();
  eval->add_option("--dtype", eval_args.dtype, "Compute dtype: float32 or bfloat16")->capture_default_str();
  eval->add_option("--batch-tokens", eval_args.batch_tokens, "Padded tokens per forward pass")->capture_default_str();
  eval->add_option("--submission", eval_args.submission,
                   "A miner's checkpoint to judge against --model as its base, then evaluate (prints a verdict)");
  eval->add_option("--submission-kind", eval_args.submission_kind, "lora (a PEFT adapter) or full (a model directory)");
  eval->add_option("--threads", eval_args.threads, "CPU threads (0: chosen for the machine)")->capture_default_str();

  gradients::cli::GenerateArgs generate_args;
  CLI::App* generate = app.add_subcommand("generate", "Continue a prompt with a model (KV cache; greedy or sampled)");
  generate->add_option("--model", generate_args.model, "Hugging Face model directory")->required();
  generate->add_option("--adapter", generate_args.adapter, "PEFT LoRA adapter directory, merged into the model");
  generate->add_option("--prompt", generate_args.prompt, "The text to continue")->required();
  generate->add_option("--max-new", generate_args.max_new_tokens, "Most tokens to generate")->capture_default_str();
  generate->add_option("--temperature", generate_args.temperature, "0 for greedy decoding")->capture_default_str();
  generate->add_option("--top-p", generate_args.top_p, "Nucleus sampling mass")->capture_default_str();
  generate->add_option("--seed", generate_args.seed, "Sampling seed")->capture_default_str();
  generate->add_option("--device", generate_args.device, "auto (a GPU when present), cpu, cuda or cuda:N")
      ->capture_default_str();

  gradients::cli::InitModelArgs init_args;
  CLI::App* init_model =
      app.add_subcommand("init-model",
                         "Write a randomly initialised model in Hugging Face layout (presets: tiny, small, base, "
                         "tinyllama-1.1b)");
  init_model->add_option("--preset", init_args.preset, "Model shape")->capture_default_str();
  init_model->add_option("--out", init_args.out, "Output directory")->required();
  init_model->add_option("--tokenizer", init_args.tokenizer,
                         "tokenizer.json, tokenizer.model or a directory; sets the vocabulary and is copied");
  init_model->add_option("--seed", init_args.seed, "Initialisation seed")->capture_default_str();
  init_model->add_option("--dtype", init_args.dtype, "float32 or bfloat16")->capture_default_str();

  gradients::cli::MergeArgs merge_args;
  CLI::App* merge = app.add_subcommand(
      "merge", "Merge a LoRA adapter into its base model; writes a full model in Hugging Face layout");
  merge->add_option("--model", merge_args.model, "Base model directory")->required();
  merge->add_option("--adapter", merge_args.adapter, "PEFT LoRA adapter directory")->required();
  merge->add_option("--out", merge_args.out, "Output directory; must not exist or be empty")->required();
  merge->add_option("--dtype", merge_args.dtype, "float32 or bfloat16")->capture_default_str();

  gradients::cli::TrainArgs train_args;
  CLI::App* train = app.add_subcommand(
      "train", "Fine-tune a model (LoRA or full) on a dataset; writes a PEFT adapter or a full model");
  train->add_option("--model", train_args.model, "Base model directory (config.json, safetensors, tokenizer)")
      ->required();
  train->add_option("--data", train_args.data, "Dataset file (.jsonl or .csv)")->required();
  train->add_option("--format", train_args.format, "text, instruct or chat")->capture_default_str();
  train->add_option("--field", train_args.field, "Text format: the column holding the text (default: text)");
  train->add_option("--columns", train_args.columns, "Role to column mapping, e.g. instruction=q,output=a");
  train->add_option("--out", train_args.out, "Output directory (the result, training_summary.json, checkpoint/)")
      ->required();
  train->add_option("--config", train_args.config, "Hyperparameters JSON (configs/hyperparameters.example.json)");
  train->add_option("--mode", train_args.mode, "lora or full (overrides the config's mode)");
  train->add_flag("--resume", train_args.resume, "Continue the run checkpointed in --out");
  train->add_option("--metrics", train_args.metrics, "Append progress as JSON lines to this file");
  train->add_option("--device", train_args.device, "auto (a GPU when present), cpu, cuda or cuda:N")
      ->capture_default_str();
  train->add_option("--time-limit", train_args.time_limit_seconds,
                    "Seconds the run may take; it stops in time to write its result (0: no limit)");
  train->add_option("--log-every", train_args.log_every, "Optimizer steps between progress reports")
      ->capture_default_str();
  train
      ->add_option("--checkpoint-every", train_args.checkpoint_every,
                   "Optimizer steps between checkpoints (0: at evaluations and at the end)")
      ->capture_default_str();
  train->add_flag("--activation-checkpointing", train_args.activation_checkpointing,
                  "Recompute activations in the backward pass (less memory for long sequences)");
  train
      ->add_option("--cpu-threads", train_args.cpu_threads,
                   "libtorch's threads on the CPU (0: one with an external BLAS such as OpenBLAS, which "
                   "threads itself)")
      ->capture_default_str();

  std::string tokenizer_path;
  bool add_special = false;
  CLI::App* tokenize =
      app.add_subcommand("tokenize", "Encode stdin (one JSON string per line) to token ids (one JSON array per line)");
  tokenize->add_option("--tokenizer", tokenizer_path, "tokenizer.json, tokenizer.model or a model directory")
      ->required();
  tokenize->add_flag("--add-special", add_special, "Add what the tokenizer's post-processor adds (BOS/EOS)");

  gradients::cli::CorpusArgs corpus_args;
  CLI::App* corpus = app.add_subcommand(
      "corpus",
      "Make a dataset from Debian's data (WordNet, fortunes, miscfiles, FreeDict) or a synthetic generator as JSONL; "
      "without NAME, list the sources");
  corpus->add_option("name", corpus_args.name, "The source: pretraining-text, wordnet-definitions, ...");
  corpus->add_option("--out", corpus_args.out, "The .jsonl file to write");
  corpus->add_option("--rows", corpus_args.options.rows, "Rows to keep (0: all), in the seed's order")
      ->capture_default_str();
  corpus->add_option("--seed", corpus_args.options.seed, "Orders the rows")->capture_default_str();
  corpus->add_option("--wordnet", corpus_args.options.wordnet_dir, "WordNet's data directory (wordnet-base)")
      ->capture_default_str();
  corpus->add_option("--fortunes", corpus_args.options.fortunes_dir, "The fortune files (fortunes)")
      ->capture_default_str();
  corpus->add_option("--miscfiles", corpus_args.options.miscfiles_dir, "countries.gz and currency.gz (miscfiles)")
      ->capture_default_str();
  corpus->add_option("--freedict", corpus_args.options.freedict_dir, "FreeDict dictionaries (dict-freedict-eng-*)")
      ->capture_default_str();

  gradients::testnet::BaseModelOptions base_model_args;
  CLI::App* base_model = app.add_subcommand(
      "base-model", "Pretrain a base model on a text corpus: a SentencePiece tokenizer, a preset, full training");
  base_model->add_option("--corpus", base_model_args.corpus, "JSONL of {\"text\": ...} documents")->required();
  base_model->add_option("--out", base_model_args.out, "The model directory to write")->required();
  base_model->add_option("--preset", base_model_args.recipe.preset, "tiny, small, base, ...")->capture_default_str();
  base_model->add_option("--vocab", base_model_args.recipe.vocab_size, "Tokenizer vocabulary size")
      ->capture_default_str();
  base_model->add_option("--tokens", base_model_args.recipe.train_tokens, "Training tokens")->capture_default_str();
  base_model->add_option("--max-len", base_model_args.recipe.max_length, "Tokens per training row")
      ->capture_default_str();
  base_model->add_option("--lr", base_model_args.recipe.learning_rate, "Peak learning rate (cosine)")
      ->capture_default_str();
  base_model->add_option("--batch", base_model_args.recipe.micro_batch_size, "Rows per step")->capture_default_str();
  base_model->add_option("--seed", base_model_args.recipe.seed, "Initialisation and data order")->capture_default_str();
  base_model->add_option("--threads", base_model_args.recipe.cpu_threads, "CPU threads (part of the recipe)")
      ->capture_default_str();
  base_model->add_option("--cache", base_model_args.cache_dir, "Keep made models here, by recipe, and reuse them");

#ifdef GRADIENTS_CLI_TESTNET
  gradients::testnet::TestnetOptions testnet_options;
  CLI::App* testnet = app.add_subcommand("testnet", "A local testnet: a validator and miners on loopback");
  testnet->require_subcommand(1);
  for (CLI::App* command :
       {testnet->add_subcommand("run", "Prepare, start the validator and the miners, print each round; Ctrl-C stops"),
        testnet->add_subcommand("prepare", "Make the base model (cached), the datasets and the miners' keys"),
        testnet->add_subcommand("watch",
                                "Print each scored round's leaderboard and the weights of a running testnet")}) {
    command->add_option("--dir", testnet_options.dir, "The testnet's directory (the daemons' working directory)")
        ->capture_default_str();
    command->add_option("--configs", testnet_options.configs,
                        "The directory with testnet.json and the daemons' configs (default: configs/testnet)");
    command->add_option("--cache", testnet_options.cache, "Base model cache (default: ~/.cache/gradients/base-models)");
    command->add_option("--rounds", testnet_options.rounds, "Stop after this many scored rounds (0: until Ctrl-C)")
        ->capture_default_str();
    command->add_option("--timeout", testnet_options.timeout_seconds, "Give up after this many seconds (0: never)")
        ->capture_default_str();
  }
#endif

  CLI::App* version = app.add_subcommand("version", "Print the version and library versions");

#ifdef GRADIENTS_CLI_REGISTRY
  gradients::cli::RegisterArgs model_add_args, dataset_add_args;
  std::filesystem::path list_data_dir;
  CLI::App* model = app.add_subcommand("model", "Base models registered in a validator's data directory");
  model->require_subcommand(1);
  CLI::App* model_add = model->add_subcommand(
      "add", "Register a Hugging Face model directory (config.json, *.safetensors; pickles are refused)");
  model_add->add_option("--data-dir", model_add_args.data_dir, "The validator's data directory")->required();
  model_add->add_option("--name", model_add_args.name, "A name for people (default: the directory's name)");
  model_add->add_option("dir", model_add_args.path, "The model directory")->required();
  CLI::App* model_list = model->add_subcommand("list", "List the registered models as JSON");
  model_list->add_option("--data-dir", list_data_dir, "The validator's data directory")->required();
  CLI::App* dataset = app.add_subcommand("dataset", "Datasets registered in a validator's data directory");
  dataset->require_subcommand(1);
  CLI::App* dataset_add = dataset->add_subcommand("add", "Register a .jsonl or .csv dataset file");
  dataset_add->add_option("--data-dir", dataset_add_args.data_dir, "The validator's data directory")->required();
  dataset_add->add_option("--name", dataset_add_args.name, "A name for people (default: the file's name)");
  dataset_add->add_option("file", dataset_add_args.path, "The dataset file")->required();
  CLI::App* dataset_list = dataset->add_subcommand("list", "List the registered datasets as JSON");
  dataset_list->add_option("--data-dir", list_data_dir, "The validator's data directory")->required();

  gradients::cli::AdminConnection admin;
  auto add_connection = [](CLI::App* command, gradients::cli::AdminConnection& connection) {
    command->add_option("--validator", connection.validator, "The validator's admin address (admin.listen)")
        ->capture_default_str();
    command->add_option("--token-file", connection.token_file,
                        "The admin token, when the validator is beyond loopback");
    command->add_option("--timeout", connection.timeout_seconds, "Seconds the call may take")->capture_default_str();
  };
  gradients::cli::TaskListArgs task_list_args;
  std::string task_id, cancel_reason;
  CLI::App* task = app.add_subcommand("task", "A running validator's tasks");
  task->require_subcommand(1);
  CLI::App* task_list = task->add_subcommand("list", "List tasks, newest first, as JSON");
  add_connection(task_list, admin);
  task_list->add_option("--status", task_list_args.statuses,
                        "Only these statuses (pending, preparing, offering, "
                        "training, evaluating, scored, failed); repeatable");
  task_list->add_option("--type", task_list_args.type, "Only this type (instruct, chat, text, ...)");
  task_list->add_option("--limit", task_list_args.limit, "Most tasks to list (1 to 500)")->capture_default_str();
  gradients::cli::TaskCreateArgs task_create_args;
  // Registering a model given by path copies and hashes it inside the call: minutes, not seconds.
  task_create_args.connection.timeout_seconds = 600;
  CLI::App* task_create = task->add_subcommand(
      "create", "Create a task; the validator splits its dataset and offers it to miners (prints it as JSON)");
  add_connection(task_create, task_create_args.connection);
  task_create->add_option("--type", task_create_args.type, "instruct, chat or text")->required();
  task_create
      ->add_option("--model", task_create_args.model,
                   "A registered model's name, or a model directory on the validator's host")
      ->required();
  task_create
      ->add_option("--dataset", task_create_args.dataset,
                   "A registered dataset's name, or a .jsonl/.csv file on the validator's host")
      ->required();
  task_create->add_option("--columns", task_create_args.columns,
                          "Role to column mapping, e.g. instruction=q,output=a (roles not mapped read their own name)");
  CLI::Option* minutes = task_create
                             ->add_option("--minutes", task_create_args.minutes,
                                          "Training time miners get (10 to 10080 unless the validator allows "
                                          "shorter tasks)")
                             ->capture_default_str();
  task_create->add_option("--seconds", task_create_args.seconds, "Training time in seconds, instead of --minutes")
      ->excludes(minutes);
  task_create->add_option("--pool", task_create_args.pool, "Miners per task, MIN..MAX (or one number)")
      ->capture_default_str();
  task_create->add_option("--max-tokens", task_create_args.max_tokens, "A training-token budget for miners (0: none)")
      ->capture_default_str();
  task_create->add_option("--request-id", task_create_args.request_id,
                          "An idempotency key: repeating the same create returns the same task (default: a new "
                          "random one, printed on stderr)");
  CLI::App* task_show = task->add_subcommand("show", "Show one task as JSON");
  add_connection(task_show, admin);
  task_show->add_option("id", task_id, "The task")->required();
  CLI::App* task_cancel = task->add_subcommand("cancel", "Cancel a task: it fails with the reason");
  add_connection(task_cancel, admin);
  task_cancel->add_option("id", task_id, "The task")->required();
  task_cancel->add_option("--reason", cancel_reason, "Why (stored as the failure reason)");
  CLI::App* health = app.add_subcommand("health", "A running validator's health, version and uptime as JSON");
  add_connection(health, admin);
  int64_t miners_limit = 50, leaderboard_days = 0, leaderboard_limit = 100;
  std::string leaderboard_type;
  CLI::App* miners = app.add_subcommand("miners", "The miners a running validator has seen, as JSON");
  add_connection(miners, admin);
  miners->add_option("--limit", miners_limit, "Most miners to list")->capture_default_str();
  CLI::App* leaderboard = app.add_subcommand("leaderboard", "Miners ranked by work-weighted points, as JSON");
  add_connection(leaderboard, admin);
  leaderboard->add_option("--type", leaderboard_type, "Only tasks of this type (instruct, chat, text)");
  leaderboard->add_option("--days", leaderboard_days, "The window in days (default: the weights' window)");
  leaderboard->add_option("--limit", leaderboard_limit, "Most entries")->capture_default_str();
  int64_t weight_history = 0;
  std::filesystem::path audit_file, audit_data_dir, audit_out;
  CLI::App* weights = app.add_subcommand("weights", "A running validator's latest reward weights as JSON");
  add_connection(weights, admin);
  weights->add_option("--history", weight_history, "The last N weight sets instead, newest first");
  CLI::App* weights_recompute = weights->add_subcommand(
      "recompute", "Recompute every weight set of an audit export and check it equals the published weights");
  weights_recompute->add_option("--audit", audit_file, "A file written by `gradients audit export`")->required();
  CLI::App* audit = app.add_subcommand("audit", "Audit logs of a validator's data directory");
  audit->require_subcommand(1);
  CLI::App* audit_export = audit->add_subcommand(
      "export", "Every weight set with every input it was computed from, one JSON line each, oldest first");
  audit_export->add_option("--data-dir", audit_data_dir, "The validator's data directory")->required();
  audit_export->add_option("--out", audit_out, "Write to this file (durably) instead of stdout");
#endif

#ifdef GRADIENTS_CLI_MINER
  std::filesystem::path miner_config;
  CLI::App* miner = app.add_subcommand("miner", "A miner's jobs, read from its work directory");
  miner->require_subcommand(1);
  CLI::App* miner_status =
      miner->add_subcommand("status", "Each job's phase, trials, best validation loss and time left, as JSON");
  miner_status->add_option("--config", miner_config, "The miner's JSON config")->required();
#endif

  CLI11_PARSE(app, argc, argv);

  gradients::common::LogOptions log_options;
  log_options.level = log_level;
  if (gradients::common::Status status = gradients::common::ConfigureLogging(log_options); !status.ok()) {
    std::cerr << "gradients: " << status.message() << "\n";
    return 2;
  }

  if (*keygen) return gradients::cli::RunKeygen(key_out, std::cout, std::cerr);
  if (*pubkey) return gradients::cli::RunPubkey(key_in, std::cout, std::cerr);
  if (*inspect) return gradients::cli::RunInspect(tensors_file, std::cout, std::cerr);
  if (*tokenize) return gradients::cli::RunTokenize(tokenizer_path, add_special, std::cin, std::cout, std::cerr);
  if (*eval) return gradients::cli::RunEval(eval_args, std::cout, std::cerr);
  if (*generate) return gradients::cli::RunGenerate(generate_args, std::cout, std::cerr);
  if (*init_model) return gradients::cli::RunInitModel(init_args, std::cout, std::cerr);
  if (*merge) return gradients::cli::RunMerge(merge_args, std::cout, std::cerr);
  if (*train) return gradients::cli::RunTrain(train_args, std::cout, std::cerr, isatty(STDERR_FILENO) == 1);
  if (*corpus) return gradients::cli::RunCorpus(corpus_args, std::cout, std::cerr);
  if (*base_model) return gradients::cli::RunBaseModel(base_model_args, std::cout, std::cerr);
#ifdef GRADIENTS_CLI_TESTNET
  if (*testnet) {
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal_number, StopTestnet);
    const std::string command = testnet->get_subcommands().front()->get_name();
    try {
      if (command == "prepare") return gradients::testnet::PrepareTestnet(testnet_options, testnet_signals, std::cout, std::cerr);
      if (command == "watch") return gradients::testnet::WatchTestnet(testnet_options, testnet_signals, std::cout, std::cerr);
      return gradients::testnet::RunTestnet(testnet_options, testnet_signals, std::cout, std::cerr);
    } catch (const std::exception& error) {  // the daemons were stopped as the stack unwound
      std::cerr << "gradients testnet " << command << ": " << error.what() << "\n";
      return 1;
    }
  }
#endif
#ifdef GRADIENTS_CLI_REGISTRY
  if (*model_add) return gradients::cli::RunModelAdd(model_add_args, std::cout, std::cerr);
  if (*model_list) return gradients::cli::RunModelList(list_data_dir, std::cout, std::cerr);
  if (*dataset_add) return gradients::cli::RunDatasetAdd(dataset_add_args, std::cout, std::cerr);
  if (*dataset_list) return gradients::cli::RunDatasetList(list_data_dir, std::cout, std::cerr);
  if (*task_list) {
    task_list_args.connection = admin;
    return gradients::cli::RunTaskList(task_list_args, std::cout, std::cerr);
  }
  if (*task_create) return gradients::cli::RunTaskCreate(task_create_args, std::cout, std::cerr);
  if (*task_show) return gradients::cli::RunTaskShow(admin, task_id, std::cout, std::cerr);
  if (*task_cancel) return gradients::cli::RunTaskCancel(admin, task_id, cancel_reason, std::cout, std::cerr);
  if (*health) return gradients::cli::RunHealth(admin, std::cout, std::cerr);
  if (*miners) return gradients::cli::RunMiners(admin, miners_limit, std::cout, std::cerr);
  if (*leaderboard) {
    return gradients::cli::RunLeaderboard(admin, leaderboard_type, leaderboard_days, leaderboard_limit, std::cout,
                                          std::cerr);
  }
  if (*weights_recompute) return gradients::cli::RunWeightsRecompute(audit_file, std::cout, std::cerr);
  if (*weights) return gradients::cli::RunWeights(admin, weight_history, std::cout, std::cerr);
  if (*audit_export) return gradients::cli::RunAuditExport(audit_data_dir, audit_out, std::cout, std::cerr);
#endif
#ifdef GRADIENTS_CLI_MINER
  if (*miner_status)
    return gradients::cli::RunMinerStatus(miner_config, std::cout, std::cerr, gradients::common::SystemClockMs);
#endif
  if (*version) {
    std::cout << gradients::cli::VersionString() << "\n";
    return 0;
  }
  return 2;
}
