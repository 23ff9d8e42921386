#include "validator/state/blob_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <system_error>
#include <vector>

#include "common/hex.h"

namespace gradients::validator {
namespace {

// Writes in progress; emptied on open (what is there was interrupted).
constexpr const char* kIncoming = "incoming";
constexpr uint64_t kReadBlock = uint64_t{1} << 20;

common::Status CheckHash(std::string_view hash) {
  bool well_formed = hash.size() == 64;
  for (char c : hash) well_formed = well_formed && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!well_formed) {
    return common::Status::InvalidArgument("blob hash \"" + std::string(hash.substr(0, 80)) +
                                   "\" is not 64 lower-case hexadecimal digits");
  }
  return common::Status::Ok();
}

common::Result<std::filesystem::path> BlobPath(const std::filesystem::path& root, std::string_view hash) {
  GRADIENTS_RETURN_IF_ERROR(CheckHash(hash));
  return root / std::string(hash.substr(0, 2)) / std::string(hash);
}

std::string RandomName() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(rng());
}


}  // namespace

common::Status BlobWriter::Append(std::string_view data) {
  hasher_.Update(data);
  return writer_.Append(data);
}

// Renames a complete, synced file into place as blob `hash` (or drops it when the blob is stored
// already: the same bytes under the same name, whose stored time is refreshed) and makes the name
// durable.
static common::Result<StoredBlob> InstallBlob(const std::filesystem::path& root, std::mutex& install_mutex,
                                      const std::filesystem::path& file, const std::string& hash, uint64_t bytes) {
  std::lock_guard lock(install_mutex);
  common::Result<std::filesystem::path> target = BlobPath(root, hash);
  if (!target.ok()) return target.status();
  const std::filesystem::path shard = target->parent_path();
  std::error_code error;
  if (!std::filesystem::is_directory(shard, error)) {
    if (mkdir(shard.c_str(), 0700) != 0 && errno != EEXIST) return common::ErrnoStatus("creating " + shard.string(), errno);
    GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(root));  // the new shard's name
  }
  if (std::filesystem::exists(*target, error)) {
    // Stored again now: a removal of unneeded blobs spares it for its grace period.
    if (utimensat(AT_FDCWD, target->c_str(), nullptr, 0) != 0) {
      return common::ErrnoStatus("touching " + target->string(), errno);
    }
    // Its rename, perhaps another process's, is made durable before the caller records the blob.
    GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(file));
    GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(shard));
    return StoredBlob{.hash = hash, .bytes = bytes};
  }
  // Stored now, whenever its bytes were written (an upload's part file may be hours old).
  if (utimensat(AT_FDCWD, file.c_str(), nullptr, 0) != 0) return common::ErrnoStatus("touching " + file.string(), errno);
  if (std::rename(file.c_str(), target->c_str()) != 0) {
    return common::ErrnoStatus("renaming " + file.string() + " to " + target->string(), errno);
  }
  GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(shard));
  return StoredBlob{.hash = hash, .bytes = bytes};
}

common::Result<StoredBlob> BlobWriter::Finish() {
  const uint64_t bytes = writer_.bytes_written();
  GRADIENTS_RETURN_IF_ERROR(writer_.Commit());
  return InstallBlob(root_, *install_mutex_, temp_target_, common::ToHex(hasher_.Finish()), bytes);
}

struct BlobStore::OpenLock {
  int fd = -1;
  ~OpenLock() { close(fd); }  // releases the lock
};

common::Result<BlobStore> BlobStore::Open(const std::filesystem::path& root) {
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) {
    if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) return common::ErrnoStatus("creating " + root.string(), errno);
    GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(root.parent_path().empty() ? "." : root.parent_path()));
  }
  auto lock = std::make_shared<OpenLock>();
  lock->fd = open((root / "incoming.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock->fd < 0) return common::ErrnoStatus("opening " + (root / "incoming.lock").string(), errno);
  // Alone (the exclusive lock is free): what is in incoming/ was left by interrupted writes.
  if (flock(lock->fd, LOCK_EX | LOCK_NB) == 0) GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(root / kIncoming));
  if (flock(lock->fd, LOCK_SH) != 0) return common::ErrnoStatus("locking " + (root / "incoming.lock").string(), errno);
  std::filesystem::create_directories(root / kIncoming, error);
  if (error) return common::Status::IoError((root / kIncoming).string() + ": " + error.message());
  return BlobStore(root, std::move(lock));
}

common::Result<StoredBlob> BlobStore::Adopt(const std::filesystem::path& file, std::string_view hash) const {
  GRADIENTS_RETURN_IF_ERROR(CheckHash(hash));
  common::ScopedDescriptor input{open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (input.fd < 0) return common::ErrnoStatus("opening " + file.string(), errno);
  struct stat info {};
  if (fstat(input.fd, &info) != 0) return common::ErrnoStatus("stat " + file.string(), errno);
  if (fsync(input.fd) != 0) return common::ErrnoStatus("syncing " + file.string(), errno);
  if (fchmod(input.fd, 0600) != 0) return common::ErrnoStatus("chmod " + file.string(), errno);
  return InstallBlob(root_, *install_mutex_, file, std::string(hash), static_cast<uint64_t>(info.st_size));
}

common::Result<BlobWriter> BlobStore::NewBlob() const {
  std::filesystem::path temp_target = root_ / kIncoming / RandomName();
  common::Result<common::DurableFileWriter> writer = common::DurableFileWriter::Create(temp_target, 0600);
  if (!writer.ok()) return writer.status();
  return BlobWriter(root_, install_mutex_, std::move(*writer), std::move(temp_target));
}

common::Result<StoredBlob> BlobStore::Put(std::string_view data) const {
  common::Result<BlobWriter> writer = NewBlob();
  if (!writer.ok()) return writer.status();
  GRADIENTS_RETURN_IF_ERROR(writer->Append(data));
  return writer->Finish();
}

common::Result<StoredBlob> BlobStore::PutFile(const std::filesystem::path& file) const {
  common::ScopedDescriptor input{open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (input.fd < 0) return common::ErrnoStatus("opening " + file.string(), errno);
  common::Result<BlobWriter> writer = NewBlob();
  if (!writer.ok()) return writer.status();
  std::vector<char> buffer(kReadBlock);
  for (;;) {
    const ssize_t n = read(input.fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return common::ErrnoStatus("reading " + file.string(), errno);
    }
    if (n == 0) break;
    GRADIENTS_RETURN_IF_ERROR(writer->Append(std::string_view(buffer.data(), static_cast<size_t>(n))));
  }
  return writer->Finish();
}

common::Result<std::filesystem::path> BlobStore::PathOf(std::string_view hash) const { return BlobPath(root_, hash); }

bool BlobStore::Contains(std::string_view hash) const {
  common::Result<std::filesystem::path> path = PathOf(hash);
  std::error_code error;
  return path.ok() && std::filesystem::is_regular_file(*path, error);
}

common::Result<uint64_t> BlobStore::Size(std::string_view hash) const {
  common::Result<std::filesystem::path> path = PathOf(hash);
  if (!path.ok()) return path.status();
  std::error_code error;
  const uint64_t size = std::filesystem::file_size(*path, error);
  if (error) return common::Status::NotFound("no blob " + std::string(hash));
  return size;
}

common::Result<std::string> BlobStore::Read(std::string_view hash, uint64_t offset, uint64_t max_bytes) const {
  common::Result<std::filesystem::path> path = PathOf(hash);
  if (!path.ok()) return path.status();
  common::ScopedDescriptor input{open(path->c_str(), O_RDONLY | O_CLOEXEC)};
  if (input.fd < 0) {
    if (errno == ENOENT) return common::Status::NotFound("no blob " + std::string(hash));
    return common::ErrnoStatus("opening blob " + std::string(hash), errno);
  }
  const off_t size = lseek(input.fd, 0, SEEK_END);
  if (size < 0) return common::ErrnoStatus("sizing blob " + std::string(hash), errno);
  if (offset > static_cast<uint64_t>(size)) {
    return common::Status::OutOfRange("offset " + std::to_string(offset) + " is past the end of blob " + std::string(hash) +
                              " (" + std::to_string(size) + " bytes)");
  }
  std::string data(std::min<uint64_t>(max_bytes, static_cast<uint64_t>(size) - offset), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = pread(input.fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return common::ErrnoStatus("reading blob " + std::string(hash), errno);
    }
    if (n == 0) return common::Status::DataLoss("blob " + std::string(hash) + " shrank while it was read");
    done += static_cast<size_t>(n);
  }
  return data;
}

namespace {

int64_t ModifiedMs(const struct stat& info) {
  return static_cast<int64_t>(info.st_mtim.tv_sec) * 1000 + info.st_mtim.tv_nsec / 1'000'000;
}

}  // namespace

common::Result<std::vector<ListedBlob>> BlobStore::List() const {
  std::vector<ListedBlob> blobs;
  std::error_code error;
  for (const auto& shard : std::filesystem::directory_iterator(root_, error)) {
    const std::string shard_name = shard.path().filename().string();
    if (shard_name.size() != 2 || !shard.is_directory(error)) continue;  // incoming/, incoming.lock
    for (const auto& entry : std::filesystem::directory_iterator(shard.path(), error)) {
      const std::string name = entry.path().filename().string();
      if (!CheckHash(name).ok() || !name.starts_with(shard_name)) continue;
      struct stat info {};
      if (stat(entry.path().c_str(), &info) != 0) {
        if (errno == ENOENT) continue;  // removed meanwhile
        return common::ErrnoStatus("stat " + entry.path().string(), errno);
      }
      blobs.push_back(
          ListedBlob{.hash = name, .bytes = static_cast<uint64_t>(info.st_size), .stored_at_ms = ModifiedMs(info)});
    }
    if (error) return common::Status::IoError("listing " + shard.path().string() + ": " + error.message());
  }
  if (error) return common::Status::IoError("listing " + root_.string() + ": " + error.message());
  return blobs;
}

common::Result<bool> BlobStore::RemoveIfStoredBefore(std::string_view hash, int64_t stored_before_ms) const {
  common::Result<std::filesystem::path> path = PathOf(hash);
  if (!path.ok()) return path.status();
  std::lock_guard lock(*install_mutex_);
  struct stat info {};
  if (stat(path->c_str(), &info) != 0) {
    if (errno == ENOENT) return false;
    return common::ErrnoStatus("stat " + path->string(), errno);
  }
  if (ModifiedMs(info) >= stored_before_ms) return false;
  if (unlink(path->c_str()) != 0) return common::ErrnoStatus("removing " + path->string(), errno);
  GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(path->parent_path()));
  return true;
}

common::Status BlobStore::Verify(std::string_view hash) const {
  common::Result<std::filesystem::path> path = PathOf(hash);
  if (!path.ok()) return path.status();
  common::Result<common::Digest> digest = common::DigestFile(common::DigestAlgorithm::kBlake2b256, *path);
  if (!digest.ok()) return digest.status();
  if (common::ToHex(*digest) != hash) {
    return common::Status::DataLoss("blob " + std::string(hash) + " is corrupt: its bytes hash to " + common::ToHex(*digest));
  }
  return common::Status::Ok();
}

}  // namespace gradients::validator
