#include "validator/state/registry.h"

#include <algorithm>
#include <array>
#include <system_error>

#include "common/config.h"
#include "common/digest.h"
#include "common/durable_file.h"
#include "common/hex.h"
#include "common/keys.h"
#include "common/safetensors.h"
#include "common/utf8.h"

namespace gradients::validator {
namespace {

constexpr std::array<std::string_view, 5> kPickleExtensions = {".bin", ".pt", ".pth", ".pkl", ".ckpt"};
constexpr uint64_t kMaxDatasetBytes = uint64_t{4} << 30;

// The directory's files, relative and '/'-separated, sorted; hidden entries skipped.
common::Result<std::vector<std::string>> ListModelFiles(const std::filesystem::path& dir, const RegistryLimits& limits) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return common::Status::NotFound(dir.string() + ": not a model directory");
  std::vector<std::string> files;
  std::filesystem::recursive_directory_iterator it(dir, error), end;
  for (; !error && it != end; it.increment(error)) {
    const std::string leaf = it->path().filename().string();
    if (leaf.starts_with(".")) {
      if (it->is_directory(error)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(error)) continue;
    // Lexically: a symbolic link (as in Hugging Face's cache) keeps the name it has here.
    const std::filesystem::path relative_path = it->path().lexically_relative(dir);
    const std::string relative = relative_path.generic_string();
    if (relative_path.empty() || relative_path.is_absolute() || relative.starts_with("../") || relative == "..") {
      return common::Status::InvalidArgument(dir.string() + ": " + it->path().string() + " is outside the directory");
    }
    if (!it->is_regular_file(error)) return common::Status::InvalidArgument(dir.string() + ": " + relative + " is not a regular file");
    for (std::string_view extension : kPickleExtensions) {
      if (it->path().extension() == extension) {
        return common::Status::InvalidArgument(dir.string() + ": " + relative +
                                       ": model weights must be safetensors (pickle formats are never loaded)");
      }
    }
    if (!common::IsValidUtf8(relative)) return common::Status::InvalidArgument(dir.string() + ": a file name is not UTF-8");
    files.push_back(relative);
    if (files.size() > limits.max_model_files) {
      return common::Status::ResourceExhausted(dir.string() + ": more than " + std::to_string(limits.max_model_files) +
                                       " files; is this a model directory?");
    }
  }
  if (error) return common::Status::IoError(dir.string() + ": " + error.message());
  std::sort(files.begin(), files.end());
  return files;
}

// Checks what was stored (not the source files, which may change meanwhile): config.json is a JSON
// object and every *.safetensors header is valid. Returns the tensors' total element count.
common::Result<int64_t> CheckModelFiles(const std::filesystem::path& dir, const std::vector<ModelFile>& files,
                                const BlobStore& blobs) {
  bool any_config = false, any_weights = false;
  uint64_t parameters = 0;
  for (const ModelFile& file : files) {
    const bool config = file.path == "config.json", weights = file.path.ends_with(".safetensors");
    if (!config && !weights) continue;
    common::Result<std::filesystem::path> stored = blobs.PathOf(file.blob);
    if (!stored.ok()) return stored.status();
    const std::string name = (dir / file.path).string();
    if (config) {
      any_config = true;
      common::Result<nlohmann::json> json = common::ReadJsonFile(*stored);
      if (!json.ok()) return common::Status(json.status().code(), name + ": " + json.status().message());
      if (!json->is_object()) return common::Status::InvalidArgument(name + ": not a JSON object");
    } else {
      any_weights = true;
      common::Result<common::SafetensorsFile> header = common::SafetensorsFile::Open(*stored);
      if (!header.ok()) return common::Status(header.status().code(), name + ": " + header.status().message());
      // The header's validation ties each tensor's elements to its bytes: no product overflows.
      for (const common::SafetensorsTensor& tensor : header->header().tensors) {
        uint64_t elements = 1;
        for (uint64_t dimension : tensor.shape) elements *= dimension;
        parameters += elements;
      }
    }
  }
  if (!any_config) return common::Status::InvalidArgument(dir.string() + ": no config.json");
  if (!any_weights) return common::Status::InvalidArgument(dir.string() + ": no *.safetensors weights");
  return static_cast<int64_t>(parameters);
}

std::string ModelHash(const std::vector<ModelFile>& files) {
  common::Hasher hasher(common::DigestAlgorithm::kBlake2b256);
  for (const ModelFile& file : files) {
    hasher.Update(file.path);
    hasher.Update(std::string_view("\0", 1));
    hasher.Update(std::to_string(file.bytes));
    hasher.Update(std::string_view("\0", 1));
    hasher.Update(file.blob);
    hasher.Update("\n");
  }
  return common::ToHex(hasher.Finish());
}

}  // namespace

std::string DefaultContentName(const std::filesystem::path& path) {
  std::filesystem::path named = path.has_filename() ? path : path.parent_path();
  return std::filesystem::is_directory(named) ? named.filename().string() : named.stem().string();
}

namespace {

// The name given, or the path's default; names reach logs, JSON and protocol messages: UTF-8, and
// short.
common::Result<std::string> ContentName(const std::string& name, const std::filesystem::path& path) {
  std::string resolved = name.empty() ? DefaultContentName(path) : name;
  if (resolved.empty() || resolved.size() > 200 || !common::IsValidUtf8(resolved)) {
    return common::Status::InvalidArgument("name: 1 to 200 bytes of UTF-8");
  }
  return resolved;
}

}  // namespace

common::Result<ModelRecord> RegisterModel(CatalogStore& catalog_store, const BlobStore& blobs,
                                          const std::filesystem::path& dir, const std::string& name, int64_t now_ms,
                                          const RegistryLimits& limits) {
  common::Result<std::string> model_name = ContentName(name, dir);
  if (!model_name.ok()) return model_name.status();
  common::Result<std::vector<std::string>> paths = ListModelFiles(dir, limits);
  if (!paths.ok()) return paths.status();
  ModelRecord model{.hash = {}, .name = *model_name, .files = {}, .added_at_ms = now_ms};
  for (const std::string& path : *paths) {
    common::Result<StoredBlob> blob = blobs.PutFile(dir / path);
    if (!blob.ok()) return blob.status();
    model.files.push_back(ModelFile{.path = path, .bytes = static_cast<int64_t>(blob->bytes), .blob = blob->hash});
  }
  common::Result<int64_t> parameters = CheckModelFiles(dir, model.files, blobs);
  if (!parameters.ok()) return parameters.status();
  model.parameters = *parameters;
  model.hash = ModelHash(model.files);
  GRADIENTS_RETURN_IF_ERROR(catalog_store.AddModel(model));
  return catalog_store.GetModel(model.hash);
}

common::Result<DatasetRecord> RegisterDataset(CatalogStore& catalog_store, const BlobStore& blobs,
                                              const std::filesystem::path& file, const std::string& name,
                                              int64_t now_ms) {
  common::Result<std::string> dataset_name = ContentName(name, file);
  if (!dataset_name.ok()) return dataset_name.status();
  const std::string extension = file.extension().string();
  if (extension != ".jsonl" && extension != ".csv") {
    return common::Status::InvalidArgument(file.string() + ": a dataset is a .jsonl or .csv file");
  }
  common::Result<std::string> text = common::ReadFileToString(file, kMaxDatasetBytes);
  if (!text.ok()) return text.status();
  if (text->find_first_not_of(" \t\r\n") == std::string::npos) return common::Status::InvalidArgument(file.string() + ": empty");
  if (std::optional<size_t> bad = common::FindInvalidUtf8(*text)) {
    return common::Status::InvalidArgument(file.string() + ": not UTF-8 (byte " + std::to_string(*bad) + ")");
  }
  // The bytes checked are the bytes stored (the file may change meanwhile).
  common::Result<StoredBlob> blob = blobs.Put(*text);
  if (!blob.ok()) return blob.status();
  std::array<uint8_t, 32> seed{};
  common::FillRandom(seed);
  GRADIENTS_RETURN_IF_ERROR(catalog_store.AddDataset(DatasetRecord{.hash = blob->hash,
                                                                   .name = *dataset_name,
                                                                   .format = extension.substr(1),
                                                                   .bytes = static_cast<int64_t>(blob->bytes),
                                                                   .split_seed = common::ToHex(seed),
                                                                   .added_at_ms = now_ms}));
  return catalog_store.GetDataset(blob->hash);
}

}  // namespace gradients::validator
