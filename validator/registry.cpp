#include "validator/registry.h"

#include <algorithm>
#include <array>
#include <system_error>

#include "common/config.h"
#include "common/digest.h"
#include "common/durable_file.h"
#include "common/hex.h"
#include "common/safetensors.h"
#include "common/utf8.h"

namespace gradients {
namespace {

constexpr std::array<std::string_view, 5> kPickleExtensions = {".bin", ".pt", ".pth", ".pkl", ".ckpt"};
constexpr uint64_t kMaxDatasetBytes = uint64_t{4} << 30;

// The directory's files, relative and '/'-separated, sorted; hidden entries skipped.
Result<std::vector<std::string>> ListModelFiles(const std::filesystem::path& dir, const RegistryLimits& limits) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return Status::NotFound(dir.string() + ": not a model directory");
  std::vector<std::string> files;
  std::filesystem::recursive_directory_iterator it(dir, error), end;
  for (; !error && it != end; it.increment(error)) {
    const std::string leaf = it->path().filename().string();
    if (leaf.starts_with(".")) {
      if (it->is_directory(error)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(error)) continue;
    const std::string relative = std::filesystem::relative(it->path(), dir, error).generic_string();
    if (!it->is_regular_file(error)) return Status::InvalidArgument(dir.string() + ": " + relative + " is not a regular file");
    for (std::string_view extension : kPickleExtensions) {
      if (it->path().extension() == extension) {
        return Status::InvalidArgument(dir.string() + ": " + relative +
                                       ": model weights must be safetensors (pickle formats are never loaded)");
      }
    }
    files.push_back(relative);
    if (files.size() > limits.max_model_files) {
      return Status::ResourceExhausted(dir.string() + ": more than " + std::to_string(limits.max_model_files) +
                                       " files; is this a model directory?");
    }
  }
  if (error) return Status::IoError(dir.string() + ": " + error.message());
  std::sort(files.begin(), files.end());
  return files;
}

Status CheckModelFiles(const std::filesystem::path& dir, const std::vector<std::string>& files) {
  if (std::find(files.begin(), files.end(), "config.json") == files.end()) {
    return Status::InvalidArgument(dir.string() + ": no config.json");
  }
  Result<nlohmann::json> config = ReadJsonFile(dir / "config.json");
  if (!config.ok()) return config.status();
  if (!config->is_object()) return Status::InvalidArgument((dir / "config.json").string() + ": not a JSON object");
  bool any_weights = false;
  for (const std::string& file : files) {
    if (!file.ends_with(".safetensors")) continue;
    any_weights = true;
    Result<SafetensorsFile> weights = SafetensorsFile::Open(dir / file);
    if (!weights.ok()) return weights.status();
  }
  if (!any_weights) return Status::InvalidArgument(dir.string() + ": no *.safetensors weights");
  return Status::Ok();
}

std::string ModelHash(const std::vector<ModelFile>& files) {
  Hasher hasher(DigestAlgorithm::kBlake2b256);
  for (const ModelFile& file : files) {
    hasher.Update(file.path);
    hasher.Update(std::string_view("\0", 1));
    hasher.Update(std::to_string(file.bytes));
    hasher.Update(std::string_view("\0", 1));
    hasher.Update(file.blob);
    hasher.Update("\n");
  }
  return ToHex(hasher.Finish());
}

}  // namespace

std::string DefaultContentName(const std::filesystem::path& path) {
  std::filesystem::path named = path.has_filename() ? path : path.parent_path();
  return std::filesystem::is_directory(named) ? named.filename().string() : named.stem().string();
}

Result<ModelRecord> RegisterModel(Store& store, const BlobStore& blobs, const std::filesystem::path& dir,
                                  const std::string& name, int64_t now_ms, const RegistryLimits& limits) {
  Result<std::vector<std::string>> paths = ListModelFiles(dir, limits);
  if (!paths.ok()) return paths.status();
  GRADIENTS_RETURN_IF_ERROR(CheckModelFiles(dir, *paths));
  ModelRecord model{.hash = {}, .name = name, .files = {}, .added_at_ms = now_ms};
  for (const std::string& path : *paths) {
    Result<StoredBlob> blob = blobs.PutFile(dir / path);
    if (!blob.ok()) return blob.status();
    model.files.push_back(ModelFile{.path = path, .bytes = static_cast<int64_t>(blob->bytes), .blob = blob->hash});
  }
  model.hash = ModelHash(model.files);
  GRADIENTS_RETURN_IF_ERROR(store.AddModel(model));
  return store.GetModel(model.hash);
}

Result<DatasetRecord> RegisterDataset(Store& store, const BlobStore& blobs, const std::filesystem::path& file,
                                      const std::string& name, int64_t now_ms) {
  const std::string extension = file.extension().string();
  if (extension != ".jsonl" && extension != ".csv") {
    return Status::InvalidArgument(file.string() + ": a dataset is a .jsonl or .csv file");
  }
  Result<std::string> text = ReadFileToString(file, kMaxDatasetBytes);
  if (!text.ok()) return text.status();
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) return Status::InvalidArgument(file.string() + ": empty");
  if (std::optional<size_t> bad = FindInvalidUtf8(*text)) {
    return Status::InvalidArgument(file.string() + ": not UTF-8 (byte " + std::to_string(*bad) + ")");
  }
  Result<StoredBlob> blob = blobs.PutFile(file);
  if (!blob.ok()) return blob.status();
  GRADIENTS_RETURN_IF_ERROR(store.AddDataset(DatasetRecord{.hash = blob->hash,
                                                           .name = name,
                                                           .format = extension.substr(1),
                                                           .bytes = static_cast<int64_t>(blob->bytes),
                                                           .added_at_ms = now_ms}));
  return store.GetDataset(blob->hash);
}

}  // namespace gradients
