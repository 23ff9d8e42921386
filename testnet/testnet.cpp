#include "cli/testnet.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "cli/base_model.h"
#include "common/durable_file.h"
#include "common/hex.h"
#include "common/keys.h"
#include "corpora/task_datasets.h"
#include "gradients/v1/admin.grpc.pb.h"
#include "miner/miner_options.h"
#include "trainers/trainer.h"

extern char** environ;

namespace gradients::cli {

void ReadConfig(common::ConfigReader& reader, TestnetBaseModel& options) {
  reader.Optional("out", options.out).Optional("corpus", options.corpus).Optional("corpus_rows", options.corpus_rows);
  ReadRecipeKeys(reader, options.recipe);
  reader.Check(!options.out.empty(), "out", "must not be empty")
      .Check(options.corpus_rows >= 0, "corpus_rows", "must not be negative");
}

void ReadConfig(common::ConfigReader& reader, TestnetDataset& options) {
  reader.Required("out", options.out)
      .Required("corpus", options.corpus)
      .Optional("rows", options.rows)
      .Optional("seed", options.seed);
  reader.Check(options.rows >= 0, "rows", "must not be negative");
}

void ReadConfig(common::ConfigReader& reader, TestnetPlan& plan) {
  reader.Optional("validator", plan.validator)
      .Required("miners", plan.miners)
      .Optional("base_model", plan.base_model)
      .Optional("datasets", plan.datasets);
  reader.Check(!plan.miners.empty(), "miners", "must name at least one miner config");
}

std::filesystem::path DefaultTestnetConfigs() {
#ifdef GRADIENTS_SOURCE_DIR
  const std::filesystem::path source = std::filesystem::path(GRADIENTS_SOURCE_DIR) / "configs" / "testnet";
  if (std::filesystem::exists(source / "testnet.json")) return source;
#endif
  return "/etc/gradients/testnet";
}

namespace {

using Clock = std::chrono::steady_clock;

std::filesystem::path InDir(const std::filesystem::path& dir, const std::string& path) {
  return std::filesystem::path(path).is_absolute() ? std::filesystem::path(path) : dir / path;
}

struct TestnetMiner {
  std::string name;  // its config file's stem: "miner-tpe"
  std::filesystem::path config;
  miner::MinerOptions options;
};

// What the testnet needs of the validator's config; the validator itself checks the rest.
struct TestnetValidator {
  std::string data_dir;
  std::string admin_listen = "127.0.0.1:7401";
};

common::Result<TestnetValidator> ReadValidatorConfig(const std::filesystem::path& path) {
  common::Result<nlohmann::json> json = common::ReadJsonFile(path);
  if (!json.ok()) return json.status();
  TestnetValidator validator;
  if (json->contains("data_dir") && (*json)["data_dir"].is_string()) validator.data_dir = (*json)["data_dir"];
  if (validator.data_dir.empty()) return common::Status::InvalidArgument(path.string() + ": data_dir is required");
  if (json->contains("admin") && (*json)["admin"].is_object() && (*json)["admin"].contains("listen") &&
      (*json)["admin"]["listen"].is_string()) {
    validator.admin_listen = (*json)["admin"]["listen"];
  }
  return validator;
}

struct LoadedTestnet {
  TestnetPlan plan;
  std::filesystem::path validator_config;
  TestnetValidator validator;
  std::vector<TestnetMiner> miners;
};

common::Result<LoadedTestnet> Load(const TestnetOptions& options) {
  const std::filesystem::path configs = options.configs.empty() ? DefaultTestnetConfigs() : options.configs;
  LoadedTestnet loaded;
  common::Result<TestnetPlan> plan = common::LoadConfigFile<TestnetPlan>(configs / "testnet.json", "testnet");
  if (!plan.ok()) return plan.status();
  loaded.plan = *plan;
  loaded.validator_config = std::filesystem::absolute(configs / loaded.plan.validator);
  common::Result<TestnetValidator> validator = ReadValidatorConfig(loaded.validator_config);
  if (!validator.ok()) return validator.status();
  loaded.validator = *validator;
  for (const std::string& file : loaded.plan.miners) {
    TestnetMiner miner;
    miner.config = std::filesystem::absolute(configs / file);
    miner.name = miner.config.stem().string();
    common::Result<miner::MinerOptions> miner_options = common::LoadConfigFile<miner::MinerOptions>(miner.config, "miner");
    if (!miner_options.ok()) return miner_options.status();
    miner.options = *miner_options;
    loaded.miners.push_back(std::move(miner));
  }
  return loaded;
}

std::filesystem::path CacheDir(const TestnetOptions& options) {
  if (!options.cache.empty()) return options.cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "gradients" / "base-models";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "gradients" / "base-models";
  }
  return options.dir / "cache";
}

common::Status Prepare(const TestnetOptions& options, const LoadedTestnet& testnet, const TestnetSignals& signals,
               std::ostream& out) {
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
  model.cache_dir = CacheDir(options);
  model.cancel = &signals.stop;
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
    if (signals.stop) return common::Status::Aborted("stopped");
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

// The validator's Admin address: the port it wrote to its data directory's ports.json (port 0 in
// its config picks one), else its config's; a wildcard host is reached on loopback.
std::string AdminAddress(const std::filesystem::path& dir, const LoadedTestnet& testnet) {
  const std::filesystem::path ports = InDir(dir, testnet.validator.data_dir) / "ports.json";
  if (common::Result<std::string> text = common::ReadFileToString(ports, 4096); text.ok()) {
    nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_object() && json.contains("admin") && json["admin"].is_number_integer()) {
      return "127.0.0.1:" + std::to_string(json["admin"].get<int>());
    }
  }
  std::string listen = testnet.validator.admin_listen;
  if (listen.starts_with("0.0.0.0:")) listen = "127.0.0.1:" + listen.substr(8);
  if (listen.starts_with("[::]:")) listen = "[::1]:" + listen.substr(5);
  return listen;
}

// What the leaderboard calls each miner: its config's name and strategy, by public key.
std::map<std::string, std::pair<std::string, std::string>> MinerNames(const std::filesystem::path& dir,
                                                                      const LoadedTestnet& testnet) {
  std::map<std::string, std::pair<std::string, std::string>> names;
  for (const TestnetMiner& miner : testnet.miners) {
    common::Result<common::SigningKey> key = common::ReadKeyFile(InDir(dir, miner.options.key_file));
    if (!key.ok()) continue;
    const auto& bytes = key->public_key().bytes;
    names[std::string(bytes.begin(), bytes.end())] = {miner.name, miner.options.strategy.name};
  }
  return names;
}

std::string Lowercase(std::string_view name, std::string_view prefix) {
  std::string word(name.substr(name.starts_with(prefix) ? prefix.size() : 0));
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

// Polls the validator's Admin service and prints each newly scored task and then the first weight
// set computed after it.
class RoundWatcher {
 public:
  RoundWatcher(const std::filesystem::path& dir, const LoadedTestnet& testnet, std::ostream& out)
      : dir_(dir), testnet_(testnet), out_(out) {}

  // One poll; false when the validator did not answer.
  bool Poll() {
    if (!stub_ || address_ != AdminAddress(dir_, testnet_)) {
      address_ = AdminAddress(dir_, testnet_);
      stub_ = v1::Admin::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    }
    v1::ListTasksRequest request;
    request.set_page_size(50);
    v1::ListTasksResponse tasks;
    if (!stub_->ListTasks(Context().get(), request, &tasks).ok()) return false;
    if (names_.size() < testnet_.miners.size()) names_ = MinerNames(dir_, testnet_);
    std::vector<const v1::Task*> oldest_first;
    for (const v1::Task& task : tasks.tasks()) oldest_first.insert(oldest_first.begin(), &task);
    for (const v1::Task* task : oldest_first) {
      const std::string& id = task->spec().task_id();
      const std::string status = Lowercase(v1::TaskStatus_Name(task->status()), "TASK_STATUS_");
      if (announced_[id] != status) {
        announced_[id] = status;
        if (task->status() != v1::TASK_STATUS_SCORED) {
          out_ << fmt::format("task {}: {}{}\n", id.substr(0, 12), status,
                              task->failure_reason().empty() ? "" : " (" + task->failure_reason() + ")")
               << std::flush;
        }
      }
      if (task->status() == v1::TASK_STATUS_SCORED && printed_.insert(id).second) PrintRound(*task);
    }
    if (unweighted_rounds_ > 0) PrintWeightsIfNew();
    return true;
  }

  int64_t rounds() const { return rounds_; }

 private:
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  std::string NameOf(const std::string& key, bool strategy) const {
    auto found = names_.find(key);
    if (found != names_.end()) return strategy ? found->second.second : found->second.first;
    return strategy ? "?"
                    : "key " + common::ToHex(std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size())).substr(0, 12);
  }

  void PrintRound(const v1::Task& task) {
    v1::GetTaskRequest request;
    request.set_task_id(task.spec().task_id());
    v1::GetTaskResponse detail;
    if (!stub_->GetTask(Context().get(), request, &detail).ok()) {
      printed_.erase(task.spec().task_id());
      return;
    }
    ++scored_;
    out_ << fmt::format("\nround {}: task {} scored ({} on {}, {} training rows, {} held out)\n", scored_,
                        task.spec().task_id().substr(0, 12), task.dataset_name(), task.spec().base_model_name(),
                        task.spec().training_rows(), task.test_rows());
    out_ << fmt::format("  {:<4} {:<16} {:<9} {:<14} {:>10} {:>7}\n", "rank", "miner", "strategy", "status",
                        "test loss", "points");
    for (const v1::Submission& submission : detail.submissions()) {
      out_ << fmt::format("  {:<4} {:<16} {:<9} {:<14} {:>10} {:>7g}\n",
                          submission.rank() == 0 ? "-" : std::to_string(submission.rank()),
                          NameOf(submission.miner_public_key(), false), NameOf(submission.miner_public_key(), true),
                          Lowercase(v1::SubmissionStatus_Name(submission.status()), "SUBMISSION_STATUS_"),
                          submission.has_test_loss() ? fmt::format("{:.4f}", submission.test_loss()) : "-",
                          submission.points());
    }
    out_ << std::flush;
    // The weights that count this round are those of a set computed after it was scored (sets are
    // computed every weights.interval_ms).
    latest_scored_ns_ = std::max(latest_scored_ns_, Nanoseconds(task.updated_at()));
    ++unweighted_rounds_;
  }

  static int64_t Nanoseconds(const google::protobuf::Timestamp& time) {
    return time.seconds() * 1'000'000'000 + time.nanos();
  }

  void PrintWeightsIfNew() {
    v1::GetCurrentWeightsResponse current;
    if (!stub_->GetCurrentWeights(Context().get(), v1::GetCurrentWeightsRequest(), &current).ok()) return;
    const v1::WeightSet& set = current.weights();
    if (set.id() == 0 || Nanoseconds(set.computed_at()) < latest_scored_ns_) return;
    rounds_ += unweighted_rounds_;
    unweighted_rounds_ = 0;
    out_ << fmt::format("weights (set {}{}):\n", set.id(),
                        set.published_to().empty() ? "" : ", published to " + set.published_to());
    for (const v1::MinerWeight& weight : set.weights()) {
      out_ << fmt::format("  {:<16} {:<9} {:.4f}\n", NameOf(weight.miner_public_key(), false),
                          NameOf(weight.miner_public_key(), true), weight.weight());
    }
    out_ << std::flush;
  }

  std::filesystem::path dir_;
  const LoadedTestnet& testnet_;
  std::ostream& out_;
  std::string address_;
  std::unique_ptr<v1::Admin::Stub> stub_;
  std::map<std::string, std::pair<std::string, std::string>> names_;
  std::map<std::string, std::string> announced_;
  std::set<std::string> printed_;
  int64_t scored_ = 0;
  int64_t rounds_ = 0;             // scored and weighted
  int64_t unweighted_rounds_ = 0;  // scored, waiting for a weight set computed after them
  int64_t latest_scored_ns_ = 0;
};

// Watches until the rounds are done, `stop` turns true, the timeout passes or `alive` says a
// daemon died. 0 when the rounds were done or stop was asked for.
int Watch(const TestnetOptions& options, const LoadedTestnet& testnet, const std::atomic<bool>& stop,
          const std::function<std::string()>& dead_daemon, std::ostream& out, std::ostream& err) {
  RoundWatcher watcher(options.dir, testnet, out);
  const auto started = Clock::now();
  auto last_answer = Clock::now();
  while (!stop) {
    if (watcher.Poll()) {
      last_answer = Clock::now();
    } else if (Clock::now() - last_answer > std::chrono::seconds(60)) {
      err << "gradients testnet: the validator's Admin service at " << AdminAddress(options.dir, testnet)
          << " has not answered for a minute\n";
      return 1;
    }
    if (options.rounds > 0 && watcher.rounds() >= options.rounds) return 0;
    if (const std::string dead = dead_daemon ? dead_daemon() : ""; !dead.empty()) {
      err << "gradients testnet: " << dead << "\n";
      return 1;
    }
    if (options.timeout_seconds > 0 && Clock::now() - started > std::chrono::seconds(options.timeout_seconds)) {
      err << "gradients testnet: " << watcher.rounds() << " round(s) scored"
          << (options.rounds > 0 ? " of " + std::to_string(options.rounds) : std::string()) << " after "
          << options.timeout_seconds << " s (--timeout)\n";
      return 1;
    }
    for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

// A daemon of the testnet: its own process group (Ctrl-C reaches the testnet, which stops the
// daemons in order), working directory the testnet's, output to a log file.
class Daemon {
 public:
  Daemon(std::string name, std::vector<std::string> argv, std::filesystem::path log,
         std::vector<std::string> extra_environment = {})
      : name_(std::move(name)), argv_(std::move(argv)), log_(std::move(log)) {
    for (char** variable = environ; *variable != nullptr; ++variable) environment_.push_back(*variable);
    environment_.insert(environment_.end(), extra_environment.begin(), extra_environment.end());
  }
  ~Daemon() { Kill(); }

  common::Status Start(const std::filesystem::path& cwd) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    std::vector<char*> args;
    for (std::string& arg : argv_) args.push_back(arg.data());
    args.push_back(nullptr);
    std::vector<char*> environment;
    for (std::string& variable : environment_) environment.push_back(variable.data());
    environment.push_back(nullptr);
    const int error = posix_spawn(&pid_, args[0], &actions, &attributes, args.data(), environment.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (error != 0) {
      pid_ = -1;
      return common::Status::IoError("starting " + name_ + " (" + argv_[0] + "): " + std::strerror(error));
    }
    return common::Status::Ok();
  }

  // Empty while it runs; else how it ended.
  std::string Ended() {
    if (pid_ <= 0) return ended_;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return "";
    pid_ = -1;
    ended_ = name_ +
             (WIFEXITED(status) ? " exited with " + std::to_string(WEXITSTATUS(status))
                                : " was killed by signal " + std::to_string(WTERMSIG(status))) +
             " (log: " + log_.string() + ")";
    return ended_;
  }

  void Signal(int signal_number) const {
    if (pid_ > 0) kill(pid_, signal_number);
  }

  // Waits up to `timeout` for it to end, or until `force` turns true; then kills what is left.
  void WaitOrKill(std::chrono::seconds timeout, const std::atomic<bool>& force) {
    const auto until = Clock::now() + timeout;
    while (pid_ > 0 && Ended().empty() && Clock::now() < until && !force) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Kill();
  }

  const std::string& name() const { return name_; }

 private:
  // The whole process group: the validator's evaluations too.
  void Kill() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string name_;
  std::vector<std::string> argv_;
  std::filesystem::path log_;
  std::vector<std::string> environment_;
  pid_t pid_ = -1;
  std::string ended_;
};

// gradients-validator or gradients-miner: beside this program, in the build tree beside it, or on PATH.
std::filesystem::path FindProgram(const std::string& name, const std::string& build_subdir) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error).parent_path();
  for (const std::filesystem::path& candidate : {self / name, self.parent_path() / build_subdir / name}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string_view paths(path);
    while (!paths.empty()) {
      const size_t colon = paths.find(':');
      const std::filesystem::path candidate = std::filesystem::path(paths.substr(0, colon)) / name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      paths = colon == std::string_view::npos ? "" : paths.substr(colon + 1);
    }
  }
  return {};
}

}  // namespace

int PrepareTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err) {
  common::Result<LoadedTestnet> testnet = Load(options);
  if (!testnet.ok()) return err << "gradients testnet: " << testnet.status().message() << "\n", 2;
  if (common::Status status = Prepare(options, *testnet, signals, out); !status.ok()) {
    err << "gradients testnet prepare: " << status.message() << "\n";
    return 1;
  }
  return 0;
}

int WatchTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err) {
  common::Result<LoadedTestnet> testnet = Load(options);
  if (!testnet.ok()) return err << "gradients testnet: " << testnet.status().message() << "\n", 2;
  return Watch(options, *testnet, signals.stop, nullptr, out, err);
}

int RunTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err) {
  const std::atomic<bool>& stop = signals.stop;
  common::Result<LoadedTestnet> testnet = Load(options);
  if (!testnet.ok()) return err << "gradients testnet: " << testnet.status().message() << "\n", 2;
  const std::filesystem::path validator_program = FindProgram("gradients-validator", "validator");
  const std::filesystem::path miner_program = FindProgram("gradients-miner", "miner");
  if (validator_program.empty() || miner_program.empty()) {
    err << "gradients testnet: cannot find gradients-validator and gradients-miner beside this program, in its "
           "build tree or on PATH (build them: cmake --build build)\n";
    return 2;
  }
  if (common::Status status = Prepare(options, *testnet, signals, out); !status.ok()) {
    if (status.code() == common::StatusCode::kAborted) return out << "stopped\n", 0;
    err << "gradients testnet prepare: " << status.message() << "\n";
    return 1;
  }

  const std::filesystem::path dir = std::filesystem::absolute(options.dir);
  std::error_code error;
  std::filesystem::create_directories(dir / "logs", error);
  std::vector<std::unique_ptr<Daemon>> daemons;
  daemons.push_back(std::make_unique<Daemon>(
      "validator", std::vector<std::string>{validator_program, "--config", testnet->validator_config.string()},
      dir / "logs" / "validator.log"));
  // The miners share this machine's cores: OpenBLAS threads of their own in each would spin
  // against each other's (docker-compose.yml sets the same).
  for (const TestnetMiner& miner : testnet->miners) {
    daemons.push_back(std::make_unique<Daemon>(
        miner.name, std::vector<std::string>{miner_program, "--config", miner.config.string()},
        dir / "logs" / (miner.name + ".log"), std::vector<std::string>{"OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1"}));
  }
  // The validator first: the miners connect to it (and would only retry until it serves).
  const std::filesystem::path ports = InDir(dir, testnet->validator.data_dir) / "ports.json";
  std::filesystem::remove(ports, error);
  int exit_code = 0;
  if (common::Status status = daemons[0]->Start(dir); !status.ok()) {
    err << "gradients testnet: " << status.message() << "\n";
    return 1;
  }
  for (int i = 0; i < 1200 && !std::filesystem::exists(ports) && daemons[0]->Ended().empty() && !stop; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (stop && !std::filesystem::exists(ports)) {
    // Ctrl-C while the validator starts: stopped below, nothing to report.
  } else if (!std::filesystem::exists(ports)) {
    const std::string ended = daemons[0]->Ended();
    err << "gradients testnet: the validator did not start: " << (ended.empty() ? "no ports.json after 60 s" : ended)
        << " (log: " << (dir / "logs" / "validator.log").string() << ")\n";
    exit_code = 1;
  } else {
    out << "validator: " << validator_program.string() << ", admin " << AdminAddress(dir, *testnet) << ", log "
        << (dir / "logs" / "validator.log").string() << "\n";
    for (size_t i = 1; i < daemons.size() && exit_code == 0; ++i) {
      if (common::Status status = daemons[i]->Start(dir); !status.ok()) {
        err << "gradients testnet: " << status.message() << "\n";
        exit_code = 1;
      } else {
        out << daemons[i]->name() << ": log " << (dir / "logs" / (daemons[i]->name() + ".log")).string() << "\n";
      }
    }
    out << (options.rounds > 0 ? fmt::format("watching for {} round(s)\n", options.rounds)
                               : std::string("rounds run until Ctrl-C\n"))
        << std::flush;
    if (exit_code == 0) {
      TestnetOptions in_dir = options;
      in_dir.dir = dir;
      exit_code = Watch(
          in_dir, *testnet, stop,
          [&] {
            for (auto& daemon : daemons) {
              if (std::string ended = daemon->Ended(); !ended.empty()) return ended;
            }
            return std::string();
          },
          out, err);
    }
  }
  // Miners first (each checkpoints its job), then the validator.
  out << "stopping the testnet\n" << std::flush;
  for (size_t i = 1; i < daemons.size(); ++i) daemons[i]->Signal(SIGTERM);
  for (size_t i = 1; i < daemons.size(); ++i) daemons[i]->WaitOrKill(std::chrono::seconds(30), signals.force);
  daemons[0]->Signal(SIGTERM);
  daemons[0]->WaitOrKill(std::chrono::seconds(30), signals.force);
  out << "stopped\n";
  return exit_code;
}

}  // namespace gradients::cli
