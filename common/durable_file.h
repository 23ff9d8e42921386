// Crash-safe file writes: a reader (or a restarted process) sees either the old file or the
// complete new one, never a torn mix. The recipe is: write a temporary file in the target's
// directory, fsync it, rename it over the target, fsync the directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gradients::common {

// Streams data into `<path>.tmp-<random>`; Commit() makes it durable under `path`.
// Destroying an uncommitted writer removes the temporary file. Not thread-safe.
class DurableFileWriter {
 public:
  // Creates the temporary file with `mode` (subject to the umask only through explicit fchmod).
  static Result<DurableFileWriter> Create(const std::filesystem::path& path, mode_t mode = 0644);

  DurableFileWriter(DurableFileWriter&& other) noexcept;
  DurableFileWriter& operator=(DurableFileWriter&& other) noexcept;
  DurableFileWriter(const DurableFileWriter&) = delete;
  DurableFileWriter& operator=(const DurableFileWriter&) = delete;
  ~DurableFileWriter();

  Status Append(std::span<const uint8_t> data);
  Status Append(std::string_view data);
  uint64_t bytes_written() const { return bytes_written_; }

  // fsync, rename over the target, fsync the directory. The writer is finished afterwards.
  Status Commit();

 private:
  DurableFileWriter(int fd, std::filesystem::path path, std::filesystem::path temp_path)
      : fd_(fd), path_(std::move(path)), temp_path_(std::move(temp_path)) {}
  void Abandon();

  int fd_ = -1;
  std::filesystem::path path_;
  std::filesystem::path temp_path_;
  uint64_t bytes_written_ = 0;
};

// Writes `data` durably to `path` in one call.
Status WriteFileDurably(const std::filesystem::path& path, std::string_view data, mode_t mode = 0644);

// fsyncs a directory, so that a rename or file creation inside it survives a crash.
Status SyncDirectory(const std::filesystem::path& dir);

// Reads a whole file; a file larger than `max_bytes` is refused rather than read.
Result<std::string> ReadFileToString(const std::filesystem::path& path, uint64_t max_bytes);

// Removes `path` and, for a directory, everything below it (symbolic links are removed, not
// followed). A missing path is not an error. std::filesystem::remove_all is not used because
// PyTorch's libtorch.so exports a copy of it that crashes in processes linked with it.
Status RemoveTree(const std::filesystem::path& path);

// Hands the first `size` bytes of the open file `fd` to `each` in blocks of at most 1 MiB, in
// order (what a resumed transfer hashes again); IoError naming `what` when the file is shorter or
// a read fails.
Status ReadPrefixInBlocks(int fd, uint64_t size, std::string_view what,
                          const std::function<void(std::string_view)>& each);

// A file descriptor closed when it leaves scope (-1: none).
struct ScopedDescriptor {
  int fd = -1;
  explicit ScopedDescriptor(int descriptor) : fd(descriptor) {}
  ScopedDescriptor(const ScopedDescriptor&) = delete;
  ScopedDescriptor& operator=(const ScopedDescriptor&) = delete;
  ~ScopedDescriptor();
};

// "<what>: <strerror(errno)>", for the IoError of a failed system call.
Status ErrnoStatus(std::string_view what, int error_number);

}  // namespace gradients::common
