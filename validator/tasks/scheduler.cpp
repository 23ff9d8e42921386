#include "validator/tasks/scheduler.h"

#include <algorithm>
#include <cstdint>

#include "common/logging.h"
#include "text/dataset.h"
#include "validator/tasks/task_creation.h"

namespace gradients::validator {

void ReadConfig(common::ConfigReader& reader, TaskTemplate& task) {
  // Either list, in minutes or in seconds; a list the config leaves out stays {kNotGiven}.
  constexpr int64_t kNotGiven = INT64_MIN;
  std::vector<int64_t> minutes = {kNotGiven}, seconds = {kNotGiven};
  reader.Optional("minutes", minutes).Optional("seconds", seconds);
  const bool has_minutes = minutes != std::vector<int64_t>{kNotGiven};
  const bool has_seconds = seconds != std::vector<int64_t>{kNotGiven};
  const bool minutes_valid = std::all_of(minutes.begin(), minutes.end(), [](int64_t m) { return m >= 1 && m <= 10080; });
  const bool seconds_valid =
      std::all_of(seconds.begin(), seconds.end(), [](int64_t s) { return s >= 1 && s <= 604'800; });
  reader.Check(!has_minutes || !has_seconds, "seconds", "give the durations in minutes or in seconds, not both")
      .Check(!has_minutes || !minutes.empty(), "minutes", "at least one duration")
      .Check(!has_minutes || minutes_valid, "minutes", "each between 1 and 10080")
      .Check(!has_seconds || !seconds.empty(), "seconds", "at least one duration")
      .Check(!has_seconds || seconds_valid, "seconds", "each between 1 and 604800");
  if (has_minutes && minutes_valid) {
    task.durations_s.clear();
    for (int64_t m : minutes) task.durations_s.push_back(m * 60);
  }
  if (has_seconds && seconds_valid) task.durations_s = seconds;
  reader.OptionalChoice("type", task.type, {"instruct", "chat", "text"})
      .Required("model", task.model)
      .Required("dataset", task.dataset)
      .Optional("columns", task.columns)
      .Optional("min_pool_size", task.min_pool_size)
      .Optional("max_pool_size", task.max_pool_size)
      .Optional("max_training_tokens", task.max_training_tokens)
      .Check(task.min_pool_size >= 1 && task.min_pool_size <= task.max_pool_size && task.max_pool_size <= 256,
             "max_pool_size", "1 <= min_pool_size <= max_pool_size <= 256")
      .Check(task.max_training_tokens >= 0, "max_training_tokens", "must not be negative");
}

void ReadConfig(common::ConfigReader& reader, SchedulerOptions& options) {
  reader.Optional("tasks_in_flight", options.tasks_in_flight)
      .Optional("pool", options.pool)
      .Check(options.tasks_in_flight >= 0 && options.tasks_in_flight <= 1000, "tasks_in_flight",
             "must be between 0 and 1000")
      .Check(options.tasks_in_flight == 0 || !options.pool.empty(), "pool", "needed when tasks_in_flight is set");
}

bool DurationsWithin(const SchedulerOptions& options, const TaskLimits& limits) {
  return std::all_of(options.pool.begin(), options.pool.end(), [&](const TaskTemplate& task) {
    return std::all_of(task.durations_s.begin(), task.durations_s.end(),
                       [&](int64_t s) { return s >= limits.min_duration_s && s <= limits.max_duration_s; });
  });
}

common::Status TaskScheduler::ReviewLastTasks(TaskStore& task_store, int64_t now_ms) {
  for (size_t index = 0; index < last_task_.size(); ++index) {
    if (last_task_[index].empty()) continue;
    common::Result<std::vector<TaskEvent>> history = task_store.TaskHistory(last_task_[index]);
    if (!history.ok()) return history.status();
    if (history->empty()) continue;
    const TaskEvent& latest = history->back();
    if (latest.to == TaskStatus::kPending || latest.to == TaskStatus::kPreparing) continue;  // not decided yet
    if (latest.to == TaskStatus::kFailed && latest.from == TaskStatus::kPreparing) {
      rest_until_ms_[index] = now_ms + next_rest_ms_[index];
      common::GetLogger("validator")->error("scheduler.pool[{}]: task {} failed in preparation ({}); the template rests {} s",
                                    index, last_task_[index], latest.reason, next_rest_ms_[index] / 1000);
      next_rest_ms_[index] = std::min(2 * next_rest_ms_[index], kLongestRestMs);
    } else {
      next_rest_ms_[index] = kFirstRestMs;  // it was prepared: the template works
    }
    last_task_[index].clear();
  }
  return common::Status::Ok();
}

common::Result<int64_t> TaskScheduler::FillPool(CatalogStore& catalog_store, TaskStore& task_store,
                                                const BlobStore& blobs, int64_t now_ms) {
  if (options_.tasks_in_flight == 0 || options_.pool.empty()) return int64_t{0};
  GRADIENTS_RETURN_IF_ERROR(ReviewLastTasks(task_store, now_ms));
  common::Result<std::map<std::string, int64_t>> counts = task_store.CountTasksByStatus();
  if (!counts.ok()) return counts.status();
  int64_t in_flight = 0;
  for (TaskStatus status : {TaskStatus::kPending, TaskStatus::kPreparing, TaskStatus::kOffering,
                            TaskStatus::kTraining, TaskStatus::kEvaluating}) {
    if (auto count = counts->find(std::string(TaskStatusName(status))); count != counts->end()) in_flight += count->second;
  }
  int64_t created = 0;
  common::Status first_failure;
  // A template that cannot be created is skipped (and reported): the others still run.
  for (size_t failures = 0; in_flight + created < options_.tasks_in_flight && failures < options_.pool.size();) {
    const size_t index = next_template_;
    next_template_ = (next_template_ + 1) % options_.pool.size();
    const TaskTemplate& pattern = options_.pool[index];
    if (now_ms < rest_until_ms_[index]) {
      ++failures;  // resting: the others may still fill the pool
      continue;
    }
    const int64_t duration_s = pattern.durations_s[next_duration_[index] % pattern.durations_s.size()];
    const std::string where = "scheduler.pool[" + std::to_string(index) + "]";
    common::Result<text::DatasetFormat> format = text::ParseDatasetFormat(pattern.type);
    common::Result<text::ColumnMapping> columns =
        format.ok() ? text::ParseColumnMapping(pattern.columns, *format) : common::Result<text::ColumnMapping>(format.status());
    common::Result<TaskRecord> task = common::Status::Internal("not created");
    if (!columns.ok()) {
      task = columns.status();
    } else {
      task = CreateTask(catalog_store, task_store, blobs,
                        NewTask{.type = pattern.type,
                                .base_model = pattern.model,
                                .dataset = pattern.dataset,
                                .columns = columns->columns,
                                .duration_s = duration_s,
                                .min_pool_size = pattern.min_pool_size,
                                .max_pool_size = pattern.max_pool_size,
                                .max_training_tokens = pattern.max_training_tokens,
                                .request_id = {}},
                        limits_, now_ms);
    }
    if (!task.ok()) {
      if (first_failure.ok()) first_failure = task.status().WithContext(where);
      ++failures;
      continue;
    }
    failures = 0;
    ++created;
    ++next_duration_[index];
    last_task_[index] = task->id;
    common::GetLogger("validator")->info("task {}: scheduled ({} on {}, {} s)", task->id, pattern.type, pattern.model,
                                 duration_s);
  }
  if (created == 0 && !first_failure.ok()) return first_failure;
  if (!first_failure.ok()) common::GetLogger("validator")->error("scheduling: {}", first_failure.message());
  return created;
}

}  // namespace gradients::validator
