// The task scheduler (DESIGN.md, Task): keeps a configured number of tasks in flight (pending
// through evaluating) by creating new ones from a pool of templates (model x dataset x type x
// durations), taken in turn, each with the next of its durations. What it creates is an ordinary
// task (validator/tasks/task_creation.h), checked the same way as the operator's.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "validator/state/blob_store.h"
#include "validator/state/catalog_store.h"
#include "validator/state/task_store.h"
#include "validator/tasks/task_creation.h"

namespace gradients::validator {

struct TaskTemplate {
  std::string type = "instruct";
  std::string model;    // a registered model's name
  std::string dataset;  // a registered dataset's name
  std::string columns{};  // "instruction=question,output=answer"; roles not mapped read their own name
  // Training times in seconds, used in turn; the config gives them as "minutes" or "seconds".
  std::vector<int64_t> durations_s = {3600};
  int64_t min_pool_size = 1;
  int64_t max_pool_size = 8;
  int64_t max_training_tokens = 0;
};
void ReadConfig(common::ConfigReader& reader, TaskTemplate& task);

struct SchedulerOptions {
  int64_t tasks_in_flight = 0;  // 0: no scheduling, only the operator's tasks
  std::vector<TaskTemplate> pool{};
};
void ReadConfig(common::ConfigReader& reader, SchedulerOptions& options);
// Whether every template's durations lie within `limits` (the config's tasks section).
bool DurationsWithin(const SchedulerOptions& options, const TaskLimits& limits);

class TaskScheduler {
 public:
  TaskScheduler(SchedulerOptions options, TaskLimits limits) : options_(std::move(options)), limits_(limits) {}
  // Creates tasks until `tasks_in_flight` are pending, preparing, offering, training or
  // evaluating; returns how many it created. A template that cannot be created (its model was
  // never registered, say) is an error naming it: the operator's config is wrong.
  // A template whose last task failed in preparation (its dataset lacks a mapped column, say) is
  // rested, a minute at first and twice as long after each further failure up to an hour, so that
  // a mistake in the config does not fill the database with failed tasks.
  common::Result<int64_t> FillPool(CatalogStore& catalog_store, TaskStore& task_store, const BlobStore& blobs,
                                   int64_t now_ms);

  static constexpr int64_t kFirstRestMs = 60'000;
  static constexpr int64_t kLongestRestMs = 3'600'000;

 private:
  // Looks at each template's last task: one that failed in preparation rests its template.
  common::Status ReviewLastTasks(TaskStore& task_store, int64_t now_ms);

  const SchedulerOptions options_;
  const TaskLimits limits_;
  size_t next_template_ = 0;
  std::vector<size_t> next_duration_ = std::vector<size_t>(options_.pool.size(), 0);
  std::vector<std::string> last_task_ = std::vector<std::string>(options_.pool.size());
  std::vector<int64_t> rest_until_ms_ = std::vector<int64_t>(options_.pool.size(), 0);
  std::vector<int64_t> next_rest_ms_ = std::vector<int64_t>(options_.pool.size(), kFirstRestMs);
};

}  // namespace gradients::validator
