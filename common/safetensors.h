// Safetensors files: the only model format Gradients accepts (DESIGN.md, Checkpoints).
//
// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data
// section. The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" of string pairs.
//
// Files come from miners, so the reader trusts nothing: every size is checked with overflow-safe
// arithmetic, and the tensors must tile the data section exactly (no overlap, no gap, no
// trailing bytes), so two readers can never disagree about which bytes belong to which tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/utf8.h"  // FindInvalidUtf8

namespace gradients::common {

enum class DType : uint8_t { kBool, kU8, kI8, kF8E4M3, kF8E5M2, kI16, kU16, kF16, kBF16, kI32, kU32, kF32, kF64, kI64, kU64 };

// The spec's name ("BF16", "F8_E4M3", ...); "INVALID" for a value outside the enum.
std::string_view DTypeName(DType dtype);
// The whitelist: exactly the names DTypeName returns; anything else is nullopt.
std::optional<DType> DTypeFromName(std::string_view name);
// Bytes per element; 0 for a value outside the enum.
size_t DTypeSize(DType dtype);
// product(shape) * DTypeSize(dtype); InvalidArgument when it overflows 64 bits.
Result<uint64_t> TensorByteSize(DType dtype, const std::vector<uint64_t>& shape);

struct SafetensorsTensor {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;  // empty for a scalar
  uint64_t data_begin = 0;      // offsets relative to the data section (as in the file)
  uint64_t data_end = 0;
};

struct SafetensorsHeader {
  uint64_t header_size = 0;                     // JSON length in bytes, excluding the 8-byte prefix
  std::vector<SafetensorsTensor> tensors;       // sorted by data_begin (then data_end, then name)
  std::map<std::string, std::string> metadata;  // the __metadata__ entry, if any
  uint64_t data_offset() const { return 8 + header_size; }
  // Linear search; nullptr when there is no tensor of that name.
  const SafetensorsTensor* Find(std::string_view name) const;
};

struct SafetensorsLimits {
  // Header length cap. The reference implementation allows 100 MB; real headers are a few
  // hundred KB even for sharded 70B models, and the JSON DOM costs several times its text.
  uint64_t max_header_bytes = 16ull << 20;
  // Shapes of higher rank are rejected; the writer enforces the default.
  size_t max_rank = 8;
};

// Parses and validates the header of a safetensors file.
// `bytes` starts at the file's first byte and holds at least the 8-byte prefix and the JSON header
// (it may hold the whole file); `file_size` is the size of the whole file, used to check that the
// tensors cover the data section exactly. Errors are InvalidArgument (ResourceExhausted for a header
// above `limits.max_header_bytes`) and name the offending tensor or value. Safe on arbitrary input.
Result<SafetensorsHeader> ParseSafetensorsHeader(std::span<const uint8_t> bytes, uint64_t file_size,
                                                 const SafetensorsLimits& limits = {});


// A validated safetensors file mapped read-only into memory. Move-only; the mapping lives as long
// as the object, and every span from Data() dies with it. Thread-safe for concurrent reads.
// The mapping is shared with the file: truncating the file while it is open raises SIGBUS on
// access, so open only files this process owns (blob store, checkpoint directories).
class SafetensorsFile {
 public:
  // Errors are prefixed with the path ("path: message").
  static Result<SafetensorsFile> Open(const std::filesystem::path& path, const SafetensorsLimits& limits = {});

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const SafetensorsHeader& header() const { return header_; }
  const std::filesystem::path& path() const { return path_; }
  uint64_t file_size() const { return size_; }

  // The tensor's raw little-endian bytes. `tensor` must come from header(); one whose range lies
  // outside this file (a programmer error) yields an empty span.
  std::span<const uint8_t> Data(const SafetensorsTensor& tensor) const;

 private:
  SafetensorsFile(std::filesystem::path path, const uint8_t* mapping, uint64_t size)
      : path_(std::move(path)), mapping_(mapping), size_(size) {}
  void Unmap();

  std::filesystem::path path_;
  const uint8_t* mapping_ = nullptr;  // null for an empty file, which mmap cannot map
  uint64_t size_ = 0;
  SafetensorsHeader header_;
};

// Builds a safetensors file in memory. Output is deterministic: header keys sorted by name, data
// laid out by descending element size then name (as Hugging Face's serializer does, so that each
// tensor's bytes are aligned to its element size), header padded with spaces to a multiple of 8.
// Not thread-safe.
class SafetensorsWriter {
 public:
  // Copies `data`. Errors (InvalidArgument): duplicate name, empty name, name "__metadata__", name not
  // UTF-8, rank > 8, element count or byte size overflow, data size != product(shape) * DTypeSize.
  Status Add(std::string name, DType dtype, std::vector<uint64_t> shape, std::span<const uint8_t> data);
  // Replaces the metadata; written only when non-empty. JSON holds only UTF-8, so invalid bytes in
  // keys or values are written as U+FFFD.
  void SetMetadata(std::map<std::string, std::string> metadata);

  std::string Serialize() const;  // the whole file's bytes
  // Durable (temporary file, fsync, rename): a reader sees the old file or the whole new one.
  Status WriteFile(const std::filesystem::path& path) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> data;
  };
  // The 8-byte prefix and padded JSON, and the tensors in data order.
  std::string SerializeHeader() const;
  std::vector<std::pair<const std::string*, const Entry*>> DataOrder() const;

  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace gradients::common
