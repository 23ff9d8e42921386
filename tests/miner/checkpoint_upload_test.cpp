#include "miner/checkpoint_upload.h"

#include <gtest/gtest.h>

#include <fstream>

#include "proto/checkpoint_messages.h"
#include "tests/miner/validator_process.h"
#include "tests/support/temp_dir.h"

namespace gradients::miner {
namespace {

// A claimed task and an exported LoRA checkpoint (its files' contents need not be a model: the
// validator checks them when it evaluates, after the deadline).
class CheckpointUploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    validator_ = std::make_unique<ValidatorProcess>(dir_.path(), TestModelAndDataset(dir_.path(), 20));
    ASSERT_TRUE(validator_->Start());
    task_id_ = CreateTestTask(validator_->admin(), 600);
    connection_ = std::move(*ValidatorConnection::Open(
        {.address = validator_->gateway(), .validator_id = "validator-under-test", .tls_ca_file = ""}, key_, "test"));
    std::optional<v1::Claim> claim = ClaimWhenOffering(*connection_, task_id_);
    ASSERT_TRUE(claim.has_value()) << validator_->Log();
    nonce_ = claim->claim_nonce();
    std::filesystem::create_directories(checkpoint_);
    std::ofstream(checkpoint_ / "adapter_config.json") << R"({"peft_type": "LORA", "r": 4})";
    std::string weights(3'000'000, '\0');
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>(i * 31 % 251);
    std::ofstream(checkpoint_ / "adapter_model.safetensors", std::ios::binary) << weights;
  }
  void TearDown() override {
    connection_.reset();
    if (validator_) {
      EXPECT_EQ(validator_->Stop(), 0);
    }
  }
  v1::GetUploadStatusResponse UploadStatus() {
    v1::GetUploadStatusRequest request;
    request.set_task_id(task_id_);
    v1::GetUploadStatusResponse status;
    EXPECT_TRUE(connection_
                    ->Call([&](grpc::ClientContext& context) {
                      return connection_->stub().GetUploadStatus(&context, request, &status);
                    })
                    .ok());
    return status;
  }

  testing::TempDir dir_;
  const std::filesystem::path checkpoint_ = dir_.path() / "checkpoint";
  const common::SigningKey key_ = common::SigningKey::Generate();
  std::unique_ptr<ValidatorProcess> validator_;
  std::unique_ptr<ValidatorConnection> connection_;
  std::string task_id_, nonce_;
  uint32_t weights_index_ = 0;  // of adapter_model.safetensors in the manifest
};

TEST_F(CheckpointUploadTest, UploadsSignedAndIsNotSentAgainOnceTheValidatorHoldsIt) {
  common::Result<UploadedCheckpoint> uploaded =
      UploadCheckpoint(*connection_, task_id_, nonce_, checkpoint_, common::CheckpointKind::kLoraAdapter, {.chunk_bytes = 256 << 10, .max_bytes_per_second = 0});
  ASSERT_TRUE(uploaded.ok()) << uploaded.status().ToString() << "\n" << validator_->Log();
  EXPECT_FALSE(uploaded->receipt_id.empty());
  EXPECT_EQ(uploaded->bytes_sent, 3'000'000u + 29u);
  EXPECT_EQ(UploadStatus().state(), v1::UPLOAD_STATE_COMPLETE);
  common::Result<UploadedCheckpoint> again =
      UploadCheckpoint(*connection_, task_id_, nonce_, checkpoint_, common::CheckpointKind::kLoraAdapter);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->receipt_id, uploaded->receipt_id);
  EXPECT_EQ(again->bytes_sent, 0u);
}

TEST_F(CheckpointUploadTest, AnUploadCutOffByAValidatorKillResumesFromWhatItKept) {
  // Half of the weights go out before the miner stops; then the validator is killed too.
  common::Result<common::CheckpointManifest> manifest = common::BuildCheckpointManifest(checkpoint_, common::CheckpointKind::kLoraAdapter);
  ASSERT_TRUE(manifest.ok());
  {
    v1::UploadReceipt receipt;
    std::unique_ptr<grpc::ClientContext> context = connection_->SessionContext(std::chrono::seconds(20));
    auto writer = connection_->stub().UploadCheckpoint(context.get(), &receipt);
    v1::UploadMessage begin;
    begin.mutable_begin()->set_task_id(task_id_);
    begin.mutable_begin()->set_claim_nonce(nonce_);
    proto::ToProto(*manifest, begin.mutable_begin()->mutable_manifest());
    ASSERT_TRUE(writer->Write(begin));
    const std::string weights = *common::ReadFileToString(checkpoint_ / "adapter_model.safetensors", 8 << 20);
    weights_index_ = manifest->files[0].path == "adapter_model.safetensors" ? 0 : 1;
    for (uint64_t offset = 0; offset < 1'500'000; offset += 500'000) {
      v1::UploadMessage chunk;
      chunk.mutable_chunk()->set_file_index(weights_index_);
      chunk.mutable_chunk()->set_offset(offset);
      chunk.mutable_chunk()->set_data(weights.substr(offset, 500'000));
      ASSERT_TRUE(writer->Write(chunk));
    }
    // The stream ends without its UploadEnd, as a miner's would that stopped: the validator keeps
    // what it received (synced) for a resume.
    writer->WritesDone();
    EXPECT_FALSE(writer->Finish().ok());
  }
  for (int i = 0; i < 100 && UploadStatus().state() != v1::UPLOAD_STATE_PARTIAL; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const v1::GetUploadStatusResponse partial = UploadStatus();
  ASSERT_EQ(partial.state(), v1::UPLOAD_STATE_PARTIAL);
  validator_->Kill();
  ASSERT_TRUE(validator_->Start());

  common::Result<UploadedCheckpoint> resumed = common::Status::Unavailable("not tried");
  for (int i = 0; i < 50; ++i) {  // the channel reconnects first
    resumed = UploadCheckpoint(*connection_, task_id_, nonce_, checkpoint_, common::CheckpointKind::kLoraAdapter);
    if (resumed.ok() || resumed.status().code() != common::StatusCode::kUnavailable) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString() << "\n" << validator_->Log();
  EXPECT_EQ(resumed->bytes_sent, 3'000'029u - partial.durable_offsets(0) - partial.durable_offsets(1));
  EXPECT_GT(partial.durable_offsets(static_cast<int>(weights_index_)), 0u);
  EXPECT_EQ(UploadStatus().state(), v1::UPLOAD_STATE_COMPLETE);
}

TEST_F(CheckpointUploadTest, AnotherClaimsNonceIsRefusedAndADirectoryWithAPickleIsRefusedBeforeSending) {
  common::Result<UploadedCheckpoint> forged =
      UploadCheckpoint(*connection_, task_id_, std::string(32, 'x'), checkpoint_, common::CheckpointKind::kLoraAdapter);
  EXPECT_EQ(forged.status().code(), common::StatusCode::kUnauthenticated) << forged.status().ToString();
  EXPECT_EQ(
      UploadCheckpoint(*connection_, task_id_, nonce_, checkpoint_, common::CheckpointKind::kLoraAdapter,
                       {.chunk_bytes = 0, .max_bytes_per_second = 0})
          .status()
          .code(),
      common::StatusCode::kInvalidArgument);
  std::ofstream(checkpoint_ / "adapter_model.bin") << "pickle";
  common::Result<UploadedCheckpoint> pickled =
      UploadCheckpoint(*connection_, task_id_, nonce_, checkpoint_, common::CheckpointKind::kLoraAdapter);
  EXPECT_EQ(pickled.status().code(), common::StatusCode::kInvalidArgument) << pickled.status().ToString();
  EXPECT_EQ(UploadStatus().state(), v1::UPLOAD_STATE_NONE);
}

}  // namespace
}  // namespace gradients::miner
