// Content-addressed files in the validator's data directory (DESIGN.md, State): a blob is named by
// the BLAKE2b-256 of its bytes (64 hex digits) and lives at <root>/<first two digits>/<digest>. A
// blob is written to a temporary file while it is hashed, synced, and renamed into place, so a
// blob that exists is complete; the same content written twice is stored once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/durable_file.h"
#include "common/status.h"

namespace gradients::validator {

struct StoredBlob {
  std::string hash;  // lower-case hex
  uint64_t bytes = 0;
};

struct ListedBlob {
  std::string hash;
  uint64_t bytes = 0;
  int64_t stored_at_ms = 0;  // when it was written, or last stored again
};

// Streams bytes into a new blob; Finish() names it by its digest. Destroying an unfinished writer
// leaves nothing behind.
class BlobWriter {
 public:
  common::Status Append(std::string_view data);
  uint64_t bytes_written() const { return writer_.bytes_written(); }
  // Makes the blob durable under its content hash.
  common::Result<StoredBlob> Finish();

 private:
  friend class BlobStore;
  BlobWriter(std::filesystem::path root, std::shared_ptr<std::mutex> install_mutex, common::DurableFileWriter writer,
             std::filesystem::path temp_target)
      : root_(std::move(root)),
        install_mutex_(std::move(install_mutex)),
        writer_(std::move(writer)),
        temp_target_(std::move(temp_target)) {}
  std::filesystem::path root_;
  std::shared_ptr<std::mutex> install_mutex_;
  common::DurableFileWriter writer_;
  std::filesystem::path temp_target_;  // where the writer commits before the rename to the hash
  common::Hasher hasher_{common::DigestAlgorithm::kBlake2b256};
};

class BlobStore {
 public:
  // Creates `root` if needed. Temporary files that interrupted writes left are removed when no
  // other process has the store open (theirs may be writes in progress).
  static common::Result<BlobStore> Open(const std::filesystem::path& root);

  common::Result<BlobWriter> NewBlob() const;
  // Stores bytes held in memory.
  common::Result<StoredBlob> Put(std::string_view data) const;
  // Copies a file into the store.
  common::Result<StoredBlob> PutFile(const std::filesystem::path& file) const;
  // Moves a complete file into the store as blob `hash` without copying it: for bytes the caller
  // hashed while it received them (an upload). The file must be on the store's file system and
  // its BLAKE2b-256 must be `hash`; it is synced before it is renamed into place.
  common::Result<StoredBlob> Adopt(const std::filesystem::path& file, std::string_view hash) const;
  bool Contains(std::string_view hash) const;
  common::Result<uint64_t> Size(std::string_view hash) const;
  // Up to `max_bytes` from `offset` (fewer at the end; none at the end exactly): what a fetch with a
  // resumable offset serves. An offset past the end is OutOfRange.
  common::Result<std::string> Read(std::string_view hash, uint64_t offset, uint64_t max_bytes) const;
  // Re-hashes the stored bytes: DataLoss when they no longer match the name.
  common::Status Verify(std::string_view hash) const;
  // The blob's file, for readers that take a path (a child process). The hash must be well formed.
  common::Result<std::filesystem::path> PathOf(std::string_view hash) const;

  // Every stored blob (not the writes in progress).
  common::Result<std::vector<ListedBlob>> List() const;
  // Deletes the blob when it was stored before `stored_before_ms` (false: it was stored since, or
  // it is not there). Storing the same content again refreshes that time, and this process's
  // stores wait for a removal in progress: a blob stored again just before it is recorded is not
  // lost to a removal that decided on its older time.
  common::Result<bool> RemoveIfStoredBefore(std::string_view hash, int64_t stored_before_ms) const;

 private:
  struct OpenLock;  // a shared lock on <root>/incoming.lock while the store is open
  BlobStore(std::filesystem::path root, std::shared_ptr<const OpenLock> lock)
      : root_(std::move(root)), lock_(std::move(lock)) {}
  std::filesystem::path root_;
  std::shared_ptr<const OpenLock> lock_;
  // Held while a blob is installed (or found stored and refreshed) and while one is removed.
  std::shared_ptr<std::mutex> install_mutex_ = std::make_shared<std::mutex>();
};

}  // namespace gradients::validator
