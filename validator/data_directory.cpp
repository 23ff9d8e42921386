#include "validator/data_directory.h"

#include <sys/stat.h>

#include <cerrno>
#include <system_error>

#include "common/durable_file.h"

namespace gradients {

Result<DataDirectory> OpenDataDirectory(const std::filesystem::path& root) {
  std::error_code error;
  if (!std::filesystem::exists(root, error)) {
    if (!root.parent_path().empty()) std::filesystem::create_directories(root.parent_path(), error);
    if (error) return Status::IoError(root.parent_path().string() + ": " + error.message());
    if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("creating " + root.string(), errno);
  } else if (!std::filesystem::is_directory(root, error)) {
    return Status::InvalidArgument(root.string() + ": not a directory");
  }
  Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(root / "state.db");
  if (!store.ok()) return store.status();
  Result<BlobStore> blobs = BlobStore::Open(root / "blobs");
  if (!blobs.ok()) return blobs.status();
  return DataDirectory{.root = root,
                       .store = std::move(*store),
                       .blobs = std::make_unique<BlobStore>(std::move(*blobs))};
}

}  // namespace gradients
