#include "validator/tasks/task_creation.h"

#include <fstream>
#include <functional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"
#include "validator/state/data_directory.h"
#include "validator/state/registry.h"

namespace gradients::validator {
namespace {

const std::filesystem::path kModel = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models" / "llama_mha";

class TaskCreation : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = std::move(*OpenDataDirectory(dir_ / "data"));
    std::ofstream(dir_ / "qa.jsonl") << "{\"question\": \"2+2\", \"answer\": \"4\"}\n{\"question\": \"3+3\", \"answer\": \"6\"}\n";
    ASSERT_TRUE(RegisterModel(*data_.store, *data_.blobs, kModel, "llama", 1).ok());
    ASSERT_TRUE(RegisterDataset(*data_.store, *data_.blobs, dir_ / "qa.jsonl", "qa", 1).ok());
  }
  static NewTask Request() {
    return NewTask{.type = "instruct", .base_model = "llama", .dataset = "qa",
                   .columns = {{"instruction", "question"}, {"output", "answer"}}, .duration_s = 1800,
                   .min_pool_size = 2, .max_pool_size = 5, .max_training_tokens = 0, .request_id = ""};
  }
  common::Result<TaskRecord> Create(const NewTask& request) {
    return CreateTask(*data_.store, *data_.store, *data_.blobs, request, TaskLimits{}, 1000);
  }

  testing::TempDir dir_;
  DataDirectory data_;
};

TEST_F(TaskCreation, APendingTaskOverCatalogEntries) {
  common::Result<TaskRecord> task = Create(Request());
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_TRUE(task->id.starts_with("task-"));
  EXPECT_EQ(task->status, TaskStatus::kPending);
  EXPECT_EQ(task->model_hash, data_.store->ListModels()->at(0).hash);
  EXPECT_EQ(task->split_seed, data_.store->ListDatasets()->at(0).split_seed);
  EXPECT_EQ(task->duration_s, 1800);
  EXPECT_EQ(task->min_pool_size, 2);
  EXPECT_EQ(task->pool_size, 5);
  EXPECT_EQ(task->columns.columns,
            (std::map<std::string, std::string>{{"instruction", "question"}, {"output", "answer"}}));
  EXPECT_NE(Create(Request())->id, task->id);  // without a request id, each create is a new task
}

TEST_F(TaskCreation, ContentNamedByAPathIsRegisteredOnTheWay) {
  std::ofstream(dir_ / "more.csv") << "instruction,output\nadd,4\nsub,0\n";
  NewTask request = Request();
  request.base_model = kModel.string();
  request.dataset = (dir_ / "more.csv").string();
  request.columns = {};
  common::Result<TaskRecord> task = Create(request);
  ASSERT_TRUE(task.ok()) << task.status().ToString();
  EXPECT_EQ(data_.store->GetDataset(task->dataset_hash)->name, "more");
  EXPECT_EQ(data_.store->ListModels()->size(), 1u);  // the same content as "llama"
}

TEST_F(TaskCreation, WhatDoesNotFitIsRefusedNamingTheField) {
  struct Case {
    std::function<void(NewTask&)> change;
    common::StatusCode code;
    const char* message;
  };
  const Case cases[] = {
      {[](NewTask& r) { r.type = "dpo"; }, common::StatusCode::kInvalidArgument, "type: \"dpo\" is not a task type miners train"},
      {[](NewTask& r) { r.duration_s = 599; }, common::StatusCode::kInvalidArgument, "duration"},
      {[](NewTask& r) { r.max_pool_size = 1; }, common::StatusCode::kInvalidArgument, "max_pool_size"},
      {[](NewTask& r) { r.columns["answer"] = "x"; }, common::StatusCode::kInvalidArgument, "instruct tasks have no role \"answer\""},
      {[](NewTask& r) { r.columns.erase("output"); }, common::StatusCode::kInvalidArgument,
       "role \"output\" reads column \"output\", which dataset qa does not have (it has: answer, question)"},
      {[](NewTask& r) { r.base_model = "gpt-5"; }, common::StatusCode::kNotFound, "base_model: no registered model named"},
      {[](NewTask& r) {
         r.type = "chat";
         r.columns = {{"system", "sys"}};
       },
       common::StatusCode::kInvalidArgument, "chat tasks have no role \"system\""},
      {[](NewTask& r) { r.dataset = "/no/such.jsonl"; }, common::StatusCode::kNotFound, "dataset: no registered dataset"},
  };
  for (const Case& c : cases) {
    NewTask request = Request();
    c.change(request);
    common::Result<TaskRecord> task = Create(request);
    ASSERT_FALSE(task.ok()) << c.message;
    EXPECT_EQ(task.status().code(), c.code) << task.status().ToString();
    EXPECT_NE(task.status().message().find(c.message), std::string::npos) << task.status().message();
  }
  EXPECT_TRUE(data_.store->ListTasks(std::nullopt)->empty());
}

TEST_F(TaskCreation, ARepeatedRequestIdGivesTheSameTaskAndRefusesAnotherRequest) {
  NewTask request = Request();
  request.request_id = "retry-me";
  const TaskRecord first = *Create(request);
  common::Result<TaskRecord> again = Create(request);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id, first.id);
  request.duration_s = 2700;
  common::Result<TaskRecord> other = Create(request);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), common::StatusCode::kAlreadyExists);
  EXPECT_EQ(data_.store->ListTasks(std::nullopt)->size(), 1u);
}

}  // namespace
}  // namespace gradients::validator
