// The Store in a SQLite file (DESIGN.md, State): WAL with synchronous=FULL, so a method that
// returned OK survives a crash or power cut; the schema carries its version and is migrated
// forward on open. One class; its methods are defined a file per record family
// (sqlite_<family>_store.cpp), the schema, the migrations and the opening in sqlite_schema.cpp.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "validator/state/sqlite_db.h"
#include "validator/state/store.h"

namespace gradients::validator {

// The schema's migrations: entry i moves it from version i to i + 1. Released entries are never
// edited; a change is a new entry.
const std::vector<std::string>& SqliteStoreMigrations();

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` and migrates its schema.
  static common::Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& path);

  // CatalogStore (sqlite_catalog_store.cpp)
  common::Status AddModel(const ModelRecord& model) override;
  common::Result<ModelRecord> GetModel(std::string_view hash) override;
  common::Result<std::vector<ModelRecord>> ListModels() override;
  common::Status AddDataset(const DatasetRecord& dataset) override;
  common::Result<DatasetRecord> GetDataset(std::string_view hash) override;
  common::Result<std::vector<DatasetRecord>> ListDatasets() override;

  // TaskStore (sqlite_task_store.cpp)
  common::Status CreateTask(const TaskRecord& task) override;
  common::Result<TaskRecord> GetTask(std::string_view id) override;
  common::Result<TaskRecord> GetTaskByRequestId(std::string_view request_id) override;
  common::Result<std::vector<TaskRecord>> ListTasks(std::optional<TaskStatus> status) override;
  common::Status TransitionTask(std::string_view id, TaskStatus from, TaskStatus to, std::string_view reason,
                                int64_t at_ms) override;
  common::Status RecordSplit(std::string_view id, const TaskSplit& split) override;
  common::Status OpenOffers(std::string_view id, int64_t deadline_ms, int64_t offer_closes_at_ms,
                            std::string_view reason, int64_t at_ms) override;
  common::Status ReopenOffers(std::string_view id, int64_t offer_closes_at_ms, int64_t deadline_ms,
                              std::string_view reason, int64_t at_ms) override;
  common::Result<std::vector<TaskEvent>> TaskHistory(std::string_view id) override;
  common::Result<std::map<std::string, int64_t>> CountTasksByStatus() override;

  // ClaimStore (sqlite_claim_store.cpp)
  common::Result<ClaimRecord> ClaimTask(std::string_view task_id, std::string_view miner, std::string_view nonce,
                                        int64_t now_ms) override;
  common::Result<std::vector<ClaimRecord>> ListClaims(std::string_view task_id) override;
  common::Result<ClaimRecord> GetClaim(std::string_view task_id, std::string_view miner) override;
  common::Result<std::vector<ClaimRecord>> ListClaimsOfMiner(std::string_view miner, std::string_view task_id,
                                                             int64_t before_sequence, int64_t limit) override;
  common::Status RecordMinerSeen(std::string_view miner, std::string_view client_version, std::string_view capacity,
                                 int64_t at_ms) override;
  common::Result<std::vector<MinerRecord>> ListMiners(int64_t offset, int64_t limit) override;
  common::Result<std::vector<MinerClaims>> ListMinerClaims() override;
  common::Result<bool> MayFetchBlob(std::string_view miner, std::string_view blob) override;
  common::Status RecordProgress(std::string_view task_id, std::string_view miner, std::string_view progress,
                                int64_t at_ms, int64_t min_interval_ms) override;
  common::Status RecordDecline(std::string_view task_id, std::string_view miner, std::string_view reason,
                               std::string_view detail, int64_t at_ms) override;

  // SubmissionStore (sqlite_submission_store.cpp)
  common::Result<std::optional<PartialUpload>> GetPartialUpload(std::string_view task_id,
                                                                std::string_view miner) override;
  common::Status SavePartialUpload(const PartialUpload& upload) override;
  common::Status DeletePartialUpload(std::string_view task_id, std::string_view miner) override;
  common::Result<std::vector<std::string>> ListPartialUploadMiners(std::string_view task_id) override;
  common::Result<int64_t> RecordSubmission(const SubmissionRecord& submission, int64_t now_ms) override;
  common::Result<SubmissionRecord> GetSubmission(std::string_view task_id, std::string_view miner) override;
  common::Result<std::vector<SubmissionRecord>> ListSubmissions(std::string_view task_id) override;

  // EvaluationStore (sqlite_evaluation_store.cpp)
  common::Status RecordEvaluation(const EvaluationRecord& evaluation) override;
  common::Result<std::vector<EvaluationRecord>> ListEvaluations(std::string_view task_id) override;
  common::Status RecordScores(std::string_view task_id, const std::vector<EvaluationRecord>& scores,
                              int64_t at_ms) override;
  common::Result<std::map<EvaluationOutcome, int64_t>> CountEvaluationsByOutcome() override;

  // WeightSetStore (sqlite_weight_set_store.cpp)
  common::Result<WeightSetRecord> AddWeightSet(WeightSetRecord weight_set) override;
  common::Result<WeightSetRecord> LatestWeightSet() override;
  common::Result<std::vector<WeightSetRecord>> ListWeightSets(int64_t since_ms, int64_t before_id,
                                                              int64_t limit) override;
  common::Status MarkWeightSetPublished(int64_t id, std::string_view published_to, int64_t at_ms) override;

  // Store (sqlite_schema.cpp)
  common::Result<std::set<std::string>> ListBlobsInUse(int64_t finished_since_ms) override;

 private:
  SqliteStore(std::unique_ptr<SqliteDatabase> db, std::unique_ptr<SqliteDatabase> reader)
      : db_(std::move(db)), reader_(std::move(reader)) {}
  // A "SELECT key, COUNT(*) ... GROUP BY key" as key -> count (sqlite_schema.cpp).
  common::Result<std::map<std::string, int64_t>> CountGroups(std::string_view sql);
  // sqlite_catalog_store.cpp
  common::Result<std::vector<ModelFile>> ModelFiles(std::string_view hash);
  // sqlite_task_store.cpp; RecordEvent inside the caller's transaction (mutex_ held).
  common::Status RecordEvent(std::string_view id, std::optional<TaskStatus> from, TaskStatus to,
                             std::string_view reason, int64_t at_ms);
  common::Result<TaskRecord> GetTaskWhere(std::string_view column, std::string_view value);
  // `offer_closes_at_ms`, when given, also starts the first offer window.
  common::Status Transition(std::string_view id, TaskStatus from, TaskStatus to, std::string_view reason,
                            int64_t at_ms, std::optional<int64_t> deadline_ms,
                            std::optional<int64_t> offer_closes_at_ms = std::nullopt);
  // sqlite_claim_store.cpp
  common::Result<std::optional<ClaimRecord>> FindClaim(std::string_view task_id, std::string_view miner);
  // One claim inside the caller's transaction (mutex_ held).
  common::Result<ClaimRecord> ClaimInTransaction(std::string_view task_id, std::string_view miner,
                                                 std::string_view nonce, int64_t now_ms);
  struct PendingClaim;
  // Runs `batch` in one transaction, each claim under its own savepoint, and sets every result.
  void CommitClaims(const std::vector<PendingClaim*>& batch);
  // sqlite_submission_store.cpp
  common::Status DeletePartialUploadLocked(std::string_view task_id, std::string_view miner);

  std::mutex mutex_;  // one connection, one caller at a time
  std::unique_ptr<SqliteDatabase> db_;
  // A second connection for the reads every claim, upload and offer round makes (tasks, claims):
  // in WAL mode it reads the last commit while db_ writes, so those reads do not queue behind a
  // commit's fsync. Each read is one statement: it sees one commit, whole.
  std::mutex reader_mutex_;
  std::unique_ptr<SqliteDatabase> reader_;
  // Models and datasets never change once added (they are named by their content), and every
  // claim and evaluation reads them: they are answered from memory after the first read, so that
  // those readers do not queue for mutex_ behind commits waiting on the disk.
  std::mutex registered_mutex_;
  std::map<std::string, ModelRecord, std::less<>> models_read_;
  std::map<std::string, DatasetRecord, std::less<>> datasets_read_;
  // Group commit of claims: offers go out in waves, so claims arrive in bursts, and each durable
  // commit waits for the disk (an fsync of the WAL). Claims that arrive while one commit is under
  // way queue here and the next caller commits all of them at once.
  std::mutex claim_queue_mutex_;
  std::condition_variable claims_committed_;
  std::vector<PendingClaim*> claim_queue_;
  bool committing_claims_ = false;
};

}  // namespace gradients::validator
