#include "common/safetensors.h"

#include <bit>
#include <set>

#include <gtest/gtest.h>

#include "common/durable_file.h"
#include "tests/support/temp_dir.h"

namespace gradients::common {
namespace {

const std::filesystem::path kCorpus = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "safetensors";

std::span<const uint8_t> AsBytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::vector<uint8_t> F32Bytes(std::initializer_list<float> values) {
  std::vector<uint8_t> out;
  for (float value : values) {
    uint32_t bits = std::bit_cast<uint32_t>(value);
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  }
  return out;
}

std::vector<uint8_t> Iota(size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 + 1);
  return out;
}

std::vector<uint8_t> ToVector(std::span<const uint8_t> bytes) { return {bytes.begin(), bytes.end()}; }

Result<SafetensorsHeader> ParseWhole(std::string_view file, const SafetensorsLimits& limits = {}) {
  return ParseSafetensorsHeader(AsBytes(file), file.size(), limits);
}

// The same tensors make_corpus.py writes to valid/golden.safetensors.
SafetensorsWriter GoldenWriter() {
  SafetensorsWriter writer;
  std::vector<uint8_t> step = {0xD2, 0x04, 0, 0, 0, 0, 0, 0};  // 1234
  std::vector<uint8_t> bias = {0x00, 0x3C, 0x00, 0x38, 0x00, 0xBC};  // F16 1, 0.5, -1
  std::vector<uint8_t> mask = {1, 0, 1, 1, 0};
  EXPECT_TRUE(writer.Add("step", DType::kI64, {}, step).ok());
  EXPECT_TRUE(writer.Add("embed.weight", DType::kF32, {2, 2}, F32Bytes({1.0f, -2.0f, 0.5f, 3.25f})).ok());
  EXPECT_TRUE(writer.Add("bias", DType::kF16, {3}, bias).ok());
  EXPECT_TRUE(writer.Add("empty", DType::kBF16, {0, 4}, {}).ok());
  EXPECT_TRUE(writer.Add("mask", DType::kBool, {5}, mask).ok());
  writer.SetMetadata({{"format", "pt"}, {"source", "make_corpus.py"}});
  return writer;
}

TEST(SafetensorsDType, NamesAndSizesFollowTheSpec) {
  const std::vector<std::tuple<DType, std::string_view, size_t>> expected = {
      {DType::kBool, "BOOL", 1}, {DType::kU8, "U8", 1},     {DType::kI8, "I8", 1},   {DType::kF8E4M3, "F8_E4M3", 1},
      {DType::kF8E5M2, "F8_E5M2", 1}, {DType::kI16, "I16", 2}, {DType::kU16, "U16", 2}, {DType::kF16, "F16", 2},
      {DType::kBF16, "BF16", 2}, {DType::kI32, "I32", 4},   {DType::kU32, "U32", 4}, {DType::kF32, "F32", 4},
      {DType::kF64, "F64", 8},   {DType::kI64, "I64", 8},   {DType::kU64, "U64", 8},
  };
  for (const auto& [dtype, name, size] : expected) {
    EXPECT_EQ(DTypeName(dtype), name);
    EXPECT_EQ(DTypeSize(dtype), size) << name;
    EXPECT_EQ(DTypeFromName(name), dtype) << name;
  }
}

TEST(SafetensorsDType, RejectsNamesOutsideTheWhitelist) {
  for (std::string_view name : {"", "f32", "F128", "F32 ", "FLOAT", "F8_E4M3FN", "C64"}) {
    EXPECT_FALSE(DTypeFromName(name).has_value()) << name;
  }
}

TEST(SafetensorsUtf8, AcceptsWellFormedText) {
  EXPECT_EQ(FindInvalidUtf8(""), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("plain \x7f ascii"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"), std::nullopt);
}

TEST(SafetensorsUtf8, ReportsTheOffsetOfTheFirstMalformedSequence) {
  EXPECT_EQ(FindInvalidUtf8("ab\xff"), 2u);
  EXPECT_EQ(FindInvalidUtf8("a\x80"), 1u) << "lone continuation byte";
  EXPECT_EQ(FindInvalidUtf8("a\xc0\x80"), 1u) << "overlong NUL";
  EXPECT_EQ(FindInvalidUtf8("\xe0\x80\xaf"), 0u) << "overlong three-byte form";
  EXPECT_EQ(FindInvalidUtf8("x\xed\xa0\x80"), 1u) << "UTF-16 surrogate";
  EXPECT_EQ(FindInvalidUtf8("\xf4\x90\x80\x80"), 0u) << "above U+10FFFF";
  EXPECT_EQ(FindInvalidUtf8("ok\xe2\x82"), 2u) << "truncated sequence";
  EXPECT_EQ(FindInvalidUtf8("\xe2\x28\xa1"), 0u) << "bad continuation byte";
}

TEST(SafetensorsWriter, RoundTripsSeveralDTypesAndShapesIncludingScalarsAndZeroSizeTensors) {
  struct Case {
    std::string name;
    DType dtype;
    std::vector<uint64_t> shape;
    std::vector<uint8_t> data;
  };
  const std::vector<Case> cases = {
      {"f32", DType::kF32, {2, 3}, Iota(24)},       {"bf16", DType::kBF16, {4}, Iota(8)},
      {"scalar", DType::kI64, {}, Iota(8)},          {"zero", DType::kU8, {0}, {}},
      {"zero.wide", DType::kF64, {3, 0, 2}, {}},     {"f64", DType::kF64, {1, 1, 1}, Iota(8)},
      {"mask", DType::kBool, {3}, {1, 0, 1}},        {"fp8", DType::kF8E4M3, {2, 2}, Iota(4)},
      {"u16", DType::kU16, {1, 2, 1, 1, 1, 1, 1, 1}, Iota(4)},
  };
  SafetensorsWriter writer;
  for (const Case& c : cases) ASSERT_TRUE(writer.Add(c.name, c.dtype, c.shape, c.data).ok()) << c.name;
  const std::string file = writer.Serialize();

  Result<SafetensorsHeader> header = ParseWhole(file);
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  ASSERT_EQ(header->tensors.size(), cases.size());
  EXPECT_TRUE(header->metadata.empty());
  for (const Case& c : cases) {
    const SafetensorsTensor* tensor = header->Find(c.name);
    ASSERT_NE(tensor, nullptr) << c.name;
    EXPECT_EQ(tensor->dtype, c.dtype) << c.name;
    EXPECT_EQ(tensor->shape, c.shape) << c.name;
    std::string_view bytes(file.data() + header->data_offset() + tensor->data_begin,
                           tensor->data_end - tensor->data_begin);
    EXPECT_EQ(ToVector(AsBytes(bytes)), c.data) << c.name;
  }
}

TEST(SafetensorsWriter, RoundTripsMetadata) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("w", DType::kF32, {1}, F32Bytes({1.5f})).ok());
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "quotes \" and \xc3\xa9"}, {"", ""}};
  writer.SetMetadata(metadata);
  Result<SafetensorsHeader> header = ParseWhole(writer.Serialize());
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->metadata, metadata);
}

TEST(SafetensorsWriter, OmitsMetadataWhenEmpty) {
  SafetensorsWriter writer;
  writer.SetMetadata({});
  EXPECT_EQ(writer.Serialize().find("__metadata__"), std::string::npos);
}

TEST(SafetensorsWriter, PadsTheHeaderWithSpacesSoTheDataStartsAtAMultipleOfEight) {
  for (size_t length = 1; length <= 16; ++length) {
    SafetensorsWriter writer;
    ASSERT_TRUE(writer.Add(std::string(length, 'n'), DType::kU8, {1}, Iota(1)).ok());
    const std::string file = writer.Serialize();
    Result<SafetensorsHeader> header = ParseWhole(file);
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    EXPECT_EQ(header->data_offset() % 8, 0u) << length;
    const std::string json(file.substr(8, header->header_size));
    EXPECT_EQ(json.find_last_not_of(' '), json.find_last_of('}')) << "only spaces follow the JSON";
  }
}

TEST(SafetensorsWriter, AlignsEveryTensorToItsElementSize) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("a.byte", DType::kU8, {3}, Iota(3)).ok());
  ASSERT_TRUE(writer.Add("b.half", DType::kF16, {1}, Iota(2)).ok());
  ASSERT_TRUE(writer.Add("c.float", DType::kF32, {1}, Iota(4)).ok());
  ASSERT_TRUE(writer.Add("d.double", DType::kF64, {1}, Iota(8)).ok());
  Result<SafetensorsHeader> header = ParseWhole(writer.Serialize());
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  for (const SafetensorsTensor& tensor : header->tensors) {
    EXPECT_EQ((header->data_offset() + tensor.data_begin) % DTypeSize(tensor.dtype), 0u) << tensor.name;
  }
}

TEST(SafetensorsWriter, OutputDoesNotDependOnTheOrderOfAdds) {
  SafetensorsWriter forward, backward;
  ASSERT_TRUE(forward.Add("x", DType::kF32, {1}, Iota(4)).ok());
  ASSERT_TRUE(forward.Add("y", DType::kF32, {2}, Iota(8)).ok());
  ASSERT_TRUE(backward.Add("y", DType::kF32, {2}, Iota(8)).ok());
  ASSERT_TRUE(backward.Add("x", DType::kF32, {1}, Iota(4)).ok());
  EXPECT_EQ(forward.Serialize(), backward.Serialize());
}

TEST(SafetensorsWriter, MatchesTheGoldenFileByteForByte) {
  Result<std::string> golden = ReadFileToString(kCorpus / "valid" / "golden.safetensors", 1 << 20);
  ASSERT_TRUE(golden.ok()) << golden.status().ToString();
  EXPECT_EQ(GoldenWriter().Serialize(), *golden);
}

TEST(SafetensorsWriter, RejectsInvalidTensorsNamingTheProblem) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("w", DType::kF32, {2}, Iota(8)).ok());
  const std::vector<std::tuple<std::string, DType, std::vector<uint64_t>, size_t, std::string>> cases = {
      {"w", DType::kF32, {2}, 8, "tensor \"w\": added twice"},
      {"", DType::kF32, {2}, 8, "tensor name is empty"},
      {"__metadata__", DType::kF32, {2}, 8, "reserved for metadata"},
      {"bad\xff", DType::kF32, {2}, 8, "is not valid UTF-8 at byte 3"},
      {"short", DType::kF32, {2}, 7, "tensor \"short\": data is 7 bytes but shape [2] of F32 needs 8"},
      {"deep", DType::kU8, std::vector<uint64_t>(9, 1), 1, "tensor \"deep\": rank 9 exceeds the limit of 8"},
      {"huge", DType::kU8, {1ull << 32, 1ull << 32}, 0, "element count of shape [4294967296,4294967296] overflows"},
      {"wide", DType::kF64, {1ull << 62}, 0, "byte size of 4611686018427387904 F64 elements overflows"},
      {"alien", static_cast<DType>(200), {1}, 1, "dtype value 200 is not a DType"},
  };
  for (const auto& [name, dtype, shape, size, message] : cases) {
    Status status = writer.Add(name, dtype, shape, Iota(size));
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(status.message().find(message), std::string::npos) << status.message();
  }
  EXPECT_EQ(ParseWhole(writer.Serialize())->tensors.size(), 1u) << "rejected tensors are not added";
}

TEST(SafetensorsWriter, WrittenFileReopensWithTheBytesThatWereWritten) {
  testing::TempDir dir;
  SafetensorsWriter writer;
  const std::vector<uint8_t> weights = F32Bytes({0.25f, -1.0f, 7.0f, 1e-3f, 42.0f, -0.0f});
  const std::vector<uint8_t> ids = Iota(3 * 8);
  ASSERT_TRUE(writer.Add("weights", DType::kF32, {2, 3}, weights).ok());
  ASSERT_TRUE(writer.Add("ids", DType::kI64, {3}, ids).ok());
  ASSERT_TRUE(writer.Add("none", DType::kBF16, {0}, {}).ok());
  writer.SetMetadata({{"task", "t-1"}});
  ASSERT_TRUE(writer.WriteFile(dir / "model.safetensors").ok());

  Result<SafetensorsFile> file = SafetensorsFile::Open(dir / "model.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->file_size(), writer.Serialize().size());
  EXPECT_EQ(file->header().metadata.at("task"), "t-1");
  EXPECT_EQ(ToVector(file->Data(*file->header().Find("weights"))), weights);
  EXPECT_EQ(ToVector(file->Data(*file->header().Find("ids"))), ids);
  EXPECT_TRUE(file->Data(*file->header().Find("none")).empty());
}

TEST(SafetensorsReader, OpensTheGoldenFile) {
  Result<SafetensorsFile> file = SafetensorsFile::Open(kCorpus / "valid" / "golden.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const SafetensorsHeader& header = file->header();
  EXPECT_EQ(header.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"source", "make_corpus.py"}}));
  std::vector<std::string> order;
  for (const SafetensorsTensor& tensor : header.tensors) order.push_back(tensor.name);
  EXPECT_EQ(order, (std::vector<std::string>{"step", "embed.weight", "bias", "empty", "mask"}))
      << "sorted by data_begin";
  const SafetensorsTensor* embed = header.Find("embed.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->dtype, DType::kF32);
  EXPECT_EQ(embed->shape, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(ToVector(file->Data(*embed)), F32Bytes({1.0f, -2.0f, 0.5f, 3.25f}));
  EXPECT_TRUE(header.Find("step")->shape.empty());
  EXPECT_EQ(header.Find("empty")->data_begin, header.Find("empty")->data_end);
  EXPECT_EQ(header.Find("missing"), nullptr);
}

TEST(SafetensorsReader, OpensAFileWithoutTensors) {
  Result<SafetensorsFile> file = SafetensorsFile::Open(kCorpus / "valid" / "no_tensors.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_TRUE(file->header().tensors.empty());
  EXPECT_TRUE(file->header().metadata.empty());
}

TEST(SafetensorsReader, OpensAnUnpaddedFileWithUnsortedKeysAndASharedZeroSizeOffset) {
  Result<SafetensorsFile> file = SafetensorsFile::Open(kCorpus / "valid" / "unpadded_unsorted.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const SafetensorsHeader& header = file->header();
  EXPECT_EQ(header.metadata.at("note"), "hand-made");
  ASSERT_EQ(header.tensors.size(), 3u);
  EXPECT_EQ(header.tensors[0].name, "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(header.tensors[1].name, "hollow");
  EXPECT_EQ(ToVector(file->Data(*header.Find("z"))), (std::vector<uint8_t>{7, 8, 9}));
}

struct MalformedCase {
  std::string_view file;  // under malformed/
  StatusCode code;
  std::string_view message;  // a substring of the error, after the "path: " prefix
};

constexpr StatusCode kInvalid = StatusCode::kInvalidArgument;
const MalformedCase kMalformed[] = {
    {"too_short", kInvalid, "file is 5 bytes, shorter than the 8-byte header length prefix"},
    {"header_length_above_cap", StatusCode::kResourceExhausted,
     "header length 1099511627776 exceeds the limit of 16777216 bytes"},
    {"header_length_past_end_of_file", kInvalid, "header length 100 runs past the end of the file (2 bytes follow"},
    {"invalid_utf8", kInvalid, "header is not valid UTF-8 at header byte 3 (file byte 11)"},
    {"not_json", kInvalid, "header: invalid JSON at byte 3"},
    {"nesting_too_deep", kInvalid, "header: nesting deeper than 4 levels"},
    {"header_not_object", kInvalid, "header is a JSON array, not an object"},
    {"duplicate_key", kInvalid, "header: duplicate key \"weight\""},
    {"tensor_entry_not_object", kInvalid, "tensor \"weight\": entry is a number, not an object"},
    {"tensor_entry_unknown_field", kInvalid, "tensor \"weight\": unknown field \"offsets\""},
    {"tensor_entry_missing_field", kInvalid, "tensor \"weight\": missing field \"shape\""},
    {"empty_tensor_name", kInvalid, "tensor entry with an empty name"},
    {"dtype_not_in_whitelist", kInvalid, "tensor \"weight\": unknown dtype \"F128\""},
    {"dtype_not_string", kInvalid, "tensor \"weight\": dtype must be a string, got 4"},
    {"rank_above_limit", kInvalid, "tensor \"weight\": rank 9 exceeds the limit of 8"},
    {"shape_not_array", kInvalid, "tensor \"weight\": shape must be an array, got 2"},
    {"negative_shape_entry", kInvalid, "tensor \"weight\": shape[1] is -2, not a non-negative integer"},
    {"fractional_shape_entry", kInvalid, "tensor \"weight\": shape[0] is 2.5, not a non-negative integer"},
    {"element_count_overflow", kInvalid,
     "tensor \"weight\": element count of shape [4294967296,4294967296] overflows 64 bits"},
    {"byte_size_overflow", kInvalid,
     "tensor \"weight\": byte size of 4611686018427387904 F32 elements overflows 64 bits"},
    {"data_offsets_not_pair", kInvalid,
     "tensor \"weight\": data_offsets must be an array of two non-negative integers, got [0]"},
    {"data_offsets_negative", kInvalid,
     "tensor \"weight\": data_offsets must be an array of two non-negative integers, got [-8,0]"},
    {"data_offsets_reversed", kInvalid, "tensor \"weight\": data_offsets begin 8 is after end 0"},
    {"byte_size_differs_from_offsets", kInvalid,
     "tensor \"weight\": data_offsets span 4 bytes but shape [2] of F32 needs 8"},
    {"overlapping_tensors", kInvalid,
     "tensor \"b\" starts at byte 4, inside tensor \"a\" which ends at byte 8 (overlapping data)"},
    {"gap_between_tensors", kInvalid,
     "tensor \"b\" starts at byte 8, leaving a gap after tensor \"a\" which ends at byte 4"},
    {"first_tensor_not_at_zero", kInvalid, "the first tensor \"a\" starts at byte 4 instead of 0"},
    {"trailing_bytes", kInvalid, "3 trailing bytes after the tensor data, which ends at byte 8"},
    {"data_past_end_of_file", kInvalid,
     "tensor \"a\" ends at byte 8, past the end of the 5-byte data section (truncated file)"},
    {"metadata_not_object", kInvalid, "__metadata__ must be an object of strings, got the string \"pt\""},
    {"metadata_value_not_string", kInvalid, "__metadata__ \"epochs\": value must be a string, got 3"},
};

std::filesystem::path MalformedPath(std::string_view name) {
  return kCorpus / "malformed" / (std::string(name) + ".safetensors");
}

// The error of opening a corpus file, without its "path: " prefix.
std::string OpenError(std::string_view name) {
  const std::string path = MalformedPath(name).string();
  Result<SafetensorsFile> file = SafetensorsFile::Open(path);
  if (file.ok()) return "";
  EXPECT_EQ(file.status().message().rfind(path + ": ", 0), 0u) << file.status().message();
  return file.status().message().substr(std::min(path.size() + 2, file.status().message().size()));
}

TEST(SafetensorsReader, RejectsEveryMalformedCorpusFileWithItsOwnMessage) {
  for (const MalformedCase& c : kMalformed) {
    Result<SafetensorsFile> file = SafetensorsFile::Open(MalformedPath(c.file));
    ASSERT_FALSE(file.ok()) << c.file << " was accepted";
    EXPECT_EQ(file.status().code(), c.code) << c.file << ": " << file.status().ToString();
    EXPECT_NE(file.status().message().find(c.message), std::string::npos)
        << c.file << "\n  expected: " << c.message << "\n  actual:   " << file.status().message();
  }
}

TEST(SafetensorsReader, GivesEveryMalformedCorpusFileADistinctMessage) {
  std::map<std::string, std::string_view> seen;
  for (const MalformedCase& c : kMalformed) {
    auto [it, inserted] = seen.emplace(OpenError(c.file), c.file);
    EXPECT_TRUE(inserted) << c.file << " and " << it->second << " both fail with: " << it->first;
  }
}

TEST(SafetensorsReader, HasAnExpectationForEveryMalformedCorpusFile) {
  std::set<std::string> expected;
  for (const MalformedCase& c : kMalformed) expected.insert(std::string(c.file) + ".safetensors");
  std::set<std::string> present;
  for (const auto& entry : std::filesystem::directory_iterator(kCorpus / "malformed")) {
    present.insert(entry.path().filename().string());
  }
  EXPECT_EQ(present, expected) << "regenerate with make_corpus.py and list every file in kMalformed";
}

TEST(SafetensorsReader, RejectsHeaderLengthAboveTheConfiguredCap) {
  SafetensorsWriter writer;
  const std::string file = writer.Serialize();
  Result<SafetensorsHeader> header = ParseWhole(file, SafetensorsLimits{.max_header_bytes = 4});
  EXPECT_EQ(header.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(header.status().message(), "header length 8 exceeds the limit of 4 bytes");
}

TEST(SafetensorsReader, RejectsRankAboveTheConfiguredLimit) {
  SafetensorsWriter writer;
  ASSERT_TRUE(writer.Add("cube", DType::kU8, {1, 1, 1}, Iota(1)).ok());
  Result<SafetensorsHeader> header = ParseWhole(writer.Serialize(), SafetensorsLimits{.max_rank = 2});
  EXPECT_EQ(header.status().message(), "tensor \"cube\": rank 3 exceeds the limit of 2");
}

TEST(SafetensorsReader, ParsesABufferHoldingOnlyThePrefixAndTheHeader) {
  const std::string file = GoldenWriter().Serialize();
  Result<SafetensorsHeader> whole = ParseWhole(file);
  ASSERT_TRUE(whole.ok());
  Result<SafetensorsHeader> head =
      ParseSafetensorsHeader(AsBytes(file).first(whole->data_offset()), file.size());
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->tensors.size(), whole->tensors.size());

  Result<SafetensorsHeader> cut = ParseSafetensorsHeader(AsBytes(file).first(whole->data_offset() - 1), file.size());
  EXPECT_EQ(cut.status().code(), StatusCode::kInvalidArgument);
}

TEST(SafetensorsReader, FailsCleanlyOnEveryTruncationAndByteFlipOfAValidFile) {
  const std::string file = GoldenWriter().Serialize();
  for (size_t length = 0; length < file.size(); ++length) {
    EXPECT_FALSE(ParseWhole(file.substr(0, length)).ok()) << length;
  }
  for (size_t i = 0; i < file.size(); ++i) {
    for (uint8_t flip : {0x01, 0x20, 0x80, 0xFF}) {
      std::string mutated = file;
      mutated[i] = static_cast<char>(mutated[i] ^ flip);
      (void)ParseWhole(mutated).ok();  // must not crash, leak or trip a sanitizer
    }
  }
}

TEST(SafetensorsReader, PrefixesOpenErrorsWithThePath) {
  testing::TempDir dir;
  Result<SafetensorsFile> missing = SafetensorsFile::Open(dir / "absent.safetensors");
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_EQ(missing.status().message().rfind((dir / "absent.safetensors").string() + ": ", 0), 0u);

  Result<SafetensorsFile> directory = SafetensorsFile::Open(dir.path());
  EXPECT_EQ(directory.status().message(), dir.path().string() + ": not a regular file");

  ASSERT_TRUE(WriteFileDurably(dir / "empty", "").ok());
  Result<SafetensorsFile> empty = SafetensorsFile::Open(dir / "empty");
  EXPECT_EQ(empty.status().message(),
            (dir / "empty").string() + ": file is 0 bytes, shorter than the 8-byte header length prefix");
}

TEST(SafetensorsReader, MovedFileKeepsItsMapping) {
  Result<SafetensorsFile> opened = SafetensorsFile::Open(kCorpus / "valid" / "golden.safetensors");
  ASSERT_TRUE(opened.ok());
  SafetensorsFile file = std::move(opened).value();
  SafetensorsFile other = std::move(file);
  EXPECT_EQ(ToVector(other.Data(*other.header().Find("mask"))), (std::vector<uint8_t>{1, 0, 1, 1, 0}));
}

}  // namespace
}  // namespace gradients::common
