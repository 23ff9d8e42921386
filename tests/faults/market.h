// A small market for the fault tests: a real `gradients-validator` (tests/miner/validator_process.h)
// and real `gradients-miner` processes on loopback, the tiny model, tasks of seconds; and what the
// tests judge by: the task as the Admin API shows it, the validator's database, the miners' job
// files. Logs only say when to strike and explain a failure.
#pragma once

#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gradients/v1/admin.grpc.pb.h"
#include "miner/calibration.h"
#include "miner/job_journal.h"
#include "tests/miner/validator_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "trainers/compute_device.h"

namespace gradients::testing {

// Lower-case hex of raw bytes (a public key as Admin returns it), as the validator names miners.
inline std::string HexOf(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (const unsigned char byte : bytes) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 15];
  }
  return hex;
}

// The fixed strategy with a training-token budget on the tiny model: it stops at `tokens` (long
// before any deadline here), so the same options make the same checkpoint in every run, whatever
// the machine's load (one CPU thread, seeded dropout).
inline nlohmann::json TokenBudgetStrategy(double learning_rate, int64_t tokens) {
  return {{"name", "fixed"},
          {"hyperparameters",
           {{"max_length", 64},
            {"micro_batch_size", 2},
            {"gradient_accumulation_steps", 1},
            {"warmup_steps", 2},
            {"epochs", 1000},
            {"learning_rate", learning_rate},
            {"max_train_tokens", tokens}}}};
}

// The validator's state.db, opened read-only beside the running daemon (WAL lets both in).
class Database {
 public:
  explicit Database(const std::filesystem::path& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "opening " << path << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_busy_timeout(db_, 10'000);
  }
  ~Database() { sqlite3_close(db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Every row of `sql` with `arguments` bound to ?1, ?2, ...; each column as text ("" for NULL,
  // REAL columns in full precision).
  std::vector<std::vector<std::string>> Query(const std::string& sql, const std::vector<std::string>& arguments = {}) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return rows;
    }
    for (size_t i = 0; i < arguments.size(); ++i) {
      sqlite3_bind_text(statement, static_cast<int>(i + 1), arguments[i].c_str(), -1, SQLITE_TRANSIENT);
    }
    int step;
    while ((step = sqlite3_step(statement)) == SQLITE_ROW) {
      std::vector<std::string>& row = rows.emplace_back();
      for (int column = 0; column < sqlite3_column_count(statement); ++column) {
        if (sqlite3_column_type(statement, column) == SQLITE_FLOAT) {
          char text[64];
          std::snprintf(text, sizeof(text), "%.17g", sqlite3_column_double(statement, column));
          row.emplace_back(text);
        } else {
          const unsigned char* text = sqlite3_column_text(statement, column);
          row.emplace_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
        }
      }
    }
    if (step != SQLITE_DONE) ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
    sqlite3_finalize(statement);
    return rows;
  }

 private:
  sqlite3* db_ = nullptr;
};

// The part of `miner`'s upload to `task_id` the validator keeps for a resume (partial_uploads):
// its manifest (JSON) and durable offsets; nullopt when it keeps none.
struct KeptPart {
  nlohmann::json manifest;
  std::vector<uint64_t> durable_offsets;
  uint64_t durable_bytes() const {
    uint64_t bytes = 0;
    for (const uint64_t offset : durable_offsets) bytes += offset;
    return bytes;
  }
};
inline std::optional<KeptPart> KeptPartOf(const miner::ValidatorProcess& validator, const std::string& task_id,
                                          const std::string& miner) {
  Database database(validator.database());
  const auto rows = database.Query(
      "SELECT manifest_json, durable_offsets FROM partial_uploads WHERE task_id = ?1 AND miner = ?2", {task_id, miner});
  if (rows.empty()) return std::nullopt;
  KeptPart part{.manifest = nlohmann::json::parse(rows[0][0], nullptr, /*allow_exceptions=*/false),
                .durable_offsets = {}};
  std::stringstream offsets(rows[0][1]);
  for (std::string offset; std::getline(offsets, offset, ',');) part.durable_offsets.push_back(std::stoull(offset));
  return part;
}

// Whether the validator has a submissions row of `miner` for `task_id`.
inline bool HasSubmissionRow(const miner::ValidatorProcess& validator, const std::string& task_id, const std::string& miner) {
  Database database(validator.database());
  return !database.Query("SELECT receipt_id FROM submissions WHERE task_id = ?1 AND miner = ?2", {task_id, miner})
              .empty();
}

// One validator with the tiny model ("llama") and 40 instruct rows ("qa"), tasks of a second or
// more, evaluation on one thread and weights every second.
class MarketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(miner::InitTinyModel(dir_.path() / "tiny"));
    // The miners' speed, measured once here with the machine otherwise quiet and handed to each:
    // miners measuring side by side on two cores take seconds and measure each other.
    train::ConfigureCpuThreads(1);
    std::filesystem::create_directories(dir_.path() / "calibration");
    common::Result<train::TrainingSpeed> speed = miner::CalibratedSpeed(dir_.path() / "calibration", "cpu");
    ASSERT_TRUE(speed.ok()) << speed.status().message();
    ASSERT_TRUE(std::filesystem::exists(dir_.path() / "calibration" / "calibration.json"));
    ASSERT_TRUE(StartValidator(validator_, dir_.path()));
  }

  // A miner in `name` under the test's directory, pointed at `validator_address`.
  std::unique_ptr<miner::MinerProcess> MakeMiner(const std::string& name, const std::string& validator_address,
                                          const nlohmann::json& strategy,
                                          const nlohmann::json& extra = nlohmann::json::object(),
                                          const miner::MinerProcess* key_of = nullptr) {
    return std::make_unique<miner::MinerProcess>(dir_.path() / name, validator_address, strategy, extra,
                                          dir_.path() / "calibration" / "calibration.json", key_of);
  }

  // A validator in `dir` with the market's config, started.
  [[nodiscard]] bool StartValidator(std::unique_ptr<miner::ValidatorProcess>& validator, const std::filesystem::path& dir) {
    nlohmann::json config = miner::TestModelAndDataset(dir, 40);
    config["models"] = {{{"path", (dir_.path() / "tiny").string()}, {"name", "llama"}}};
    config["evaluation"] = {{"gradients_path", GRADIENTS_CLI_PATH}, {"threads", 1}};
    config["weights"] = {{"interval_ms", 1000}};
    validator = std::make_unique<miner::ValidatorProcess>(dir, config);
    return validator->Start();
  }

  // Waits until `count` miners hold an offer stream (so that all get the next task's offer at once).
  void WaitForConnectedMiners(miner::ValidatorProcess& validator, uint32_t count,
                              std::chrono::seconds timeout = std::chrono::seconds(60)) {
    for (const auto give_up = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < give_up;
         std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
      auto admin = v1::Admin::NewStub(grpc::CreateChannel(validator.admin(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::HealthResponse health;
      if (admin->Health(&context, v1::HealthRequest(), &health).ok() && health.connected_miners() >= count) return;
    }
    ADD_FAILURE() << "fewer than " << count << " miners connected:\n" << validator.Log();
  }

  static v1::GetTaskResponse GetTask(miner::ValidatorProcess& validator, const std::string& task_id) {
    auto admin = v1::Admin::NewStub(grpc::CreateChannel(validator.admin(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetTaskRequest request;
    request.set_task_id(task_id);
    v1::GetTaskResponse task;
    const grpc::Status status = admin->GetTask(&context, request, &task);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return task;
  }

  // Polls the task (through Admin) until `done` holds; the last answer (checked by the caller).
  static v1::GetTaskResponse WaitForTask(miner::ValidatorProcess& validator, const std::string& task_id,
                                         const std::function<bool(const v1::GetTaskResponse&)>& done,
                                         std::chrono::seconds timeout = std::chrono::seconds(120)) {
    v1::GetTaskResponse task;
    for (const auto give_up = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < give_up;
         std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
      task = GetTask(validator, task_id);
      if (done(task)) break;
    }
    return task;
  }

  // The task once scored or failed.
  static v1::GetTaskResponse WaitForScores(miner::ValidatorProcess& validator, const std::string& task_id) {
    return WaitForTask(validator, task_id, [](const v1::GetTaskResponse& task) {
      return task.task().status() == v1::TASK_STATUS_SCORED || task.task().status() == v1::TASK_STATUS_FAILED;
    });
  }

  // The latest weight set once it gives someone a weight (this market's only weights come from the
  // test's task); empty when none does within 30 s.
  static std::map<std::string, double> PublishedWeights(miner::ValidatorProcess& validator) {
    std::map<std::string, double> weights;
    for (const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         weights.empty() && std::chrono::steady_clock::now() < give_up;
         std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
      auto admin = v1::Admin::NewStub(grpc::CreateChannel(validator.admin(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::GetCurrentWeightsResponse current;
      if (!admin->GetCurrentWeights(&context, v1::GetCurrentWeightsRequest(), &current).ok()) continue;
      for (const v1::MinerWeight& weight : current.weights().weights()) {
        weights[HexOf(weight.miner_public_key())] = weight.weight();
      }
    }
    return weights;
  }

  // Each submission (and MISSING verdict) of the task by its miner's key in hex.
  static std::map<std::string, v1::Submission> ByMiner(const v1::GetTaskResponse& task) {
    std::map<std::string, v1::Submission> submissions;
    for (const v1::Submission& submission : task.submissions()) {
      submissions[HexOf(submission.miner_public_key())] = submission;
    }
    return submissions;
  }

  // Everything that explains a failure.
  static std::string Logs(const miner::ValidatorProcess& validator, const std::vector<std::unique_ptr<miner::MinerProcess>>& miners) {
    std::string all = "--- validator\n" + validator.Log();
    for (const auto& miner : miners) all += miner->Log();
    return all;
  }

  testing::TempDir dir_;
  std::unique_ptr<miner::ValidatorProcess> validator_;
};

}  // namespace gradients::testing
