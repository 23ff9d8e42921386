// Uploads an exported checkpoint to the validator that issued the claim (issue 6, Jobs): the
// directory's manifest (common/checkpoint_manifest.h), its files in bounded chunks, and the
// envelope the miner's key signs over (validator, task, miner, claim nonce, manifest digest). An
// upload of the same manifest that the validator holds in part resumes from its durable offsets
// (GetUploadStatus); one it holds complete is not sent again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/checkpoint_manifest.h"
#include "common/status.h"
#include "miner/validator_connection.h"

namespace gradients::miner {

struct UploadedCheckpoint {
  std::string receipt_id;
  uint64_t bytes_sent = 0;  // in this call: less than the checkpoint when it resumed
};

// `claim_nonce`: the claim's nonce as received (raw bytes). As the
// validator answers: PermissionDenied without a claim, FailedPrecondition after the deadline. The
// files' own errors (unreadable, names a manifest refuses, changed since the manifest was built)
// before or instead of sending them.
common::Result<UploadedCheckpoint> UploadCheckpoint(ValidatorConnection& connection, const std::string& task_id,
                                            const std::string& claim_nonce, const std::filesystem::path& dir,
                                            common::CheckpointKind kind, const UploadOptions& options = {});

}  // namespace gradients::miner
