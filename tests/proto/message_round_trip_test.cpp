#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <string>

#include "gradients/v1/common.pb.h"
#include "gradients/v1/miner_gateway.pb.h"
#include "gradients/v1/task.pb.h"

namespace {

namespace v1 = gradients::v1;

v1::Digest MakeDigest(char fill) {
  v1::Digest digest;
  digest.set_algorithm(v1::DIGEST_ALGORITHM_BLAKE2B_256);
  digest.set_value(std::string(32, fill));
  return digest;
}

v1::TaskSpec MakeTaskSpec() {
  v1::TaskSpec spec;
  spec.set_task_id("task-0001");
  spec.set_type(v1::TASK_TYPE_INSTRUCT);
  spec.set_base_model_name("Qwen/Qwen2-0.5B");
  *spec.mutable_base_model_digest() = MakeDigest('\x01');
  v1::BlobRef* config = spec.add_base_model_files();
  *config->mutable_digest() = MakeDigest('\x02');
  config->set_size_bytes(661);
  config->set_file_name("config.json");
  config->set_role(v1::BLOB_ROLE_BASE_MODEL_FILE);
  spec.set_base_model_parameters(494'032'768);
  v1::BlobRef* split = spec.mutable_training_split();
  *split->mutable_digest() = MakeDigest('\x03');
  split->set_size_bytes(1'234'567);
  split->set_file_name("train.jsonl");
  split->set_role(v1::BLOB_ROLE_TRAINING_SPLIT);
  spec.set_training_split_format(v1::DATASET_FORMAT_JSONL);
  spec.set_training_rows(9000);
  (*spec.mutable_column_mapping()->mutable_columns())["instruction"] = "question";
  (*spec.mutable_column_mapping()->mutable_columns())["output"] = "answer";
  spec.mutable_created_at()->set_seconds(1'700'000'000);
  spec.mutable_deadline()->set_seconds(1'700'007'200);
  spec.set_pool_size(8);
  spec.set_max_training_tokens(50'000'000);
  return spec;
}

TEST(ProtoMessages, TaskSpecSurvivesSerializeAndParse) {
  const v1::TaskSpec original = MakeTaskSpec();
  std::string wire;
  ASSERT_TRUE(original.SerializeToString(&wire));

  v1::TaskSpec parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));

  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(parsed, original));
  EXPECT_EQ(parsed.task_id(), "task-0001");
  EXPECT_EQ(parsed.type(), v1::TASK_TYPE_INSTRUCT);
  ASSERT_EQ(parsed.base_model_files_size(), 1);
  EXPECT_EQ(parsed.base_model_files(0).file_name(), "config.json");
  EXPECT_EQ(parsed.base_model_files(0).digest().value(), std::string(32, '\x02'));
  EXPECT_EQ(parsed.training_split().role(), v1::BLOB_ROLE_TRAINING_SPLIT);
  EXPECT_EQ(parsed.column_mapping().columns().at("output"), "answer");
  EXPECT_EQ(parsed.deadline().seconds(), 1'700'007'200);
  ASSERT_TRUE(parsed.has_max_training_tokens());
  EXPECT_EQ(parsed.max_training_tokens(), 50'000'000u);
}

TEST(ProtoMessages, UnsetOptionalTrainingTokenBudgetStaysUnsetAfterParse) {
  v1::TaskSpec original = MakeTaskSpec();
  original.clear_max_training_tokens();

  v1::TaskSpec parsed;
  ASSERT_TRUE(parsed.ParseFromString(original.SerializeAsString()));

  EXPECT_FALSE(parsed.has_max_training_tokens());
}

TEST(ProtoMessages, UploadMessagesKeepTheirKindAndPayloadAcrossTheWire) {
  v1::UploadMessage begin;
  begin.mutable_begin()->set_task_id("task-0001");
  begin.mutable_begin()->set_claim_nonce(std::string(32, '\x07'));
  begin.mutable_begin()->set_resume(true);
  v1::CheckpointManifest* manifest = begin.mutable_begin()->mutable_manifest();
  manifest->set_kind(v1::CHECKPOINT_KIND_LORA_ADAPTER);
  v1::CheckpointFile* file = manifest->add_files();
  file->set_relative_path("adapter_model.safetensors");
  file->set_size_bytes(4096);
  *file->mutable_digest() = MakeDigest('\x09');

  v1::UploadMessage chunk;
  chunk.mutable_chunk()->set_file_index(0);
  chunk.mutable_chunk()->set_offset(1024);
  chunk.mutable_chunk()->set_data(std::string("\0\xff\x10payload", 10));

  v1::UploadMessage end;
  end.mutable_end()->mutable_envelope()->set_encoded("canonical bytes");
  end.mutable_end()->mutable_envelope()->set_signer_public_key(std::string(32, '\x0a'));
  end.mutable_end()->mutable_envelope()->set_signature(std::string(64, '\x0b'));

  v1::UploadMessage parsed_begin;
  v1::UploadMessage parsed_chunk;
  v1::UploadMessage parsed_end;
  ASSERT_TRUE(parsed_begin.ParseFromString(begin.SerializeAsString()));
  ASSERT_TRUE(parsed_chunk.ParseFromString(chunk.SerializeAsString()));
  ASSERT_TRUE(parsed_end.ParseFromString(end.SerializeAsString()));

  ASSERT_EQ(parsed_begin.message_case(), v1::UploadMessage::kBegin);
  EXPECT_TRUE(parsed_begin.begin().resume());
  EXPECT_EQ(parsed_begin.begin().manifest().kind(), v1::CHECKPOINT_KIND_LORA_ADAPTER);
  EXPECT_EQ(parsed_begin.begin().manifest().files(0).relative_path(), "adapter_model.safetensors");
  ASSERT_EQ(parsed_chunk.message_case(), v1::UploadMessage::kChunk);
  EXPECT_EQ(parsed_chunk.chunk().offset(), 1024u);
  EXPECT_EQ(parsed_chunk.chunk().data(), std::string("\0\xff\x10payload", 10));
  ASSERT_EQ(parsed_end.message_case(), v1::UploadMessage::kEnd);
  EXPECT_EQ(parsed_end.end().envelope().signature().size(), 64u);
}

TEST(ProtoMessages, ChunkSizeLimitIsOneMebibyte) {
  EXPECT_EQ(v1::LIMIT_MAX_CHUNK_BYTES, 1 << 20);
}

}  // namespace
