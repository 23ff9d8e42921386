#include "miner/checkpoint_upload.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <span>
#include <string_view>
#include <thread>
#include <vector>

#include "common/durable_file.h"
#include "common/logging.h"
#include "common/protocol_envelopes.h"
#include "proto/checkpoint_messages.h"
#include "proto/grpc_status.h"

namespace gradients::miner {
namespace {

// Where each file resumes: the validator's durable offsets when it holds a part of this manifest.
common::Result<std::vector<uint64_t>> ResumeOffsets(ValidatorConnection& connection, const std::string& task_id,
                                            const common::CheckpointManifest& manifest, const common::Digest& manifest_digest,
                                            std::optional<v1::UploadReceipt>& complete) {
  v1::GetUploadStatusRequest request;
  request.set_task_id(task_id);
  v1::GetUploadStatusResponse status;
  const grpc::Status called = connection.Call(
      [&](grpc::ClientContext& context) { return connection.stub().GetUploadStatus(&context, request, &status); });
  if (!called.ok()) return proto::FromGrpcStatus(called).WithContext("GetUploadStatus");
  std::vector<uint64_t> offsets(manifest.files.size(), 0);
  if (status.state() == v1::UPLOAD_STATE_NONE) return offsets;
  common::Result<std::pair<common::DigestAlgorithm, common::Digest>> stored = proto::FromProto(status.manifest_digest());
  if (!stored.ok() || stored->second != manifest_digest) return offsets;  // another checkpoint: start over
  if (status.state() == v1::UPLOAD_STATE_COMPLETE) {
    complete = status.receipt();
    return offsets;
  }
  if (static_cast<size_t>(status.durable_offsets_size()) != manifest.files.size()) return offsets;
  for (size_t i = 0; i < offsets.size(); ++i) {
    offsets[i] = std::min<uint64_t>(status.durable_offsets(static_cast<int>(i)), manifest.files[i].size_bytes);
  }
  return offsets;
}

// Errors of the miner's own files start with this: nothing about the validator to retry.
constexpr std::string_view kFilesError = "checkpoint files: ";

// One attempt: where the validator stands, then the stream from there.
common::Result<UploadedCheckpoint> SendOnce(ValidatorConnection& connection, const std::string& task_id,
                                    const std::string& claim_nonce, const std::filesystem::path& dir,
                                    const common::CheckpointManifest& manifest, const UploadOptions& options) {
  const uint64_t chunk_bytes = options.chunk_bytes;
  const common::Digest manifest_digest = common::CheckpointManifestDigest(manifest);
  std::optional<v1::UploadReceipt> complete;
  common::Result<std::vector<uint64_t>> offsets = ResumeOffsets(connection, task_id, manifest, manifest_digest, complete);
  if (!offsets.ok()) return offsets.status();
  if (complete) return UploadedCheckpoint{.receipt_id = complete->receipt_id(), .bytes_sent = 0};
  bool resume = false;
  uint64_t held = 0, total = 0;
  for (size_t i = 0; i < offsets->size(); ++i) {
    resume = resume || (*offsets)[i] > 0;
    held += (*offsets)[i];
    total += manifest.files[i].size_bytes;
  }
  if (resume) common::GetLogger("miner")->info("task {}: resuming the upload at {} of {} bytes", task_id, held, total);

  const std::span<const uint8_t> nonce(reinterpret_cast<const uint8_t*>(claim_nonce.data()), claim_nonce.size());
  common::Result<common::SignedEnvelope> envelope =
      common::SignEnvelope(common::CheckpointEnvelope(connection.validator_id(), task_id, connection.key().public_key(), nonce,
                                      manifest_digest, options.now_ms()),
                   connection.key());
  if (!envelope.ok()) return envelope.status();
  v1::UploadMessage begin;
  begin.mutable_begin()->set_task_id(task_id);
  begin.mutable_begin()->set_claim_nonce(claim_nonce);
  proto::ToProto(manifest, begin.mutable_begin()->mutable_manifest());
  begin.mutable_begin()->set_resume(resume);
  v1::UploadMessage end;
  GRADIENTS_RETURN_IF_ERROR(proto::ToProto(*envelope, end.mutable_end()->mutable_envelope()));

  // With the session GetUploadStatus just used (renewed there if the validator had lost it): an
  // UNAUTHENTICATED answer here is about the claim's nonce or the envelope.
  UploadedCheckpoint uploaded;
  common::Status files_error = common::Status::Ok();
  v1::UploadReceipt receipt;
  std::unique_ptr<grpc::ClientContext> context = connection.SessionContext(std::chrono::hours(6));
  std::unique_ptr<grpc::ClientWriter<v1::UploadMessage>> writer =
      connection.stub().UploadCheckpoint(context.get(), &receipt);
  const auto started = std::chrono::steady_clock::now();
  bool writing = writer->Write(begin);
  v1::UploadMessage chunk;
  std::vector<char> buffer(chunk_bytes);
  for (size_t i = 0; writing && files_error.ok() && i < manifest.files.size(); ++i) {
    const common::CheckpointFileEntry& file = manifest.files[i];
    const std::string path = (dir / file.path).string();
    common::ScopedDescriptor input{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    struct stat info {};
    if (input.fd < 0 || fstat(input.fd, &info) != 0) {
      files_error = common::ErrnoStatus(std::string(kFilesError) + path, errno);
    } else if (static_cast<uint64_t>(info.st_size) != file.size_bytes) {
      files_error =
          common::Status::FailedPrecondition(std::string(kFilesError) + path + " changed since its manifest was built");
    }
    for (uint64_t offset = (*offsets)[i]; writing && files_error.ok() && offset < file.size_bytes;) {
      const ssize_t got = pread(input.fd, buffer.data(), std::min<uint64_t>(chunk_bytes, file.size_bytes - offset),
                                static_cast<off_t>(offset));
      if (got <= 0) {
        files_error = common::ErrnoStatus(std::string(kFilesError) + path, got < 0 ? errno : EIO);
        break;
      }
      chunk.mutable_chunk()->set_file_index(static_cast<uint32_t>(i));
      chunk.mutable_chunk()->set_offset(offset);
      chunk.mutable_chunk()->set_data(buffer.data(), static_cast<size_t>(got));
      writing = writer->Write(chunk);
      offset += static_cast<uint64_t>(got);
      uploaded.bytes_sent += static_cast<uint64_t>(got);
      if (options.stop != nullptr && options.stop->load()) {
        files_error = common::Status::Aborted("upload stopped by shutdown");
        break;
      }
      if (options.max_bytes_per_second > 0) {
        std::this_thread::sleep_until(
            started + std::chrono::microseconds(uploaded.bytes_sent * 1'000'000 / options.max_bytes_per_second));
      }
    }
  }
  if (!files_error.ok()) {
    context->TryCancel();  // what was sent stays with the validator for a resume
  } else if (writing) {
    writer->Write(end);
    writer->WritesDone();
  }
  const grpc::Status status = writer->Finish();
  if (!files_error.ok()) return files_error;
  if (!status.ok()) return proto::FromGrpcStatus(status).WithContext("task " + task_id + ": UploadCheckpoint");
  uploaded.receipt_id = receipt.receipt_id();
  return uploaded;
}

}  // namespace

common::Result<UploadedCheckpoint> UploadCheckpoint(ValidatorConnection& connection, const std::string& task_id,
                                            const std::string& claim_nonce, const std::filesystem::path& dir,
                                            common::CheckpointKind kind, const UploadOptions& options) {
  if (options.chunk_bytes < 1 || options.chunk_bytes > (1 << 20)) {
    return common::Status::InvalidArgument("chunk_bytes: 1 to 1048576");
  }
  common::Result<common::CheckpointManifest> manifest = common::BuildCheckpointManifest(dir, kind);
  if (!manifest.ok()) return manifest.status();
  common::Result<UploadedCheckpoint> uploaded = SendOnce(connection, task_id, claim_nonce, dir, *manifest, options);
  // Right after a broken stream the validator may still be closing it (the upload is "open", or
  // its offsets moved on while it synced): ask again where it stands and go once more.
  const common::StatusCode code = uploaded.status().code();
  if (!uploaded.ok() && !uploaded.status().message().starts_with(kFilesError) &&
      (code == common::StatusCode::kFailedPrecondition || code == common::StatusCode::kInvalidArgument)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    uploaded = SendOnce(connection, task_id, claim_nonce, dir, *manifest, options);
  }
  return uploaded;
}

}  // namespace gradients::miner
