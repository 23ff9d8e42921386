#include "validator/tasks/scheduler.h"

#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"
#include "validator/state/data_directory.h"
#include "validator/state/registry.h"

namespace gradients::validator {
namespace {

const std::filesystem::path kModel = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models" / "llama_mha";

class Scheduler : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = std::move(*OpenDataDirectory(dir_ / "validator"));
    ASSERT_TRUE(RegisterModel(*data_.store, *data_.blobs, kModel, "llama", 1).ok());
    std::ofstream(dir_ / "qa.jsonl") << "{\"q\": \"1+1\", \"a\": \"2\"}\n{\"q\": \"2+2\", \"a\": \"4\"}\n";
    ASSERT_TRUE(RegisterDataset(*data_.store, *data_.blobs, dir_ / "qa.jsonl", "qa", 1).ok());
  }
  std::vector<TaskRecord> Tasks() { return *data_.store->ListTasks(std::nullopt); }

  testing::TempDir dir_;
  DataDirectory data_;
};

TEST_F(Scheduler, KeepsTheConfiguredTasksInFlightTakingTemplatesAndDurationsInTurn) {
  TaskScheduler scheduler({.tasks_in_flight = 3,
                           .pool = {{.type = "instruct", .model = "llama", .dataset = "qa",
                                     .columns = "instruction=q,output=a", .durations_s = {600, 1200}},
                                    {.type = "text", .model = "llama", .dataset = "qa", .columns = "text=q",
                                     .durations_s = {1800}}}},
                          TaskLimits{});
  ASSERT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 1000), 3);
  std::vector<TaskRecord> tasks = Tasks();
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].type, "instruct");
  EXPECT_EQ(tasks[0].duration_s, 600);
  EXPECT_EQ(tasks[0].columns.columns, (std::map<std::string, std::string>{{"instruction", "q"}, {"output", "a"}}));
  EXPECT_EQ(tasks[1].type, "text");
  EXPECT_EQ(tasks[2].duration_s, 1200);
  EXPECT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 2000), 0);  // full

  // One task ends: one more takes its place.
  ASSERT_TRUE(data_.store->TransitionTask(tasks[1].id, TaskStatus::kPending, TaskStatus::kFailed, "cancelled", 3000).ok());
  ASSERT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 4000), 1);
  EXPECT_EQ(Tasks().back().type, "text");
}

TEST_F(Scheduler, ATemplateThatCannotBeCreatedIsAnErrorNamingItAndHoldsUpNoOther) {
  TaskScheduler scheduler({.tasks_in_flight = 1,
                           .pool = {{.type = "instruct", .model = "no-such-model", .dataset = "qa",
                                     .columns = "instruction=q,output=a", .durations_s = {600}}}},
                          TaskLimits{});
  common::Result<int64_t> created = scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 1000);
  EXPECT_EQ(created.status().code(), common::StatusCode::kNotFound);
  EXPECT_TRUE(created.status().message().starts_with("scheduler.pool[0]: ")) << created.status().message();
  EXPECT_TRUE(Tasks().empty());

  // Beside a good template, a bad one holds nothing up.
  TaskScheduler mixed({.tasks_in_flight = 2,
                       .pool = {{.type = "instruct", .model = "no-such-model", .dataset = "qa",
                                 .columns = "instruction=q,output=a", .durations_s = {600}},
                                {.type = "text", .model = "llama", .dataset = "qa", .columns = "text=q",
                                 .durations_s = {1800}}}},
                      TaskLimits{});
  EXPECT_EQ(*mixed.FillPool(*data_.store, *data_.store, *data_.blobs, 1000), 2);
  EXPECT_EQ(Tasks().size(), 2u);
}

TEST_F(Scheduler, ATemplateWhoseTaskFailsInPreparationRestsLongerEachTime) {
  TaskScheduler scheduler({.tasks_in_flight = 1,
                           .pool = {{.type = "instruct", .model = "llama", .dataset = "qa",
                                     .columns = "instruction=q,output=a", .durations_s = {600}}}},
                          TaskLimits{});
  const auto fail_in_preparation = [&](int64_t at_ms) {
    const std::string id = Tasks().back().id;
    ASSERT_TRUE(data_.store->TransitionTask(id, TaskStatus::kPending, TaskStatus::kPreparing, "", at_ms).ok());
    ASSERT_TRUE(data_.store->TransitionTask(id, TaskStatus::kPreparing, TaskStatus::kFailed, "no rows", at_ms).ok());
  };
  ASSERT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 1000), 1);
  fail_in_preparation(1500);
  // Rests a minute from when the failure is seen...
  EXPECT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 2000), 0);
  EXPECT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 2000 + TaskScheduler::kFirstRestMs - 1), 0);
  ASSERT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 2000 + TaskScheduler::kFirstRestMs), 1);
  // ...then two after a second failure.
  fail_in_preparation(70'000);
  EXPECT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 100'000), 0);
  EXPECT_EQ(
      *scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 100'000 + 2 * TaskScheduler::kFirstRestMs - 1), 0);
  ASSERT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 100'000 + 2 * TaskScheduler::kFirstRestMs),
            1);
  EXPECT_EQ(Tasks().size(), 3u);

  // A task that was prepared shows the template works: the next failure rests it a minute again.
  const std::string prepared = Tasks().back().id;
  ASSERT_TRUE(data_.store->TransitionTask(prepared, TaskStatus::kPending, TaskStatus::kPreparing, "", 300'000).ok());
  ASSERT_TRUE(data_.store->OpenOffers(prepared, 10'000'000, 400'000, "", 300'000).ok());
  EXPECT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 310'000), 0);  // in flight
  ASSERT_TRUE(data_.store->TransitionTask(prepared, TaskStatus::kOffering, TaskStatus::kFailed, "cancelled", 320'000).ok());
  // No rest after a failure elsewhere.
  ASSERT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 330'000), 1);
  fail_in_preparation(340'000);
  EXPECT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 350'000), 0);
  EXPECT_EQ(*scheduler.FillPool(*data_.store, *data_.store, *data_.blobs, 350'000 + TaskScheduler::kFirstRestMs), 1);
}

}  // namespace
}  // namespace gradients::validator
