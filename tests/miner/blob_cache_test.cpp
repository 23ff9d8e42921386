#include "miner/blob_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "common/digest.h"
#include "common/hex.h"
#include "miner/model_directory.h"
#include "tests/miner/validator_process.h"
#include "tests/support/temp_dir.h"

namespace gradients::miner {
namespace {

const std::filesystem::path kModel =
    std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models" / "llama_mha";  // as registered

// A validator with one task of the test model, claimed by a miner: the claim's task spec names
// what the miner may fetch.
class BlobCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    validator_ = std::make_unique<ValidatorProcess>(dir_.path(), TestModelAndDataset(dir_.path(), 40));
    ASSERT_TRUE(validator_->Start());
    const std::string task_id = CreateTestTask(validator_->admin(), 600);
    connection_ = std::move(*ValidatorConnection::Open(
        {.address = validator_->gateway(), .validator_id = "validator-under-test", .tls_ca_file = ""}, key_, "test"));
    std::optional<v1::Claim> claim = ClaimWhenOffering(*connection_, task_id);
    claimed_ = claim.has_value();
    if (claim) task_ = claim->task();
    ASSERT_TRUE(claimed_) << validator_->Log();
  }
  void TearDown() override {
    connection_.reset();
    EXPECT_EQ(validator_->Stop(), 0);
  }
  static std::string Read(const std::filesystem::path& path) { return *common::ReadFileToString(path, 64 << 20); }

  testing::TempDir dir_;
  const common::SigningKey key_ = common::SigningKey::Generate();
  std::unique_ptr<ValidatorProcess> validator_;
  std::unique_ptr<ValidatorConnection> connection_;
  bool claimed_ = false;
  v1::TaskSpec task_;
};

TEST_F(BlobCacheTest, FetchesTheModelAndTheSplitVerifiedAndKeepsThemByHash) {
  BlobCache cache(dir_.path() / "cache");
  ASSERT_GT(task_.base_model_files_size(), 0);
  for (const v1::BlobRef& file : task_.base_model_files()) {
    EXPECT_FALSE(cache.Has(file));
    common::Result<std::filesystem::path> fetched = cache.Fetch(*connection_, file);
    ASSERT_TRUE(fetched.ok()) << fetched.status().ToString();
    EXPECT_EQ(Read(*fetched), Read(kModel / file.file_name())) << file.file_name();
    EXPECT_TRUE(cache.Has(file));
  }
  common::Result<std::filesystem::path> split = cache.Fetch(*connection_, task_.training_split());
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  const std::string rows = Read(*split);
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), static_cast<long>(task_.training_rows()));
  // Stored: the second fetch reads nothing from the validator (it is not even asked).
  validator_->Kill();
  common::Result<std::filesystem::path> stored = cache.Fetch(*connection_, task_.training_split());
  EXPECT_TRUE(stored.ok() && *stored == *split) << stored.status().ToString();
  ASSERT_TRUE(validator_->Start());
}

TEST_F(BlobCacheTest, JobsFetchingTheSameBlobAtOnceTakeTurnsAndBothGetItWhole) {
  BlobCache cache(dir_.path() / "cache");
  const v1::BlobRef& largest =
      *std::max_element(task_.base_model_files().begin(), task_.base_model_files().end(),
                        [](const v1::BlobRef& a, const v1::BlobRef& b) { return a.size_bytes() < b.size_bytes(); });
  std::vector<common::Result<std::filesystem::path>> results(4, common::Status::Internal("not run"));
  std::vector<std::thread> jobs;
  for (auto& result : results) jobs.emplace_back([&] { result = cache.Fetch(*connection_, largest); });
  for (std::thread& job : jobs) job.join();
  for (const auto& result : results) {
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(*result, *results[0]);
  }
  EXPECT_EQ(Read(*results[0]), Read(kModel / largest.file_name()));
  EXPECT_FALSE(std::filesystem::exists(results[0]->string() + ".part"));
}

TEST_F(BlobCacheTest, AnInterruptedFetchResumesAndACorruptPartIsFetchedAgainFromTheStart) {
  BlobCache cache(dir_.path() / "cache");
  const v1::BlobRef& weights =
      *std::max_element(task_.base_model_files().begin(), task_.base_model_files().end(),
                        [](const v1::BlobRef& a, const v1::BlobRef& b) { return a.size_bytes() < b.size_bytes(); });
  const std::string original = Read(kModel / weights.file_name());
  const std::filesystem::path path = *cache.PathOf(weights);
  std::filesystem::create_directories(path.parent_path());

  // A third of it arrived before the miner stopped.
  std::ofstream(path.string() + ".part", std::ios::binary) << original.substr(0, original.size() / 3);
  common::Result<std::filesystem::path> resumed = cache.Fetch(*connection_, weights);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(Read(*resumed), original);
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".part"));

  // A part whose bytes are wrong (a torn write): the digest catches it, the part is dropped, and
  // the next fetch starts over.
  std::filesystem::remove(path);
  std::string torn = original.substr(0, original.size() / 2);
  torn[10] ^= 0x5a;
  std::ofstream(path.string() + ".part", std::ios::binary) << torn;
  common::Result<std::filesystem::path> refused = cache.Fetch(*connection_, weights);
  EXPECT_EQ(refused.status().code(), common::StatusCode::kDataLoss) << refused.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".part"));
  common::Result<std::filesystem::path> again = cache.Fetch(*connection_, weights);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Read(*again), original);
}

TEST_F(BlobCacheTest, TheModelDirectoryHoldsTheTasksFilesUnderTheirNamesAndRefusesNamesThatLeaveIt) {
  BlobCache cache(dir_.path() / "cache");
  const std::filesystem::path model = dir_.path() / "jobs" / "t1" / "model";
  common::Status early = MaterializeModel(cache, task_, model);
  EXPECT_EQ(early.code(), common::StatusCode::kFailedPrecondition) << early.ToString();  // nothing fetched yet
  for (const v1::BlobRef& file : task_.base_model_files()) ASSERT_TRUE(cache.Fetch(*connection_, file).ok());
  ASSERT_TRUE(MaterializeModel(cache, task_, model).ok());
  for (const v1::BlobRef& file : task_.base_model_files()) {
    EXPECT_EQ(Read(model / file.file_name()), Read(kModel / file.file_name())) << file.file_name();
  }
  EXPECT_TRUE(MaterializeModel(cache, task_, model).ok());  // again: already there

  for (const char* hostile : {"../escape.json", "/etc/passwd", "a//b", "./config.json", "a/../../b", ""}) {
    v1::TaskSpec forged = task_;
    forged.mutable_base_model_files(0)->set_file_name(hostile);
    const std::filesystem::path elsewhere = dir_.path() / "forged" / "model";
    common::Status refused = MaterializeModel(cache, forged, elsewhere);
    EXPECT_EQ(refused.code(), common::StatusCode::kInvalidArgument) << hostile;
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "forged")) << hostile;
  }
}

TEST_F(BlobCacheTest, ABlobNotOfTheClaimIsRefusedByTheValidatorAndNothingIsStored) {
  BlobCache cache(dir_.path() / "cache");
  v1::BlobRef stranger = task_.training_split();
  const common::Digest digest = common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, "not a blob of this task");
  stranger.mutable_digest()->set_value(std::string(digest.begin(), digest.end()));
  common::Result<std::filesystem::path> fetched = cache.Fetch(*connection_, stranger);
  EXPECT_EQ(fetched.status().code(), common::StatusCode::kPermissionDenied) << fetched.status().ToString();
  EXPECT_FALSE(cache.Has(stranger));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "cache"));
}

}  // namespace
}  // namespace gradients::miner
