// The SqliteStore's schema, its migrations and its opening, and what spans every record family: the
// blobs still in use, the counts by a column.
#include "validator/state/sqlite_store.h"

#include <set>
#include <string>
#include <utility>

#include "validator/state/sqlite_rows.h"

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

common::Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::filesystem::path& path) {
  common::Result<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path);
  if (!db.ok()) return db.status();
  GRADIENTS_RETURN_IF_ERROR((*db)->Migrate(SqliteStoreMigrations()));
  common::Result<std::unique_ptr<SqliteDatabase>> reader = SqliteDatabase::Open(path);
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(*db), std::move(*reader)));
}

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
}  // namespace gradients::validator
