// `gradients testnet run`, as the README's main command runs it, on CI-sized settings: one
// validator and three miners (fixed, random and TPE search) as real processes on loopback, one
// task from the scheduler through its whole lifecycle to published weights.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/durable_file.h"
#include "tests/support/free_port.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gradients::testing {
namespace {

const std::filesystem::path kConfigs = std::filesystem::path(GRADIENTS_SOURCE_DIR) / "configs" / "testnet";

nlohmann::json Committed(const std::string& name) {
  common::Result<nlohmann::json> json = common::ReadJsonFile(kConfigs / name);
  EXPECT_TRUE(json.ok()) << json.status().message();
  return json.ok() ? *json : nlohmann::json::object();
}

void Write(const std::filesystem::path& path, const nlohmann::json& json) {
  ASSERT_TRUE(common::WriteFileDurably(path, json.dump(2)).ok()) << path;
}

struct Evaluation {
  std::string miner, outcome;
  double test_loss = 0;
  int64_t rank = 0;
  double points = 0;
};

// The stored verdicts of the one scored task, lowest test loss first.
std::vector<Evaluation> StoredEvaluations(const std::filesystem::path& database) {
  sqlite3* db = nullptr;
  std::vector<Evaluation> evaluations;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << database;
    sqlite3_close(db);
    return evaluations;
  }
  sqlite3_stmt* statement = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT miner, outcome, COALESCE(test_loss, 1e300), rank, points FROM evaluations "
                               "WHERE task_id IN (SELECT id FROM tasks WHERE status = 'scored') ORDER BY 3",
                               -1, &statement, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  while (statement != nullptr && sqlite3_step(statement) == SQLITE_ROW) {
    evaluations.push_back({reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)),
                           reinterpret_cast<const char*>(sqlite3_column_text(statement, 1)),
                           sqlite3_column_double(statement, 2), sqlite3_column_int64(statement, 3),
                           sqlite3_column_double(statement, 4)});
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return evaluations;
}

TEST(Testnet, OneCommandRunsAValidatorAndThreeMinersThroughAScoredRoundToPublishedWeights) {
  testing::TempDir dir;
  const std::filesystem::path configs = dir.path() / "configs", net = dir.path() / "net";
  std::filesystem::create_directories(configs);
  const std::string gateway = "127.0.0.1:" + std::to_string(FreePort());

  // The committed configs, shrunk: a tiny base model, a short task, ports of our own.
  nlohmann::json plan = Committed("testnet.json");
  plan["base_model"].update(
      {{"preset", "tiny"}, {"vocab_size", 512}, {"corpus_rows", 600}, {"train_tokens", 8000}, {"max_length", 64}});
  plan["datasets"][0]["rows"] = 300;
  Write(configs / "testnet.json", plan);
  nlohmann::json validator = Committed("validator.json");
  validator["gateway"]["listen"] = gateway;
  validator["admin"]["listen"] = "127.0.0.1:" + std::to_string(FreePort());
  validator["metrics"]["listen"] = "127.0.0.1:" + std::to_string(FreePort());
  validator["tasks"]["min_duration_seconds"] = 1;
  validator["scheduler"]["pool"][0]["seconds"] = {30};
  validator["weights"]["interval_ms"] = 1000;
  validator["evaluation"]["threads"] = 1;
  validator["evaluation"]["max_length"] = 64;
  Write(configs / "validator.json", validator);
  for (const std::string& name : plan["miners"].get<std::vector<std::string>>()) {
    nlohmann::json miner = Committed(name);
    miner["validators"][0]["address"] = gateway;
    miner["strategy"]["hyperparameters"]["max_length"] = 64;
    miner["strategy"]["hyperparameters"]["micro_batch_size"] = 4;
    if (miner["strategy"].contains("trials")) miner["strategy"]["trials"] = 3;
    if (miner["strategy"].contains("tpe_startup_trials")) miner["strategy"]["tpe_startup_trials"] = 2;
    miner["jobs"]["upload_reserve_seconds"] = 4;
    miner["jobs"]["progress_interval_seconds"] = 2;
    Write(configs / name, miner);
  }

  testing::ProcessResult run =
      testing::RunProcess({GRADIENTS_CLI_PATH, "testnet", "run", "--dir", net.string(), "--configs", configs.string(),
                           "--cache", (dir.path() / "cache").string(), "--rounds", "1", "--timeout", "400"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("round 1: task "), std::string::npos) << run.out;
  for (const char* strategy : {"miner-fixed      fixed", "miner-random     random", "miner-tpe        tpe"}) {
    EXPECT_NE(run.out.find(strategy), std::string::npos) << strategy << "\n" << run.out;
  }
  // The weights printed after the round name the winner.
  const size_t weights_printed = run.out.find("weights (set ");
  ASSERT_NE(weights_printed, std::string::npos) << run.out;
  EXPECT_NE(run.out.find("\n  miner-", weights_printed), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("stopped\n"), std::string::npos) << run.out;

  // The weights were published to weights.json and sum to 1.
  common::Result<std::string> published = common::ReadFileToString(net / "validator" / "weights.json", 1 << 20);
  ASSERT_TRUE(published.ok()) << published.status().message();
  const nlohmann::json weights = nlohmann::json::parse(*published);
  double sum = 0;
  for (const nlohmann::json& weight : weights["weights"]) sum += weight["weight"].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-12) << weights.dump();

  // All three were scored, and ranks and points follow the stored test losses.
  const std::vector<Evaluation> evaluations = StoredEvaluations(net / "validator" / "state.db");
  ASSERT_EQ(evaluations.size(), 3u) << run.out;
  for (size_t i = 0; i < evaluations.size(); ++i) {
    EXPECT_EQ(evaluations[i].outcome, "scored") << evaluations[i].miner;
    EXPECT_EQ(evaluations[i].rank, static_cast<int64_t>(i) + 1);
    if (i > 0) {
      EXPECT_LE(evaluations[i - 1].test_loss, evaluations[i].test_loss);
      EXPECT_GE(evaluations[i - 1].points, evaluations[i].points);
    }
  }
  EXPECT_GT(evaluations.front().points, evaluations.back().points);
  // The winner holds the largest weight.
  ASSERT_FALSE(weights["weights"].empty());
  double winner_weight = 0, highest = 0;
  for (const nlohmann::json& weight : weights["weights"]) {
    highest = std::max(highest, weight["weight"].get<double>());
    if (weight["miner"] == evaluations.front().miner) winner_weight = weight["weight"].get<double>();
  }
  EXPECT_EQ(winner_weight, highest) << weights.dump();

  // Every daemon stopped on its own (SIGTERM), the validator last.
  common::Result<std::string> validator_log = common::ReadFileToString(net / "logs" / "validator.log", 1 << 24);
  ASSERT_TRUE(validator_log.ok());
  EXPECT_NE(validator_log->find("SIGTERM: stopping"), std::string::npos);
  for (const char* miner : {"miner-fixed", "miner-random", "miner-tpe"}) {
    common::Result<std::string> log = common::ReadFileToString(net / "logs" / (std::string(miner) + ".log"), 1 << 24);
    ASSERT_TRUE(log.ok()) << miner;
    EXPECT_NE(log->find("SIGTERM: stopping"), std::string::npos) << miner;
  }
}

TEST(Testnet, ABadPlanIsRefusedNamingTheField) {
  testing::TempDir dir;
  nlohmann::json plan = Committed("testnet.json");
  plan["base_model"]["train_tokens"] = -5;
  plan["miners"] = nlohmann::json::array();
  ASSERT_TRUE(common::WriteFileDurably(dir.path() / "testnet.json", plan.dump()).ok());
  testing::ProcessResult run = testing::RunProcess({GRADIENTS_CLI_PATH, "testnet", "prepare", "--dir",
                                                    (dir.path() / "net").string(), "--configs", dir.path().string()});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("testnet.base_model.train_tokens: must be positive"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("testnet.miners: must name at least one miner config"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace gradients::testing
