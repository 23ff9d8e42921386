#include "trainers/model_config.h"

#include <gtest/gtest.h>

namespace gradients::train {
namespace {

nlohmann::json TinyLlama() {
  return {{"model_type", "llama"}, {"hidden_size", 64}, {"intermediate_size", 96}, {"num_hidden_layers", 2},
          {"num_attention_heads", 4}, {"vocab_size", 128}};
}

std::string ErrorOf(nlohmann::json config) {
  common::Result<ModelConfig> parsed = ParseModelConfig(config);
  EXPECT_FALSE(parsed.ok());
  return parsed.ok() ? "" : parsed.status().message();
}

TEST(ModelConfig, DerivesKvHeadsAndHeadDimWhenAbsent) {
  ModelConfig c = *ParseModelConfig(TinyLlama());
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_FALSE(c.qkv_bias());
  EXPECT_EQ(c.rope_scaling.type, "default");
}

TEST(ModelConfig, QwenHasQkvBiasesButNoOutputBias) {
  nlohmann::json j = TinyLlama();
  j["model_type"] = "qwen2";
  ModelConfig c = *ParseModelConfig(j);
  EXPECT_TRUE(c.qkv_bias());
  EXPECT_FALSE(c.o_bias());
  j["model_type"] = "llama";
  j["attention_bias"] = true;
  EXPECT_TRUE(ParseModelConfig(j)->o_bias());
}

TEST(ModelConfig, ReadsRopeScalingUnderEitherKeyName) {
  nlohmann::json j = TinyLlama();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_EQ(ParseModelConfig(j)->rope_scaling.type, "linear");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  EXPECT_EQ(ParseModelConfig(j)->rope_scaling.factor, 8.0);
}

TEST(ModelConfig, ErrorsNameTheKeyAndTheProblem) {
  nlohmann::json j = TinyLlama();
  j.erase("hidden_size");
  EXPECT_EQ(ErrorOf(j), "hidden_size: required key is missing");
  j = TinyLlama();
  j["num_key_value_heads"] = 3;
  EXPECT_EQ(ErrorOf(j), "num_key_value_heads: 3 does not divide num_attention_heads 4");
  j = TinyLlama();
  j["model_type"] = "gpt2";
  EXPECT_EQ(ErrorOf(j), "model_type: \"gpt2\" is not supported (expected llama, mistral or qwen2)");
  j = TinyLlama();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_EQ(ErrorOf(j), "rope_scaling: rope_type: \"yarn\" is not supported (expected default, linear or llama3)");
  j = TinyLlama();
  j["vocab_size"] = "many";
  EXPECT_EQ(ErrorOf(j), "vocab_size: expected an integer, got \"many\"");
  j = TinyLlama();
  j["torch_dtype"] = "float8";
  EXPECT_EQ(ErrorOf(j), "torch_dtype: \"float8\" is not supported (expected float32, float16 or bfloat16)");
  j = TinyLlama();
  j["hidden_size"] = 60;
  j["num_attention_heads"] = 7;
  EXPECT_EQ(ErrorOf(j), "head_dim: required key is missing");
}

TEST(ModelConfig, ToJsonParsesBackToTheSameArchitecture) {
  nlohmann::json j = TinyLlama();
  j["num_key_value_heads"] = 2;
  j["tie_word_embeddings"] = true;
  j["eos_token_id"] = {2, 7};
  j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  ModelConfig c = *ParseModelConfig(j);
  ModelConfig back = *ParseModelConfig(c.ToJson());
  EXPECT_EQ(back.ToJson(), c.ToJson());
  EXPECT_EQ(back.eos_token_ids, (std::vector<int64_t>{2, 7}));
}

TEST(ModelConfig, CountsParametersOfTinyLlamaExactly) {
  // TinyLlama-1.1B: 1,100,048,384 parameters.
  nlohmann::json j = {{"model_type", "llama"}, {"hidden_size", 2048}, {"intermediate_size", 5632},
                      {"num_hidden_layers", 22}, {"num_attention_heads", 32}, {"num_key_value_heads", 4},
                      {"vocab_size", 32000}};
  EXPECT_EQ(ParseModelConfig(j)->ParameterCount(), 1100048384);
}

}  // namespace
}  // namespace gradients::train
