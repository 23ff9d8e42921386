// The SqliteStore's ClaimStore (validator/state/claim_store.h): claims (committed in groups), miners,
// progress reports, declines.
#include "validator/state/sqlite_store.h"

#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "validator/market/claim_rules.h"
#include "validator/state/sqlite_rows.h"

namespace gradients::validator {
namespace {

constexpr std::string_view kClaimColumns =
    "task_id, miner, nonce, claimed_at_ms, uploads, progress, progress_at_ms, sequence";

ClaimRecord ReadClaim(const SqliteStatement& row) {
  return ClaimRecord{.task_id = row.Text(0), .miner = row.Text(1), .nonce = row.Text(2),
                     .claimed_at_ms = row.Integer(3), .uploads = row.Integer(4), .progress = row.Text(5),
                     .progress_at_ms = row.Integer(6), .sequence = row.Integer(7)};
}

}  // namespace

common::Status SqliteStore::RecordMinerSeen(std::string_view miner, std::string_view client_version, std::string_view capacity,
                                    int64_t at_ms) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> upsert = db_->Prepare(
      "INSERT INTO miners (key, first_seen_ms, last_seen_ms, client_version, capacity) VALUES (?1, ?2, ?2, ?3, ?4) "
      "ON CONFLICT (key) DO UPDATE SET last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms), "
      "client_version = CASE WHEN excluded.client_version = '' THEN client_version ELSE excluded.client_version END, "
      "capacity = CASE WHEN excluded.capacity = '' THEN capacity ELSE excluded.capacity END");
  if (!upsert.ok()) return upsert.status();
  return upsert->Bind(1, miner).Bind(2, at_ms).Bind(3, client_version).Bind(4, capacity).Run();
}

common::Result<std::vector<MinerRecord>> SqliteStore::ListMiners(int64_t offset, int64_t limit) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT m.key, m.first_seen_ms, m.last_seen_ms, m.client_version, m.capacity, "
      "(SELECT COUNT(*) FROM claims c JOIN tasks t ON t.id = c.task_id WHERE c.miner = m.key AND t.status IN (?3, ?4, "
      "?5)), "
      "(SELECT COUNT(*) FROM claims c WHERE c.miner = m.key), "
      "(SELECT COALESCE(SUM(c.uploads), 0) FROM claims c WHERE c.miner = m.key), "
      "(SELECT COALESCE(SUM(e.points), 0.0) FROM evaluations e JOIN tasks t ON t.id = e.task_id WHERE e.miner = m.key "
      "AND t.status = ?6) "
      "FROM miners m ORDER BY m.last_seen_ms DESC, m.key LIMIT ?1 OFFSET ?2");
  if (!select.ok()) return select.status();
  select->Bind(1, limit)
      .Bind(2, offset)
      .Bind(3, TaskStatusName(TaskStatus::kOffering))
      .Bind(4, TaskStatusName(TaskStatus::kTraining))
      .Bind(5, TaskStatusName(TaskStatus::kEvaluating))
      .Bind(6, TaskStatusName(TaskStatus::kScored));
  return ReadAll<MinerRecord>(*select, [](const SqliteStatement& row) -> common::Result<MinerRecord> {
    return MinerRecord{.key = row.Text(0), .first_seen_ms = row.Integer(1), .last_seen_ms = row.Integer(2),
                       .client_version = row.Text(3), .capacity = row.Text(4), .active_claims = row.Integer(5),
                       .total_claims = row.Integer(6), .total_submissions = row.Integer(7),
                       .total_points = row.Real(8)};
  });
}

common::Result<std::vector<MinerClaims>> SqliteStore::ListMinerClaims() {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT claims.miner, MAX(claims.claimed_at_ms), SUM(tasks.status IN (?1, ?2)) FROM claims "
      "JOIN tasks ON tasks.id = claims.task_id GROUP BY claims.miner ORDER BY claims.miner");
  if (!select.ok()) return select.status();
  select->Bind(1, TaskStatusName(TaskStatus::kOffering)).Bind(2, TaskStatusName(TaskStatus::kTraining));
  return ReadAll<MinerClaims>(*select, [](const SqliteStatement& row) -> common::Result<MinerClaims> {
    return MinerClaims{.miner = row.Text(0), .last_claim_at_ms = row.Integer(1), .active_claims = row.Integer(2)};
  });
}

common::Result<std::optional<ClaimRecord>> SqliteStore::FindClaim(std::string_view task_id, std::string_view miner) {
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT " + std::string(kClaimColumns) + " FROM claims WHERE task_id = ?1 AND miner = ?2");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, task_id).Bind(2, miner).Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<ClaimRecord>();
  return std::optional<ClaimRecord>(ReadClaim(*select));
}

struct SqliteStore::PendingClaim {
  std::string_view task_id, miner, nonce;
  int64_t now_ms = 0;
  std::optional<common::Result<ClaimRecord>> result{};  // written by whoever commits the batch...
  bool done = false;                             // ...and then this, under claim_queue_mutex_
};

common::Result<ClaimRecord> SqliteStore::ClaimTask(std::string_view task_id, std::string_view miner, std::string_view nonce,
                                           int64_t now_ms) {
  PendingClaim mine{.task_id = task_id, .miner = miner, .nonce = nonce, .now_ms = now_ms};
  std::unique_lock queue_lock(claim_queue_mutex_);
  claim_queue_.push_back(&mine);
  // Another caller's commit is under way: it takes this claim in its next batch, or leaves the
  // next batch to this caller.
  while (committing_claims_ && !mine.done) claims_committed_.wait(queue_lock);
  if (mine.done) return std::move(*mine.result);
  committing_claims_ = true;
  std::vector<PendingClaim*> batch;
  batch.swap(claim_queue_);
  queue_lock.unlock();
  try {
    CommitClaims(batch);
  } catch (const std::exception& error) {  // out of memory, say: no waiter may be left waiting
    for (PendingClaim* claim : batch) claim->result = common::Status::Internal(std::string("committing claims: ") + error.what());
  }
  queue_lock.lock();
  for (PendingClaim* claim : batch) claim->done = true;
  committing_claims_ = false;
  claims_committed_.notify_all();
  return std::move(*mine.result);
}

void SqliteStore::CommitClaims(const std::vector<PendingClaim*>& batch) {
  std::lock_guard lock(mutex_);
  // Nothing of the batch stays: every claim gets the failure, even one refused on its own (it may
  // have been refused for a pool that claims now undone had filled).
  const auto fail_all = [&](const common::Status& status) {
    for (PendingClaim* claim : batch) claim->result = status;
  };
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return fail_all(transaction.status());
  // In arrival order, each seeing the ones before it (a pool fills up inside a batch as it would
  // one claim at a time); a claim that fails leaves nothing behind.
  for (PendingClaim* claim : batch) {
    if (common::Status savepoint = db_->Execute("SAVEPOINT claim"); !savepoint.ok()) return fail_all(savepoint);
    claim->result = ClaimInTransaction(claim->task_id, claim->miner, claim->nonce, claim->now_ms);
    if (!claim->result->ok()) {
      if (common::Status undone = db_->Execute("ROLLBACK TO claim"); !undone.ok()) return fail_all(undone);
    }
    if (common::Status released = db_->Execute("RELEASE claim"); !released.ok()) return fail_all(released);
  }
  if (common::Status committed = transaction->Commit(); !committed.ok()) fail_all(committed);
}

common::Result<ClaimRecord> SqliteStore::ClaimInTransaction(std::string_view task_id, std::string_view miner,
                                                    std::string_view nonce, int64_t now_ms) {
  common::Result<std::optional<ClaimRecord>> existing = FindClaim(task_id, miner);
  if (!existing.ok()) return existing.status();
  if (*existing) return **existing;  // idempotent: a miner that restarts loses nothing
  // The task and its claims so far, read in the transaction that adds the claim: the rules decide
  // on what the insert below is made against.
  common::Result<SqliteStatement> select = db_->Prepare("SELECT " + std::string(kTaskColumns) +
                                                        ", (SELECT COUNT(*) FROM claims WHERE task_id = ?1) "
                                                        "FROM tasks WHERE id = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, task_id).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no task " + std::string(task_id.substr(0, 80)));
  common::Result<TaskRecord> task = ReadTask(*select);
  if (!task.ok()) return task.status();
  const ClaimDecision decision = DecideClaim(*task, select->Integer(kTaskColumnCount), now_ms);
  if (!decision.allowed()) return decision.status();
  common::Result<SqliteStatement> insert =
      db_->Prepare("INSERT INTO claims (task_id, miner, nonce, claimed_at_ms) VALUES (?1, ?2, ?3, ?4)");
  if (!insert.ok()) return insert.status();
  GRADIENTS_RETURN_IF_ERROR(insert->Bind(1, task_id).Bind(2, miner).Bind(3, nonce).Bind(4, now_ms).Run());
  const int64_t sequence = db_->LastInsertRowId();
  if (decision.fills_pool) {
    common::Result<SqliteStatement> update = db_->Prepare(
        "UPDATE tasks SET status = ?1, updated_at_ms = ?2 WHERE id = ?3 AND status = ?4");
    if (!update.ok()) return update.status();
    GRADIENTS_RETURN_IF_ERROR(update->Bind(1, TaskStatusName(TaskStatus::kTraining))
                                  .Bind(2, now_ms)
                                  .Bind(3, task_id)
                                  .Bind(4, TaskStatusName(TaskStatus::kOffering))
                                  .Run());
    GRADIENTS_RETURN_IF_ERROR(RecordEvent(task_id, TaskStatus::kOffering, TaskStatus::kTraining, "the pool is full", now_ms));
  }
  return ClaimRecord{.task_id = std::string(task_id), .miner = std::string(miner), .nonce = std::string(nonce),
                     .claimed_at_ms = now_ms, .uploads = 0, .progress = {}, .progress_at_ms = 0,
                     .sequence = sequence};
}

common::Result<std::vector<ClaimRecord>> SqliteStore::ListClaims(std::string_view task_id) {
  std::lock_guard lock(reader_mutex_);
  common::Result<SqliteStatement> select = reader_->Prepare(
      "SELECT " + std::string(kClaimColumns) + " FROM claims WHERE task_id = ?1 ORDER BY sequence");
  if (!select.ok()) return select.status();
  select->Bind(1, task_id);
  return ReadAll<ClaimRecord>(*select, [](const SqliteStatement& row) -> common::Result<ClaimRecord> { return ReadClaim(row); });
}

common::Result<std::vector<ClaimRecord>> SqliteStore::ListClaimsOfMiner(std::string_view miner, std::string_view task_id,
                                                                int64_t before_sequence, int64_t limit) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT " + std::string(kClaimColumns) +
      " FROM claims WHERE miner = ?1 AND (?2 = '' OR task_id = ?2) AND (?3 = 0 OR sequence < ?3) "
      "ORDER BY sequence DESC LIMIT ?4");
  if (!select.ok()) return select.status();
  select->Bind(1, miner).Bind(2, task_id).Bind(3, before_sequence).Bind(4, limit);
  return ReadAll<ClaimRecord>(*select, [](const SqliteStatement& row) -> common::Result<ClaimRecord> { return ReadClaim(row); });
}

common::Status SqliteStore::RecordDecline(std::string_view task_id, std::string_view miner, std::string_view reason,
                                  std::string_view detail, int64_t at_ms) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  const std::string task = "task " + std::string(task_id.substr(0, 80));
  common::Result<SqliteStatement> select = db_->Prepare("SELECT status FROM tasks WHERE id = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, task_id).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no " + task);
  if (select->Text(0) != TaskStatusName(TaskStatus::kOffering)) {
    return common::Status::FailedPrecondition(task + " is " + select->Text(0) + ": its offers are closed");
  }
  // One decline per miner and task: a repeated one changes nothing.
  common::Result<SqliteStatement> insert = db_->Prepare(
      "INSERT INTO declines (task_id, miner, reason, detail, at_ms) SELECT ?1, ?2, ?3, ?4, ?5 "
      "WHERE NOT EXISTS (SELECT 1 FROM declines WHERE task_id = ?1 AND miner = ?2)");
  if (!insert.ok()) return insert.status();
  GRADIENTS_RETURN_IF_ERROR(insert->Bind(1, task_id).Bind(2, miner).Bind(3, reason).Bind(4, detail).Bind(5, at_ms).Run());
  return transaction->Commit();
}

common::Result<ClaimRecord> SqliteStore::GetClaim(std::string_view task_id, std::string_view miner) {
  std::lock_guard lock(mutex_);
  common::Result<std::optional<ClaimRecord>> claim = FindClaim(task_id, miner);
  if (!claim.ok()) return claim.status();
  if (!*claim) return common::Status::NotFound("no claim on task " + std::string(task_id.substr(0, 80)) + " by this miner");
  return **claim;
}

common::Result<bool> SqliteStore::MayFetchBlob(std::string_view miner, std::string_view blob) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT 1 FROM claims JOIN tasks ON tasks.id = claims.task_id WHERE claims.miner = ?1 AND "
      "(tasks.train_blob = ?2 OR EXISTS (SELECT 1 FROM model_files WHERE model_files.model_hash = tasks.model_hash "
      "AND model_files.blob = ?2)) LIMIT 1");
  if (!select.ok()) return select.status();
  return select->Bind(1, miner).Bind(2, blob).Step();
}

common::Status SqliteStore::RecordProgress(std::string_view task_id, std::string_view miner, std::string_view progress,
                                   int64_t at_ms, int64_t min_interval_ms) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT progress_at_ms FROM claims WHERE task_id = ?1 AND miner = ?2");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, task_id).Bind(2, miner).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no claim on task " + std::string(task_id.substr(0, 80)) + " by this miner");
  const int64_t previous_ms = select->Integer(0);
  if (previous_ms > 0 && at_ms - previous_ms < min_interval_ms) {
    return common::Status::ResourceExhausted("progress reports: at most one per " + std::to_string(min_interval_ms) +
                                     " ms per task");
  }
  common::Result<SqliteStatement> update =
      db_->Prepare("UPDATE claims SET progress = ?3, progress_at_ms = ?4 WHERE task_id = ?1 AND miner = ?2");
  if (!update.ok()) return update.status();
  GRADIENTS_RETURN_IF_ERROR(update->Bind(1, task_id).Bind(2, miner).Bind(3, progress).Bind(4, at_ms).Run());
  return transaction->Commit();
}
}  // namespace gradients::validator
