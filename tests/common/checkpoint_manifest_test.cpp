#include "common/checkpoint_manifest.h"

#include <fstream>

#include <gtest/gtest.h>

#include "common/protocol_envelopes.h"
#include "tests/support/temp_dir.h"

namespace gradients::common {
namespace {

CheckpointManifest Adapter() {
  return {.kind = CheckpointKind::kLoraAdapter,
          .files = {{.path = "adapter_config.json", .size_bytes = 10, .algorithm = {}, .digest = {}},
                    {.path = "adapter_model.safetensors", .size_bytes = 20, .algorithm = {}, .digest = {}}}};
}

TEST(CheckpointManifest, EncodingIsCanonicalLittleEndianAndCoversEveryField) {
  CheckpointManifest manifest{.kind = CheckpointKind::kFullModel,
                              .files = {{.path = "ab", .size_bytes = 258, .algorithm = DigestAlgorithm::kSha256,
                                         .digest = {}}}};
  manifest.files[0].digest[0] = 0x7f;
  std::string expected("GRDMAN\0\1", 8);
  expected += std::string("\x02", 1) + std::string("\x01\x00\x00\x00", 4);
  expected += std::string("\x02\x00\x00\x00", 4) + "ab" + std::string("\x02\x01\x00\x00\x00\x00\x00\x00", 8);
  expected += std::string("\x02\x7f", 2) + std::string(31, '\0');
  EXPECT_EQ(EncodeCheckpointManifest(manifest), expected);

  // Every field changes the digest that miners sign.
  const Digest original = CheckpointManifestDigest(Adapter());
  CheckpointManifest changed = Adapter();
  changed.files[1].size_bytes = 21;
  EXPECT_NE(CheckpointManifestDigest(changed), original);
  changed = Adapter();
  changed.files[0].digest[31] = 1;
  EXPECT_NE(CheckpointManifestDigest(changed), original);
  changed = Adapter();
  std::swap(changed.files[0], changed.files[1]);
  EXPECT_NE(CheckpointManifestDigest(changed), original);
}

TEST(CheckpointManifest, ValidationRefusesPicklesStrangeNamesDuplicatesAndMissingFiles) {
  EXPECT_TRUE(ValidateCheckpointManifest(Adapter()).ok());
  CheckpointManifest pickle = Adapter();
  pickle.files[1].path = "adapter_model.bin";
  EXPECT_EQ(ValidateCheckpointManifest(pickle).message(),
            "manifest file 1 \"adapter_model.bin\": pickled formats are refused; use safetensors");
  CheckpointManifest escape = Adapter();
  escape.files.push_back({.path = "../state.db", .size_bytes = 1, .algorithm = {}, .digest = {}});
  EXPECT_EQ(ValidateCheckpointManifest(escape).message(),
            "manifest file 2 \"../state.db\": not a file a LoRA adapter checkpoint may contain");
  CheckpointManifest twice = Adapter();
  twice.files.push_back(twice.files[0]);
  EXPECT_EQ(ValidateCheckpointManifest(twice).message(), "manifest file 2 \"adapter_config.json\": listed twice");
  CheckpointManifest no_weights = Adapter();
  no_weights.files.pop_back();
  EXPECT_EQ(ValidateCheckpointManifest(no_weights).message(),
            "manifest: a LoRA adapter checkpoint needs adapter_model.safetensors");
  EXPECT_FALSE(ValidateCheckpointManifest({.kind = CheckpointKind::kLoraAdapter, .files = {}}).ok());

  CheckpointManifest full{.kind = CheckpointKind::kFullModel,
                          .files = {{.path = "config.json", .size_bytes = 1, .algorithm = {}, .digest = {}},
                                    {.path = "model-00001-of-00002.safetensors", .size_bytes = 1, .algorithm = {},
                                     .digest = {}},
                                    {.path = "model-00002-of-00002.safetensors", .size_bytes = 1, .algorithm = {},
                                     .digest = {}}}};
  EXPECT_EQ(ValidateCheckpointManifest(full).message(),
            "manifest: a full model checkpoint needs model.safetensors.index.json");
  full.files.push_back({.path = "model.safetensors.index.json", .size_bytes = 1, .algorithm = {}, .digest = {}});
  EXPECT_TRUE(ValidateCheckpointManifest(full).ok());
  full.files.push_back({.path = "adapter_config.json", .size_bytes = 1, .algorithm = {}, .digest = {}});
  EXPECT_FALSE(ValidateCheckpointManifest(full).ok());  // a LoRA file in a full model
}

TEST(CheckpointManifest, TotalBytesSaturateInsteadOfWrappingAround) {
  CheckpointManifest huge = Adapter();
  huge.files[0].size_bytes = UINT64_MAX - 5;
  EXPECT_EQ(CheckpointBytes(huge), UINT64_MAX);
  EXPECT_EQ(CheckpointBytes(Adapter()), 30u);
}

TEST(CheckpointManifest, BuiltFromADirectorySortedByNameWithEachFilesDigest) {
  testing::TempDir dir;
  std::ofstream(dir / "adapter_model.safetensors") << "weights";
  std::ofstream(dir / "adapter_config.json") << "{}";
  Result<CheckpointManifest> manifest = BuildCheckpointManifest(dir.path(), CheckpointKind::kLoraAdapter);
  ASSERT_TRUE(manifest.ok()) << manifest.status().message();
  ASSERT_EQ(manifest->files.size(), 2u);
  EXPECT_EQ(manifest->files[0].path, "adapter_config.json");
  EXPECT_EQ(manifest->files[1].size_bytes, 7u);
  EXPECT_EQ(manifest->files[1].digest, ComputeDigest(DigestAlgorithm::kBlake2b256, std::string_view("weights")));

  std::ofstream(dir / "optimizer.pt") << "pickle";
  EXPECT_EQ(BuildCheckpointManifest(dir.path(), CheckpointKind::kLoraAdapter).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ProtocolEnvelopes, TheCheckpointEnvelopeNamesEveryBindingInTheProtocolsOrder) {
  const SigningKey miner = SigningKey::Generate();
  const std::array<uint8_t, 32> nonce{1, 2, 3};
  Digest digest{};
  digest[0] = 9;
  const Envelope envelope = CheckpointEnvelope("validator-1", "task-1", miner.public_key(), nonce, digest, 258);
  EXPECT_EQ(envelope.domain, "gradients/checkpoint/v1");
  ASSERT_EQ(envelope.fields.size(), 6u);
  EXPECT_EQ(envelope.fields[0], (EnvelopeField{"validator_id", "validator-1"}));
  EXPECT_EQ(envelope.fields[1], (EnvelopeField{"task_id", "task-1"}));
  EXPECT_EQ(envelope.fields[3].name, "nonce");
  EXPECT_EQ(envelope.fields[4].value, std::string("\x01\x09", 2) + std::string(31, '\0'));
  EXPECT_EQ(envelope.fields[5], (EnvelopeField{"created_at_ms", std::string("\x02\x01\0\0\0\0\0\0", 8)}));
  EXPECT_TRUE(ValidateEnvelope(envelope).ok());
}

}  // namespace
}  // namespace gradients::common
