// The SqliteStore's EvaluationStore (validator/state/evaluation_store.h): verdicts, ranks and points.
#include "validator/state/sqlite_store.h"

#include <optional>
#include <string>

#include "validator/state/sqlite_rows.h"

namespace gradients::validator {

namespace {

constexpr std::string_view kEvaluationColumns =
    "task_id, miner, outcome, test_loss, tokens, reason, receipt_id, manifest_digest, received_at_ms, model_hash, "
    "test_blob, split_seed, evaluator, evaluated_at_ms, rank, points";

// DataLoss naming the value for an outcome of no known name.
common::Result<EvaluationOutcome> ReadOutcome(const std::string& name) {
  common::Result<EvaluationOutcome> outcome = ParseEvaluationOutcome(name);
  if (!outcome.ok()) return common::Status::DataLoss("stored " + outcome.status().message());
  return outcome;
}

common::Result<EvaluationRecord> ReadEvaluation(const SqliteStatement& row) {
  common::Result<EvaluationOutcome> outcome = ReadOutcome(row.Text(2));
  if (!outcome.ok()) return outcome.status().WithContext("task " + row.Text(0) + ", miner " + row.Text(1));
  EvaluationRecord evaluation{.task_id = row.Text(0), .miner = row.Text(1), .outcome = *outcome,
                              .test_loss = std::nullopt, .tokens = row.Integer(4), .reason = row.Text(5),
                              .receipt_id = row.Text(6), .manifest_digest = row.Text(7),
                              .received_at_ms = row.Integer(8), .model_hash = row.Text(9), .test_blob = row.Text(10),
                              .split_seed = row.Text(11), .evaluator = row.Text(12),
                              .evaluated_at_ms = row.Integer(13), .rank = row.Integer(14), .points = row.Real(15)};
  if (!row.IsNull(3)) evaluation.test_loss = row.Real(3);
  return evaluation;
}

}  // namespace

common::Result<std::map<EvaluationOutcome, int64_t>> SqliteStore::CountEvaluationsByOutcome() {
  common::Result<std::map<std::string, int64_t>> counts =
      CountGroups("SELECT outcome, COUNT(*) FROM evaluations GROUP BY outcome");
  if (!counts.ok()) return counts.status();
  std::map<EvaluationOutcome, int64_t> by_outcome;
  for (const auto& [name, count] : *counts) {
    common::Result<EvaluationOutcome> outcome = ReadOutcome(name);
    if (!outcome.ok()) return outcome.status();
    by_outcome[*outcome] = count;
  }
  return by_outcome;
}

common::Status SqliteStore::RecordEvaluation(const EvaluationRecord& evaluation) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> upsert = db_->Prepare(
      "INSERT INTO evaluations (" + std::string(kEvaluationColumns) +
      ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0, 0 WHERE EXISTS (SELECT 1 FROM tasks "
      "WHERE id = ?1 AND status = ?15) ON CONFLICT (task_id, miner) DO UPDATE SET outcome = excluded.outcome, "
      "test_loss = excluded.test_loss, tokens = excluded.tokens, reason = excluded.reason, "
      "receipt_id = excluded.receipt_id, manifest_digest = excluded.manifest_digest, "
      "received_at_ms = excluded.received_at_ms, model_hash = excluded.model_hash, test_blob = excluded.test_blob, "
      "split_seed = excluded.split_seed, evaluator = excluded.evaluator, evaluated_at_ms = excluded.evaluated_at_ms");
  if (!upsert.ok()) return upsert.status();
  upsert->Bind(1, evaluation.task_id)
      .Bind(2, evaluation.miner)
      .Bind(3, EvaluationOutcomeName(evaluation.outcome))
      .Bind(5, evaluation.tokens)
      .Bind(6, evaluation.reason)
      .Bind(7, evaluation.receipt_id)
      .Bind(8, evaluation.manifest_digest)
      .Bind(9, evaluation.received_at_ms)
      .Bind(10, evaluation.model_hash)
      .Bind(11, evaluation.test_blob)
      .Bind(12, evaluation.split_seed)
      .Bind(13, evaluation.evaluator)
      .Bind(14, evaluation.evaluated_at_ms)
      .Bind(15, TaskStatusName(TaskStatus::kEvaluating));
  if (evaluation.test_loss) upsert->BindReal(4, *evaluation.test_loss);
  GRADIENTS_RETURN_IF_ERROR(upsert->Run());
  if (db_->Changes() == 0) {
    return common::Status::FailedPrecondition("task " + evaluation.task_id.substr(0, 80) + " is not evaluating");
  }
  return common::Status::Ok();
}

common::Result<std::vector<EvaluationRecord>> SqliteStore::ListEvaluations(std::string_view task_id) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare("SELECT " + std::string(kEvaluationColumns) +
                                                " FROM evaluations WHERE task_id = ?1 ORDER BY miner");
  if (!select.ok()) return select.status();
  select->Bind(1, task_id);
  return ReadAll<EvaluationRecord>(*select, [](const SqliteStatement& row) -> common::Result<EvaluationRecord> {
    return ReadEvaluation(row);
  });
}

common::Status SqliteStore::RecordScores(std::string_view task_id, const std::vector<EvaluationRecord>& scores,
                                 int64_t at_ms) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  const std::string task = "task " + std::string(task_id.substr(0, 80));
  common::Result<SqliteStatement> missing = db_->Prepare(
      "SELECT COUNT(*) FROM claims WHERE task_id = ?1 AND NOT EXISTS (SELECT 1 FROM evaluations WHERE "
      "evaluations.task_id = claims.task_id AND evaluations.miner = claims.miner)");
  if (!missing.ok()) return missing.status();
  common::Result<bool> row = missing->Bind(1, task_id).Step();
  if (!row.ok()) return row.status();
  if (missing->Integer(0) > 0) {
    return common::Status::FailedPrecondition(task + ": " + std::to_string(missing->Integer(0)) + " claims are not evaluated");
  }
  for (const EvaluationRecord& score : scores) {
    common::Result<SqliteStatement> update =
        db_->Prepare("UPDATE evaluations SET rank = ?3, points = ?4 WHERE task_id = ?1 AND miner = ?2");
    if (!update.ok()) return update.status();
    GRADIENTS_RETURN_IF_ERROR(
        update->Bind(1, task_id).Bind(2, score.miner).Bind(3, score.rank).BindReal(4, score.points).Run());
    if (db_->Changes() == 0) return common::Status::FailedPrecondition(task + ": a score for a miner without an evaluation");
  }
  common::Result<SqliteStatement> scored = db_->Prepare(
      "UPDATE tasks SET status = ?1, scored_at_ms = ?2, updated_at_ms = ?2 WHERE id = ?3 AND status = ?4");
  if (!scored.ok()) return scored.status();
  GRADIENTS_RETURN_IF_ERROR(scored->Bind(1, TaskStatusName(TaskStatus::kScored))
                                .Bind(2, at_ms)
                                .Bind(3, task_id)
                                .Bind(4, TaskStatusName(TaskStatus::kEvaluating))
                                .Run());
  if (db_->Changes() == 0) return common::Status::FailedPrecondition(task + " is not evaluating");
  GRADIENTS_RETURN_IF_ERROR(RecordEvent(task_id, TaskStatus::kEvaluating, TaskStatus::kScored,
                                        std::to_string(scores.size()) + " claims scored", at_ms));
  return transaction->Commit();
}
}  // namespace gradients::validator
