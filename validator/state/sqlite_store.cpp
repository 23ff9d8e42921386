#include "validator/state/sqlite_store.h"

#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/hex.h"

namespace gradients::validator {

const std::vector<std::string>& SqliteStoreMigrations() {
  static const std::vector<std::string> migrations = {
      R"sql(
CREATE TABLE models (
  hash TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  added_at_ms INTEGER NOT NULL
);
CREATE TABLE model_files (
  model_hash TEXT NOT NULL REFERENCES models(hash),
  path TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  blob TEXT NOT NULL,
  PRIMARY KEY (model_hash, path)
);
CREATE TABLE datasets (
  hash TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  format TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  added_at_ms INTEGER NOT NULL
);
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  model_hash TEXT NOT NULL REFERENCES models(hash),
  dataset_hash TEXT NOT NULL REFERENCES datasets(hash),
  columns_json TEXT NOT NULL,
  minutes INTEGER NOT NULL,
  pool_size INTEGER NOT NULL,
  split_seed TEXT NOT NULL,
  status TEXT NOT NULL,
  failure_reason TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  deadline_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  sequence INTEGER NOT NULL
);
CREATE INDEX tasks_by_status ON tasks(status, sequence);
CREATE TABLE task_events (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  from_status TEXT,
  to_status TEXT NOT NULL,
  reason TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
CREATE INDEX task_events_by_task ON task_events(task_id, sequence);
)sql",
      R"sql(
ALTER TABLE tasks ADD COLUMN train_blob TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN test_blob TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN train_rows INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN test_rows INTEGER NOT NULL DEFAULT 0;
)sql",
      R"sql(
ALTER TABLE datasets ADD COLUMN split_seed TEXT NOT NULL DEFAULT '';
UPDATE datasets SET split_seed = lower(hex(randomblob(32)));
)sql",
      R"sql(
ALTER TABLE tasks ADD COLUMN min_pool_size INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tasks ADD COLUMN max_training_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN request_id TEXT;
ALTER TABLE tasks ADD COLUMN request_fingerprint TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX tasks_by_request ON tasks(request_id) WHERE request_id IS NOT NULL;
)sql",
      R"sql(
CREATE TABLE claims (
  task_id TEXT NOT NULL REFERENCES tasks(id),
  miner TEXT NOT NULL,
  nonce TEXT NOT NULL,
  claimed_at_ms INTEGER NOT NULL,
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  UNIQUE (task_id, miner)
);
CREATE TABLE declines (
  sequence INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  miner TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  at_ms INTEGER NOT NULL
);
)sql",
      R"sql(
ALTER TABLE models ADD COLUMN parameters INTEGER NOT NULL DEFAULT 0;
)sql",
      R"sql(
ALTER TABLE tasks ADD COLUMN train_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN offer_closes_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN offer_rounds INTEGER NOT NULL DEFAULT 0;
CREATE INDEX claims_by_miner ON claims(miner, claimed_at_ms);
ALTER TABLE claims ADD COLUMN progress TEXT NOT NULL DEFAULT '';
ALTER TABLE claims ADD COLUMN progress_at_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE claims ADD COLUMN uploads INTEGER NOT NULL DEFAULT 0;
CREATE TABLE partial_uploads (
  task_id TEXT NOT NULL,
  miner TEXT NOT NULL,
  manifest_json TEXT NOT NULL,
  durable_offsets TEXT NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (task_id, miner),
  FOREIGN KEY (task_id, miner) REFERENCES claims(task_id, miner)
);
CREATE TABLE submissions (
  task_id TEXT NOT NULL,
  miner TEXT NOT NULL,
  receipt_id TEXT NOT NULL UNIQUE,
  manifest_json TEXT NOT NULL,
  manifest_digest TEXT NOT NULL,
  file_blobs TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL,
  PRIMARY KEY (task_id, miner),
  FOREIGN KEY (task_id, miner) REFERENCES claims(task_id, miner)
);
CREATE INDEX submissions_by_digest ON submissions(task_id, manifest_digest, received_at_ms);
)sql",
      R"sql(
CREATE TABLE evaluations (
  task_id TEXT NOT NULL,
  miner TEXT NOT NULL,
  outcome TEXT NOT NULL,
  test_loss REAL,
  tokens INTEGER NOT NULL,
  reason TEXT NOT NULL,
  receipt_id TEXT NOT NULL,
  manifest_digest TEXT NOT NULL,
  received_at_ms INTEGER NOT NULL,
  model_hash TEXT NOT NULL,
  test_blob TEXT NOT NULL,
  split_seed TEXT NOT NULL,
  evaluator TEXT NOT NULL,
  evaluated_at_ms INTEGER NOT NULL,
  rank INTEGER NOT NULL DEFAULT 0,
  points REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (task_id, miner),
  FOREIGN KEY (task_id, miner) REFERENCES claims(task_id, miner)
);
ALTER TABLE tasks ADD COLUMN scored_at_ms INTEGER NOT NULL DEFAULT 0;
)sql",
      R"sql(
CREATE TABLE weight_sets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  computed_at_ms INTEGER NOT NULL,
  window_start_ms INTEGER NOT NULL,
  window_end_ms INTEGER NOT NULL,
  weights_json TEXT NOT NULL,
  inputs TEXT NOT NULL,
  inputs_digest TEXT NOT NULL,
  published_to TEXT NOT NULL DEFAULT '',
  published_at_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tasks_by_scored_at ON tasks(scored_at_ms) WHERE scored_at_ms > 0;
)sql",
      R"sql(
CREATE TABLE miners (
  key TEXT PRIMARY KEY,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  client_version TEXT NOT NULL,
  capacity TEXT NOT NULL
);
CREATE INDEX miners_by_last_seen ON miners(last_seen_ms);
CREATE INDEX evaluations_by_miner ON evaluations(miner);
)sql",
      // Training time in seconds (tasks shorter than ten minutes, for a local testnet).
      R"sql(
ALTER TABLE tasks ADD COLUMN duration_s INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET duration_s = minutes * 60;
ALTER TABLE tasks DROP COLUMN minutes;
)sql",
  };
  return migrations;
}

namespace {

constexpr std::string_view kTaskColumns =
    "id, type, model_hash, dataset_hash, columns_json, duration_s, pool_size, split_seed, status, failure_reason, "
    "created_at_ms, deadline_ms, updated_at_ms, train_blob, test_blob, train_rows, test_rows, min_pool_size, "
    "max_training_tokens, COALESCE(request_id, ''), request_fingerprint, train_bytes, offer_closes_at_ms, offer_rounds, scored_at_ms";

common::Result<TaskRecord> ReadTask(const SqliteStatement& row) {
  TaskRecord task;
  task.id = row.Text(0);
  task.type = row.Text(1);
  task.model_hash = row.Text(2);
  task.dataset_hash = row.Text(3);
  task.columns_json = row.Text(4);
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

// Manifests are kept as JSON: readable with the sqlite3 shell, and parsed back strictly (a row that
// does not parse is DataLoss, never a guess).
std::string ManifestToJson(const common::CheckpointManifest& manifest) {
  nlohmann::json files = nlohmann::json::array();
  for (const common::CheckpointFileEntry& file : manifest.files) {
    files.push_back({{"path", file.path},
                     {"size", file.size_bytes},
                     {"algorithm", file.algorithm == common::DigestAlgorithm::kBlake2b256 ? 1 : 2},
                     {"digest", common::ToHex(file.digest)}});
  }
  return nlohmann::json{{"kind", static_cast<int>(manifest.kind)}, {"files", std::move(files)}}.dump();
}

common::Result<common::CheckpointManifest> ManifestFromJson(const std::string& text, std::string_view where) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto corrupt = [&] { return common::Status::DataLoss(std::string(where) + ": stored manifest does not parse"); };
  if (!json.is_object() || !json.contains("kind") || !json["kind"].is_number_integer() || !json.contains("files") ||
      !json["files"].is_array()) {
    return corrupt();
  }
  const int kind = json["kind"].get<int>();
  if (kind != 1 && kind != 2) return corrupt();
  common::CheckpointManifest manifest{.kind = static_cast<common::CheckpointKind>(kind), .files = {}};
  for (const nlohmann::json& file : json["files"]) {
    if (!file.is_object() || !file.contains("path") || !file["path"].is_string() || !file.contains("size") ||
        !file["size"].is_number_unsigned() || !file.contains("algorithm") || !file["algorithm"].is_number_integer() ||
        !file.contains("digest") || !file["digest"].is_string()) {
      return corrupt();
    }
    common::Result<std::vector<uint8_t>> digest = common::FromHex(file["digest"].get<std::string>());
    if (!digest.ok() || digest->size() != 32) return corrupt();
    common::CheckpointFileEntry entry{.path = file["path"].get<std::string>(),
                              .size_bytes = file["size"].get<uint64_t>(),
                              .algorithm = file["algorithm"].get<int>() == 1 ? common::DigestAlgorithm::kBlake2b256
                                                                             : common::DigestAlgorithm::kSha256,
                              .digest = {}};
    std::copy(digest->begin(), digest->end(), entry.digest.begin());
    manifest.files.push_back(std::move(entry));
  }
  return manifest;
}

// A list of numbers or hashes as one text column: "a,b,c".
template <typename T>
std::string JoinList(const std::vector<T>& values) {
  std::string out;
  for (const T& value : values) {
    if (!out.empty()) out += ',';
    if constexpr (std::is_same_v<T, std::string>) {
      out += value;
    } else {
      out += std::to_string(value);
    }
  }
  return out;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

common::Result<SubmissionRecord> ReadSubmission(const SqliteStatement& row) {
  SubmissionRecord submission{.task_id = row.Text(0), .miner = row.Text(1), .receipt_id = row.Text(2), .manifest = {},
                              .manifest_digest = row.Text(4), .file_blobs = SplitList(row.Text(5)),
                              .received_at_ms = row.Integer(6)};
  const std::string where = "submission " + submission.receipt_id;
  common::Result<common::CheckpointManifest> manifest = ManifestFromJson(row.Text(3), where);
  if (!manifest.ok()) return manifest.status();
  submission.manifest = std::move(*manifest);
  if (submission.file_blobs.size() != submission.manifest.files.size()) {
    return common::Status::DataLoss(where + ": stored blob list does not match its manifest");
  }
  return submission;
}

constexpr std::string_view kClaimColumns =
    "task_id, miner, nonce, claimed_at_ms, uploads, progress, progress_at_ms, sequence";

ClaimRecord ReadClaim(const SqliteStatement& row) {
  return ClaimRecord{.task_id = row.Text(0), .miner = row.Text(1), .nonce = row.Text(2),
                     .claimed_at_ms = row.Integer(3), .uploads = row.Integer(4), .progress = row.Text(5),
                     .progress_at_ms = row.Integer(6), .sequence = row.Integer(7)};
}

constexpr std::string_view kSubmissionColumns =
    "task_id, miner, receipt_id, manifest_json, manifest_digest, file_blobs, received_at_ms";

// Collects every row of `statement` through `read`.
template <typename T, typename Read>
common::Result<std::vector<T>> ReadAll(SqliteStatement& statement, Read read) {
  std::vector<T> rows;
  for (;;) {
    common::Result<bool> row = statement.Step();
    if (!row.ok()) return row.status();
    if (!*row) return rows;
    common::Result<T> value = read(statement);
    if (!value.ok()) return value.status();
    rows.push_back(std::move(*value));
  }
}

}  // namespace

common::Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::filesystem::path& path) {
  common::Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path);
  if (!db.ok()) return db.status();
  GRADIENTS_RETURN_IF_ERROR((*db)->Migrate(SqliteStoreMigrations()));
  common::Result<std::unique_ptr<SqliteDatabase>> reader = SqliteDatabase::Open(path);
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*db), std::move(*reader)));
}

common::Status SqliteStore::AddModel(const ModelRecord& model) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  common::Result<SqliteStatement> insert =
      db_->Prepare("INSERT INTO models (hash, name, added_at_ms, parameters) VALUES (?1, ?2, ?3, ?4) "
                   "ON CONFLICT (hash) DO NOTHING");
  if (!insert.ok()) return insert.status();
  GRADIENTS_RETURN_IF_ERROR(
      insert->Bind(1, model.hash).Bind(2, model.name).Bind(3, model.added_at_ms).Bind(4, model.parameters).Run());
  if (db_->Changes() == 0) return common::Status::Ok();  // already registered
  for (const ModelFile& file : model.files) {
    common::Result<SqliteStatement> file_insert =
        db_->Prepare("INSERT INTO model_files (model_hash, path, bytes, blob) VALUES (?1, ?2, ?3, ?4)");
    if (!file_insert.ok()) return file_insert.status();
    GRADIENTS_RETURN_IF_ERROR(
        file_insert->Bind(1, model.hash).Bind(2, file.path).Bind(3, file.bytes).Bind(4, file.blob).Run());
  }
  return transaction->Commit();
}

common::Result<std::vector<ModelFile>> SqliteStore::ModelFiles(std::string_view hash) {
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT path, bytes, blob FROM model_files WHERE model_hash = ?1 ORDER BY path");
  if (!select.ok()) return select.status();
  select->Bind(1, hash);
  return ReadAll<ModelFile>(*select, [](const SqliteStatement& row) -> common::Result<ModelFile> {
    return ModelFile{.path = row.Text(0), .bytes = row.Integer(1), .blob = row.Text(2)};
  });
}

common::Result<ModelRecord> SqliteStore::GetModel(std::string_view hash) {
  {
    std::lock_guard lock(registered_mutex_);
    if (auto found = models_read_.find(hash); found != models_read_.end()) return found->second;
  }
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT hash, name, added_at_ms, parameters FROM models WHERE hash = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, hash).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no model with hash " + std::string(hash.substr(0, 80)));
  ModelRecord model{.hash = select->Text(0), .name = select->Text(1), .files = {}, .parameters = select->Integer(3),
                    .added_at_ms = select->Integer(2)};
  common::Result<std::vector<ModelFile>> files = ModelFiles(model.hash);
  if (!files.ok()) return files.status();
  model.files = std::move(*files);
  std::lock_guard registered_lock(registered_mutex_);
  models_read_.emplace(model.hash, model);
  return model;
}

common::Result<std::vector<ModelRecord>> SqliteStore::ListModels() {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT hash, name, added_at_ms, parameters FROM models ORDER BY added_at_ms, hash");
  if (!select.ok()) return select.status();
  return ReadAll<ModelRecord>(*select, [&](const SqliteStatement& row) -> common::Result<ModelRecord> {
    ModelRecord model{.hash = row.Text(0), .name = row.Text(1), .files = {}, .parameters = row.Integer(3),
                      .added_at_ms = row.Integer(2)};
    common::Result<std::vector<ModelFile>> files = ModelFiles(model.hash);
    if (!files.ok()) return files.status();
    model.files = std::move(*files);
    return model;
  });
}

common::Status SqliteStore::AddDataset(const DatasetRecord& dataset) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> insert = db_->Prepare(
      "INSERT INTO datasets (hash, name, format, bytes, added_at_ms, split_seed) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT (hash) DO NOTHING");
  if (!insert.ok()) return insert.status();
  if (dataset.split_seed.empty()) return common::Status::InvalidArgument("dataset " + dataset.name + ": no split seed");
  return insert->Bind(1, dataset.hash)
      .Bind(2, dataset.name)
      .Bind(3, dataset.format)
      .Bind(4, dataset.bytes)
      .Bind(5, dataset.added_at_ms)
      .Bind(6, dataset.split_seed)
      .Run();
}

namespace {

DatasetRecord ReadDataset(const SqliteStatement& row) {
  return DatasetRecord{.hash = row.Text(0),
                       .name = row.Text(1),
                       .format = row.Text(2),
                       .bytes = row.Integer(3),
                       .split_seed = row.Text(5),
                       .added_at_ms = row.Integer(4)};
}

}  // namespace

common::Result<DatasetRecord> SqliteStore::GetDataset(std::string_view hash) {
  {
    std::lock_guard lock(registered_mutex_);
    if (auto found = datasets_read_.find(hash); found != datasets_read_.end()) return found->second;
  }
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT hash, name, format, bytes, added_at_ms, split_seed FROM datasets WHERE hash = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, hash).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no dataset with hash " + std::string(hash.substr(0, 80)));
  DatasetRecord dataset = ReadDataset(*select);
  std::lock_guard registered_lock(registered_mutex_);
  datasets_read_.emplace(dataset.hash, dataset);
  return dataset;
}

common::Result<std::vector<DatasetRecord>> SqliteStore::ListDatasets() {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select =
      db_->Prepare("SELECT hash, name, format, bytes, added_at_ms, split_seed FROM datasets ORDER BY added_at_ms, hash");
  if (!select.ok()) return select.status();
  return ReadAll<DatasetRecord>(*select, [](const SqliteStatement& row) -> common::Result<DatasetRecord> {
    return ReadDataset(row);
  });
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
                                .Bind(5, task.columns_json)
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
  const std::string task = "task " + std::string(task_id.substr(0, 80));
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT status, deadline_ms, pool_size, (SELECT COUNT(*) FROM claims WHERE task_id = ?1), offer_closes_at_ms "
      "FROM tasks WHERE id = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, task_id).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no " + task);
  const std::string status = select->Text(0);
  const int64_t deadline_ms = select->Integer(1), pool_size = select->Integer(2), claims = select->Integer(3);
  if (status != TaskStatusName(TaskStatus::kOffering)) {
    return common::Status::FailedPrecondition(task + " is " + status + ": its offers are closed");
  }
  if (now_ms >= deadline_ms) return common::Status::FailedPrecondition(task + ": its deadline has passed");
  if (now_ms >= select->Integer(4)) return common::Status::FailedPrecondition(task + ": its offer window has closed");
  if (claims >= pool_size) return common::Status::FailedPrecondition(task + ": its pool is full");
  common::Result<SqliteStatement> insert =
      db_->Prepare("INSERT INTO claims (task_id, miner, nonce, claimed_at_ms) VALUES (?1, ?2, ?3, ?4)");
  if (!insert.ok()) return insert.status();
  GRADIENTS_RETURN_IF_ERROR(insert->Bind(1, task_id).Bind(2, miner).Bind(3, nonce).Bind(4, now_ms).Run());
  const int64_t sequence = db_->LastInsertRowId();
  if (claims + 1 == pool_size) {
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

common::Result<std::optional<PartialUpload>> SqliteStore::GetPartialUpload(std::string_view task_id, std::string_view miner) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT manifest_json, durable_offsets, updated_at_ms FROM partial_uploads WHERE task_id = ?1 AND miner = ?2");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, task_id).Bind(2, miner).Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<PartialUpload>();
  const std::string where = "partial upload to task " + std::string(task_id.substr(0, 80));
  common::Result<common::CheckpointManifest> manifest = ManifestFromJson(select->Text(0), where);
  if (!manifest.ok()) return manifest.status();
  PartialUpload upload{.task_id = std::string(task_id), .miner = std::string(miner), .manifest = std::move(*manifest),
                       .durable_offsets = {}, .updated_at_ms = select->Integer(2)};
  for (const std::string& offset : SplitList(select->Text(1))) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(offset.c_str(), &end, 10);
    if (offset.empty() || end != offset.c_str() + offset.size()) return common::Status::DataLoss(where + ": bad offsets");
    upload.durable_offsets.push_back(value);
  }
  if (upload.durable_offsets.size() != upload.manifest.files.size()) {
    return common::Status::DataLoss(where + ": offsets do not match its manifest");
  }
  return std::optional<PartialUpload>(std::move(upload));
}

common::Status SqliteStore::SavePartialUpload(const PartialUpload& upload) {
  if (upload.durable_offsets.size() != upload.manifest.files.size()) {
    return common::Status::InvalidArgument("partial upload: one offset per manifest file");
  }
  std::lock_guard lock(mutex_);
  common::Result<std::optional<ClaimRecord>> claim = FindClaim(upload.task_id, upload.miner);
  if (!claim.ok()) return claim.status();
  if (!*claim) return common::Status::NotFound("no claim on task " + upload.task_id.substr(0, 80) + " by this miner");
  common::Result<SqliteStatement> upsert = db_->Prepare(
      "INSERT INTO partial_uploads (task_id, miner, manifest_json, durable_offsets, updated_at_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (task_id, miner) DO UPDATE SET manifest_json = excluded.manifest_json, "
      "durable_offsets = excluded.durable_offsets, updated_at_ms = excluded.updated_at_ms");
  if (!upsert.ok()) return upsert.status();
  return upsert->Bind(1, upload.task_id)
      .Bind(2, upload.miner)
      .Bind(3, ManifestToJson(upload.manifest))
      .Bind(4, JoinList(upload.durable_offsets))
      .Bind(5, upload.updated_at_ms)
      .Run();
}

common::Status SqliteStore::DeletePartialUploadLocked(std::string_view task_id, std::string_view miner) {
  common::Result<SqliteStatement> remove = db_->Prepare("DELETE FROM partial_uploads WHERE task_id = ?1 AND miner = ?2");
  if (!remove.ok()) return remove.status();
  return remove->Bind(1, task_id).Bind(2, miner).Run();
}

common::Status SqliteStore::DeletePartialUpload(std::string_view task_id, std::string_view miner) {
  std::lock_guard lock(mutex_);
  return DeletePartialUploadLocked(task_id, miner);
}

common::Result<std::vector<std::string>> SqliteStore::ListPartialUploadMiners(std::string_view task_id) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare("SELECT miner FROM partial_uploads WHERE task_id = ?1 ORDER BY miner");
  if (!select.ok()) return select.status();
  select->Bind(1, task_id);
  std::vector<std::string> miners;
  for (;;) {
    common::Result<bool> row = select->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    miners.push_back(select->Text(0));
  }
  return miners;
}

common::Result<int64_t> SqliteStore::RecordSubmission(const SubmissionRecord& submission, int64_t now_ms) {
  if (submission.file_blobs.size() != submission.manifest.files.size()) {
    return common::Status::InvalidArgument("submission: one blob per manifest file");
  }
  std::lock_guard lock(mutex_);
  common::Result<SqliteDatabase::Transaction> transaction = db_->Begin();
  if (!transaction.ok()) return transaction.status();
  const std::string task = "task " + submission.task_id.substr(0, 80);
  common::Result<std::optional<ClaimRecord>> claim = FindClaim(submission.task_id, submission.miner);
  if (!claim.ok()) return claim.status();
  if (!*claim) return common::Status::FailedPrecondition(task + ": no claim by this miner");
  common::Result<SqliteStatement> select = db_->Prepare("SELECT status, deadline_ms FROM tasks WHERE id = ?1");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, submission.task_id).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no " + task);
  const std::string status = select->Text(0);
  if (status != TaskStatusName(TaskStatus::kOffering) && status != TaskStatusName(TaskStatus::kTraining)) {
    return common::Status::FailedPrecondition(task + " is " + status + ": it takes no uploads");
  }
  if (now_ms > select->Integer(1)) return common::Status::FailedPrecondition(task + ": its deadline has passed");
  common::Result<SqliteStatement> upsert = db_->Prepare(
      "INSERT INTO submissions (" + std::string(kSubmissionColumns) +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (task_id, miner) DO UPDATE SET receipt_id = excluded.receipt_id, "
      "manifest_json = excluded.manifest_json, manifest_digest = excluded.manifest_digest, "
      "file_blobs = excluded.file_blobs, "
      // The same checkpoint sent again keeps the time it first arrived: duplicates are decided by
      // that time, and a copy must not win by waiting for the original to be re-sent.
      "received_at_ms = CASE WHEN submissions.manifest_digest = excluded.manifest_digest "
      "THEN submissions.received_at_ms ELSE excluded.received_at_ms END "
      "RETURNING received_at_ms");
  if (!upsert.ok()) return upsert.status();
  common::Result<bool> stored = upsert->Bind(1, submission.task_id)
                            .Bind(2, submission.miner)
                            .Bind(3, submission.receipt_id)
                            .Bind(4, ManifestToJson(submission.manifest))
                            .Bind(5, submission.manifest_digest)
                            .Bind(6, JoinList(submission.file_blobs))
                            .Bind(7, submission.received_at_ms)
                            .Step();
  if (!stored.ok()) return stored.status();
  if (!*stored) return common::Status::Internal("recording a submission returned no row");
  const int64_t received_at_ms = upsert->Integer(0);
  GRADIENTS_RETURN_IF_ERROR(upsert->Step().status());  // finishes the statement before the commit
  GRADIENTS_RETURN_IF_ERROR(DeletePartialUploadLocked(submission.task_id, submission.miner));
  common::Result<SqliteStatement> count = db_->Prepare("UPDATE claims SET uploads = uploads + 1 WHERE task_id = ?1 AND miner = ?2");
  if (!count.ok()) return count.status();
  GRADIENTS_RETURN_IF_ERROR(count->Bind(1, submission.task_id).Bind(2, submission.miner).Run());
  GRADIENTS_RETURN_IF_ERROR(transaction->Commit());
  return received_at_ms;
}

namespace {

constexpr std::string_view kEvaluationColumns =
    "task_id, miner, outcome, test_loss, tokens, reason, receipt_id, manifest_digest, received_at_ms, model_hash, "
    "test_blob, split_seed, evaluator, evaluated_at_ms, rank, points";

EvaluationRecord ReadEvaluation(const SqliteStatement& row) {
  EvaluationRecord evaluation{.task_id = row.Text(0), .miner = row.Text(1), .outcome = row.Text(2),
                              .test_loss = std::nullopt, .tokens = row.Integer(4), .reason = row.Text(5),
                              .receipt_id = row.Text(6), .manifest_digest = row.Text(7),
                              .received_at_ms = row.Integer(8), .model_hash = row.Text(9), .test_blob = row.Text(10),
                              .split_seed = row.Text(11), .evaluator = row.Text(12),
                              .evaluated_at_ms = row.Integer(13), .rank = row.Integer(14), .points = row.Real(15)};
  if (!row.IsNull(3)) evaluation.test_loss = row.Real(3);
  return evaluation;
}

}  // namespace

common::Result<std::map<std::string, int64_t>> SqliteStore::CountGroups(std::string_view sql) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(sql);
  if (!select.ok()) return select.status();
  std::map<std::string, int64_t> counts;
  for (;;) {
    common::Result<bool> row = select->Step();
    if (!row.ok()) return row.status();
    if (!*row) return counts;
    counts[select->Text(0)] = select->Integer(1);
  }
}

common::Result<std::set<std::string>> SqliteStore::ListBlobsInUse(int64_t finished_since_ms) {
  std::lock_guard lock(reader_mutex_);
  // One statement, one snapshot: a record written meanwhile is either in it or written after it
  // (its blob is then fresh, which the caller's grace period covers). Kind 1 rows are a
  // submission's comma-separated file blobs.
  common::Result<SqliteStatement> select = reader_->Prepare(
      "WITH kept AS (SELECT id, train_blob, test_blob FROM tasks WHERE status NOT IN (?1, ?2) OR updated_at_ms >= ?3) "
      "SELECT 0, blob FROM model_files UNION ALL SELECT 0, hash FROM datasets "
      "UNION ALL SELECT 0, train_blob FROM kept UNION ALL SELECT 0, test_blob FROM kept "
      "UNION ALL SELECT 1, file_blobs FROM submissions WHERE task_id IN (SELECT id FROM kept)");
  if (!select.ok()) return select.status();
  select->Bind(1, TaskStatusName(TaskStatus::kScored))
      .Bind(2, TaskStatusName(TaskStatus::kFailed))
      .Bind(3, finished_since_ms);
  std::set<std::string> blobs;
  for (;;) {
    common::Result<bool> row = select->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (select->Integer(0) == 1) {
      for (std::string& blob : SplitList(select->Text(1))) blobs.insert(std::move(blob));
    } else if (std::string blob = select->Text(1); !blob.empty()) {
      blobs.insert(std::move(blob));  // a task not prepared yet has no splits
    }
  }
  return blobs;
}

common::Result<std::map<std::string, int64_t>> SqliteStore::CountTasksByStatus() {
  return CountGroups("SELECT status, COUNT(*) FROM tasks GROUP BY status");
}

common::Result<std::map<std::string, int64_t>> SqliteStore::CountEvaluationsByOutcome() {
  return CountGroups("SELECT outcome, COUNT(*) FROM evaluations GROUP BY outcome");
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
      .Bind(3, evaluation.outcome)
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

namespace {

constexpr std::string_view kWeightSetColumns =
    "id, computed_at_ms, window_start_ms, window_end_ms, weights_json, inputs, inputs_digest, published_to, "
    "published_at_ms";

common::Result<WeightSetRecord> ReadWeightSet(const SqliteStatement& row) {
  WeightSetRecord set{.id = row.Integer(0), .computed_at_ms = row.Integer(1), .window_start_ms = row.Integer(2),
                      .window_end_ms = row.Integer(3), .weights = {}, .inputs = row.Text(5),
                      .inputs_digest = row.Text(6), .published_to = row.Text(7), .published_at_ms = row.Integer(8)};
  const nlohmann::json weights = nlohmann::json::parse(row.Text(4), nullptr, /*allow_exceptions=*/false);
  if (!weights.is_object()) return common::Status::DataLoss("weight set " + std::to_string(set.id) + ": weights do not parse");
  for (const auto& [miner, weight] : weights.items()) {
    if (!weight.is_number()) return common::Status::DataLoss("weight set " + std::to_string(set.id) + ": weights do not parse");
    set.weights[miner] = weight.get<double>();
  }
  return set;
}

}  // namespace

common::Result<WeightSetRecord> SqliteStore::AddWeightSet(WeightSetRecord weight_set) {
  std::lock_guard lock(mutex_);
  nlohmann::json weights = nlohmann::json::object();
  for (const auto& [miner, weight] : weight_set.weights) weights[miner] = weight;
  common::Result<SqliteStatement> insert = db_->Prepare(
      "INSERT INTO weight_sets (computed_at_ms, window_start_ms, window_end_ms, weights_json, inputs, inputs_digest) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!insert.ok()) return insert.status();
  GRADIENTS_RETURN_IF_ERROR(insert->Bind(1, weight_set.computed_at_ms)
                                .Bind(2, weight_set.window_start_ms)
                                .Bind(3, weight_set.window_end_ms)
                                .Bind(4, weights.dump())
                                .Bind(5, weight_set.inputs)
                                .Bind(6, weight_set.inputs_digest)
                                .Run());
  weight_set.id = db_->LastInsertRowId();
  return weight_set;
}

common::Result<WeightSetRecord> SqliteStore::LatestWeightSet() {
  common::Result<std::vector<WeightSetRecord>> latest = ListWeightSets(0, 0, 1);
  if (!latest.ok()) return latest.status();
  if (latest->empty()) return common::Status::NotFound("no weights computed yet");
  return std::move(latest->front());
}

common::Result<std::vector<WeightSetRecord>> SqliteStore::ListWeightSets(int64_t since_ms, int64_t before_id, int64_t limit) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare(
      "SELECT " + std::string(kWeightSetColumns) +
      " FROM weight_sets WHERE computed_at_ms >= ?1 AND (?2 = 0 OR id < ?2) ORDER BY id DESC LIMIT ?3");
  if (!select.ok()) return select.status();
  select->Bind(1, since_ms).Bind(2, before_id).Bind(3, limit);
  return ReadAll<WeightSetRecord>(*select, ReadWeightSet);
}

common::Status SqliteStore::MarkWeightSetPublished(int64_t id, std::string_view published_to, int64_t at_ms) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> update =
      db_->Prepare("UPDATE weight_sets SET published_to = ?2, published_at_ms = ?3 WHERE id = ?1");
  if (!update.ok()) return update.status();
  GRADIENTS_RETURN_IF_ERROR(update->Bind(1, id).Bind(2, published_to).Bind(3, at_ms).Run());
  if (db_->Changes() == 0) return common::Status::NotFound("no weight set " + std::to_string(id));
  return common::Status::Ok();
}

common::Result<SubmissionRecord> SqliteStore::GetSubmission(std::string_view task_id, std::string_view miner) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare("SELECT " + std::string(kSubmissionColumns) +
                                                " FROM submissions WHERE task_id = ?1 AND miner = ?2");
  if (!select.ok()) return select.status();
  common::Result<bool> row = select->Bind(1, task_id).Bind(2, miner).Step();
  if (!row.ok()) return row.status();
  if (!*row) return common::Status::NotFound("no submission to task " + std::string(task_id.substr(0, 80)) + " by this miner");
  return ReadSubmission(*select);
}

common::Result<std::vector<SubmissionRecord>> SqliteStore::ListSubmissions(std::string_view task_id) {
  std::lock_guard lock(mutex_);
  common::Result<SqliteStatement> select = db_->Prepare("SELECT " + std::string(kSubmissionColumns) +
                                                " FROM submissions WHERE task_id = ?1 ORDER BY received_at_ms, receipt_id");
  if (!select.ok()) return select.status();
  select->Bind(1, task_id);
  return ReadAll<SubmissionRecord>(*select, ReadSubmission);
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
