// Checkpoint uploads (DESIGN.md, Checkpoints; MinerGateway.UploadCheckpoint): a miner streams the
// files of its manifest into part files while they are hashed; their durable offsets are recorded
// every so often and when a stream breaks, so an interrupted upload resumes where it stopped. On
// the signed envelope the validator checks every size, every digest and the envelope against the
// claim, moves the files into the blob store (synced), and records the submission in one
// transaction. Only then is the upload acknowledged: an acknowledged checkpoint survives a crash.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/checkpoint_manifest.h"
#include "common/clock.h"
#include "common/envelope.h"
#include "common/keys.h"
#include "common/status.h"
#include "validator/state/blob_store.h"
#include "validator/state/catalog_store.h"
#include "validator/state/claim_store.h"
#include "validator/state/submission_store.h"
#include "validator/state/task_store.h"

namespace gradients::validator {

struct UploadOptions {
  uint64_t max_chunk_bytes = 1 << 20;  // LIMIT_MAX_CHUNK_BYTES
  // A checkpoint may hold at most this many times its base model's bytes, plus the allowance:
  // a full fine-tune in float32 of a bfloat16 model is twice its size.
  double max_bytes_per_model_byte = 3.0;
  uint64_t max_bytes_allowance = 64 << 20;
  // Durable offsets are recorded after this many bytes of a stream (and when it breaks): what an
  // upload loses at most when the validator is killed.
  uint64_t sync_interval_bytes = 64 << 20;
  // Streams open at once, over all miners (each holds a file descriptor and buffers).
  size_t max_open_uploads = 64;
  // Verified uploads per claim: re-uploads replace the checkpoint but keep their files, so this
  // bounds the disk one claim can fill.
  int64_t max_uploads_per_claim = 4;
};

class CheckpointUploads;

// One UploadCheckpoint stream: Append the chunks, then Finish. Destroying an unfinished stream
// keeps what it received (synced) for a resume.
class UploadStream {
 public:
  ~UploadStream();
  UploadStream(const UploadStream&) = delete;
  UploadStream& operator=(const UploadStream&) = delete;

  // The next bytes of manifest file `file_index`. InvalidArgument for an unknown file or an offset
  // other than the bytes stored so far; ResourceExhausted for a chunk over the limit; OutOfRange
  // past the file's size.
  // The bytes are written at once and hashed on a thread of the stream's own while the next chunk
  // arrives. Written bytes leave the page cache once on the disk, kPageCacheWindowBytes behind the
  // newest ones.
  common::Status Append(uint32_t file_index, uint64_t offset, std::string data);
  static constexpr uint64_t kPageCacheWindowBytes = 16 << 20;
  // Verifies and stores the checkpoint; the returned record is durable. InvalidArgument for a file
  // not complete or whose digest differs (the bytes are discarded: a resume cannot mend them);
  // Unauthenticated for an envelope that is not this miner's signature over this upload (the bytes
  // stay for a resume); FailedPrecondition after the deadline.
  common::Result<SubmissionRecord> Finish(const common::SignedEnvelope& envelope);
  // Bytes appended by this stream.
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  friend class CheckpointUploads;
  struct PartFile;
  class Hashing;
  UploadStream(CheckpointUploads& owner, std::string key, PartialUpload upload, std::vector<uint8_t> claim_nonce,
               std::filesystem::path dir);
  // fsyncs the part files and records their offsets.
  common::Status Sync();
  // Waits for the older half of a full page-cache window to reach the disk and drops it from the cache.
  void ReleaseWrittenPages(int fd, PartFile& file);
  // The part file of manifest file `index`, opened (one at a time: a manifest may list 256 files).
  common::Result<int> OpenPart(size_t index);
  common::Status CheckEnvelope(const common::SignedEnvelope& envelope, const common::Digest& manifest_digest) const;
  void Discard();

  CheckpointUploads& owner_;
  std::string key_;  // "<task>/<miner>": the one stream this upload may have
  PartialUpload upload_;
  std::vector<uint8_t> claim_nonce_;
  std::filesystem::path dir_;
  std::vector<PartFile> files_;
  std::unique_ptr<Hashing> hashing_;  // updates files_' digests; started once files_ is complete
  int open_fd_ = -1;
  size_t open_index_ = 0;
  uint64_t bytes_received_ = 0, unsynced_bytes_ = 0;
  bool done_ = false;
};

enum class UploadState { kNone, kPartial, kComplete };

struct UploadProgress {
  UploadState state = UploadState::kNone;
  std::optional<PartialUpload> partial{};        // set for kPartial
  std::optional<SubmissionRecord> submission{};  // the acknowledged checkpoint, when there is one
};

class CheckpointUploads {
 public:
  // `dir` holds the part files; it must be on the blob store's file system (files move by rename).
  static common::Result<std::unique_ptr<CheckpointUploads>> Open(CatalogStore& catalog_store, TaskStore& task_store,
                                                                 ClaimStore& claim_store,
                                                                 SubmissionStore& submission_store,
                                                                 const BlobStore& blobs, std::filesystem::path dir,
                                                                 std::string validator_id, UploadOptions options,
                                                                 common::ClockMs now_ms);

  // Opens a miner's upload to a task, or resumes the stored part of it when `resume` is set and
  // the manifest is the same. NotFound for an unknown task; FailedPrecondition without a claim,
  // for a task that takes no uploads or is past its deadline, a resume of another manifest, or a
  // second stream while one is open; Unauthenticated for another claim's nonce; InvalidArgument
  // for a bad manifest; ResourceExhausted for a checkpoint over the size limit, a claim that used
  // its uploads, or too many open uploads.
  common::Result<std::unique_ptr<UploadStream>> Begin(const common::PublicKey& miner, std::string_view task_id,
                                              std::span<const uint8_t> claim_nonce,
                                              const common::CheckpointManifest& manifest, bool resume);
  // FailedPrecondition without a claim (NotFound for an unknown task).
  common::Result<UploadProgress> Progress(const common::PublicKey& miner, std::string_view task_id);

  // Once a task is scored or failed no upload to it can finish: the parts kept for resumes (their
  // files and records) are removed, except those of a stream still open, which removes its own.
  common::Status DiscardLeftovers(std::string_view task_id);

  // For monitoring: bytes received in chunks, and verified uploads, since the start.
  uint64_t bytes_received() const { return bytes_received_; }
  uint64_t uploads_verified() const { return uploads_verified_; }

 private:
  friend class UploadStream;
  CheckpointUploads(CatalogStore& catalog_store, TaskStore& task_store, ClaimStore& claim_store,
                    SubmissionStore& submission_store, const BlobStore& blobs, std::filesystem::path dir,
                    std::string validator_id, UploadOptions options, common::ClockMs now_ms)
      : catalog_store_(catalog_store),
        task_store_(task_store),
        claim_store_(claim_store),
        submission_store_(submission_store),
        blobs_(blobs),
        dir_(std::move(dir)),
        validator_id_(std::move(validator_id)),
        options_(options),
        now_ms_(std::move(now_ms)) {}
  void Release(const std::string& key);
  std::filesystem::path PartDirectory(std::string_view task_id, std::string_view miner_hex) const;

  CatalogStore& catalog_store_;
  TaskStore& task_store_;
  ClaimStore& claim_store_;
  SubmissionStore& submission_store_;
  const BlobStore& blobs_;
  const std::filesystem::path dir_;
  const std::string validator_id_;
  const UploadOptions options_;
  const common::ClockMs now_ms_;
  std::atomic<uint64_t> bytes_received_{0}, uploads_verified_{0};
  std::mutex mutex_;
  std::set<std::string, std::less<>> open_streams_;
};

}  // namespace gradients::validator
