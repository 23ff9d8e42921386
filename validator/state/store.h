// The validator's durable state behind one interface (DESIGN.md, State): SQLite is the embedded
// implementation (validator/state/sqlite_store.h); a PostgreSQL backend for multi-node deployments
// implements the same interface. Records hold content hashes, never file contents: the bytes live
// in the blob store (validator/state/blob_store.h).
//
// Every method is one transaction: it either happens entirely (and is durable when it returns OK)
// or not at all. Implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/checkpoint_manifest.h"
#include "common/status.h"
#include "validator/tasks/task_status.h"

namespace gradients::validator {

// A file of a registered model directory (config.json, *.safetensors, tokenizer files...).
struct ModelFile {
  std::string path{};  // relative to the model directory, '/'-separated
  int64_t bytes = 0;
  std::string blob{};  // content hash of its bytes in the blob store
  friend bool operator==(const ModelFile&, const ModelFile&) = default;
};

// A base model: identified by the hash of its file list (names, sizes, blobs).
struct ModelRecord {
  std::string hash{};
  std::string name{};  // operator-chosen, for people; not unique
  std::vector<ModelFile> files{};
  int64_t parameters = 0;  // elements of every tensor in its *.safetensors files
  int64_t added_at_ms = 0;
  // The sum of its files' sizes (what a miner fetches, what checkpoint and evaluation limits scale with).
  int64_t bytes() const {
    int64_t total = 0;
    for (const ModelFile& file : files) total += file.bytes;
    return total;
  }
  friend bool operator==(const ModelRecord&, const ModelRecord&) = default;
};

// A dataset file (JSONL or CSV), identified by the hash of its bytes (its blob).
struct DatasetRecord {
  std::string hash{};
  std::string name{};
  std::string format{};  // "jsonl" or "csv"
  int64_t bytes = 0;
  // Secret, random at registration: decides which rows every task on this dataset holds out. One
  // seed per dataset, not per task: two tasks holding out different rows of the same data would
  // together hand a miner most of each other's test split.
  std::string split_seed{};
  int64_t added_at_ms = 0;
  friend bool operator==(const DatasetRecord&, const DatasetRecord&) = default;
};

struct TaskRecord {
  std::string id{};
  std::string type{};  // instruct | chat | text | dpo | grpo | image
  std::string model_hash{};
  std::string dataset_hash{};
  std::string columns_json{};  // the column mapping, as a JSON object
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

// A miner's right to submit to a task.
struct ClaimRecord {
  std::string task_id{};
  std::string miner{};  // public key, hex
  std::string nonce{};  // hex; bound into the miner's checkpoint envelope
  int64_t claimed_at_ms = 0;
  int64_t uploads = 0;  // verified uploads so far (each re-upload counts)
  std::string progress{};   // the latest progress report (JSON of TrainingProgress); empty: none
  int64_t progress_at_ms = 0;
  int64_t sequence = 0;     // claim order across all tasks
  friend bool operator==(const ClaimRecord&, const ClaimRecord&) = default;
};

// The evaluation of one claim of a task, with every input it depends on (so a score can be traced
// and checked), and once the task is scored its rank and points.
struct EvaluationRecord {
  std::string task_id{};
  std::string miner{};
  // scored | invalid | not_finetuned | duplicate | failed | missing
  std::string outcome{};
  std::optional<double> test_loss{};  // for scored
  int64_t tokens = 0;                 // test tokens the loss is the mean over
  std::string reason{};               // why not scored
  std::string receipt_id{};           // the submission evaluated; empty for missing
  std::string manifest_digest{};
  int64_t received_at_ms = 0;
  // The inputs: base model, hidden split, the dataset's split seed, the evaluator's version.
  std::string model_hash{};
  std::string test_blob{};
  std::string split_seed{};
  std::string evaluator{};
  int64_t evaluated_at_ms = 0;
  int64_t rank = 0;  // set when the task is scored
  double points = 0;
  friend bool operator==(const EvaluationRecord&, const EvaluationRecord&) = default;
};

// One computation of reward weights: the weights by miner, and the canonical encoding of every
// input (validator/rewards/weight_sets.h) with its digest, so that it can be exported and recomputed.
struct WeightSetRecord {
  int64_t id = 0;  // 1, 2, ... in computation order
  int64_t computed_at_ms = 0;
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  std::map<std::string, double> weights{};  // miner (hex) -> weight
  std::string inputs{};                     // canonical JSON
  std::string inputs_digest{};              // hex BLAKE2b-256 of `inputs`
  std::string published_to{};               // where it went, empty until published
  int64_t published_at_ms = 0;
  friend bool operator==(const WeightSetRecord&, const WeightSetRecord&) = default;
};

// A miner the validator has seen, with its totals.
struct MinerRecord {
  std::string key{};  // public key, hex
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;  // its latest authentication or subscription
  std::string client_version{};
  std::string capacity{};  // its latest declared capacity (JSON of MinerCapacity); empty: never subscribed
  int64_t active_claims = 0;  // on tasks offering, training or evaluating
  int64_t total_claims = 0;
  int64_t total_submissions = 0;  // verified uploads
  double total_points = 0;        // over scored tasks
  friend bool operator==(const MinerRecord&, const MinerRecord&) = default;
};

struct MinerClaims {
  std::string miner{};
  int64_t last_claim_at_ms = 0;
  int64_t active_claims = 0;
  friend bool operator==(const MinerClaims&, const MinerClaims&) = default;
};

// The part of a miner's upload that is durably stored: per manifest file, how many bytes (the
// files themselves live in the validator's uploads directory).
struct PartialUpload {
  std::string task_id{};
  std::string miner{};
  common::CheckpointManifest manifest{};
  std::vector<uint64_t> durable_offsets{};  // one per manifest file
  int64_t updated_at_ms = 0;
  friend bool operator==(const PartialUpload&, const PartialUpload&) = default;
};

// A verified checkpoint: its manifest and, per file, the blob holding its bytes.
struct SubmissionRecord {
  std::string task_id{};
  std::string miner{};
  std::string receipt_id{};
  common::CheckpointManifest manifest{};
  std::string manifest_digest{};        // hex of CheckpointManifestDigest
  std::vector<std::string> file_blobs{};  // one per manifest file
  int64_t received_at_ms = 0;
  friend bool operator==(const SubmissionRecord&, const SubmissionRecord&) = default;
};

class Store {
 public:
  virtual ~Store() = default;

  // Registering the same content again is not an error: the first record stays (and is returned
  // by later gets); a different name does not rename it.
  virtual common::Status AddModel(const ModelRecord& model) = 0;
  virtual common::Result<ModelRecord> GetModel(std::string_view hash) = 0;
  virtual common::Result<std::vector<ModelRecord>> ListModels() = 0;
  virtual common::Status AddDataset(const DatasetRecord& dataset) = 0;
  virtual common::Result<DatasetRecord> GetDataset(std::string_view hash) = 0;
  virtual common::Result<std::vector<DatasetRecord>> ListDatasets() = 0;

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

  // A miner's claim on a task, in one transaction. The same miner again gets its existing claim
  // (also after the pool closed); a new claim needs the task offering, its offer window open,
  // before its deadline, with room in its pool, and the claim that fills the pool moves the task to
  // training.
  // FailedPrecondition says which does not hold; NotFound for an unknown task.
  virtual common::Result<ClaimRecord> ClaimTask(std::string_view task_id, std::string_view miner, std::string_view nonce,
                                        int64_t now_ms) = 0;
  // In claim order.
  virtual common::Result<std::vector<ClaimRecord>> ListClaims(std::string_view task_id) = 0;
  // Notes that a miner authenticated or subscribed; an empty version or capacity keeps the last.
  virtual common::Status RecordMinerSeen(std::string_view miner, std::string_view client_version, std::string_view capacity,
                                 int64_t at_ms) = 0;
  // Most recently seen first, from the `offset`th, at most `limit`.
  virtual common::Result<std::vector<MinerRecord>> ListMiners(int64_t offset, int64_t limit) = 0;
  // Per miner that ever claimed a task: its latest claim and its claims on tasks still offering or
  // training (what offers are ordered and capped by).
  virtual common::Result<std::vector<MinerClaims>> ListMinerClaims() = 0;
  // A miner's claims, newest first: those with a sequence below `before_sequence` (0: any), at
  // most `limit`; only the claim on `task_id` when it is not empty.
  virtual common::Result<std::vector<ClaimRecord>> ListClaimsOfMiner(std::string_view miner, std::string_view task_id,
                                                             int64_t before_sequence, int64_t limit) = 0;
  // NotFound when the miner has no claim on the task.
  virtual common::Result<ClaimRecord> GetClaim(std::string_view task_id, std::string_view miner) = 0;
  // Whether `blob` is a file of the base model or the training split of a task the miner claimed
  // (never the hidden test split).
  virtual common::Result<bool> MayFetchBlob(std::string_view miner, std::string_view blob) = 0;
  // Keeps a claim's latest progress report (opaque to the store). NotFound without a claim;
  // ResourceExhausted when the previous report is less than `min_interval_ms` old.
  virtual common::Status RecordProgress(std::string_view task_id, std::string_view miner, std::string_view progress,
                                int64_t at_ms, int64_t min_interval_ms) = 0;

  // A miner's upload in progress for a task; none when there is nothing stored.
  virtual common::Result<std::optional<PartialUpload>> GetPartialUpload(std::string_view task_id, std::string_view miner) = 0;
  // Creates or replaces it; the miner must hold a claim on the task.
  virtual common::Status SavePartialUpload(const PartialUpload& upload) = 0;
  virtual common::Status DeletePartialUpload(std::string_view task_id, std::string_view miner) = 0;
  // The miners with a part of an upload to `task_id` kept.
  virtual common::Result<std::vector<std::string>> ListPartialUploadMiners(std::string_view task_id) = 0;
  // Records a verified checkpoint and drops the partial upload it came from, in one transaction:
  // the miner holds a claim, the task takes uploads (offering or training) and `now_ms` is not
  // past its deadline (FailedPrecondition naming which does not hold). An earlier submission of
  // the same miner to the task is replaced; the claim's upload count goes up. Returns the arrival
  // time stored: the first one when the same checkpoint (manifest digest) was recorded before.
  virtual common::Result<int64_t> RecordSubmission(const SubmissionRecord& submission, int64_t now_ms) = 0;
  // Every blob a record still needs: the models' files, the datasets, and the splits and
  // checkpoints of tasks not finished or finished (scored or failed) at or after
  // `finished_since_ms`. Read at one point in time. A replaced checkpoint's files are in it only
  // when another record names the same bytes.
  virtual common::Result<std::set<std::string>> ListBlobsInUse(int64_t finished_since_ms) = 0;
  // For monitoring: tasks by status, evaluations by outcome.
  virtual common::Result<std::map<std::string, int64_t>> CountTasksByStatus() = 0;
  virtual common::Result<std::map<std::string, int64_t>> CountEvaluationsByOutcome() = 0;
  // Records (or replaces) the evaluation of a claim of a task that is evaluating.
  virtual common::Status RecordEvaluation(const EvaluationRecord& evaluation) = 0;
  // By miner.
  virtual common::Result<std::vector<EvaluationRecord>> ListEvaluations(std::string_view task_id) = 0;
  // Ranks and points for a task that is evaluating, and the task scored, in one transaction: every
  // claim must have its evaluation (FailedPrecondition otherwise).
  virtual common::Status RecordScores(std::string_view task_id, const std::vector<EvaluationRecord>& scores,
                              int64_t at_ms) = 0;
  // Stores a weight set and returns it with its id.
  virtual common::Result<WeightSetRecord> AddWeightSet(WeightSetRecord weight_set) = 0;
  // NotFound before the first computation.
  virtual common::Result<WeightSetRecord> LatestWeightSet() = 0;
  // Newest first: those computed at or after `since_ms`, with ids below `before_id` (0: any), at
  // most `limit`.
  virtual common::Result<std::vector<WeightSetRecord>> ListWeightSets(int64_t since_ms, int64_t before_id, int64_t limit) = 0;
  virtual common::Status MarkWeightSetPublished(int64_t id, std::string_view published_to, int64_t at_ms) = 0;
  // NotFound when the miner has not submitted to the task.
  virtual common::Result<SubmissionRecord> GetSubmission(std::string_view task_id, std::string_view miner) = 0;
  // Oldest receipt first.
  virtual common::Result<std::vector<SubmissionRecord>> ListSubmissions(std::string_view task_id) = 0;
  // A miner's "no" to an offer, kept for the operator (why offers go untaken); the first one per
  // miner and task counts. FailedPrecondition unless the task is offering.
  virtual common::Status RecordDecline(std::string_view task_id, std::string_view miner, std::string_view reason,
                               std::string_view detail, int64_t at_ms) = 0;
  // Oldest first.
  virtual common::Result<std::vector<TaskEvent>> TaskHistory(std::string_view id) = 0;
};

}  // namespace gradients::validator
