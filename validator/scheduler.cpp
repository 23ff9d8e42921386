#include "validator/scheduler.h"

#include <algorithm>

#include "common/logging.h"
#include "trainers/dataset.h"
#include "validator/task_creation.h"

namespace gradients {

void ReadConfig(ConfigReader& reader, TaskTemplate& task) {
  reader.OptionalChoice("type", task.type, {"instruct", "chat", "text"})
      .Required("model", task.model)
      .Required("dataset", task.dataset)
      .Optional("columns", task.columns)
      .Optional("minutes", task.minutes)
      .Optional("min_pool_size", task.min_pool_size)
      .Optional("max_pool_size", task.max_pool_size)
      .Optional("max_training_tokens", task.max_training_tokens)
      .Check(!task.minutes.empty(), "minutes", "at least one duration")
      .Check(std::all_of(task.minutes.begin(), task.minutes.end(), [](int64_t m) { return m >= 10 && m <= 10080; }),
             "minutes", "each between 10 and 10080")
      .Check(task.min_pool_size >= 1 && task.min_pool_size <= task.max_pool_size && task.max_pool_size <= 256,
             "max_pool_size", "1 <= min_pool_size <= max_pool_size <= 256")
      .Check(task.max_training_tokens >= 0, "max_training_tokens", "must not be negative");
}

void ReadConfig(ConfigReader& reader, SchedulerOptions& options) {
  reader.Optional("tasks_in_flight", options.tasks_in_flight)
      .Optional("pool", options.pool)
      .Check(options.tasks_in_flight >= 0 && options.tasks_in_flight <= 1000, "tasks_in_flight",
             "must be between 0 and 1000")
      .Check(options.tasks_in_flight == 0 || !options.pool.empty(), "pool", "needed when tasks_in_flight is set");
}

Result<int64_t> TaskScheduler::FillPool(Store& store, const BlobStore& blobs, int64_t now_ms) {
  if (options_.tasks_in_flight == 0 || options_.pool.empty()) return int64_t{0};
  Result<std::map<std::string, int64_t>> counts = store.CountTasksByStatus();
  if (!counts.ok()) return counts.status();
  int64_t in_flight = 0;
  for (TaskStatus status : {TaskStatus::kPending, TaskStatus::kPreparing, TaskStatus::kOffering,
                            TaskStatus::kTraining, TaskStatus::kEvaluating}) {
    if (auto count = counts->find(std::string(TaskStatusName(status))); count != counts->end()) in_flight += count->second;
  }
  int64_t created = 0;
  Status first_failure;
  // A template that cannot be created is skipped (and reported): the others still run.
  for (size_t failures = 0; in_flight + created < options_.tasks_in_flight && failures < options_.pool.size();) {
    const size_t index = next_template_;
    next_template_ = (next_template_ + 1) % options_.pool.size();
    const TaskTemplate& pattern = options_.pool[index];
    const int64_t minutes = pattern.minutes[next_duration_[index] % pattern.minutes.size()];
    const std::string where = "scheduler.pool[" + std::to_string(index) + "]";
    Result<DatasetFormat> format = ParseDatasetFormat(pattern.type);
    Result<ColumnMapping> columns =
        format.ok() ? ParseColumnMapping(pattern.columns, *format) : Result<ColumnMapping>(format.status());
    Result<TaskRecord> task = Status::Internal("not created");
    if (!columns.ok()) {
      task = columns.status();
    } else {
      task = CreateTask(store, blobs,
                        NewTask{.type = pattern.type,
                                .base_model = pattern.model,
                                .dataset = pattern.dataset,
                                .columns = columns->columns,
                                .duration_minutes = minutes,
                                .min_pool_size = pattern.min_pool_size,
                                .max_pool_size = pattern.max_pool_size,
                                .max_training_tokens = pattern.max_training_tokens,
                                .request_id = {}},
                        now_ms);
    }
    if (!task.ok()) {
      if (first_failure.ok()) first_failure = task.status().WithContext(where);
      ++failures;
      continue;
    }
    failures = 0;
    ++created;
    ++next_duration_[index];
    GetLogger("validator")->info("task {}: scheduled ({} on {}, {} minutes)", task->id, pattern.type, pattern.model,
                                 minutes);
  }
  if (created == 0 && !first_failure.ok()) return first_failure;
  if (!first_failure.ok()) GetLogger("validator")->error("scheduling: {}", first_failure.message());
  return created;
}

}  // namespace gradients
