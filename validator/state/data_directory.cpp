#include "validator/state/data_directory.h"

#include <sys/stat.h>

#include <cerrno>
#include <system_error>

#include "common/durable_file.h"

namespace gradients::validator {

common::Result<DataDirectory> OpenDataDirectory(const std::filesystem::path& root) {
  std::error_code error;
  if (!std::filesystem::exists(root, error)) {
    if (!root.parent_path().empty()) std::filesystem::create_directories(root.parent_path(), error);
    if (error) return common::Status::IoError(root.parent_path().string() + ": " + error.message());
    if (mkdir(root.c_str(), 0700) != 0 && errno != EEXIST) return common::ErrnoStatus("creating " + root.string(), errno);
  } else if (!std::filesystem::is_directory(root, error)) {
    return common::Status::InvalidArgument(root.string() + ": not a directory");
  } else {
    struct stat info {};
    if (stat(root.c_str(), &info) != 0) return common::ErrnoStatus("reading " + root.string(), errno);
    if ((info.st_mode & 077) != 0) {
      return common::Status::PermissionDenied(root.string() + ": open to group or others; it holds the hidden test splits "
                                      "and their seeds (chmod 700 " + root.string() + ")");
    }
  }
  common::Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(root / "state.db");
  if (!store.ok()) return store.status();
  common::Result<BlobStore> blobs = BlobStore::Open(root / "blobs");
  if (!blobs.ok()) return blobs.status();
  return DataDirectory{.root = root,
                       .store = std::move(*store),
                       .blobs = std::make_unique<BlobStore>(std::move(*blobs))};
}

}  // namespace gradients::validator
