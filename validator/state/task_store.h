// Tasks and their events: each task's definition, its status on the chain of DESIGN.md's Task
// section (validator/tasks/task_status.h), its splits and offer windows, and every status change.
// One record family of the validator's store (validator/state/store.h: every method is one
// transaction; implementations are safe to call from several threads).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "text/dataset.h"
#include "validator/tasks/task_status.h"

namespace gradients::validator {

// Records compare their column mappings by entry (text::ColumnMapping declares no equality).
inline bool operator==(const text::ColumnMapping& a, const text::ColumnMapping& b) { return a.columns == b.columns; }

struct TaskRecord {
  std::string id{};
  std::string type{};  // instruct | chat | text | dpo | grpo | image
  std::string model_hash{};
  std::string dataset_hash{};
  text::ColumnMapping columns{};  // role -> column; roles not mapped read their own name
  int64_t duration_s = 0;      // training time miners get, in seconds
  int64_t pool_size = 0;       // offers close once this many miners accepted
  int64_t min_pool_size = 1;   // fewer when the offer window closes: the task fails
  int64_t max_training_tokens = 0;  // a budget passed to miners; 0: none
  std::string split_seed{};  // the dataset's (set by CreateTask), recorded with the task for its audit
  TaskStatus status = TaskStatus::kPending;
  std::string failure_reason{};  // set when status is failed
  int64_t created_at_ms = 0;
  int64_t deadline_ms = 0;  // 0 until training starts
  int64_t updated_at_ms = 0;
  // The creating client's idempotency key (empty: none) and a digest of what it asked for: the
  // same request again finds this task; another request under the same key is refused.
  std::string request_id{};
  std::string request_fingerprint{};
  // Set while preparing: the dataset's two splits (blob hashes; empty before).
  std::string train_blob{};  // what miners fetch
  std::string test_blob{};   // hidden: never leaves the validator
  int64_t train_rows = 0;
  int64_t test_rows = 0;
  int64_t train_bytes = 0;
  // While offering: when the current offer window closes, and how many windows it has had.
  int64_t offer_closes_at_ms = 0;
  int64_t offer_rounds = 0;
  int64_t scored_at_ms = 0;  // 0 until scored
  friend bool operator==(const TaskRecord&, const TaskRecord&) = default;
};

// A task's dataset split into the blobs miners fetch and the blob that stays hidden.
struct TaskSplit {
  std::string train_blob{};
  std::string test_blob{};
  int64_t train_rows = 0;
  int64_t test_rows = 0;
  int64_t train_bytes = 0;
};

// One status change, kept for the task's history and the audit log.
struct TaskEvent {
  std::string task_id{};
  std::optional<TaskStatus> from{};  // none for the creation
  TaskStatus to = TaskStatus::kPending;
  std::string reason{};
  int64_t at_ms = 0;
  friend bool operator==(const TaskEvent&, const TaskEvent&) = default;
};

class TaskStore {
 public:
  virtual ~TaskStore() = default;

  // A new task in status pending; its model and dataset must be registered, its id unused. Its
  // split_seed is taken from the dataset (a task given one is refused).
  virtual common::Status CreateTask(const TaskRecord& task) = 0;
  virtual common::Result<TaskRecord> GetTask(std::string_view id) = 0;
  // The task created under a client's idempotency key; NotFound when none was.
  virtual common::Result<TaskRecord> GetTaskByRequestId(std::string_view request_id) = 0;
  // Oldest first; only those in `status` when given.
  virtual common::Result<std::vector<TaskRecord>> ListTasks(std::optional<TaskStatus> status) = 0;
  // Moves a task from `from` to `to` if it is still in `from` (compare and set), recording the
  // event; `reason` becomes the failure reason when `to` is failed. FailedPrecondition when the
  // task is in another status or the step is not allowed (IsAllowedTransition).
  virtual common::Status TransitionTask(std::string_view id, TaskStatus from, TaskStatus to, std::string_view reason,
                                        int64_t at_ms) = 0;
  // Records the dataset's splits of a task that is preparing (FailedPrecondition otherwise).
  virtual common::Status RecordSplit(std::string_view id, const TaskSplit& split) = 0;
  // preparing -> offering with the upload deadline and the end of the first offer window, in one
  // step: a task's training time counts from the moment its offers open.
  virtual common::Status OpenOffers(std::string_view id, int64_t deadline_ms, int64_t offer_closes_at_ms,
                                    std::string_view reason, int64_t at_ms) = 0;
  // Another offer window for a task still offering (its round count goes up, the event is recorded
  // with `reason`); the deadline moves to `deadline_ms` (a task nobody took yet gets its whole
  // training time again).
  virtual common::Status ReopenOffers(std::string_view id, int64_t offer_closes_at_ms, int64_t deadline_ms,
                                      std::string_view reason, int64_t at_ms) = 0;
  // Oldest first.
  virtual common::Result<std::vector<TaskEvent>> TaskHistory(std::string_view id) = 0;
  // For monitoring: tasks by status.
  virtual common::Result<std::map<std::string, int64_t>> CountTasksByStatus() = 0;
};

}  // namespace gradients::validator
