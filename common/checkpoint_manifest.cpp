#include "common/checkpoint_manifest.h"

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

namespace gradients::common {
namespace {

constexpr std::string_view kMagic("GRDMAN\0\1", 8);

// Files any checkpoint may carry next to its weights: tokenizer and chat template, a model card.
constexpr std::array<std::string_view, 10> kSharedFiles = {
    "tokenizer.json",   "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json",
    "merges.txt",       "added_tokens.json",     "chat_template.jinja",     "chat_template.json", "README.md"};

// Formats that unpickle (run code) when loaded: never accepted, whatever their name.
constexpr std::array<std::string_view, 7> kPickleSuffixes = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib"};

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A weights file name of a full model: letters, digits, '.', '-', '_' and the suffix.
bool IsSafetensorsName(std::string_view name) {
  if (!EndsWith(name, ".safetensors") || name.size() == std::string_view(".safetensors").size()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  });
}

bool IsAllowedName(CheckpointKind kind, std::string_view name) {
  if (std::find(kSharedFiles.begin(), kSharedFiles.end(), name) != kSharedFiles.end()) return true;
  if (kind == CheckpointKind::kLoraAdapter) {
    return name == "adapter_config.json" || name == "adapter_model.safetensors";
  }
  return name == "config.json" || name == "generation_config.json" || name == "model.safetensors.index.json" ||
         IsSafetensorsName(name);
}

void AppendU32(std::string& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
void AppendU64(std::string& out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A printable, bounded rendering of a file name for error messages (names come from miners).
std::string Quoted(std::string_view name) {
  std::string out = "\"";
  for (char c : name.substr(0, 80)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out + (name.size() > 80 ? "...\"" : "\"");
}

}  // namespace

std::string DescribeCheckpointFile(const CheckpointManifest& manifest, size_t index) {
  return "file " + std::to_string(index) + " " + Quoted(manifest.files[index].path);
}

Status ValidateCheckpointManifest(const CheckpointManifest& manifest) {
  if (manifest.kind != CheckpointKind::kLoraAdapter && manifest.kind != CheckpointKind::kFullModel) {
    return Status::InvalidArgument("manifest: unknown checkpoint kind");
  }
  if (manifest.files.empty() || manifest.files.size() > kMaxCheckpointFiles) {
    return Status::InvalidArgument("manifest: 1 to " + std::to_string(kMaxCheckpointFiles) + " files, got " +
                                   std::to_string(manifest.files.size()));
  }
  std::set<std::string_view> names;
  size_t weight_files = 0;
  for (size_t i = 0; i < manifest.files.size(); ++i) {
    const std::string& name = manifest.files[i].path;
    const std::string where = "manifest " + DescribeCheckpointFile(manifest, i);
    for (std::string_view suffix : kPickleSuffixes) {
      if (EndsWith(name, suffix)) return Status::InvalidArgument(where + ": pickled formats are refused; use safetensors");
    }
    if (!IsAllowedName(manifest.kind, name)) {
      return Status::InvalidArgument(where + ": not a file a " +
                                     (manifest.kind == CheckpointKind::kLoraAdapter ? "LoRA adapter" : "full model") +
                                     " checkpoint may contain");
    }
    if (!names.insert(name).second) return Status::InvalidArgument(where + ": listed twice");
    if (EndsWith(name, ".safetensors")) ++weight_files;
  }
  const auto needs = [&](std::string_view name) -> Status {
    if (names.contains(name)) return Status::Ok();
    return Status::InvalidArgument("manifest: a " +
                                   std::string(manifest.kind == CheckpointKind::kLoraAdapter ? "LoRA adapter"
                                                                                             : "full model") +
                                   " checkpoint needs " + std::string(name));
  };
  if (manifest.kind == CheckpointKind::kLoraAdapter) {
    GRADIENTS_RETURN_IF_ERROR(needs("adapter_config.json"));
    return needs("adapter_model.safetensors");
  }
  GRADIENTS_RETURN_IF_ERROR(needs("config.json"));
  if (weight_files == 0) return Status::InvalidArgument("manifest: a full model checkpoint needs a *.safetensors file");
  if (weight_files > 1) return needs("model.safetensors.index.json");
  return Status::Ok();
}

std::string EncodeCheckpointManifest(const CheckpointManifest& manifest) {
  std::string out(kMagic);
  out.push_back(static_cast<char>(manifest.kind));
  AppendU32(out, static_cast<uint32_t>(manifest.files.size()));
  for (const CheckpointFileEntry& file : manifest.files) {
    AppendU32(out, static_cast<uint32_t>(file.path.size()));
    out += file.path;
    AppendU64(out, file.size_bytes);
    out.push_back(file.algorithm == DigestAlgorithm::kBlake2b256 ? 1 : 2);
    out.append(reinterpret_cast<const char*>(file.digest.data()), file.digest.size());
  }
  return out;
}

Digest CheckpointManifestDigest(const CheckpointManifest& manifest) {
  return ComputeDigest(DigestAlgorithm::kBlake2b256, EncodeCheckpointManifest(manifest));
}

uint64_t CheckpointBytes(const CheckpointManifest& manifest) {
  uint64_t total = 0;
  for (const CheckpointFileEntry& file : manifest.files) {
    total = file.size_bytes > UINT64_MAX - total ? UINT64_MAX : total + file.size_bytes;
  }
  return total;
}

Result<CheckpointManifest> BuildCheckpointManifest(const std::filesystem::path& dir, CheckpointKind kind) {
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file(error)) files.push_back(it->path());
  }
  if (error) return Status::IoError("checkpoint " + dir.string() + ": " + error.message());
  std::sort(files.begin(), files.end());
  CheckpointManifest manifest{.kind = kind, .files = {}};
  for (const std::filesystem::path& file : files) {
    Result<Digest> digest = DigestFile(DigestAlgorithm::kBlake2b256, file);
    if (!digest.ok()) return digest.status();
    const uintmax_t size = std::filesystem::file_size(file, error);
    if (error) return Status::IoError(file.string() + ": " + error.message());
    manifest.files.push_back({.path = file.filename().string(), .size_bytes = size, .algorithm = {}, .digest = *digest});
  }
  GRADIENTS_RETURN_IF_ERROR(ValidateCheckpointManifest(manifest).WithContext("checkpoint " + dir.string()));
  return manifest;
}

}  // namespace gradients::common
