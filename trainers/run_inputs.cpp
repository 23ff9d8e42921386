#include "trainers/run_inputs.h"

#include <algorithm>
#include <fstream>

#include "common/digest.h"
#include "common/durable_file.h"
#include "common/hex.h"

namespace gradients::train {
namespace {

// Up to `bytes` bytes at both ends of a file (its whole content when it is short).
std::string FileEnds(const std::filesystem::path& path, uint64_t size, uint64_t bytes) {
  std::ifstream file(path, std::ios::binary);
  std::string head(static_cast<size_t>(std::min(size, bytes)), '\0');
  file.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (size <= 2 * bytes) return head;
  std::string tail(static_cast<size_t>(bytes), '\0');
  file.seekg(static_cast<std::streamoff>(size - bytes));
  file.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return head + tail;
}

}  // namespace

common::Status CheckVocabulary(const std::vector<text::TokenizedExample>& examples, int64_t vocab_size) {
  for (size_t i = 0; i < examples.size(); ++i) {
    for (int32_t id : examples[i].input_ids) {
      if (id < 0 || id >= vocab_size) {
        return common::Status::InvalidArgument("example " + std::to_string(i + 1) + ": token id " + std::to_string(id) +
                                               " is outside the model's vocabulary of " + std::to_string(vocab_size));
      }
    }
    for (int32_t label : examples[i].labels) {
      if (label != text::kIgnoredLabel && (label < 0 || label >= vocab_size)) {
        return common::Status::InvalidArgument("example " + std::to_string(i + 1) + ": label " + std::to_string(label) +
                                               " is outside the model's vocabulary of " + std::to_string(vocab_size));
      }
    }
  }
  return common::Status::Ok();
}

std::string DataDigest(const std::vector<text::TokenizedExample>& examples) {
  std::string bytes;
  auto append = [&bytes](int64_t value) { bytes.append(reinterpret_cast<const char*>(&value), sizeof(value)); };
  for (const text::TokenizedExample& example : examples) {
    append(static_cast<int64_t>(example.input_ids.size()));
    for (int32_t id : example.input_ids) append(id);
    for (int32_t label : example.labels) append(label);
  }
  return common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, bytes));
}

common::Result<std::string> ModelFingerprint(const std::filesystem::path& model_dir) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string identity, common::ReadFileToString(model_dir / "config.json", 16 << 20));
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(model_dir, error)) {
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  }
  if (error) return common::Status::IoError("reading " + model_dir.string() + ": " + error.message());
  std::sort(files.begin(), files.end());
  for (const std::filesystem::path& file : files) {
    const uint64_t size = std::filesystem::file_size(file, error);
    if (error) return common::Status::IoError("reading " + file.string() + ": " + error.message());
    identity += "\n" + file.filename().string() + ":" + std::to_string(size) + ":" + FileEnds(file, size, 1 << 20);
  }
  return common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, identity));
}

}  // namespace gradients::train
