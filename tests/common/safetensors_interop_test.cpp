// Reads a file that Hugging Face's safetensors library wrote (bench/gpu/safetensors_interop.py,
// run on the GPU machine, which has the library; the file is committed test data).
#include <cstring>

#include <gtest/gtest.h>

#include "common/safetensors.h"

namespace gradients::common {
namespace {

const std::filesystem::path kWrittenByHuggingFace =
    std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "safetensors/valid/written_by_huggingface.safetensors";

template <typename T>
std::vector<T> Values(const SafetensorsFile& file, const SafetensorsTensor& tensor) {
  std::span<const uint8_t> bytes = file.Data(tensor);
  std::vector<T> values(bytes.size() / sizeof(T));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(T));  // x86-64 is little-endian, as the format
  return values;
}

struct Expected {
  const char* name;
  DType dtype;
  std::vector<uint64_t> shape;
};

TEST(SafetensorsInterop, ReadsAFileWrittenByHuggingFace) {
  Result<SafetensorsFile> file = SafetensorsFile::Open(kWrittenByHuggingFace);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const SafetensorsHeader& header = file->header();
  EXPECT_EQ(header.metadata, (std::map<std::string, std::string>{{"format", "pt"},
                                                                 {"producer", "huggingface-safetensors"}}));
  const std::vector<Expected> expected = {
      {"f32", DType::kF32, {2, 3}},  {"bf16", DType::kBF16, {4}},     {"f16", DType::kF16, {3}},
      {"f8_e4m3", DType::kF8E4M3, {2}}, {"i64_scalar", DType::kI64, {}}, {"i32", DType::kI32, {1, 2}},
      {"u8", DType::kU8, {5}},       {"bool", DType::kBool, {3}},     {"empty", DType::kF32, {0, 4}},
  };
  ASSERT_EQ(header.tensors.size(), expected.size());
  for (const Expected& e : expected) {
    const SafetensorsTensor* tensor = header.Find(e.name);
    ASSERT_NE(tensor, nullptr) << e.name;
    EXPECT_EQ(tensor->dtype, e.dtype) << e.name;
    EXPECT_EQ(tensor->shape, e.shape) << e.name;
  }
  EXPECT_EQ(Values<float>(*file, *header.Find("f32")), (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f}));
  // -1, 0, 1, 2 in bfloat16; 0, 0.5, 1 in IEEE half; 1, -2 in float8 e4m3fn.
  EXPECT_EQ(Values<uint16_t>(*file, *header.Find("bf16")), (std::vector<uint16_t>{0xBF80, 0x0000, 0x3F80, 0x4000}));
  EXPECT_EQ(Values<uint16_t>(*file, *header.Find("f16")), (std::vector<uint16_t>{0x0000, 0x3800, 0x3C00}));
  EXPECT_EQ(Values<uint8_t>(*file, *header.Find("f8_e4m3")), (std::vector<uint8_t>{0x38, 0xC0}));
  EXPECT_EQ(Values<int64_t>(*file, *header.Find("i64_scalar")), std::vector<int64_t>{7});
  EXPECT_EQ(Values<int32_t>(*file, *header.Find("i32")), (std::vector<int32_t>{-1, 2}));
  EXPECT_EQ(Values<uint8_t>(*file, *header.Find("u8")), (std::vector<uint8_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Values<uint8_t>(*file, *header.Find("bool")), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_TRUE(file->Data(*header.Find("empty")).empty());
}

}  // namespace
}  // namespace gradients::common
