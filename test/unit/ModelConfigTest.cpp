//===- ModelConfigTest.cpp - reading config.json --------------------------===//
#include "tetra/Import/ModelConfig.h"

#include <gtest/gtest.h>

using namespace mlir::tetra;

TEST(ModelConfig, ReadsLlamaWithDefaults) {
  ConfigError error;
  auto config = parseModelConfig(R"({
    "model_type": "llama", "vocab_size": 100, "hidden_size": 64,
    "num_hidden_layers": 2, "num_attention_heads": 8, "num_key_value_heads": 2,
    "intermediate_size": 128, "max_position_embeddings": 256})",
                                 error);
  ASSERT_TRUE(config) << error.message;
  EXPECT_EQ(config->headDim, 8);
  EXPECT_EQ(config->kvHeads, 2);
  EXPECT_DOUBLE_EQ(config->ropeTheta, 10000.0);
  EXPECT_DOUBLE_EQ(config->normEps, 1e-6);
  EXPECT_FALSE(config->tiedEmbeddings);
  EXPECT_EQ(config->activation, Activation::Silu);
}

TEST(ModelConfig, GemmaIsTiedWithUnitOffsetNormsAndScaledEmbeddings) {
  ConfigError error;
  auto config = parseModelConfig(R"({
    "model_type": "gemma", "vocab_size": 100, "hidden_size": 64, "head_dim": 32,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
    "intermediate_size": 128, "max_position_embeddings": 256})",
                                 error);
  ASSERT_TRUE(config) << error.message;
  EXPECT_TRUE(config->tiedEmbeddings);
  EXPECT_TRUE(config->normUnitOffset);
  EXPECT_DOUBLE_EQ(config->embeddingScale, 8.0);
  EXPECT_EQ(config->headDim, 32);
  EXPECT_EQ(config->activation, Activation::GeluTanh);
}

TEST(ModelConfig, ErrorNamesKeyAndLine) {
  ConfigError error;
  auto config = parseModelConfig("{\n  \"model_type\": \"gpt2\", \"vocab_size\": 9,\n"
                                 "  \"n_embd\": 7.5\n}",
                                 error);
  EXPECT_FALSE(config);
  EXPECT_EQ(error.line, 3u);
  EXPECT_EQ(error.column, 3u);
  EXPECT_EQ(error.message, "key 'n_embd' must be an integer, got the number 7.5");
}

TEST(ModelConfig, MalformedJsonReportsPosition) {
  ConfigError error;
  EXPECT_FALSE(parseModelConfig("{\n  \"model_type\": \"gpt2\" \"x\"\n}", error));
  EXPECT_EQ(error.line, 2u);
  EXPECT_NE(error.message.find("malformed JSON"), std::string::npos);
}

TEST(ModelConfig, RotaryFractionMustGiveEvenChannels) {
  ConfigError error;
  auto config = parseModelConfig(R"({
    "model_type": "gpt_neox", "vocab_size": 100, "hidden_size": 40,
    "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 160,
    "max_position_embeddings": 64, "rotary_pct": 0.25})",
                                 error);
  EXPECT_FALSE(config);
  EXPECT_EQ(error.message,
            "rotary fraction 0.25 of head_dim 10 is not a positive even number "
            "of channels");
}
