#include "validator/tasks/task_preparation.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"
#include "validator/state/data_directory.h"

namespace gradients::validator {
namespace {

class TaskPreparation : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = std::move(*OpenDataDirectory(dir_ / "validator"));
    ASSERT_TRUE(data_.store->AddModel({.hash = "m", .name = "model", .files = {}, .added_at_ms = 1}).ok());
  }
  // Registers `rows` as a JSONL dataset and creates a pending task over it.
  void CreateTask(const std::string& id, const std::string& rows) {
    common::Result<StoredBlob> blob = data_.blobs->Put(rows);
    ASSERT_TRUE(blob.ok());
    ASSERT_TRUE(data_.store
                    ->AddDataset({.hash = blob->hash, .name = "data", .format = "jsonl",
                                  .bytes = static_cast<int64_t>(rows.size()), .split_seed = "secret-of-" + id,
                                  .added_at_ms = 1})
                    .ok());
    ASSERT_TRUE(data_.store
                    ->CreateTask({.id = id, .type = "instruct", .model_hash = "m", .dataset_hash = blob->hash,
                                  .columns = {}, .duration_s = 600, .pool_size = 3,
                                  .created_at_ms = 10, .updated_at_ms = 10})
                    .ok());
  }
  static std::string Rows(int count) {
    std::string rows;
    for (int i = 0; i < count; ++i) rows += "{\"instruction\": \"q" + std::to_string(i) + "\", \"output\": \"a\"}\n";
    return rows;
  }

  testing::TempDir dir_;
  DataDirectory data_;
};

TEST_F(TaskPreparation, SplitsTheDatasetAndOpensTheTaskForOffers) {
  CreateTask("t1", Rows(30));
  ASSERT_TRUE(PrepareTask(*data_.store, *data_.store, *data_.blobs, "t1", 20, 300'000).ok());
  const TaskRecord task = *data_.store->GetTask("t1");
  EXPECT_EQ(task.status, TaskStatus::kOffering);
  EXPECT_EQ(task.train_rows, 27);
  EXPECT_EQ(task.test_rows, 3);
  EXPECT_EQ(task.deadline_ms, 20 + 10 * 60'000);
  EXPECT_EQ(task.offer_closes_at_ms, 20 + 300'000);  // the first offer window
  EXPECT_EQ(task.offer_rounds, 1);
  const DatasetSplit expected = *SplitDataset(Rows(30), "jsonl", "secret-of-t1");
  EXPECT_EQ(task.train_bytes, static_cast<int64_t>(expected.train.size()));
  EXPECT_EQ(*data_.blobs->Read(task.train_blob, 0, 1 << 20), expected.train);
  EXPECT_EQ(*data_.blobs->Read(task.test_blob, 0, 1 << 20), expected.test);
  EXPECT_EQ(data_.store->TaskHistory("t1")->back().reason, "split 27 training and 3 test rows");
}

TEST_F(TaskPreparation, ATaskACrashLeftPreparingIsPreparedAgainToTheSameSplit) {
  CreateTask("t1", Rows(30));
  ASSERT_TRUE(data_.store->TransitionTask("t1", TaskStatus::kPending, TaskStatus::kPreparing, "", 15).ok());
  ASSERT_TRUE(PrepareTask(*data_.store, *data_.store, *data_.blobs, "t1", 20, 300'000).ok());
  const TaskRecord task = *data_.store->GetTask("t1");
  EXPECT_EQ(task.status, TaskStatus::kOffering);
  EXPECT_EQ(*data_.blobs->Read(task.test_blob, 0, 1 << 20), SplitDataset(Rows(30), "jsonl", "secret-of-t1")->test);
  // Done: a second call refuses rather than splitting again.
  EXPECT_EQ(PrepareTask(*data_.store, *data_.store, *data_.blobs, "t1", 30, 300'000).code(),
            common::StatusCode::kFailedPrecondition);
}

TEST_F(TaskPreparation, ADatasetThatCannotBeSplitFailsTheTaskWithTheReason) {
  CreateTask("t1", Rows(3) + "not json\n");
  common::Status status = PrepareTask(*data_.store, *data_.store, *data_.blobs, "t1", 20, 300'000);
  EXPECT_EQ(status.code(), common::StatusCode::kInvalidArgument);
  const TaskRecord task = *data_.store->GetTask("t1");
  EXPECT_EQ(task.status, TaskStatus::kFailed);
  EXPECT_TRUE(task.failure_reason.starts_with("dataset data: line 4: ")) << task.failure_reason;
  EXPECT_EQ(task.test_blob, "");
}

}  // namespace
}  // namespace gradients::validator

namespace gradients::validator {
namespace {

TEST_F(TaskPreparation, ATaskWhoseDatasetBlobIsGoneFailsAndSaysSo) {
  CreateTask("t1", Rows(30));
  const TaskRecord task = *data_.store->GetTask("t1");
  std::filesystem::remove(*data_.blobs->PathOf(task.dataset_hash));
  EXPECT_EQ(PrepareTask(*data_.store, *data_.store, *data_.blobs, "t1", 20, 300'000).code(),
            common::StatusCode::kNotFound);
  const TaskRecord failed = *data_.store->GetTask("t1");
  EXPECT_EQ(failed.status, TaskStatus::kFailed);
  EXPECT_TRUE(failed.failure_reason.starts_with("dataset data: no blob ")) << failed.failure_reason;
}

}  // namespace
}  // namespace gradients::validator
