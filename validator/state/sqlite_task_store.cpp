// The SqliteStore's TaskStore (validator/state/task_store.h): tasks, their status changes and events.
#include "validator/state/sqlite_store.h"

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "validator/state/sqlite_rows.h"

namespace gradients::validator {

static_assert(kTaskColumnCount == 25, "ReadTask reads every column of kTaskColumns");

namespace {

// The columns_json column: a JSON object of role -> column.
std::string EncodeColumns(const text::ColumnMapping& mapping) { return nlohmann::json(mapping.columns).dump(); }

common::Result<text::ColumnMapping> DecodeColumns(const std::string& json) {
  const nlohmann::json columns = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!columns.is_object()) return common::Status::DataLoss("stored column mapping does not parse");
  text::ColumnMapping mapping;
  for (const auto& [role, column] : columns.items()) {
    if (!column.is_string()) return common::Status::DataLoss("stored column mapping does not parse");
    mapping.columns.emplace(role, column.get<std::string>());
  }
  return mapping;
}

}  // namespace

common::Result<TaskRecord> ReadTask(const SqliteStatement& row) {
  TaskRecord task;
  task.id = row.Text(0);
  task.type = row.Text(1);
  task.model_hash = row.Text(2);
  task.dataset_hash = row.Text(3);
  common::Result<text::ColumnMapping> columns = DecodeColumns(row.Text(4));
  if (!columns.ok()) return columns.status().WithContext("task " + task.id);
  task.columns = std::move(*columns);
  task.duration_s = row.Integer(5);
  task.pool_size = row.Integer(6);
  task.split_seed = row.Text(7);
  common::Result<TaskStatus> status = ParseTaskStatus(row.Text(8));
  if (!status.ok()) return common::Status::DataLoss("task " + task.id + ": " + status.status().message());
  task.status = *status;
  task.failure_reason = row.Text(9);
  task.created_at_ms = row.Integer(10);
  task.deadline_ms = row.Integer(11);
  task.updated_at_ms = row.Integer(12);
  task.train_blob = row.Text(13);
  task.test_blob = row.Text(14);
  task.train_rows = row.Integer(15);
  task.test_rows = row.Integer(16);
  task.min_pool_size = row.Integer(17);
  task.max_training_tokens = row.Integer(18);
  task.request_id = row.Text(19);
  task.request_fingerprint = row.Text(20);
  task.train_bytes = row.Integer(21);
  task.offer_closes_at_ms = row.Integer(22);
  task.offer_rounds = row.Integer(23);
  task.scored_at_ms = row.Integer(24);
  return task;
}

common::Status SqliteStore::RecordEvent(std::string_view id, std::optional<TaskStatus> from, TaskStatus to,
                                std::string_view reason, int64_t at_ms) {
  common::Result<SqliteStatement> insert = db_->Prepare(
      "INSERT INTO task_events (task_id, from_status, to_status, reason, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!insert.ok()) return insert.status();
  insert->Bind(1, id).Bind(3, TaskStatusName(to)).Bind(4, reason).Bind(5, at_ms);
  if (from) insert->Bind(2, TaskStatusName(*from));  // else NULL
  return insert->Run();
}

common::Status SqliteStore::CreateTask(const TaskRecord& task) {
  std::lock_guard lock(mutex_);
  if (task.status != TaskStatus::kPending) return common::Status::InvalidArgument("task " + task.id + ": a new task is pending");
  if (!task.split_seed.empty()) {
    return common::Status::InvalidArgument("task " + task.id + ": the split seed is the dataset's, not the caller's");
  }
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  struct Reference {
    const char* table;
    const char* what;
    const std::string& hash;
  };
  for (const Reference& reference : {Reference{"models", "model", task.model_hash},
                                     Reference{"datasets", "dataset", task.dataset_hash}}) {
    common::Result<SqliteStatement> select = db_->Prepare(std::string("SELECT 1 FROM ") + reference.table + " WHERE hash = ?1");
    if (!select.ok()) return select.status();
    common::Result<bool> row = select->Bind(1, reference.hash).Step();
    if (!row.ok()) return row.status();
    if (!*row) {
      return common::Status::NotFound("task " + task.id + ": no registered " + reference.what + " with hash " +
                              reference.hash.substr(0, 80));
    }
  }
  common::Result<SqliteStatement> insert = db_->Prepare(
      "INSERT INTO tasks (id, type, model_hash, dataset_hash, columns_json, duration_s, pool_size, split_seed, status, "
      "failure_reason, created_at_ms, deadline_ms, updated_at_ms, sequence, min_pool_size, max_training_tokens, "
      "request_id, request_fingerprint) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
      "(SELECT split_seed FROM datasets WHERE hash = ?4), ?9, '', ?10, ?11, ?10, "
      "(SELECT COALESCE(MAX(sequence), 0) + 1 FROM tasks), ?12, ?13, NULLIF(?14, ''), ?15) "
      "ON CONFLICT (id) DO NOTHING");
  if (!insert.ok()) return insert.status();
  GRADIENTS_RETURN_IF_ERROR(insert->Bind(1, task.id)
                                .Bind(2, task.type)
                                .Bind(3, task.model_hash)
                                .Bind(4, task.dataset_hash)
                                .Bind(5, EncodeColumns(task.columns))
                                .Bind(6, task.duration_s)
                                .Bind(7, task.pool_size)
                                .Bind(9, TaskStatusName(TaskStatus::kPending))
                                .Bind(10, task.created_at_ms)
                                .Bind(11, task.deadline_ms)
                                .Bind(12, task.min_pool_size)
                                .Bind(13, task.max_training_tokens)
                                .Bind(14, task.request_id)
                                .Bind(15, task.request_fingerprint)
                                .Run());
  if (db_->Changes() == 0) return common::Status::AlreadyExists("task " + task.id + " already exists");
  GRADIENTS_RETURN_IF_ERROR(RecordEvent(task.id, std::nullopt, TaskStatus::kPending, "created", task.created_at_ms));
  return transaction->Commit();
}

common::Result<TaskRecord> SqliteStore::GetTaskWhere(std::string_view column, std::string_view value) {
  std::lock_guard lock(reader_mutex_);
  common::Result<SqliteStatement> select =
      reader_->Prepare("SELECT " + std::string(kTaskColumns) + " FROM tasks WHERE " + std::string(column) + " = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, value).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no task " + std::string(column == "id" ? "" : "with request id ") +
                                     std::string(value.substr(0, 80)));
  return ReadTask(*select);
}

common::Result<TaskRecord> SqliteStore::GetTask(std::string_view id) { return GetTaskWhere("id", id); }

common::Result<TaskRecord> SqliteStore::GetTaskByRequestId(std::string_view request_id) {
  return GetTaskWhere("request_id", request_id);
}

common::Result<std::vector<TaskRecord>> SqliteStore::ListTasks(std::optional<TaskStatus> status) {
  std::lock_guard lock(reader_mutex_);
  common::Result<SqliteStatement> select = reader_->Prepare("SELECT " + std::string(kTaskColumns) + " FROM tasks" +
                                                (status ? " WHERE status = ?1" : "") + " ORDER BY sequence");
  if (!select.ok()) return select.status();
  if (status) select->Bind(1, TaskStatusName(*status));
  return ReadAll<TaskRecord>(*select, ReadTask);
}

common::Status SqliteStore::Transition(std::string_view id, TaskStatus from, TaskStatus to, std::string_view reason,
                               int64_t at_ms, std::optional<int64_t> deadline_ms,
                               std::optional<int64_t> offer_closes_at_ms) {
  const std::string task = "task " + std::string(id.substr(0, 80));
  if (!IsAllowedTransition(from, to)) {
    return common::Status::FailedPrecondition(task + ": " + std::string(TaskStatusName(from)) + " -> " +
                                      std::string(TaskStatusName(to)) + " is not a step a task takes");
  }
  std::lock_guard lock(mutex_);
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  common::Result<SqliteStatement> update = db_->Prepare(
      "UPDATE tasks SET status = ?1, failure_reason = ?2, updated_at_ms = ?3, deadline_ms = COALESCE(?4, deadline_ms), "
      "offer_closes_at_ms = COALESCE(?7, offer_closes_at_ms), offer_rounds = offer_rounds + (?7 IS NOT NULL) "
      "WHERE id = ?5 AND status = ?6");
  if (!update.ok()) return update.status();
  update->Bind(1, TaskStatusName(to))
      .Bind(2, to == TaskStatus::kFailed ? reason : std::string_view())
      .Bind(3, at_ms)
      .Bind(5, id)
      .Bind(6, TaskStatusName(from));
  if (deadline_ms) update->Bind(4, *deadline_ms);
  if (offer_closes_at_ms) update->Bind(7, *offer_closes_at_ms);
  GRADIENTS_RETURN_IF_ERROR(update->Run());
  if (db_->Changes() == 0) {
    common::Result<SqliteStatement> select = db_->Prepare("SELECT status FROM tasks WHERE id = ?1");
    if (!select.ok()) return select.status();
    common::Result<bool> row = select->Bind(1, id).Step();
    if (!row.ok()) return row.status();
    if (!*row) return common::Status::NotFound("no " + task);
    return common::Status::FailedPrecondition(task + " is " + select->Text(0) + ", not " + std::string(TaskStatusName(from)));
  }
  GRADIENTS_RETURN_IF_ERROR(RecordEvent(id, from, to, reason, at_ms));
  return transaction->Commit();
}

common::Status SqliteStore::TransitionTask(std::string_view id, TaskStatus from, TaskStatus to, std::string_view reason,
                                   int64_t at_ms) {
  return Transition(id, from, to, reason, at_ms, std::nullopt);
}

common::Status SqliteStore::RecordSplit(std::string_view id, const TaskSplit& split) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> update = db_->Prepare(
      "UPDATE tasks SET train_blob = ?1, test_blob = ?2, train_rows = ?3, test_rows = ?4, train_bytes = ?7 "
      "WHERE id = ?5 AND status = ?6");
  if (!update.ok()) return update.status();
  GRADIENTS_RETURN_IF_ERROR(update->Bind(1, split.train_blob)
                                .Bind(2, split.test_blob)
                                .Bind(3, split.train_rows)
                                .Bind(4, split.test_rows)
                                .Bind(5, id)
                                .Bind(6, TaskStatusName(TaskStatus::kPreparing))
                                .Bind(7, split.train_bytes)
                                .Run());
  if (db_->Changes() == 0) {
    return common::Status::FailedPrecondition("task " + std::string(id.substr(0, 80)) + " is not preparing (or does not exist)");
  }
  return common::Status::Ok();
}

common::Status SqliteStore::OpenOffers(std::string_view id, int64_t deadline_ms, int64_t offer_closes_at_ms,
                               std::string_view reason, int64_t at_ms) {
  return Transition(id, TaskStatus::kPreparing, TaskStatus::kOffering, reason, at_ms, deadline_ms, offer_closes_at_ms);
}

common::Status SqliteStore::ReopenOffers(std::string_view id, int64_t offer_closes_at_ms, int64_t deadline_ms,
                                 std::string_view reason, int64_t at_ms) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  common::Result<SqliteStatement> update = db_->Prepare(
      "UPDATE tasks SET offer_closes_at_ms = ?1, deadline_ms = ?2, offer_rounds = offer_rounds + 1, updated_at_ms = ?3 "
      "WHERE id = ?4 AND status = ?5");
  if (!update.ok()) return update.status();
  GRADIENTS_RETURN_IF_ERROR(update->Bind(1, offer_closes_at_ms)
                                .Bind(2, deadline_ms)
                                .Bind(3, at_ms)
                                .Bind(4, id)
                                .Bind(5, TaskStatusName(TaskStatus::kOffering))
                                .Run());
  if (db_->Changes() == 0) {
    return common::Status::FailedPrecondition("task " + std::string(id.substr(0, 80)) + " is not offering (or does not exist)");
  }
  GRADIENTS_RETURN_IF_ERROR(RecordEvent(id, TaskStatus::kOffering, TaskStatus::kOffering, reason, at_ms));
  return transaction->Commit();
}

common::Result<std::map<std::string, int64_t>> SqliteStore::CountTasksByStatus() {
  return CountGroups("SELECT status, COUNT(*) FROM tasks GROUP BY status");
}

common::Result<std::vector<TaskEvent>> SqliteStore::TaskHistory(std::string_view id) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT task_id, from_status, to_status, reason, at_ms FROM task_events WHERE task_id = ?1 ORDER BY sequence");
  if (!select.ok()) return select.status();
  select->Bind(1, id);
  return ReadAll<TaskEvent>(*select, [](const SqliteStatement& row) -> common::Result<TaskEvent> {
    TaskEvent event{.task_id = row.Text(0), .from = std::nullopt, .to = {}, .reason = row.Text(3), .at_ms = row.Integer(4)};
    if (!row.IsNull(1)) {
      common::Result<TaskStatus> from = ParseTaskStatus(row.Text(1));
      if (!from.ok()) return common::Status::DataLoss("task " + event.task_id + " history: " + from.status().message());
      event.from = *from;
    }
    common::Result<TaskStatus> to = ParseTaskStatus(row.Text(2));
    if (!to.ok()) return common::Status::DataLoss("task " + event.task_id + " history: " + to.status().message());
    event.to = *to;
    return event;
  });
}

}  // namespace gradients::validator
