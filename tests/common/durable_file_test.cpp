#include "common/durable_file.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace gradients::common {
namespace {

size_t CountEntries(const std::filesystem::path& dir) {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(dir), {}));
}

TEST(DurableFile, WritesAndReadsBack) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileDurably(dir / "a.txt", "hello").ok());
  EXPECT_EQ(*ReadFileToString(dir / "a.txt", 100), "hello");
  EXPECT_EQ(CountEntries(dir.path()), 1u) << "no temporary file is left behind";
}

TEST(DurableFile, ReplacesAnExistingFileWhole) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileDurably(dir / "a.txt", "old contents").ok());
  ASSERT_TRUE(WriteFileDurably(dir / "a.txt", "new").ok());
  EXPECT_EQ(*ReadFileToString(dir / "a.txt", 100), "new");
}

TEST(DurableFile, UncommittedWriterLeavesTargetUntouched) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileDurably(dir / "a.txt", "kept").ok());
  {
    Result<DurableFileWriter> writer = DurableFileWriter::Create(dir / "a.txt");
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->Append(std::string_view("partial")).ok());
  }
  EXPECT_EQ(*ReadFileToString(dir / "a.txt", 100), "kept");
  EXPECT_EQ(CountEntries(dir.path()), 1u);
}

TEST(DurableFile, AppliesTheRequestedModeDespiteTheUmask) {
  testing::TempDir dir;
  mode_t old_umask = ::umask(0);
  Status status = WriteFileDurably(dir / "secret", "x", 0600);
  ::umask(old_umask);
  ASSERT_TRUE(status.ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(DurableFile, CommitTwiceIsAnError) {
  testing::TempDir dir;
  Result<DurableFileWriter> writer = DurableFileWriter::Create(dir / "b");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Commit().ok());
  EXPECT_EQ(writer->Commit().code(), StatusCode::kFailedPrecondition);
}

TEST(DurableFile, ReadRefusesFilesAboveTheLimit) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileDurably(dir / "big", std::string(101, 'x')).ok());
  Result<std::string> read = ReadFileToString(dir / "big", 100);
  EXPECT_EQ(read.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(read.status().message().find("101 bytes exceeds the limit of 100"), std::string::npos);
}

TEST(DurableFile, MissingFilesAndDirectoriesAreReportedByName) {
  testing::TempDir dir;
  EXPECT_EQ(ReadFileToString(dir / "nope", 10).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ReadFileToString(dir.path(), 10).status().message(), dir.path().string() + ": not a regular file");
  Status status = WriteFileDurably(dir / "no-such-dir" / "f", "x");
  EXPECT_EQ(status.code(), StatusCode::kIoError);
  EXPECT_NE(status.message().find("no-such-dir"), std::string::npos);
}

}  // namespace
}  // namespace gradients::common

namespace gradients::common {
namespace {

TEST(RemoveTree, RemovesNestedDirectoriesWithoutFollowingLinks) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "tree/a/b");
  ASSERT_TRUE(WriteFileDurably(dir / "tree/a/b/file", "x").ok());
  ASSERT_TRUE(WriteFileDurably(dir / "kept", "y").ok());
  std::filesystem::create_symlink(dir / "kept", dir / "tree/link");
  ASSERT_TRUE(RemoveTree(dir / "tree").ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "tree"));
  EXPECT_TRUE(std::filesystem::exists(dir / "kept")) << "the link's target survives";
  EXPECT_TRUE(RemoveTree(dir / "tree").ok()) << "a missing path is no error";
  ASSERT_TRUE(RemoveTree(dir / "kept").ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "kept"));
}

}  // namespace
}  // namespace gradients::common
