// Uploads and submissions: the durable part of a checkpoint upload in progress, and the verified
// checkpoints (manifest and blobs) miners submitted. One record family of the validator's store
// (validator/state/store.h: every method is one transaction; implementations are safe to call from
// several threads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/checkpoint_manifest.h"
#include "common/status.h"

namespace gradients::validator {

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

class SubmissionStore {
 public:
  virtual ~SubmissionStore() = default;

  // A miner's upload in progress for a task; none when there is nothing stored.
  virtual common::Result<std::optional<PartialUpload>> GetPartialUpload(std::string_view task_id,
                                                                        std::string_view miner) = 0;
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
  // NotFound when the miner has not submitted to the task.
  virtual common::Result<SubmissionRecord> GetSubmission(std::string_view task_id, std::string_view miner) = 0;
  // Oldest receipt first.
  virtual common::Result<std::vector<SubmissionRecord>> ListSubmissions(std::string_view task_id) = 0;
};

}  // namespace gradients::validator
