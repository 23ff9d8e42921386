#include "validator/state/blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/hex.h"
#include "tests/support/temp_dir.h"

namespace gradients::validator {
namespace {

// Blobs and temporary files (the store's lock file aside).
size_t FilesUnder(const std::filesystem::path& dir) {
  size_t count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    count += entry.is_regular_file() && entry.path().filename() != "incoming.lock";
  }
  return count;
}

// Sets a file's modification time `ms_ago` before now.
void Age(const std::filesystem::path& path, int64_t ms_ago) {
  const int64_t at_ms = common::SystemClockMs() - ms_ago;
  const timespec times[2] = {{.tv_sec = at_ms / 1000, .tv_nsec = (at_ms % 1000) * 1'000'000},
                             {.tv_sec = at_ms / 1000, .tv_nsec = (at_ms % 1000) * 1'000'000}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST(BlobStore, NamesABlobByTheHashOfItsBytes) {
  testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  // Written in two appends, as an upload arrives.
  common::Result<BlobWriter> writer = store.NewBlob();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->Append("hello, ").ok());
  ASSERT_TRUE(writer->Append("validator").ok());
  common::Result<StoredBlob> blob = writer->Finish();
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->hash, common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, "hello, validator")));
  EXPECT_EQ(blob->bytes, 16u);
  EXPECT_TRUE(store.Contains(blob->hash));
  EXPECT_EQ(*store.Size(blob->hash), 16u);
  EXPECT_EQ(*store.Read(blob->hash, 0, 1 << 20), "hello, validator");
  EXPECT_TRUE(store.Verify(blob->hash).ok());
  EXPECT_EQ(*store.PathOf(blob->hash), dir / "blobs" / blob->hash.substr(0, 2) / blob->hash);
}

TEST(BlobStore, StoresTheSameContentOnce) {
  testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  common::Result<StoredBlob> first = store.Put("same bytes");
  common::Result<StoredBlob> second = store.Put("same bytes");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->hash, second->hash);
  EXPECT_EQ(FilesUnder(dir / "blobs"), 1u);
}

TEST(BlobStore, ReadsFromAnOffsetSoAnInterruptedFetchCanResume) {
  testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  const std::string hash = store.Put("0123456789")->hash;
  EXPECT_EQ(*store.Read(hash, 3, 4), "3456");
  EXPECT_EQ(*store.Read(hash, 8, 100), "89");
  EXPECT_EQ(*store.Read(hash, 10, 100), "");
  common::Result<std::string> past = store.Read(hash, 11, 1);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.status().code(), common::StatusCode::kOutOfRange);
  EXPECT_EQ(store.Read(std::string(64, 'a'), 0, 1).status().code(), common::StatusCode::kNotFound);
}

TEST(BlobStore, RefusesNamesThatAreNotHashes) {
  testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  for (const std::string& name : {std::string("../../etc/passwd"), std::string(64, 'A'), std::string(63, 'a'), std::string()}) {
    EXPECT_EQ(store.Read(name, 0, 1).status().code(), common::StatusCode::kInvalidArgument) << name;
    EXPECT_FALSE(store.Contains(name)) << name;
  }
}

TEST(BlobStore, FindsABlobWhoseBytesChanged) {
  testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  const std::string hash = store.Put("original content")->hash;
  std::ofstream(*store.PathOf(hash), std::ios::binary | std::ios::trunc) << "tampered content";
  common::Status verified = store.Verify(hash);
  EXPECT_EQ(verified.code(), common::StatusCode::kDataLoss);
  EXPECT_NE(verified.message().find(hash), std::string::npos);
}

TEST(BlobStore, AnUnfinishedWriteLeavesNothingBehind) {
  testing::TempDir dir;
  {
    BlobStore store = *BlobStore::Open(dir / "blobs");
    common::Result<BlobWriter> writer = store.NewBlob();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->Append("never finished").ok());
  }
  EXPECT_EQ(FilesUnder(dir / "blobs"), 0u);
  // A crash leaves its temporary file: the next open by a process alone with the store removes it.
  std::ofstream(dir / "blobs" / "incoming" / "12345") << "partial";
  BlobStore reopened = *BlobStore::Open(dir / "blobs");
  EXPECT_EQ(FilesUnder(dir / "blobs"), 0u);
}

TEST(BlobStore, OpeningItBesideAWriterLeavesTheWriteInProgressAlone) {
  testing::TempDir dir;
  BlobStore daemon = *BlobStore::Open(dir / "blobs");
  common::Result<BlobWriter> upload = daemon.NewBlob();
  ASSERT_TRUE(upload.ok());
  ASSERT_TRUE(upload->Append("half of an upload").ok());
  BlobStore command = *BlobStore::Open(dir / "blobs");  // `gradients model add` meanwhile
  ASSERT_TRUE(upload->Append(", then the rest").ok());
  common::Result<StoredBlob> stored = upload->Finish();
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(*command.Read(stored->hash, 0, 100), "half of an upload, then the rest");
  struct stat info {};
  ASSERT_EQ(stat(command.PathOf(stored->hash)->c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);  // hidden test splits are blobs too
}

TEST(BlobStore, CopiesAFileIn) {
  testing::TempDir dir;
  BlobStore store = *BlobStore::Open(dir / "blobs");
  const std::string content(3 << 20, 'x');  // larger than one read block
  std::ofstream(dir / "model.safetensors", std::ios::binary) << content;
  common::Result<StoredBlob> blob = store.PutFile(dir / "model.safetensors");
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->bytes, content.size());
  EXPECT_EQ(blob->hash, common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, content)));
  EXPECT_EQ(store.PutFile(dir / "missing").status().code(), common::StatusCode::kIoError);
}

TEST(BlobStore, ListsItsBlobsAndRemovesOneOnlyWhenItWasStoredBeforeTheCutoff) {
  testing::TempDir dir;
  const BlobStore store = *BlobStore::Open(dir.path());
  const int64_t before_ms = common::SystemClockMs() - 1000;
  const StoredBlob first = *store.Put("first"), second = *store.Put("second");
  std::vector<ListedBlob> listed = *store.List();  // the lock file and incoming/ are not blobs
  std::sort(listed.begin(), listed.end(), [](const ListedBlob& a, const ListedBlob& b) { return a.bytes < b.bytes; });
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].hash, first.hash);
  EXPECT_EQ(listed[0].bytes, 5u);
  EXPECT_EQ(listed[1].hash, second.hash);
  EXPECT_GE(listed[0].stored_at_ms, before_ms);
  EXPECT_LE(listed[0].stored_at_ms, common::SystemClockMs() + 1000);

  EXPECT_FALSE(*store.RemoveIfStoredBefore(first.hash, before_ms));  // stored since
  EXPECT_TRUE(store.Contains(first.hash));
  Age(*store.PathOf(first.hash), 7'200'000);
  EXPECT_TRUE(*store.RemoveIfStoredBefore(first.hash, common::SystemClockMs() - 3'600'000));
  EXPECT_FALSE(store.Contains(first.hash));
  EXPECT_FALSE(*store.RemoveIfStoredBefore(first.hash, common::SystemClockMs()));  // gone already
  listed = *store.List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].hash, second.hash);
  EXPECT_FALSE(store.RemoveIfStoredBefore("not-a-hash", common::SystemClockMs()).ok());
}

TEST(BlobStore, StoringTheSameBytesAgainMakesTheBlobFreshAgain) {
  testing::TempDir dir;
  const BlobStore store = *BlobStore::Open(dir.path());
  const StoredBlob blob = *store.Put("the same bytes");
  Age(*store.PathOf(blob.hash), 7'200'000);
  const int64_t cutoff_ms = common::SystemClockMs() - 3'600'000;
  ASSERT_LT(store.List()->at(0).stored_at_ms, cutoff_ms);
  ASSERT_TRUE(store.Put("the same bytes").ok());
  EXPECT_GE(store.List()->at(0).stored_at_ms, cutoff_ms);
  EXPECT_FALSE(*store.RemoveIfStoredBefore(blob.hash, cutoff_ms));

  // A file adopted into the store (an upload's part) counts as stored when it is adopted.
  const std::filesystem::path part = dir / "incoming" / "part";
  { std::ofstream(part) << "an upload written long ago"; }
  Age(part, 7'200'000);
  const std::string hash =
      common::ToHex(common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, std::string_view("an upload written long ago")));
  const StoredBlob adopted = *store.Adopt(part, hash);
  EXPECT_FALSE(*store.RemoveIfStoredBefore(adopted.hash, cutoff_ms));
  EXPECT_TRUE(store.Contains(adopted.hash));
}

}  // namespace
}  // namespace gradients::validator
