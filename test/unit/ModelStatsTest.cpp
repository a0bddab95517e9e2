//===- ModelStatsTest.cpp - parameter counts of published models ----------===//
//
// The importer's IR must hold exactly the published number of parameters.
//
//===----------------------------------------------------------------------===//
#include "tetra/Analysis/ModelStats.h"
#include "tetra/Import/ModelBuilder.h"
#include "tetra/Import/ModelConfig.h"
#include "tetra/TetraDialect.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cctype>
#include <cstdlib>
#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::tetra;

namespace {
struct Published {
  const char *config;
  int64_t parameters;
  int64_t layers;
};

void PrintTo(const Published &published, std::ostream *os) {
  *os << published.config;
}

class PublishedCount : public ::testing::TestWithParam<Published> {};

TEST_P(PublishedCount, MatchesPublishedNumber) {
  const char *examples = std::getenv("TETRA_EXAMPLES");
  ASSERT_NE(examples, nullptr) << "TETRA_EXAMPLES is not set";
  std::string path = std::string(examples) + "/configs/" + GetParam().config;
  auto buffer = llvm::MemoryBuffer::getFile(path);
  ASSERT_TRUE(bool(buffer)) << "cannot read " << path;
  ConfigError error;
  auto config = parseModelConfig((*buffer)->getBuffer(), error);
  ASSERT_TRUE(config) << error.message;

  MLIRContext ctx;
  OwningOpRef<ModuleOp> module = buildModel(*config, &ctx, UnknownLoc::get(&ctx));
  ASSERT_TRUE(module);
  FailureOr<ModelStats> stats = computeModelStats(*module);
  ASSERT_TRUE(succeeded(stats));
  EXPECT_EQ(stats->parameters, GetParam().parameters);
  EXPECT_EQ(stats->layers, GetParam().layers);
}

INSTANTIATE_TEST_SUITE_P(
    Families, PublishedCount,
    ::testing::Values(Published{"gpt2.json", 124439808, 12},
                      Published{"llama-3-8b.json", 8030261248, 32},
                      Published{"llama-3.1-405b.json", 405853388800, 126},
                      Published{"mistral-7b.json", 7241732096, 32},
                      Published{"qwen2-0.5b.json", 494032768, 24},
                      Published{"gemma-2b.json", 2506172416, 18},
                      Published{"pythia-160m.json", 162322944, 12}),
    [](const ::testing::TestParamInfo<Published> &info) {
      std::string name = info.param.config;
      name = name.substr(0, name.find(".json"));
      for (char &ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch)))
          ch = '_';
      return name;
    });

TEST(ModelStats, ForwardFlopsOfGpt2) {
  // Per token at S = 1024: linears 2*(768*2304 + 768^2 + 2*768*3072) per layer,
  // 12 layers, LM head 2*768*50257, causal attention 4*12*64*(1024/2) per layer.
  const double expected = 12 * 2.0 * (768 * 2304 + 768 * 768 + 2 * 768 * 3072) +
                          2.0 * 768 * 50257 + 12 * 4.0 * 12 * 64 * 512;
  const char *examples = std::getenv("TETRA_EXAMPLES");
  ASSERT_NE(examples, nullptr);
  auto buffer =
      llvm::MemoryBuffer::getFile(std::string(examples) + "/configs/gpt2.json");
  ASSERT_TRUE(bool(buffer));
  ConfigError error;
  auto config = parseModelConfig((*buffer)->getBuffer(), error);
  ASSERT_TRUE(config);
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module = buildModel(*config, &ctx, UnknownLoc::get(&ctx));
  ASSERT_TRUE(module);
  FailureOr<ModelStats> stats = computeModelStats(*module);
  ASSERT_TRUE(succeeded(stats));
  EXPECT_EQ(stats->seqLen, 1024);
  EXPECT_DOUBLE_EQ(stats->forwardFlopsPerToken, expected);
}
} // namespace
