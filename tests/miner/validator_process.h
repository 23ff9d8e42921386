// A real `gradients-validator` for the miner's and the fault tests, on a loopback port fixed for
// the test's life, so that a restarted validator is found where the miner left it; and real
// `gradients-miner` processes to point at it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/durable_file.h"
#include "gradients/v1/admin.grpc.pb.h"
#include "miner/job_journal.h"
#include "miner/validator_connection.h"
#include "tests/support/free_port.h"
#include "tests/support/subprocess.h"

namespace gradients::miner {

// Config entries registering the test model as "llama" and `rows` instruct rows (written to
// `dir`/qa.jsonl) as "qa", with tasks of a second or more allowed.
inline nlohmann::json TestModelAndDataset(const std::filesystem::path& dir, int rows) {
  std::string lines;
  for (int i = 0; i < rows; ++i) lines += "{\"instruction\": \"q" + std::to_string(i) + "\", \"output\": \"a\"}\n";
  std::ofstream(dir / "qa.jsonl") << lines;
  const std::filesystem::path model = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models" / "llama_mha";
  return {{"models", {{{"path", model.string()}, {"name", "llama"}}}},
          {"datasets", {{{"path", (dir / "qa.jsonl").string()}, {"name", "qa"}}}},
          {"tasks", {{"min_duration_seconds", 1}}}};
}

// The tiny preset model with the 512-piece test tokenizer, written to `dir` by `gradients init-model`;
// false (and a test failure) when that fails.
[[nodiscard]] inline bool InitTinyModel(const std::filesystem::path& dir) {
  testing::ProcessResult init = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "init-model", "--preset", "tiny", "--out", dir.string(), "--tokenizer",
       (std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models/tokenizer_sp512/tokenizer.model").string()});
  EXPECT_EQ(init.exit_code, 0) << init.err;
  return init.exit_code == 0;
}

// A strategy for the tiny model and the test split: short rows, small batches, a fifth held back for
// validation, three trials over the learning rate and the rank.
inline nlohmann::json TestStrategy(const std::string& name) {
  return {{"name", name},
          {"trials", 3},
          {"hyperparameters",
           {{"max_length", 64},
            {"micro_batch_size", 2},
            {"gradient_accumulation_steps", 1},
            {"validation_fraction", 0.2},
            {"warmup_steps", 2}}},
          {"search_space",
           {{"learning_rate", {{"min", 1e-4}, {"max", 1e-2}, {"log", true}}}, {"lora_r", {{"choices", {4, 8}}}}}}};
}

// A gradients-miner config for tests: its key and work directory in `dir`, one validator at
// `gateway`, quick progress reports, checkpoints and reconnects.
inline nlohmann::json TestMinerConfig(const std::filesystem::path& dir, const std::string& gateway,
                                      const nlohmann::json& strategy) {
  return {{"key_file", (dir / "miner.key").string()},
          {"validators", {{{"address", gateway}, {"validator_id", "validator-under-test"}}}},
          {"work_dir", (dir / "work").string()},
          {"device", "cpu"},
          {"strategy", strategy},
          {"jobs",
           {{"upload_reserve_seconds", 4},
            {"checkpoint_every_steps", 2},
            {"progress_interval_seconds", 1},
            {"cpu_threads", 1}}},
          {"reconnect", {{"initial_backoff_ms", 100}, {"max_backoff_ms", 1000}}}};
}

// A task of `seconds` on "llama" and "qa" for `miners` miners, created through Admin at `admin`; its id.
inline std::string CreateTestTask(const std::string& admin, int seconds, int miners = 1) {
  auto stub = v1::Admin::NewStub(grpc::CreateChannel(admin, grpc::InsecureChannelCredentials()));
  v1::CreateTaskRequest request;
  request.set_type(v1::TASK_TYPE_INSTRUCT);
  request.set_base_model("llama");
  request.set_dataset("qa");
  request.set_duration_seconds(static_cast<uint32_t>(seconds));
  request.set_min_pool_size(static_cast<uint32_t>(miners));
  request.set_max_pool_size(static_cast<uint32_t>(miners));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::CreateTaskResponse created;
  grpc::Status status = stub->CreateTask(&context, request, &created);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return created.task().spec().task_id();
}

// Claims `task_id` through `connection` once it is offering (tasks are prepared in the
// background); nullopt when that does not happen within 10 s.
inline std::optional<v1::Claim> ClaimWhenOffering(ValidatorConnection& connection, const std::string& task_id) {
  v1::RespondToOfferRequest accept;
  accept.set_task_id(task_id);
  accept.set_decision(v1::OFFER_DECISION_ACCEPT);
  for (int i = 0; i < 200; ++i) {
    v1::RespondToOfferResponse response;
    const grpc::Status status = connection.Call(
        [&](grpc::ClientContext& context) { return connection.stub().RespondToOffer(&context, accept, &response); });
    if (status.ok()) return response.claim();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return std::nullopt;
}

class ValidatorProcess {
 public:
  // `extra` is merged into the config (models, datasets, tasks, ...).
  ValidatorProcess(std::filesystem::path dir, nlohmann::json extra = nlohmann::json::object())
      : dir_(std::move(dir)), gateway_("127.0.0.1:" + std::to_string(testing::FreePort())) {
    config_ = {{"data_dir", (dir_ / "data").string()},
               {"gateway", {{"listen", gateway_}}},
               {"admin", {{"listen", "127.0.0.1:0"}}},
               {"auth", {{"validator_id", "validator-under-test"}}}};
    config_.update(extra);
  }
  // Starts it and waits until it serves; false (and a test failure with its log) when it does not.
  [[nodiscard]] bool Start() {
    std::filesystem::remove(dir_ / "data" / "ports.json");
    std::ofstream(dir_ / "validator.json") << config_.dump();
    process_ = std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()},
        dir_ / "validator.log");
    for (int i = 0; i < 600 && !std::filesystem::exists(dir_ / "data" / "ports.json"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (std::filesystem::exists(dir_ / "data" / "ports.json")) return true;
    ADD_FAILURE() << "the validator did not start:\n" << Log();
    return false;
  }
  void Kill() {
    process_->Signal(SIGKILL);
    process_->WaitFor(std::chrono::seconds(20));
  }
  // SIGTERM; the exit code.
  std::optional<int> Stop() {
    process_->Signal(SIGTERM);
    return process_->WaitFor(std::chrono::seconds(20));
  }
  const std::string& gateway() const { return gateway_; }
  std::string admin() const {
    return "127.0.0.1:" +
           std::to_string(
               nlohmann::json::parse(*common::ReadFileToString(dir_ / "data" / "ports.json", 4096))["admin"].get<int>());
  }
  std::filesystem::path database() const { return dir_ / "data" / "state.db"; }
  std::string Log() const {
    common::Result<std::string> log = common::ReadFileToString(dir_ / "validator.log", 1 << 20);
    return log.ok() ? *log : "";
  }

 private:
  std::filesystem::path dir_;
  std::string gateway_;
  nlohmann::json config_;
  std::unique_ptr<testing::BackgroundProcess> process_;
};

// A `gradients-miner` process with its own key, work directory and config, pointed at one
// validator address (the validator's gateway, or a proxy in front of it).
class MinerProcess {
 public:
  // `calibration`: a calibration.json to start from (empty: the miner measures its speed itself);
  // `key_of`: another miner whose key this one uses (the same miner in another run); null: a new key.
  MinerProcess(std::filesystem::path dir, const std::string& validator_address, const nlohmann::json& strategy,
               const nlohmann::json& extra = nlohmann::json::object(), const std::filesystem::path& calibration = {},
               const MinerProcess* key_of = nullptr)
      : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_ / "work");
    if (!calibration.empty()) std::filesystem::copy_file(calibration, dir_ / "work" / "calibration.json");
    if (key_of != nullptr) {
      std::filesystem::copy_file(key_of->dir_ / "miner.key", dir_ / "miner.key");
      public_key_ = key_of->public_key_;
    } else {
      testing::ProcessResult key =
          testing::RunProcess({GRADIENTS_CLI_PATH, "keygen", "--out", (dir_ / "miner.key").string()});
      EXPECT_EQ(key.exit_code, 0) << key.err;
      public_key_ = key.out.substr(0, key.out.find_first_of(" \n"));
    }
    nlohmann::json config = TestMinerConfig(dir_, validator_address, strategy);
    config.update(extra);
    std::ofstream(dir_ / "miner.json") << config.dump();
  }
  void Start() {
    process_ = std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{GRADIENTS_MINER_PATH, "--config", (dir_ / "miner.json").string()},
        dir_ / ("miner-" + std::to_string(++starts_) + ".log"));
  }
  void Signal(int signal_number) { process_->Signal(signal_number); }
  void Kill() {
    process_->Signal(SIGKILL);
    process_->WaitFor(std::chrono::seconds(20));
  }
  // SIGTERM; the exit code.
  std::optional<int> Stop() {
    process_->Signal(SIGTERM);
    return process_->WaitFor(std::chrono::seconds(60));
  }
  const std::string& public_key() const { return public_key_; }
  std::filesystem::path work_dir() const { return dir_ / "work"; }
  std::filesystem::path JobDir(const std::string& task_id) const {
    return gradients::miner::JobDir(work_dir(), "validator-under-test", task_id);
  }
  std::optional<JobStatus> Job(const std::string& task_id) const {
    common::Result<JobStatus> status = LoadJobStatus(JobDir(task_id));
    return status.ok() ? std::optional<JobStatus>(*status) : std::nullopt;
  }
  // Polls job.json until `done` holds for the job; false after `timeout`.
  bool WaitForJob(const std::string& task_id, const std::function<bool(const JobStatus&)>& done,
                  std::chrono::seconds timeout = std::chrono::seconds(90)) const {
    for (const auto give_up = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < give_up;
         std::this_thread::sleep_for(std::chrono::milliseconds(10))) {
      if (std::optional<JobStatus> job = Job(task_id); job && done(*job)) return true;
    }
    return false;
  }
  // Every start's log.
  std::string Log() const {
    std::string all;
    for (int i = 1; i <= starts_; ++i) {
      common::Result<std::string> log = common::ReadFileToString(dir_ / ("miner-" + std::to_string(i) + ".log"), 1 << 20);
      all += "--- " + dir_.filename().string() + ", start " + std::to_string(i) + "\n" + (log.ok() ? *log : "");
    }
    return all;
  }
  // `gradients miner status --config` on this miner's config, parsed.
  nlohmann::json Status() const {
    testing::ProcessResult status =
        testing::RunProcess({GRADIENTS_CLI_PATH, "miner", "status", "--config", (dir_ / "miner.json").string()});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    return nlohmann::json::parse(status.out, nullptr, /*allow_exceptions=*/false);
  }

 private:
  std::filesystem::path dir_;
  std::string public_key_;
  int starts_ = 0;
  std::unique_ptr<testing::BackgroundProcess> process_;
};

}  // namespace gradients::miner
