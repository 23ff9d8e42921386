// The SqliteStore's SubmissionStore (validator/state/submission_store.h): partial uploads and
// verified submissions.
#include "validator/state/sqlite_store.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "validator/state/sqlite_rows.h"

namespace gradients::validator {
namespace {

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

constexpr std::string_view kSubmissionColumns =
    "task_id, miner, receipt_id, manifest_json, manifest_digest, file_blobs, received_at_ms";
}  // namespace

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
}  // namespace gradients::validator
