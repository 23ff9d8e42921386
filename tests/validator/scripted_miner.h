// What a scripted miner sends: its answers to challenges, its checkpoints and the messages that
// upload them. Shared by the gateway's tests, the evaluation's and those of the validator process.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/checkpoint_manifest.h"
#include "common/envelope.h"
#include "common/protocol_envelopes.h"
#include "common/safetensors.h"
#include "gradients/v1/miner_gateway.grpc.pb.h"
#include "proto/auth_messages.h"
#include "proto/checkpoint_messages.h"

namespace gradients::validator {

// A miner with a session and, once it claimed a task, the claim's nonce.
struct TestMiner {
  common::SigningKey key = common::SigningKey::Generate();
  std::string token;
  std::string claim_nonce;  // raw bytes
};

inline std::string KeyBytes(const common::SigningKey& key) {
  return std::string(reinterpret_cast<const char*>(key.public_key().bytes.data()), key.public_key().bytes.size());
}
// The miner's answer to a challenge, on the wire.
inline v1::AuthenticateRequest Answer(const v1::GetChallengeResponse& challenge, const common::SigningKey& key) {
  common::Result<v1::AuthenticateRequest> answer = proto::AnswerChallenge(challenge, key, "gradients-miner/test");
  EXPECT_TRUE(answer.ok()) << answer.status().ToString();
  return answer.ok() ? *answer : v1::AuthenticateRequest();
}

// A checkpoint's files and their manifest, as a miner exports them.
struct Checkpoint {
  common::CheckpointManifest manifest;
  std::vector<std::string> contents;
};
inline Checkpoint LoraCheckpoint(size_t weight_bytes, char fill = 'x') {
  Checkpoint checkpoint{.manifest = {.kind = common::CheckpointKind::kLoraAdapter, .files = {}},
                        .contents = {R"({"peft_type": "LORA", "r": 4})", std::string(weight_bytes, fill)}};
  for (size_t i = 0; i < checkpoint.contents.size(); ++i) {
    checkpoint.manifest.files.push_back(
        {.path = i == 0 ? "adapter_config.json" : "adapter_model.safetensors",
         .size_bytes = checkpoint.contents[i].size(),
         .algorithm = common::DigestAlgorithm::kBlake2b256,
         .digest = common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, checkpoint.contents[i])});
  }
  return checkpoint;
}
// A LoRA checkpoint of the given files (name -> content), e.g. TinyLoraAdapter's.
inline Checkpoint LoraCheckpointOf(const std::map<std::string, std::string>& files) {
  Checkpoint checkpoint{.manifest = {.kind = common::CheckpointKind::kLoraAdapter, .files = {}}, .contents = {}};
  for (const auto& [name, content] : files) {
    checkpoint.manifest.files.push_back({.path = name,
                                         .size_bytes = content.size(),
                                         .algorithm = common::DigestAlgorithm::kBlake2b256,
                                         .digest = common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, content)});
    checkpoint.contents.push_back(content);
  }
  return checkpoint;
}
inline v1::UploadMessage BeginMessage(const std::string& task, const std::string& nonce,
                                      const common::CheckpointManifest& manifest, bool resume = false) {
  v1::UploadMessage message;
  message.mutable_begin()->set_task_id(task);
  message.mutable_begin()->set_claim_nonce(nonce);
  proto::ToProto(manifest, message.mutable_begin()->mutable_manifest());
  message.mutable_begin()->set_resume(resume);
  return message;
}
// The chunks of every file from `from[i]` (0 when absent) to `to[i]` (its end
// when absent).
inline std::vector<v1::UploadMessage> ChunkMessages(const Checkpoint& checkpoint, std::vector<uint64_t> from = {},
                                                    std::vector<uint64_t> to = {}, size_t chunk_bytes = 256 << 10) {
  std::vector<v1::UploadMessage> messages;
  for (size_t i = 0; i < checkpoint.contents.size(); ++i) {
    const uint64_t end = i < to.size() ? to[i] : checkpoint.contents[i].size();
    for (uint64_t offset = i < from.size() ? from[i] : 0; offset < end; offset += chunk_bytes) {
      v1::UploadMessage& message = messages.emplace_back();
      message.mutable_chunk()->set_file_index(static_cast<uint32_t>(i));
      message.mutable_chunk()->set_offset(offset);
      message.mutable_chunk()->set_data(
          checkpoint.contents[i].substr(offset, std::min<uint64_t>(chunk_bytes, end - offset)));
    }
  }
  return messages;
}
// UploadEnd with the envelope `signer` signs over (task, nonce, manifest) for
// `miner`.
inline v1::UploadMessage EndMessage(const common::SigningKey& signer, const common::PublicKey& miner, const std::string& task,
                                    const std::string& nonce, const common::CheckpointManifest& manifest,
                                    const std::string& validator_id = "validator-under-test") {
  const common::Envelope body = common::CheckpointEnvelope(validator_id, task, miner,
                                           std::span(reinterpret_cast<const uint8_t*>(nonce.data()), nonce.size()),
                                           common::CheckpointManifestDigest(manifest), 1'700'000'000'000);
  v1::UploadMessage message;
  EXPECT_TRUE(proto::ToProto(*common::SignEnvelope(body, signer), message.mutable_end()->mutable_envelope()).ok());
  return message;
}
// Begin, chunks and end of a whole honest upload.
inline std::vector<v1::UploadMessage> HonestUpload(const TestMiner& miner, const std::string& task,
                                                   const Checkpoint& checkpoint) {
  std::vector<v1::UploadMessage> messages = {BeginMessage(task, miner.claim_nonce, checkpoint.manifest)};
  for (v1::UploadMessage& chunk : ChunkMessages(checkpoint)) messages.push_back(std::move(chunk));
  messages.push_back(EndMessage(miner.key, miner.key.public_key(), task, miner.claim_nonce, checkpoint.manifest));
  return messages;
}

// The files of a LoRA adapter on layer 0's q_proj of `gradients init-model --preset tiny` (hidden
// 64): A [2, 64] filled from `a_value`, B [64, 2] from `b_value`.
inline std::map<std::string, std::string> TinyLoraAdapter(float a_value, float b_value) {
  const nlohmann::json config = {{"peft_type", "LORA"}, {"r", 2}, {"lora_alpha", 4}, {"lora_dropout", 0.0},
                                 {"target_modules", {"q_proj"}}, {"bias", "none"}, {"task_type", "CAUSAL_LM"}};
  common::SafetensorsWriter writer;
  const auto add = [&](const std::string& name, std::vector<uint64_t> shape, float value) {
    std::vector<float> data(shape[0] * shape[1]);
    for (size_t i = 0; i < data.size(); ++i) data[i] = value * static_cast<float>((i % 7) + 1) / 7.0f;
    EXPECT_TRUE(writer
                    .Add(name, common::DType::kF32, shape,
                         std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size() * sizeof(float)))
                    .ok());
  };
  add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {2, 64}, a_value);
  add("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {64, 2}, b_value);
  return {{"adapter_config.json", config.dump()}, {"adapter_model.safetensors", writer.Serialize()}};
}

}  // namespace gradients::validator
