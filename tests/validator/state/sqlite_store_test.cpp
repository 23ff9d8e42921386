#include "validator/state/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace gradients::validator {
namespace {

ModelRecord Model() {
  return ModelRecord{.hash = std::string(64, 'a'),
                     .name = "tiny-llama",
                     .files = {{.path = "config.json", .bytes = 612, .blob = std::string(64, 'b')},
                               {.path = "model.safetensors", .bytes = 1 << 20, .blob = std::string(64, 'c')}},
                     .added_at_ms = 1000};
}

DatasetRecord Dataset() {
  return DatasetRecord{.hash = std::string(64, 'd'), .name = "alpaca", .format = "jsonl", .bytes = 4096,
                       .split_seed = "d5eed", .added_at_ms = 1001};
}

TaskRecord Task(std::string id, int64_t created_at_ms = 2000) {
  return TaskRecord{.id = std::move(id),
                    .type = "instruct",
                    .model_hash = Model().hash,
                    .dataset_hash = Dataset().hash,
                    .columns = {.columns = {{"instruction", "prompt"}, {"output", "answer"}}},
                    .duration_s = 3600,
                    .pool_size = 3,
                    .split_seed = "",
                    .status = TaskStatus::kPending,
                    .failure_reason = "",
                    .created_at_ms = created_at_ms,
                    .deadline_ms = 0,
                    .updated_at_ms = created_at_ms};
}

std::unique_ptr<SqliteStore> OpenWithModelAndDataset(const std::filesystem::path& path) {
  common::Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_TRUE((*store)->AddModel(Model()).ok());
  EXPECT_TRUE((*store)->AddDataset(Dataset()).ok());
  return std::move(*store);
}

// A PRAGMA's value read through a connection of its own.
std::string Pragma(const std::filesystem::path& path, const std::string& pragma) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, ("PRAGMA " + pragma).c_str(), -1, &statement, nullptr);
  std::string value;
  if (sqlite3_step(statement) == SQLITE_ROW) value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

// Runs `sql` through a connection of its own; the first column of its first row, if any.
std::string Sql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr);
  std::string value;
  if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

TEST(SqliteStore, KeepsEverythingAcrossAReopen) {
  testing::TempDir dir;
  {
    std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
    ASSERT_TRUE(store->CreateTask(Task("t1")).ok());
    ASSERT_TRUE(store->TransitionTask("t1", TaskStatus::kPending, TaskStatus::kPreparing, "splitting", 2100).ok());
  }
  std::unique_ptr<SqliteStore> store = *SqliteStore::Open(dir / "state.db");
  EXPECT_EQ(*store->GetModel(Model().hash), Model());
  EXPECT_EQ(*store->GetDataset(Dataset().hash), Dataset());
  TaskRecord expected = Task("t1");
  expected.split_seed = "d5eed";  // the dataset's
  expected.status = TaskStatus::kPreparing;
  expected.updated_at_ms = 2100;
  EXPECT_EQ(*store->GetTask("t1"), expected);
  EXPECT_EQ(store->ListModels()->size(), 1u);
  EXPECT_EQ(store->ListDatasets()->size(), 1u);
  EXPECT_EQ(Pragma(dir / "state.db", "journal_mode"), "wal");
  EXPECT_EQ(Pragma(dir / "state.db", "user_version"), std::to_string(SqliteStoreMigrations().size()));
}

TEST(SqliteStore, AnAcknowledgedWriteSurvivesTheProcessBeingKilled) {
  testing::TempDir dir;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
    const bool created = store->CreateTask(Task("t1")).ok();
    // No destructor, no close: the process dies right after the call returned.
    kill(getpid(), created ? SIGKILL : SIGABRT);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_EQ(WTERMSIG(status), SIGKILL);
  std::unique_ptr<SqliteStore> store = *SqliteStore::Open(dir / "state.db");
  common::Result<TaskRecord> task = store->GetTask("t1");
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_EQ(task->status, TaskStatus::kPending);
}

TEST(SqliteStore, MigratesADatabaseOfTheFirstSchemaKeepingItsRows) {
  testing::TempDir dir;
  {
    std::unique_ptr<SqliteDatabase> db = *SqliteDatabase::Open(dir / "state.db");
    ASSERT_TRUE(db->Migrate({SqliteStoreMigrations()[0]}).ok());
    ASSERT_TRUE(db->Execute("INSERT INTO models VALUES ('m', 'model', 1); INSERT INTO datasets VALUES ('d', 'data', "
                            "'jsonl', 10, 1); INSERT INTO tasks VALUES ('t1', 'instruct', 'm', 'd', '{}', 60, 3, "
                            "'5eed', 'offering', '', 5, 0, 6, 1);")
                    .ok());
  }
  std::unique_ptr<SqliteStore> store = *SqliteStore::Open(dir / "state.db");
  common::Result<TaskRecord> task = store->GetTask("t1");
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_EQ(task->status, TaskStatus::kOffering);
  EXPECT_EQ(task->split_seed, "5eed");  // a task keeps the seed it was prepared with
  EXPECT_EQ(task->duration_s, 3600);  // 60 minutes
  EXPECT_EQ(store->GetDataset("d")->split_seed.size(), 64u);  // an old dataset gets a secret seed
  EXPECT_EQ(task->train_blob, "");
  EXPECT_EQ(task->test_rows, 0);
  EXPECT_EQ(Pragma(dir / "state.db", "user_version"), std::to_string(SqliteStoreMigrations().size()));
}

TEST(SqliteStore, RefusesADatabaseWrittenByANewerRelease) {
  testing::TempDir dir;
  { ASSERT_TRUE(SqliteStore::Open(dir / "state.db").ok()); }
  sqlite3* db = nullptr;
  sqlite3_open((dir / "state.db").c_str(), &db);
  sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  common::Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir / "state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), common::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("schema version 99 is newer"), std::string::npos) << store.status().message();
  EXPECT_EQ(Pragma(dir / "state.db", "user_version"), "99");  // untouched
}

TEST(SqliteStore, RefusesAFileThatIsNotADatabase) {
  testing::TempDir dir;
  std::ofstream(dir / "state.db") << std::string(4096, 'x');
  common::Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(dir / "state.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), common::StatusCode::kDataLoss) << store.status().ToString();
  EXPECT_NE(store.status().message().find("state.db"), std::string::npos);
}

TEST(SqliteStore, RegisteringTheSameContentAgainKeepsTheFirstRecord) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  ModelRecord renamed = Model();
  renamed.name = "another name";
  renamed.files.pop_back();
  ASSERT_TRUE(store->AddModel(renamed).ok());
  EXPECT_EQ(*store->GetModel(Model().hash), Model());
  EXPECT_EQ(store->GetModel(std::string(64, 'f')).status().code(), common::StatusCode::kNotFound);
}

TEST(SqliteStore, RefusesATaskOverUnregisteredContentOrAnIdInUse) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  TaskRecord unknown_model = Task("t1");
  unknown_model.model_hash = std::string(64, 'e');
  common::Status refused = store->CreateTask(unknown_model);
  EXPECT_EQ(refused.code(), common::StatusCode::kNotFound);
  EXPECT_NE(refused.message().find("no registered model"), std::string::npos) << refused.message();
  EXPECT_EQ(store->ListTasks(std::nullopt)->size(), 0u);

  ASSERT_TRUE(store->CreateTask(Task("t1")).ok());
  EXPECT_EQ(store->CreateTask(Task("t1", 3000)).code(), common::StatusCode::kAlreadyExists);
  EXPECT_EQ(store->GetTask("t1")->created_at_ms, 2000);
}

TEST(SqliteStore, EveryTaskOnADatasetTakesTheDatasetsSplitSeed) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  ASSERT_TRUE(store->CreateTask(Task("t1")).ok());
  ASSERT_TRUE(store->CreateTask(Task("t2")).ok());
  EXPECT_EQ(store->GetTask("t1")->split_seed, "d5eed");
  EXPECT_EQ(store->GetTask("t2")->split_seed, "d5eed");
  TaskRecord own_seed = Task("t3");
  own_seed.split_seed = "chosen";
  EXPECT_EQ(store->CreateTask(own_seed).code(), common::StatusCode::kInvalidArgument);
}

TEST(SqliteStore, MovesATaskOnlyFromTheStatusItIsIn) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  ASSERT_TRUE(store->CreateTask(Task("t1")).ok());
  ASSERT_TRUE(store->TransitionTask("t1", TaskStatus::kPending, TaskStatus::kPreparing, "", 2100).ok());

  common::Status stale = store->TransitionTask("t1", TaskStatus::kPending, TaskStatus::kPreparing, "", 2200);
  EXPECT_EQ(stale.code(), common::StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.message().find("is preparing, not pending"), std::string::npos) << stale.message();
  common::Status skipping = store->TransitionTask("t1", TaskStatus::kPreparing, TaskStatus::kTraining, "", 2200);
  EXPECT_EQ(skipping.code(), common::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->TransitionTask("nope", TaskStatus::kPending, TaskStatus::kPreparing, "", 2200).code(),
            common::StatusCode::kNotFound);

  ASSERT_TRUE(store->OpenOffers("t1", 2300 + 3'600'000, 2300 + 600'000, "", 2300).ok());
  EXPECT_EQ(store->GetTask("t1")->deadline_ms, 2300 + 3'600'000);
  ASSERT_TRUE(store->TransitionTask("t1", TaskStatus::kOffering, TaskStatus::kTraining, "training started", 2300).ok());
  ASSERT_TRUE(store->TransitionTask("t1", TaskStatus::kTraining, TaskStatus::kFailed, "no submissions", 2400).ok());
  const TaskRecord failed = *store->GetTask("t1");
  EXPECT_EQ(failed.status, TaskStatus::kFailed);
  EXPECT_EQ(failed.failure_reason, "no submissions");
  EXPECT_EQ(store->TransitionTask("t1", TaskStatus::kFailed, TaskStatus::kFailed, "", 2500).code(),
            common::StatusCode::kFailedPrecondition);

  const std::vector<TaskEvent> expected = {
      {.task_id = "t1", .from = std::nullopt, .to = TaskStatus::kPending, .reason = "created", .at_ms = 2000},
      {.task_id = "t1", .from = TaskStatus::kPending, .to = TaskStatus::kPreparing, .reason = "", .at_ms = 2100},
      {.task_id = "t1", .from = TaskStatus::kPreparing, .to = TaskStatus::kOffering, .reason = "", .at_ms = 2300},
      {.task_id = "t1", .from = TaskStatus::kOffering, .to = TaskStatus::kTraining, .reason = "training started",
       .at_ms = 2300},
      {.task_id = "t1", .from = TaskStatus::kTraining, .to = TaskStatus::kFailed, .reason = "no submissions",
       .at_ms = 2400},
  };
  EXPECT_EQ(*store->TaskHistory("t1"), expected);
}

// Task `id` created, offered, claimed by `miner` and evaluating.
void EvaluateWithAClaimOf(SqliteStore& store, const std::string& id, const std::string& miner) {
  ASSERT_TRUE(store.CreateTask(Task(id)).ok());
  ASSERT_TRUE(store.TransitionTask(id, TaskStatus::kPending, TaskStatus::kPreparing, "", 2100).ok());
  ASSERT_TRUE(store.OpenOffers(id, 2300 + 3'600'000, 2300 + 600'000, "", 2300).ok());
  ASSERT_TRUE(store.ClaimTask(id, miner, "n", 2400).ok());
  ASSERT_TRUE(store.TransitionTask(id, TaskStatus::kOffering, TaskStatus::kTraining, "", 2500).ok());
  ASSERT_TRUE(store.TransitionTask(id, TaskStatus::kTraining, TaskStatus::kEvaluating, "", 2600).ok());
}

TEST(SqliteStore, StoresColumnMappingsAsJsonAndOutcomesByName) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  EvaluateWithAClaimOf(*store, "t1", "m1");
  EXPECT_EQ(store->GetTask("t1")->columns.columns, Task("t1").columns.columns);
  EXPECT_EQ(Sql(dir / "state.db", "SELECT columns_json FROM tasks WHERE id = 't1'"),
            R"({"instruction":"prompt","output":"answer"})");
  ASSERT_TRUE(
      store->RecordEvaluation({.task_id = "t1", .miner = "m1", .outcome = EvaluationOutcome::kNotFinetuned}).ok());
  EXPECT_EQ(Sql(dir / "state.db", "SELECT outcome FROM evaluations WHERE miner = 'm1'"), "not_finetuned");
  EXPECT_EQ(store->ListEvaluations("t1")->at(0).outcome, EvaluationOutcome::kNotFinetuned);
  EXPECT_EQ(*store->CountEvaluationsByOutcome(),
            (std::map<EvaluationOutcome, int64_t>{{EvaluationOutcome::kNotFinetuned, 1}}));
}

TEST(SqliteStore, AStoredOutcomeOrColumnMappingOfNoKnownFormIsDataLoss) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  EvaluateWithAClaimOf(*store, "t1", "m1");
  ASSERT_TRUE(store->RecordEvaluation({.task_id = "t1", .miner = "m1", .outcome = EvaluationOutcome::kScored}).ok());
  Sql(dir / "state.db", "UPDATE evaluations SET outcome = 'bogus'");
  common::Result<std::vector<EvaluationRecord>> evaluations = store->ListEvaluations("t1");
  ASSERT_FALSE(evaluations.ok());
  EXPECT_EQ(evaluations.status().code(), common::StatusCode::kDataLoss);
  EXPECT_NE(evaluations.status().message().find("\"bogus\""), std::string::npos) << evaluations.status().message();
  EXPECT_EQ(store->CountEvaluationsByOutcome().status().code(), common::StatusCode::kDataLoss);

  Sql(dir / "state.db", "UPDATE tasks SET columns_json = '[1]'");
  common::Result<TaskRecord> task = store->GetTask("t1");
  ASSERT_FALSE(task.ok());
  EXPECT_EQ(task.status().code(), common::StatusCode::kDataLoss);
  EXPECT_EQ(task.status().message(), "task t1: stored column mapping does not parse");
}

TEST(SqliteStore, ListsTasksInCreationOrderAndByStatus) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  // Created later but with an earlier clock reading: the order is the order of creation.
  for (auto [id, at] : {std::pair{"b", 5000}, std::pair{"a", 4000}, std::pair{"c", 6000}}) {
    ASSERT_TRUE(store->CreateTask(Task(id, at)).ok());
  }
  ASSERT_TRUE(store->TransitionTask("a", TaskStatus::kPending, TaskStatus::kPreparing, "", 7000).ok());
  auto ids = [](const std::vector<TaskRecord>& tasks) {
    std::vector<std::string> ids;
    for (const TaskRecord& task : tasks) ids.push_back(task.id);
    return ids;
  };
  const std::vector<std::string> all = ids(*store->ListTasks(std::nullopt));
  const std::vector<std::string> pending = ids(*store->ListTasks(TaskStatus::kPending));
  EXPECT_EQ(all, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(pending, (std::vector<std::string>{"b", "c"}));
}

TEST(SqliteStore, OfRacingTransitionsExactlyOneWins) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  ASSERT_TRUE(store->CreateTask(Task("t1")).ok());
  std::atomic<int> wins = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (store->TransitionTask("t1", TaskStatus::kPending, TaskStatus::kPreparing, "", 3000).ok()) ++wins;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wins, 1);
  EXPECT_EQ(store->TaskHistory("t1")->size(), 2u);
}

TEST(SqliteStore, ClaimsArrivingTogetherEachGetTheOutcomeTheyWouldGetOneByOne) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenWithModelAndDataset(dir / "state.db");
  for (const char* id : {"t1", "t2"}) {
    ASSERT_TRUE(store->CreateTask(Task(id)).ok());
    ASSERT_TRUE(store->TransitionTask(id, TaskStatus::kPending, TaskStatus::kPreparing, "", 2100).ok());
    ASSERT_TRUE(store->OpenOffers(id, 10'000'000, 9'000'000, "", 2200).ok());
  }
  // 24 threads at once: 8 miners on each task of pool 3, 4 claims on a task that does not exist
  // and 4 repeats of a claim (a miner that retries). Committed in batches, each claim still sees
  // those before it.
  std::mutex mutex;
  std::map<std::string, std::vector<common::Result<ClaimRecord>>> outcomes;
  std::vector<std::thread> threads;
  const auto claim = [&](std::string task, std::string miner) {
    threads.emplace_back([&, task, miner] {
      common::Result<ClaimRecord> result = store->ClaimTask(task, miner, "nonce-" + miner, 3000);
      std::lock_guard lock(mutex);
      outcomes[task].push_back(std::move(result));
    });
  };
  for (int i = 0; i < 8; ++i) {
    claim("t1", "a" + std::to_string(i));
    claim("t2", "b" + std::to_string(i));
  }
  for (int i = 0; i < 4; ++i) {
    claim("t3", "c" + std::to_string(i));
    claim("t1", "a0");
  }
  for (std::thread& thread : threads) thread.join();

  for (const char* id : {"t1", "t2"}) {
    std::set<std::string> claimed;
    for (const common::Result<ClaimRecord>& outcome : outcomes[id]) {
      if (outcome.ok()) {
        claimed.insert(outcome->miner);
      } else {  // the pool filled, and the task went on to training
        EXPECT_EQ(outcome.status().message(), std::string("task ") + id + " is training: its offers are closed");
      }
    }
    EXPECT_EQ(claimed.size(), 3u) << id;
    std::vector<ClaimRecord> stored = *store->ListClaims(id);
    ASSERT_EQ(stored.size(), 3u) << id;
    for (const ClaimRecord& record : stored) EXPECT_TRUE(claimed.contains(record.miner)) << record.miner;
    EXPECT_EQ(store->GetTask(id)->status, TaskStatus::kTraining);
    EXPECT_EQ(store->TaskHistory(id)->back().reason, "the pool is full");
  }
  // a0's repeats got its claim when it had one, or the closed offers when it never did.
  const bool a0_claimed = store->GetClaim("t1", "a0").ok();
  int a0_answers = 0;
  for (const common::Result<ClaimRecord>& outcome : outcomes["t1"]) {
    if (outcome.ok() && outcome->miner == "a0") ++a0_answers;
  }
  EXPECT_EQ(a0_answers, a0_claimed ? 5 : 0);
  ASSERT_EQ(outcomes["t3"].size(), 4u);
  for (const common::Result<ClaimRecord>& outcome : outcomes["t3"]) EXPECT_EQ(outcome.status().code(), common::StatusCode::kNotFound);

  // Everything acknowledged is in the file.
  store.reset();
  std::unique_ptr<SqliteStore> reopened = *SqliteStore::Open(dir / "state.db");
  EXPECT_EQ(reopened->ListClaims("t1")->size(), 3u);
  EXPECT_EQ(reopened->ListClaims("t2")->size(), 3u);
}

}  // namespace
}  // namespace gradients::validator
