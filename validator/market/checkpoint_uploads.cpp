#include "validator/market/checkpoint_uploads.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>

#include "common/durable_file.h"
#include "common/hex.h"
#include "common/logging.h"
#include "common/protocol_envelopes.h"

namespace gradients::validator {
namespace {

std::string TaskName(std::string_view task_id) { return "task " + std::string(task_id.substr(0, 80)); }

}  // namespace

// One manifest file being received: how much of its part file is written and the running
// digests of its bytes.
struct UploadStream::PartFile {
  uint64_t offset = 0;  // bytes written
  common::Hasher declared;      // the manifest's algorithm
  std::optional<common::Hasher> blob;  // BLAKE2b for the blob store, when the manifest's is another
  bool unsynced = false;
  uint64_t released = 0;  // bytes before this are on the disk and out of the page cache (page-aligned)

  explicit PartFile(common::DigestAlgorithm algorithm) : declared(algorithm) {
    if (algorithm != common::DigestAlgorithm::kBlake2b256) blob.emplace(common::DigestAlgorithm::kBlake2b256);
  }
  void Update(std::string_view data) {
    declared.Update(data);
    if (blob) blob->Update(data);
  }
};

// Hashes the chunks of one stream on a thread of its own: receiving a chunk (the network, the
// message, the write) and hashing the one before (BLAKE2b, about 0.8 GB/s on one core) then run
// side by side instead of one after the other. At most kMaxQueuedBytes wait to be hashed.
class UploadStream::Hashing {
 public:
  static constexpr size_t kMaxQueuedBytes = 4 << 20;

  explicit Hashing(std::vector<PartFile>& files) : files_(files), thread_([this] { Run(); }) {}
  ~Hashing() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;  // what is still queued is not needed: a resume hashes the stored part again
    }
    changed_.notify_all();
    thread_.join();
  }
  void Add(size_t file_index, std::string data) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return queued_bytes_ < kMaxQueuedBytes; });
    queued_bytes_ += data.size();
    queue_.emplace_back(file_index, std::move(data));
    changed_.notify_all();
  }
  // Returns once every chunk added so far is in its file's digests.
  void Drain() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return queue_.empty() && !busy_; });
  }

 private:
  void Run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      auto [file_index, data] = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      files_[file_index].Update(data);
      lock.lock();
      busy_ = false;
      queued_bytes_ -= data.size();
      changed_.notify_all();
    }
  }

  std::vector<PartFile>& files_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::pair<size_t, std::string>> queue_;
  size_t queued_bytes_ = 0;
  bool busy_ = false, stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

common::Result<std::unique_ptr<CheckpointUploads>> CheckpointUploads::Open(
    CatalogStore& catalog_store, TaskStore& task_store, ClaimStore& claim_store, SubmissionStore& submission_store,
    const BlobStore& blobs, std::filesystem::path dir, std::string validator_id, UploadOptions options,
    common::ClockMs now_ms) {
  if (mkdir(dir.c_str(), 0700) == 0) {
    GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(dir.parent_path().empty() ? "." : dir.parent_path()));
  } else if (errno != EEXIST) {
    return common::ErrnoStatus("creating " + dir.string(), errno);
  }
  return std::unique_ptr<CheckpointUploads>(new CheckpointUploads(catalog_store, task_store, claim_store,
                                                                  submission_store, blobs, std::move(dir),
                                                                  std::move(validator_id), options, std::move(now_ms)));
}

std::filesystem::path CheckpointUploads::PartDirectory(std::string_view task_id, std::string_view miner_hex) const {
  return dir_ / (common::ToHex(std::span(reinterpret_cast<const uint8_t*>(task_id.data()), task_id.size())) + "-" +
                 std::string(miner_hex));
}

common::Status CheckpointUploads::DiscardLeftovers(std::string_view task_id) {
  common::Result<std::vector<std::string>> miners = submission_store_.ListPartialUploadMiners(task_id);
  if (!miners.ok()) return miners.status();
  std::lock_guard lock(mutex_);
  for (const std::string& miner : *miners) {
    if (open_streams_.contains(std::string(task_id) + "/" + miner)) continue;
    // The files first: a record without its files is what a crash in between leaves, and nothing
    // resumes an upload to a finished task.
    GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(PartDirectory(task_id, miner)));
    GRADIENTS_RETURN_IF_ERROR(submission_store_.DeletePartialUpload(task_id, miner));
  }
  return common::Status::Ok();
}

void CheckpointUploads::Release(const std::string& key) {
  std::lock_guard lock(mutex_);
  open_streams_.erase(key);
}

common::Result<std::unique_ptr<UploadStream>> CheckpointUploads::Begin(const common::PublicKey& miner, std::string_view task_id,
                                                               std::span<const uint8_t> claim_nonce,
                                                               const common::CheckpointManifest& manifest, bool resume) {
  GRADIENTS_RETURN_IF_ERROR(common::ValidateCheckpointManifest(manifest));
  common::Result<TaskRecord> task = task_store_.GetTask(task_id);
  if (!task.ok()) return task.status();
  common::Result<ClaimRecord> claim = claim_store_.GetClaim(task_id, miner.ToHex());
  if (claim.status().code() == common::StatusCode::kNotFound) {
    return common::Status::FailedPrecondition(TaskName(task_id) + ": you hold no claim on it");
  }
  if (!claim.ok()) return claim.status();
  if (common::ToHex(claim_nonce) != claim->nonce) {
    return common::Status::Unauthenticated("claim_nonce is not the nonce of your claim on " + TaskName(task_id));
  }
  if (claim->uploads >= options_.max_uploads_per_claim) {
    return common::Status::ResourceExhausted("you uploaded " + std::to_string(claim->uploads) + " checkpoints to " +
                                     TaskName(task_id) + ", the most one claim may");
  }
  if (task->status != TaskStatus::kOffering && task->status != TaskStatus::kTraining) {
    return common::Status::FailedPrecondition(TaskName(task_id) + " is " + std::string(TaskStatusName(task->status)) +
                                      ": it takes no uploads");
  }
  if (now_ms_() > task->deadline_ms) return common::Status::FailedPrecondition(TaskName(task_id) + ": its deadline has passed");
  common::Result<ModelRecord> model = catalog_store_.GetModel(task->model_hash);
  if (!model.ok()) return model.status();
  const uint64_t limit =
      static_cast<uint64_t>(options_.max_bytes_per_model_byte * static_cast<double>(model->bytes())) +
      options_.max_bytes_allowance;
  if (common::CheckpointBytes(manifest) > limit) {
    return common::Status::ResourceExhausted("the checkpoint's " + std::to_string(common::CheckpointBytes(manifest)) +
                                     " bytes exceed the limit of " + std::to_string(limit) + " bytes for " +
                                     TaskName(task_id));
  }

  std::string key = std::string(task_id) + "/" + miner.ToHex();
  {
    std::lock_guard lock(mutex_);
    if (open_streams_.contains(key)) {
      return common::Status::FailedPrecondition("an upload to " + TaskName(task_id) + " is already open on another stream");
    }
    if (open_streams_.size() >= options_.max_open_uploads) {
      return common::Status::ResourceExhausted("the validator takes " + std::to_string(options_.max_open_uploads) +
                                       " uploads at once; try again later");
    }
    open_streams_.insert(key);
  }
  PartialUpload upload{.task_id = std::string(task_id), .miner = miner.ToHex(), .manifest = manifest,
                       .durable_offsets = std::vector<uint64_t>(manifest.files.size(), 0), .updated_at_ms = now_ms_()};
  // From here the stream owns the key: its destructor releases it, whatever happens below.
  std::unique_ptr<UploadStream> stream(new UploadStream(
      *this, std::move(key), upload, std::vector<uint8_t>(claim_nonce.begin(), claim_nonce.end()),
      PartDirectory(task_id, miner.ToHex())));
  stream->done_ = true;  // nothing to keep until the part files are open

  common::Result<std::optional<PartialUpload>> stored = submission_store_.GetPartialUpload(task_id, upload.miner);
  if (!stored.ok()) return stored.status();
  if (resume && *stored && (*stored)->manifest != manifest) {
    return common::Status::FailedPrecondition("the stored part of your upload to " + TaskName(task_id) +
                                      " has another manifest; start again with resume = false");
  }
  if (resume && *stored) {
    stream->upload_.durable_offsets = (*stored)->durable_offsets;
  } else {
    GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(stream->dir_));
  }
  if (mkdir(stream->dir_.c_str(), 0700) == 0) {
    GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(dir_));
  } else if (errno != EEXIST) {
    return common::ErrnoStatus("creating " + stream->dir_.string(), errno);
  }
  for (size_t i = 0; i < manifest.files.size(); ++i) {
    UploadStream::PartFile& file = stream->files_.emplace_back(manifest.files[i].algorithm);
    common::Result<int> fd = stream->OpenPart(i);
    if (!fd.ok()) return fd.status();
    struct stat info {};
    if (fstat(*fd, &info) != 0) return common::ErrnoStatus("stat of an upload's part", errno);
    // What was written after the last recorded offset may not have reached the disk: cut it off.
    file.offset = std::min(stream->upload_.durable_offsets[i], static_cast<uint64_t>(info.st_size));
    stream->upload_.durable_offsets[i] = file.offset;
    if (ftruncate(*fd, static_cast<off_t>(file.offset)) != 0) return common::ErrnoStatus("truncating an upload's part", errno);
    // A resumed file's digest covers its stored prefix too.
    GRADIENTS_RETURN_IF_ERROR(common::ReadPrefixInBlocks(*fd, file.offset, "an upload's part",
                                                 [&](std::string_view block) { file.Update(block); }));
  }
  GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(stream->dir_));
  GRADIENTS_RETURN_IF_ERROR(submission_store_.SavePartialUpload(stream->upload_));
  stream->hashing_ = std::make_unique<UploadStream::Hashing>(stream->files_);
  stream->done_ = false;
  return stream;
}

common::Result<UploadProgress> CheckpointUploads::Progress(const common::PublicKey& miner, std::string_view task_id) {
  common::Result<TaskRecord> task = task_store_.GetTask(task_id);
  if (!task.ok()) return task.status();
  common::Result<ClaimRecord> claim = claim_store_.GetClaim(task_id, miner.ToHex());
  if (claim.status().code() == common::StatusCode::kNotFound) {
    return common::Status::PermissionDenied(TaskName(task_id) + ": you hold no claim on it");
  }
  if (!claim.ok()) return claim.status();
  UploadProgress progress;
  common::Result<std::optional<PartialUpload>> partial = submission_store_.GetPartialUpload(task_id, miner.ToHex());
  if (!partial.ok()) return partial.status();
  progress.partial = std::move(*partial);
  common::Result<SubmissionRecord> submission = submission_store_.GetSubmission(task_id, miner.ToHex());
  if (submission.ok()) {
    progress.submission = std::move(*submission);
  } else if (submission.status().code() != common::StatusCode::kNotFound) {
    return submission.status();
  }
  progress.state = progress.partial ? UploadState::kPartial
                   : progress.submission ? UploadState::kComplete
                                         : UploadState::kNone;
  return progress;
}

UploadStream::UploadStream(CheckpointUploads& owner, std::string key, PartialUpload upload,
                           std::vector<uint8_t> claim_nonce, std::filesystem::path dir)
    : owner_(owner), key_(std::move(key)), upload_(std::move(upload)), claim_nonce_(std::move(claim_nonce)),
      dir_(std::move(dir)) {}

common::Result<int> UploadStream::OpenPart(size_t index) {
  if (open_fd_ >= 0 && open_index_ == index) return open_fd_;
  if (open_fd_ >= 0) close(open_fd_);
  const std::filesystem::path path = dir_ / std::to_string(index);
  open_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (open_fd_ < 0) return common::ErrnoStatus("opening " + path.string(), errno);
  open_index_ = index;
  return open_fd_;
}

UploadStream::~UploadStream() {
  if (!done_) {
    // A broken stream: keep what arrived for the miner's resume.
    if (common::Status status = Sync(); !status.ok()) {
      common::GetLogger("uploads")->warn("keeping the part of an upload ({}): {}", key_, status.ToString());
    }
  }
  if (open_fd_ >= 0) close(open_fd_);
  owner_.Release(key_);
}

common::Status UploadStream::Sync() {
  bool changed = false;
  for (size_t i = 0; i < files_.size(); ++i) {
    PartFile& file = files_[i];
    if (file.unsynced) {
      // fdatasync writes the file's dirty pages whichever descriptor wrote them.
      common::Result<int> fd = OpenPart(i);
      if (!fd.ok()) return fd.status();
      if (fdatasync(*fd) != 0) return common::ErrnoStatus("syncing part of an upload", errno);
    }
    file.unsynced = false;
    changed = changed || upload_.durable_offsets[i] != file.offset;
    upload_.durable_offsets[i] = file.offset;
  }
  unsynced_bytes_ = 0;
  if (!changed) return common::Status::Ok();
  upload_.updated_at_ms = owner_.now_ms_();
  return owner_.submission_store_.SavePartialUpload(upload_);
}

common::Status UploadStream::Append(uint32_t file_index, uint64_t offset, std::string data) {
  if (done_) return common::Status::FailedPrecondition("the upload is closed");
  if (file_index >= files_.size()) {
    return common::Status::InvalidArgument("chunk: file_index " + std::to_string(file_index) + " is not in the manifest (" +
                                   std::to_string(files_.size()) + " files)");
  }
  if (data.empty()) return common::Status::InvalidArgument("chunk: no data");
  if (data.size() > owner_.options_.max_chunk_bytes) {
    return common::Status::ResourceExhausted("chunk of " + std::to_string(data.size()) + " bytes exceeds the limit of " +
                                     std::to_string(owner_.options_.max_chunk_bytes));
  }
  PartFile& file = files_[file_index];
  const std::string name = common::DescribeCheckpointFile(upload_.manifest, file_index);
  if (offset != file.offset) {
    return common::Status::InvalidArgument("chunk: " + name + " continues at offset " + std::to_string(file.offset) +
                                   ", not " + std::to_string(offset));
  }
  const uint64_t size = upload_.manifest.files[file_index].size_bytes;
  if (data.size() > size - file.offset) {
    return common::Status::OutOfRange("chunk: passes the end of " + name + " (" + std::to_string(size) + " bytes)");
  }
  common::Result<int> fd = OpenPart(file_index);
  if (!fd.ok()) return fd.status();
  for (size_t written = 0; written < data.size();) {
    const ssize_t n = pwrite(*fd, data.data() + written, data.size() - written,
                             static_cast<off_t>(file.offset + written));
    if (n < 0) {
      if (errno == EINTR) continue;
      return common::ErrnoStatus("writing part of an upload", errno);
    }
    written += static_cast<size_t>(n);
  }
  // Starts writing these pages to the disk now, so that the next sync finds little left to do
  // instead of stalling the stream on everything since the last one.
  (void)sync_file_range(*fd, static_cast<off_t>(file.offset), static_cast<off_t>(data.size()), SYNC_FILE_RANGE_WRITE);
  file.offset += data.size();
  if (file.offset - file.released >= kPageCacheWindowBytes) ReleaseWrittenPages(*fd, file);
  file.unsynced = true;
  bytes_received_ += data.size();
  owner_.bytes_received_ += data.size();
  unsynced_bytes_ += data.size();
  hashing_->Add(file_index, std::move(data));
  if (unsynced_bytes_ >= owner_.options_.sync_interval_bytes) return Sync();
  return common::Status::Ok();
}

// A checkpoint is read again only after the deadline, from the blob store. Kept in the page cache,
// a GiB upload takes a GiB of pages the kernel must find first, and on a virtual machine those are
// often pages the host has taken back: writing into them ran at ~350 MB/s where recycled pages run
// at GB/s (bench/RESULTS.md). Dropping what is on the disk keeps the stream's pages few and warm.
// Neither call is needed for correctness (the periodic fdatasync is what makes bytes durable), so
// their errors are ignored.
void UploadStream::ReleaseWrittenPages(int fd, PartFile& file) {
  constexpr uint64_t kPageBytes = 4096;
  const uint64_t end = (file.offset - kPageCacheWindowBytes / 2) / kPageBytes * kPageBytes;
  if (end <= file.released) return;
  const auto start = static_cast<off_t>(file.released), length = static_cast<off_t>(end - file.released);
  (void)sync_file_range(fd, start, length,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  (void)posix_fadvise(fd, start, length, POSIX_FADV_DONTNEED);
  file.released = end;
}

common::Status UploadStream::CheckEnvelope(const common::SignedEnvelope& envelope, const common::Digest& manifest_digest) const {
  common::Result<common::PublicKey> miner = common::PublicKey::FromHex(upload_.miner);
  if (!miner.ok()) return miner.status();
  if (envelope.signer != *miner) return common::Status::Unauthenticated("the envelope is signed by another key than this session's");
  if (envelope.body.domain != common::kCheckpointDomain) {
    return common::Status::Unauthenticated("the envelope's domain is not " + std::string(common::kCheckpointDomain));
  }
  const std::string* created = envelope.body.Find("created_at_ms");
  if (created == nullptr || created->size() != 8) {
    return common::Status::Unauthenticated("envelope field created_at_ms: 8 bytes expected");
  }
  uint64_t created_at_ms = 0;
  for (int i = 7; i >= 0; --i) created_at_ms = (created_at_ms << 8) | static_cast<uint8_t>((*created)[static_cast<size_t>(i)]);
  const common::Envelope expected = common::CheckpointEnvelope(owner_.validator_id_, upload_.task_id, *miner, claim_nonce_,
                                               manifest_digest, static_cast<int64_t>(created_at_ms));
  if (envelope.body.fields.size() != expected.fields.size()) {
    return common::Status::Unauthenticated("the envelope's fields are not those of " + std::string(common::kCheckpointDomain));
  }
  for (size_t i = 0; i < expected.fields.size(); ++i) {
    if (envelope.body.fields[i] != expected.fields[i]) {
      return common::Status::Unauthenticated("envelope field " + expected.fields[i].name + " does not match this upload");
    }
  }
  return common::VerifyEnvelope(envelope, common::kCheckpointDomain, *miner);
}

void UploadStream::Discard() {
  done_ = true;
  if (open_fd_ >= 0) close(std::exchange(open_fd_, -1));
  if (common::Status status = common::RemoveTree(dir_); !status.ok()) common::GetLogger("uploads")->warn("{}", status.ToString());
  if (common::Status status = owner_.submission_store_.DeletePartialUpload(upload_.task_id, upload_.miner);
      !status.ok()) {
    common::GetLogger("uploads")->warn("{}", status.ToString());
  }
}

common::Result<SubmissionRecord> UploadStream::Finish(const common::SignedEnvelope& envelope) {
  if (done_) return common::Status::FailedPrecondition("the upload is closed");
  const common::CheckpointManifest& manifest = upload_.manifest;
  for (size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].offset != manifest.files[i].size_bytes) {
      return common::Status::InvalidArgument("the upload ended with " + common::DescribeCheckpointFile(manifest, i) + " at " +
                                     std::to_string(files_[i].offset) + " of " +
                                     std::to_string(manifest.files[i].size_bytes) + " bytes; resume it");
    }
  }
  hashing_->Drain();
  std::vector<std::string> blobs;
  for (size_t i = 0; i < files_.size(); ++i) {
    const common::Digest digest = files_[i].declared.Finish();
    if (digest != manifest.files[i].digest) {
      Discard();
      return common::Status::InvalidArgument(common::DescribeCheckpointFile(manifest, i) + ": its bytes do not match the manifest's digest");
    }
    blobs.push_back(common::ToHex(files_[i].blob ? files_[i].blob->Finish() : digest));
  }
  const common::Digest manifest_digest = common::CheckpointManifestDigest(manifest);
  if (common::Status status = CheckEnvelope(envelope, manifest_digest); !status.ok()) {
    // The bytes are right; a resume with a proper envelope completes the upload.
    GRADIENTS_RETURN_IF_ERROR(Sync());
    done_ = true;
    return status;
  }
  done_ = true;
  if (open_fd_ >= 0) close(std::exchange(open_fd_, -1));
  common::Result<TaskRecord> task = owner_.task_store_.GetTask(upload_.task_id);
  if (!task.ok()) return task.status();
  if (owner_.now_ms_() > task->deadline_ms) {
    Discard();
    return common::Status::FailedPrecondition(TaskName(upload_.task_id) + ": its deadline has passed");
  }
  for (size_t i = 0; i < blobs.size(); ++i) {
    common::Result<StoredBlob> stored = owner_.blobs_.Adopt(dir_ / std::to_string(i), blobs[i]);
    if (!stored.ok()) return stored.status();
  }
  std::array<uint8_t, 16> receipt{};
  common::FillRandom(receipt);
  SubmissionRecord submission{.task_id = upload_.task_id, .miner = upload_.miner, .receipt_id = "r-" + common::ToHex(receipt),
                              .manifest = manifest, .manifest_digest = common::ToHex(manifest_digest),
                              .file_blobs = std::move(blobs), .received_at_ms = owner_.now_ms_()};
  common::Result<int64_t> recorded = owner_.submission_store_.RecordSubmission(submission, submission.received_at_ms);
  if (!recorded.ok()) {
    Discard();
    return recorded.status();
  }
  submission.received_at_ms = *recorded;  // the receipt tells the time that counts
  if (common::Status status = common::RemoveTree(dir_); !status.ok()) common::GetLogger("uploads")->warn("{}", status.ToString());
  ++owner_.uploads_verified_;
  return submission;
}

}  // namespace gradients::validator
