#include "miner/blob_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "common/digest.h"
#include "common/durable_file.h"
#include "common/hex.h"
#include "common/utf8.h"
#include "proto/checkpoint_messages.h"
#include "proto/grpc_status.h"

namespace gradients::miner {
namespace {

constexpr uint64_t kMaxChunkBytes = 1 << 20;  // LIMIT_MAX_CHUNK_BYTES

}  // namespace

common::Result<std::filesystem::path> BlobCache::PathOf(const v1::BlobRef& ref) const {
  common::Result<std::pair<common::DigestAlgorithm, common::Digest>> digest = proto::FromProto(ref.digest());
  if (!digest.ok()) return digest.status();
  if (digest->first != common::DigestAlgorithm::kBlake2b256) {
    return common::Status::InvalidArgument("blob " + ref.file_name().substr(0, 255) + ": not named by BLAKE2b-256");
  }
  return dir_ / common::ToHex(digest->second);
}

bool BlobCache::Has(const v1::BlobRef& ref) const {
  common::Result<std::filesystem::path> path = PathOf(ref);
  std::error_code error;
  return path.ok() && std::filesystem::file_size(*path, error) == ref.size_bytes() && !error;
}

std::shared_ptr<std::mutex> BlobCache::FetchLock(const std::filesystem::path& path) const {
  std::lock_guard lock(locks_mutex_);
  std::shared_ptr<std::mutex>& entry = locks_[path.string()];
  if (!entry) entry = std::make_shared<std::mutex>();
  return entry;
}

common::Result<std::filesystem::path> BlobCache::Fetch(ValidatorConnection& connection, const v1::BlobRef& ref) const {
  common::Result<std::filesystem::path> path = PathOf(ref);
  if (!path.ok()) return path.status();
  if (Has(ref)) return *path;
  const std::shared_ptr<std::mutex> lock = FetchLock(*path);
  std::lock_guard fetching(*lock);
  if (Has(ref)) return *path;  // another job fetched it meanwhile
  std::error_code error;
  std::filesystem::create_directories(dir_, error);
  if (error) return common::Status::Internal("creating " + dir_.string() + ": " + error.message());
  const std::string name = "blob " + common::ToValidUtf8(ref.file_name().substr(0, 255));
  const std::filesystem::path part = path->string() + ".part";
  common::ScopedDescriptor file{open(part.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)};
  if (file.fd < 0) return common::ErrnoStatus("opening " + part.string(), errno);
  // What an earlier fetch left: resumed from its end (a torn tail shows in the digest at the end).
  uint64_t stored = std::min<uint64_t>(std::filesystem::file_size(part, error), ref.size_bytes());
  if (error) return common::Status::IoError("size of " + part.string() + ": " + error.message());
  if (ftruncate(file.fd, static_cast<off_t>(stored)) != 0) return common::ErrnoStatus("truncating " + part.string(), errno);
  common::Hasher hasher(common::DigestAlgorithm::kBlake2b256);
  GRADIENTS_RETURN_IF_ERROR(
      common::ReadPrefixInBlocks(file.fd, stored, part.string(), [&](std::string_view block) { hasher.Update(block); }));

  v1::FetchBlobRequest request;
  *request.mutable_digest() = ref.digest();
  request.set_offset(stored);
  common::Status received = common::Status::Ok();
  const grpc::Status status = connection.Call(
      [&](grpc::ClientContext& context) {
        std::unique_ptr<grpc::ClientReader<v1::BlobChunk>> reader = connection.stub().FetchBlob(&context, request);
        for (v1::BlobChunk chunk; received.ok() && reader->Read(&chunk);) {
          const std::string& data = chunk.data();
          if (chunk.offset() != stored || data.empty() || data.size() > kMaxChunkBytes ||
              chunk.blob_size_bytes() != ref.size_bytes() || data.size() > ref.size_bytes() - stored) {
            received = common::Status::DataLoss(name + ": a chunk at offset " + std::to_string(chunk.offset()) + " of " +
                                        std::to_string(data.size()) + " bytes does not continue the " +
                                        std::to_string(ref.size_bytes()) + "-byte blob at " + std::to_string(stored));
            context.TryCancel();
            break;
          }
          for (size_t written = 0; written < data.size();) {
            const ssize_t n =
                pwrite(file.fd, data.data() + written, data.size() - written, static_cast<off_t>(stored + written));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
              received = common::ErrnoStatus("writing " + part.string(), errno);
              context.TryCancel();
              break;
            }
            written += static_cast<size_t>(n);
          }
          if (!received.ok()) break;
          hasher.Update(data);
          stored += data.size();
          request.set_offset(stored);  // a renewed session's second attempt resumes here
        }
        return reader->Finish();
      },
      std::chrono::hours(1));
  if (!received.ok()) {
    if (received.code() == common::StatusCode::kDataLoss) std::filesystem::remove(part, error);
    return received;
  }
  if (!status.ok()) {
    if (stored == 0) std::filesystem::remove(part, error);  // otherwise the part stays for a resume
    return proto::FromGrpcStatus(status).WithContext(name);
  }
  if (stored != ref.size_bytes()) {
    return common::Status::Unavailable(name + ": the stream ended at " + std::to_string(stored) + " of " +
                               std::to_string(ref.size_bytes()) + " bytes; fetch again to resume");
  }
  if (common::ToHex(hasher.Finish()) != path->filename().string()) {
    std::filesystem::remove(part, error);
    return common::Status::DataLoss(name + ": its bytes do not match its digest; fetch again to start over");
  }
  if (fsync(file.fd) != 0) return common::ErrnoStatus("syncing " + part.string(), errno);
  if (rename(part.c_str(), path->c_str()) != 0) return common::ErrnoStatus("storing " + path->string(), errno);
  GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(dir_));
  return *path;
}

}  // namespace gradients::miner
