#include "miner/model_directory.h"

#include <string_view>

#include "common/durable_file.h"
#include "common/utf8.h"

namespace gradients::miner {

common::Status CheckTaskFileName(const std::string& name) {
  const auto refuse = [&](std::string_view why) {
    return common::Status::InvalidArgument("task file \"" + common::ToValidUtf8(name.substr(0, 255)) + "\": " + std::string(why));
  };
  if (name.empty() || name.size() > 255) return refuse("names are 1 to 255 bytes");
  if (name.front() == '/') return refuse("absolute");
  if (name.find('\\') != std::string::npos || name.find('\0') != std::string::npos) {
    return refuse("a backslash or NUL in the name");
  }
  for (size_t start = 0; start <= name.size();) {
    const size_t slash = std::min(name.find('/', start), name.size());
    const std::string_view part(name.data() + start, slash - start);
    if (part.empty() || part == "." || part == "..") return refuse("an empty, \".\" or \"..\" component");
    start = slash + 1;
  }
  return common::Status::Ok();
}

common::Status LinkFromCache(const BlobCache& cache, const v1::BlobRef& ref, const std::filesystem::path& target) {
  std::error_code error;
  if (std::filesystem::file_size(target, error) == ref.size_bytes() && !error) return common::Status::Ok();  // linked before
  if (!cache.Has(ref)) {
    return common::Status::FailedPrecondition("file " + common::ToValidUtf8(ref.file_name()) + " is not fetched yet");
  }
  common::Result<std::filesystem::path> source = cache.PathOf(ref);
  if (!source.ok()) return source.status();
  std::filesystem::create_directories(target.parent_path(), error);
  if (error) return common::Status::IoError("creating " + target.parent_path().string() + ": " + error.message());
  std::filesystem::remove(target, error);
  // A hard link shares the cached bytes; another file system (or one without links) gets a copy.
  std::filesystem::create_hard_link(*source, target, error);
  if (error) {
    std::filesystem::copy_file(*source, target, std::filesystem::copy_options::overwrite_existing, error);
    if (error)
      return common::Status::IoError("copying " + source->string() + " to " + target.string() + ": " + error.message());
  }
  return common::Status::Ok();
}

common::Status MaterializeModel(const BlobCache& cache, const v1::TaskSpec& task, const std::filesystem::path& dir) {
  for (const v1::BlobRef& file : task.base_model_files())
    GRADIENTS_RETURN_IF_ERROR(CheckTaskFileName(file.file_name()));
  for (const v1::BlobRef& file : task.base_model_files()) {
    common::Status linked = LinkFromCache(cache, file, dir / file.file_name());
    if (linked.code() == common::StatusCode::kFailedPrecondition) return linked.WithContext("base model");
    GRADIENTS_RETURN_IF_ERROR(linked);
  }
  return common::SyncDirectory(dir);
}

}  // namespace gradients::miner
