#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/safetensors.h"
#include "common/strict_json.h"

namespace gradients::common {
namespace {

using json = nlohmann::json;

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr std::array<DTypeInfo, 15> kDTypes = {{
    {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},   {DType::kI8, "I8", 1},     {DType::kF8E4M3, "F8_E4M3", 1},
    {DType::kF8E5M2, "F8_E5M2", 1}, {DType::kI16, "I16", 2}, {DType::kU16, "U16", 2}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI32, "I32", 4}, {DType::kU32, "U32", 4}, {DType::kF32, "F32", 4},
    {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8}, {DType::kU64, "U64", 8},
}};

// DTypeName and DTypeSize index the table by the enum's value.
constexpr bool TableMatchesEnum() {
  for (size_t i = 0; i < kDTypes.size(); ++i) {
    if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
  }
  return true;
}
static_assert(TableMatchesEnum());

// Shapes, offsets and the whole header are nested at most three levels deep.
constexpr size_t kMaxJsonDepth = 4;
constexpr std::string_view kMetadataKey = "__metadata__";

// Names and values come from the file: quoted, escaped and bounded before they reach a message.
std::string Quote(std::string_view text) { return JsonSnippet(json(std::string(text)), 66); }

std::string Describe(const json& value) { return JsonSnippet(value); }

std::string TypeName(const json& value) { return value.type_name(); }

std::optional<uint64_t> AsUnsigned(const json& value) {
  if (!value.is_number_unsigned()) return std::nullopt;
  return value.get<uint64_t>();
}

uint64_t ReadLittleEndian64(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

Status ParseMetadata(const json& value, std::map<std::string, std::string>& out) {
  if (!value.is_object()) {
    return Status::InvalidArgument("__metadata__ must be an object of strings, got the " + TypeName(value) + " " +
                                   Describe(value));
  }
  for (const auto& [key, entry] : value.items()) {
    if (!entry.is_string()) {
      return Status::InvalidArgument("__metadata__ " + Quote(key) + ": value must be a string, got " +
                                     Describe(entry));
    }
    out.emplace(key, entry.get<std::string>());
  }
  return Status::Ok();
}

Result<std::vector<uint64_t>> ParseShape(const std::string& where, const json& shape, const SafetensorsLimits& limits) {
  if (!shape.is_array()) {
    return Status::InvalidArgument(where + "shape must be an array, got " + Describe(shape));
  }
  if (shape.size() > limits.max_rank) {
    return Status::InvalidArgument(where + "rank " + std::to_string(shape.size()) + " exceeds the limit of " +
                                   std::to_string(limits.max_rank));
  }
  std::vector<uint64_t> dims;
  dims.reserve(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    std::optional<uint64_t> dim = AsUnsigned(shape[i]);
    if (!dim) {
      return Status::InvalidArgument(where + "shape[" + std::to_string(i) + "] is " + Describe(shape[i]) +
                                     ", not a non-negative integer");
    }
    dims.push_back(*dim);
  }
  return dims;
}


Result<SafetensorsTensor> ParseTensor(const std::string& name, const json& entry, const SafetensorsLimits& limits) {
  const std::string where = "tensor " + Quote(name) + ": ";
  if (!entry.is_object()) {
    return Status::InvalidArgument(where + "entry is a " + TypeName(entry) + ", not an object");
  }
  for (const auto& [field, unused] : entry.items()) {
    if (field != "dtype" && field != "shape" && field != "data_offsets") {
      return Status::InvalidArgument(where + "unknown field " + Quote(field) +
                                     " (allowed: dtype, shape, data_offsets)");
    }
  }
  for (const char* field : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(field)) return Status::InvalidArgument(where + "missing field \"" + field + "\"");
  }

  SafetensorsTensor tensor;
  tensor.name = name;
  const json& dtype = entry.at("dtype");
  if (!dtype.is_string()) return Status::InvalidArgument(where + "dtype must be a string, got " + Describe(dtype));
  std::optional<DType> parsed = DTypeFromName(dtype.get_ref<const std::string&>());
  if (!parsed) return Status::InvalidArgument(where + "unknown dtype " + Describe(dtype));
  tensor.dtype = *parsed;

  GRADIENTS_ASSIGN_OR_RETURN(tensor.shape, ParseShape(where, entry.at("shape"), limits));
  Result<uint64_t> byte_size_or = TensorByteSize(tensor.dtype, tensor.shape);
  if (!byte_size_or.ok()) return Status::InvalidArgument(where + byte_size_or.status().message());
  uint64_t byte_size = *byte_size_or;

  const json& offsets = entry.at("data_offsets");
  std::optional<uint64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = AsUnsigned(offsets[0]);
    end = AsUnsigned(offsets[1]);
  }
  if (!begin || !end) {
    return Status::InvalidArgument(where + "data_offsets must be an array of two non-negative integers, got " +
                                   Describe(offsets));
  }
  if (*begin > *end) {
    return Status::InvalidArgument(where + "data_offsets begin " + std::to_string(*begin) + " is after end " +
                                   std::to_string(*end));
  }
  tensor.data_begin = *begin;
  tensor.data_end = *end;
  if (*end - *begin != byte_size) {
    return Status::InvalidArgument(where + "data_offsets span " + std::to_string(*end - *begin) +
                                   " bytes but shape " + Describe(json(tensor.shape)) + " of " +
                                   std::string(DTypeName(tensor.dtype)) + " needs " + std::to_string(byte_size));
  }
  return tensor;
}

// After sorting by offset the spans must tile [0, data_size) exactly; zero-size tensors may share
// an offset with their neighbours.
Status CheckLayout(std::vector<SafetensorsTensor>& tensors, uint64_t data_size) {
  std::sort(tensors.begin(), tensors.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return std::tie(a.data_begin, a.data_end, a.name) < std::tie(b.data_begin, b.data_end, b.name);
  });
  uint64_t expected = 0;
  const SafetensorsTensor* previous = nullptr;
  for (const SafetensorsTensor& tensor : tensors) {
    if (tensor.data_begin < expected) {
      return Status::InvalidArgument("tensor " + Quote(tensor.name) + " starts at byte " +
                                     std::to_string(tensor.data_begin) + ", inside tensor " +
                                     Quote(previous->name) + " which ends at byte " + std::to_string(expected) +
                                     " (overlapping data)");
    }
    if (tensor.data_begin > expected) {
      if (previous == nullptr) {
        return Status::InvalidArgument("the first tensor " + Quote(tensor.name) + " starts at byte " +
                                       std::to_string(tensor.data_begin) + " instead of 0 (unused bytes)");
      }
      return Status::InvalidArgument("tensor " + Quote(tensor.name) + " starts at byte " +
                                     std::to_string(tensor.data_begin) + ", leaving a gap after tensor " +
                                     Quote(previous->name) + " which ends at byte " + std::to_string(expected));
    }
    if (tensor.data_end > data_size) {
      return Status::InvalidArgument("tensor " + Quote(tensor.name) + " ends at byte " +
                                     std::to_string(tensor.data_end) + ", past the end of the " +
                                     std::to_string(data_size) + "-byte data section (truncated file)");
    }
    expected = tensor.data_end;
    previous = &tensor;
  }
  if (expected != data_size) {
    return Status::InvalidArgument(std::to_string(data_size - expected) +
                                   " trailing bytes after the tensor data, which ends at byte " +
                                   std::to_string(expected) + " of the data section");
  }
  return Status::Ok();
}

// Checks the prefix and returns the header length.
Result<uint64_t> ParseLengthPrefix(std::span<const uint8_t> bytes, uint64_t file_size,
                                   const SafetensorsLimits& limits) {
  if (file_size < 8) {
    return Status::InvalidArgument("file is " + std::to_string(file_size) +
                                   " bytes, shorter than the 8-byte header length prefix");
  }
  if (bytes.size() > file_size) {
    return Status::InvalidArgument("buffer of " + std::to_string(bytes.size()) +
                                   " bytes is larger than the file size " + std::to_string(file_size));
  }
  if (bytes.size() < 8) {
    return Status::InvalidArgument("buffer holds only " + std::to_string(bytes.size()) +
                                   " bytes of the 8-byte header length prefix");
  }
  uint64_t header_size = ReadLittleEndian64(bytes.data());
  if (header_size > limits.max_header_bytes) {
    return Status::ResourceExhausted("header length " + std::to_string(header_size) + " exceeds the limit of " +
                                     std::to_string(limits.max_header_bytes) + " bytes");
  }
  if (header_size > file_size - 8) {
    return Status::InvalidArgument("header length " + std::to_string(header_size) +
                                   " runs past the end of the file (" + std::to_string(file_size - 8) +
                                   " bytes follow the prefix)");
  }
  if (header_size > bytes.size() - 8) {
    return Status::InvalidArgument("buffer holds " + std::to_string(bytes.size() - 8) + " of the header's " +
                                   std::to_string(header_size) + " bytes");
  }
  return header_size;
}

}  // namespace

// Like the reference implementation, an intermediate overflow is an error even when a later
// dimension is 0: the product is computed left to right and must fit at every step.
Result<uint64_t> TensorByteSize(DType dtype, const std::vector<uint64_t>& shape) {
  uint64_t elements = 1;
  for (uint64_t dim : shape) {
    if (__builtin_mul_overflow(elements, dim, &elements)) {
      return Status::InvalidArgument("element count of shape " + JsonSnippet(json(shape)) + " overflows 64 bits");
    }
  }
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(DTypeSize(dtype)), &bytes)) {
    return Status::InvalidArgument("byte size of " + std::to_string(elements) + " " + std::string(DTypeName(dtype)) +
                                   " elements overflows 64 bits");
  }
  return bytes;
}

std::string_view DTypeName(DType dtype) {
  size_t index = static_cast<size_t>(dtype);
  return index < kDTypes.size() ? kDTypes[index].name : "INVALID";
}

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  return std::nullopt;
}

size_t DTypeSize(DType dtype) {
  size_t index = static_cast<size_t>(dtype);
  return index < kDTypes.size() ? kDTypes[index].size : 0;
}

const SafetensorsTensor* SafetensorsHeader::Find(std::string_view name) const {
  for (const SafetensorsTensor& tensor : tensors) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

Result<SafetensorsHeader> ParseSafetensorsHeader(std::span<const uint8_t> bytes, uint64_t file_size,
                                                 const SafetensorsLimits& limits) {
  SafetensorsHeader header;
  GRADIENTS_ASSIGN_OR_RETURN(header.header_size, ParseLengthPrefix(bytes, file_size, limits));
  std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, header.header_size);

  if (std::optional<size_t> bad = FindInvalidUtf8(text)) {
    return Status::InvalidArgument("header is not valid UTF-8 at header byte " + std::to_string(*bad) +
                                   " (file byte " + std::to_string(*bad + 8) + ")");
  }
  Result<json> parsed = ParseStrictJson(text, StrictJsonOptions{.max_depth = kMaxJsonDepth});
  if (!parsed.ok()) return parsed.status().WithContext("header");
  const json& root = *parsed;
  if (!root.is_object()) {
    return Status::InvalidArgument("header is a JSON " + TypeName(root) + ", not an object");
  }

  for (const auto& [name, entry] : root.items()) {
    if (name == kMetadataKey) {
      GRADIENTS_RETURN_IF_ERROR(ParseMetadata(entry, header.metadata));
      continue;
    }
    if (name.empty()) return Status::InvalidArgument("tensor entry with an empty name");
    GRADIENTS_ASSIGN_OR_RETURN(SafetensorsTensor tensor, ParseTensor(name, entry, limits));
    header.tensors.push_back(std::move(tensor));
  }
  GRADIENTS_RETURN_IF_ERROR(CheckLayout(header.tensors, file_size - header.data_offset()));
  return header;
}

Result<SafetensorsFile> SafetensorsFile::Open(const std::filesystem::path& path, const SafetensorsLimits& limits) {
  const std::string context = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", errno).WithContext(context);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int saved = errno;
    ::close(fd);
    return ErrnoStatus("fstat", saved).WithContext(context);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("not a regular file").WithContext(context);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint8_t* mapping = nullptr;
  if (size > 0) {
    void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      int saved = errno;
      ::close(fd);
      return ErrnoStatus("mmap", saved).WithContext(context);
    }
    mapping = static_cast<const uint8_t*>(address);
  }
  ::close(fd);  // the mapping keeps the file's pages reachable

  SafetensorsFile file(path, mapping, size);
  Result<SafetensorsHeader> header = ParseSafetensorsHeader({mapping, size}, size, limits);
  if (!header.ok()) return header.status().WithContext(context);
  file.header_ = std::move(header).value();
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      mapping_(std::exchange(other.mapping_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      header_(std::move(other.header_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    Unmap();
    path_ = std::move(other.path_);
    mapping_ = std::exchange(other.mapping_, nullptr);
    size_ = std::exchange(other.size_, 0);
    header_ = std::move(other.header_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() { Unmap(); }

void SafetensorsFile::Unmap() {
  if (mapping_ != nullptr) ::munmap(const_cast<uint8_t*>(mapping_), size_);
  mapping_ = nullptr;
  size_ = 0;
}

std::span<const uint8_t> SafetensorsFile::Data(const SafetensorsTensor& tensor) const {
  if (mapping_ == nullptr) return {};
  const uint64_t data_size = size_ >= header_.data_offset() ? size_ - header_.data_offset() : 0;
  if (tensor.data_begin > tensor.data_end || tensor.data_end > data_size) return {};
  return {mapping_ + header_.data_offset() + tensor.data_begin, tensor.data_end - tensor.data_begin};
}

}  // namespace gradients::common
