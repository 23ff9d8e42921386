#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/safetensors.h"
#include "common/strict_json.h"

namespace gradients::common {
namespace {

using json = nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";

// Escaped and bounded: a name may be long or hold bytes that are not UTF-8.
std::string Quote(std::string_view text) { return JsonSnippet(json(std::string(text)), 66); }

}  // namespace

Status SafetensorsWriter::Add(std::string name, DType dtype, std::vector<uint64_t> shape,
                              std::span<const uint8_t> data) {
  if (name.empty()) return Status::InvalidArgument("tensor name is empty");
  if (name == kMetadataKey) return Status::InvalidArgument("tensor name \"__metadata__\" is reserved for metadata");
  if (std::optional<size_t> bad = FindInvalidUtf8(name)) {
    return Status::InvalidArgument("tensor name " + Quote(name) + " is not valid UTF-8 at byte " +
                                   std::to_string(*bad));
  }
  const std::string where = "tensor " + Quote(name) + ": ";
  if (tensors_.contains(name)) return Status::InvalidArgument(where + "added twice");
  if (DTypeSize(dtype) == 0) {
    return Status::InvalidArgument(where + "dtype value " + std::to_string(static_cast<int>(dtype)) +
                                   " is not a DType");
  }
  const size_t max_rank = SafetensorsLimits{}.max_rank;
  if (shape.size() > max_rank) {
    return Status::InvalidArgument(where + "rank " + std::to_string(shape.size()) + " exceeds the limit of " +
                                   std::to_string(max_rank));
  }
  Result<uint64_t> byte_size_or = TensorByteSize(dtype, shape);
  if (!byte_size_or.ok()) return Status::InvalidArgument(where + byte_size_or.status().message());
  uint64_t byte_size = *byte_size_or;
  if (data.size() != byte_size) {
    return Status::InvalidArgument(where + "data is " + std::to_string(data.size()) + " bytes but shape " +
                                   JsonSnippet(json(shape)) + " of " + std::string(DTypeName(dtype)) + " needs " +
                                   std::to_string(byte_size));
  }
  tensors_.emplace(std::move(name), Entry{dtype, std::move(shape), std::vector<uint8_t>(data.begin(), data.end())});
  return Status::Ok();
}

void SafetensorsWriter::SetMetadata(std::map<std::string, std::string> metadata) { metadata_ = std::move(metadata); }

// Wider elements first: the data section starts 8-aligned, so every tensor starts at a multiple
// of its element size and an mmap'ed file can be read in place.
std::vector<std::pair<const std::string*, const SafetensorsWriter::Entry*>> SafetensorsWriter::DataOrder() const {
  std::vector<std::pair<const std::string*, const Entry*>> order;
  order.reserve(tensors_.size());
  for (const auto& [name, entry] : tensors_) order.emplace_back(&name, &entry);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return DTypeSize(a.second->dtype) > DTypeSize(b.second->dtype);
  });
  return order;
}

std::string SafetensorsWriter::SerializeHeader() const {
  json header = json::object();
  if (!metadata_.empty()) header[std::string(kMetadataKey)] = metadata_;
  uint64_t offset = 0;
  for (const auto& [name, entry] : DataOrder()) {
    const uint64_t end = offset + entry->data.size();
    header[*name] = {
        {"dtype", std::string(DTypeName(entry->dtype))},
        {"shape", entry->shape},
        {"data_offsets", json::array({offset, end})},
    };
    offset = end;
  }
  // Tensor names were checked in Add; only metadata can hold invalid UTF-8.
  std::string text = header.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
  // The reference writer pads so that the data section starts 8-aligned.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out(8, '\0');
  uint64_t length = text.size();
  for (size_t i = 0; i < 8; ++i) out[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  out += text;
  return out;
}

std::string SafetensorsWriter::Serialize() const {
  std::string out = SerializeHeader();
  for (const auto& [name, entry] : DataOrder()) {
    out.append(reinterpret_cast<const char*>(entry->data.data()), entry->data.size());
  }
  return out;
}

// Streams instead of building Serialize()'s string, so a full model is not held twice in memory.
Status SafetensorsWriter::WriteFile(const std::filesystem::path& path) const {
  GRADIENTS_ASSIGN_OR_RETURN(DurableFileWriter file, DurableFileWriter::Create(path));
  GRADIENTS_RETURN_IF_ERROR(file.Append(SerializeHeader()));
  for (const auto& [name, entry] : DataOrder()) {
    GRADIENTS_RETURN_IF_ERROR(file.Append(std::span<const uint8_t>(entry->data)));
  }
  return file.Commit();
}

}  // namespace gradients::common
