//===- CostModelTest.cpp - the cost model on hand-computed cases ----------===//
#include "tetra/CostModel/CostModel.h"
#include "tetra/CostModel/ReferenceModel.h"
#include "tetra/Import/ModelBuilder.h"
#include "tetra/Import/ModelConfig.h"
#include "tetra/Registration.h"

#include "mlir/IR/MLIRContext.h"
#include <cmath>
#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::tetra;
using namespace mlir::tetra::cost;

namespace {

/// A machine written in the test: 4 devices per node, 100 GB/s inside for
/// any group, 25 GB/s per node outside, 5 us and 20 us latencies.
Machine testMachine() {
  Machine m;
  m.name = "test";
  m.devicesPerNode = 4;
  m.storageBytes = 2;
  m.peakMatrix = 100e12;
  m.peakVector = 10e12;
  m.gemmEfficiency = {{1e6, 0.1}, {1e12, 0.8}};
  m.memoryBytes = 64.0 * (1u << 30);
  m.memoryBandwidth = 1e12;
  m.intraNode = {{1, INT64_MAX, 2, INT64_MAX, 100e9}};
  m.nicBytesPerSecondPerNode = 25e9;
  m.latencyIntra = 5e-6;
  m.latencyInter = 20e-6;
  return m;
}

constexpr AxisMask X = 1, Y = 2, Z = 4, D = 8;

TEST(CostModelNetwork, RingAllReduceInsideANode) {
  Machine m = testMachine();
  Grid g{{2, 1, 1, 1}};
  const char *algorithm = nullptr;
  // 2(n-1) alpha + 2 (n-1)/n S/B = 10 us + 10 us; the tree would take 30 us.
  double t = collectiveSeconds(m, g, CollectiveKind::AllReduce, X, 1e6, &algorithm);
  EXPECT_NEAR(t, 20e-6, 1e-15);
  EXPECT_STREQ(algorithm, "ring");
  // (n-1) alpha + (n-1)/n S/B.
  EXPECT_NEAR(collectiveSeconds(m, g, CollectiveKind::AllGather, X, 1e6), 10e-6, 1e-15);
  EXPECT_NEAR(collectiveSeconds(m, g, CollectiveKind::ReduceScatter, X, 1e6), 10e-6, 1e-15);
  // Nothing to do over an axis of one rank.
  EXPECT_EQ(collectiveSeconds(m, g, CollectiveKind::AllReduce, Y, 1e6), 0);
}

TEST(CostModelNetwork, TreeWinsForSmallMessagesOverManyRanks) {
  Machine m = testMachine();
  Grid g{{1, 1, 1, 64}};
  const char *algorithm = nullptr;
  // 64 ranks over 16 nodes: span 1 -> one flow per node, 25 GB/s.
  // ring: 2*63*20us + 2*63/64*8/25e9; tree: 2*6*20us + 2*8/25e9.
  double t = collectiveSeconds(m, g, CollectiveKind::AllReduce, D, 8, &algorithm);
  EXPECT_STREQ(algorithm, "tree");
  EXPECT_NEAR(t, 12 * 20e-6 + 16 / 25e9, 1e-15);
}

TEST(CostModelNetwork, AxesPlacedInRankOrder) {
  Machine m = testMachine();
  // x = 2, y = 2 fill a node of 4; z = 2 crosses nodes with span 4.
  Grid g{{2, 2, 2, 1}};
  GroupPlacement x = placeGroup(m, g, X), y = placeGroup(m, g, Y), z = placeGroup(m, g, Z);
  EXPECT_TRUE(x.insideNode);
  EXPECT_EQ(x.span, 1);
  EXPECT_TRUE(y.insideNode);
  EXPECT_EQ(y.span, 2);
  EXPECT_FALSE(z.insideNode);
  EXPECT_EQ(z.span, 4);
  // Four groups' rings cross each node's NICs at once.
  EXPECT_DOUBLE_EQ(z.bandwidth, 25e9 / 4);
  // A group over x and z: 4 ranks, outermost stride 4: across nodes.
  GroupPlacement xz = placeGroup(m, g, X | Z);
  EXPECT_EQ(xz.size, 4);
  EXPECT_FALSE(xz.insideNode);
  EXPECT_EQ(axesName(X | Z), "x*z");
}

// ALGORITHMS.md §1, typed in again here from the text, with the published
// bandwidth tables as code (not read from the machine files).
double perlmutterBw(int64_t span, int64_t group) {
  if (span == 1)
    return group == 2 ? 76 : group == 4 ? 225 : 80;
  if (span == 2)
    return group == 2 ? 76 : 40;
  return 20;
}
double frontierBw(int64_t span, int64_t group) {
  if (span == 1)
    return group == 2 ? 129 : group == 4 ? 52 : group == 8 ? 135 : 40;
  if (span == 2)
    return group == 2 ? 50 : group == 4 ? 72 : 20;
  if (span == 4)
    return group == 2 ? 36 : 10;
  return 5;
}

double referenceByHand(double (*bw)(int64_t, int64_t), double L, double H, double B, double S,
                       const Grid &g) {
  double gx = g.x(), gy = g.y(), gz = g.z(), gd = g.data();
  double dataBytes = 0, zBytes = 0, yBytes = 0, xBytes = 0;
  double m = B / gd / gz * S;
  for (double k : {3.0, 4.0}) { // the normal layers
    dataBytes += 4 * (gd - 1) / gd * k * H * H / (gx * gy * gz) * 2;
    zBytes += 3 * (gz - 1) / gz * k * H * H / (gx * gy) * 2;
    yBytes += 2 * (gy - 1) / gy * (m * H / gx) * 2;
    xBytes += 2 * 2 * (gx - 1) / gx * (m * k * H / gy) * 2;
  }
  for (double k : {1.0, 4.0}) { // the transposed ones: x and y swap roles
    dataBytes += 4 * (gd - 1) / gd * k * H * H / (gx * gy * gz) * 2;
    zBytes += 3 * (gz - 1) / gz * k * H * H / (gx * gy) * 2;
    xBytes += 2 * (gx - 1) / gx * (m * k * H / gy) * 2;
    yBytes += 2 * 2 * (gy - 1) / gy * (m * H / gx) * 2;
  }
  double t = 0;
  int64_t span = 1;
  double bytes[] = {xBytes, yBytes, zBytes, dataBytes};
  for (int a = 0; a < 4; ++a) {
    if (g.sizes[a] > 1)
      t += L * bytes[a] / (bw(span, g.sizes[a]) * 1e9);
    span *= g.sizes[a];
  }
  return t;
}

TEST(CostModelReference, EqualsThePublishedFormulas) {
  const char *examples = std::getenv("TETRA_EXAMPLES");
  ASSERT_NE(examples, nullptr);
  struct Model {
    const char *name;
    int64_t layers, hidden;
  } models[] = {{"5B", 24, 4096},  {"10B", 32, 5120}, {"20B", 32, 7168}, {"40B", 38, 9216},
                {"60B", 56, 9216}, {"80B", 42, 12288}, {"175B", 96, 12288}};
  struct M {
    const char *file;
    double (*bw)(int64_t, int64_t);
  } machines[] = {{"perlmutter", perlmutterBw}, {"frontier", frontierBw}};
  int checked = 0;
  for (const M &mc : machines) {
    llvm::Expected<Machine> m =
        loadMachine(std::string(examples) + "/machines/" + mc.file + ".json");
    ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
    for (const Model &model : models)
      for (int64_t gpus : {64, 1024, 4096})
        for (const Grid &g : powerOfTwoGrids(gpus)) {
          ReferenceShape s{model.layers, model.hidden, 2048, 2048};
          llvm::Expected<ReferenceCost> c = referenceCost(*m, s, g);
          ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
          double expected = referenceByHand(mc.bw, model.layers, model.hidden, 2048, 2048, g);
          EXPECT_LE(std::abs(c->total - expected), 1e-9 * std::max(1.0, expected))
              << mc.file << " " << model.name << " " << g.str();
          ++checked;
        }
  }
  EXPECT_GT(checked, 1000);
}

class CostModelPrediction : public ::testing::Test {
protected:
  CostModelPrediction() {
    DialectRegistry registry;
    registerDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
    registerPasses();
  }
  ModelConfig llama(int64_t layers) {
    ConfigError error;
    std::string text = R"({"model_type": "llama", "vocab_size": 64, "hidden_size": 32,
      "num_hidden_layers": )" + std::to_string(layers) + R"(, "num_attention_heads": 4,
      "num_key_value_heads": 2, "intermediate_size": 64, "max_position_embeddings": 64})";
    return *parseModelConfig(text, error);
  }
  ModelFactory factoryFor(const ModelConfig &config, int64_t batch, int64_t seq) {
    return [this, config, batch, seq](int64_t layers) -> OwningOpRef<ModuleOp> {
      ModelConfig c = config;
      if (layers)
        c.layers = layers;
      return buildModel(c, &context, UnknownLoc::get(&context), ModelShape{batch, seq});
    };
  }
  MLIRContext context;
};

TEST_F(CostModelPrediction, MemoryOfAKnownModel) {
  ModelConfig config = llama(2);
  ModelFactory factory = factoryFor(config, 8, 16);
  OwningOpRef<ModuleOp> module = factory(0);
  FailureOr<ModelInfo> info = modelInfoOf(*module);
  ASSERT_TRUE(succeeded(info));
  // embed 64*32 + head 64*32 + final norm 32 + 2 blocks of (q 32*32, k and v
  // 16*32, o 32*32, 3 MLP 32*64, 2 norms 32).
  double perBlock = 32 * 32 + 2 * 16 * 32 + 32 * 32 + 3 * 32 * 64 + 2 * 32;
  double params = 2 * 64 * 32 + 32 + 2 * perBlock;
  EXPECT_EQ(info->parameters, params);
  Machine m = testMachine(); // bf16 storage: 2-byte weights + 4-byte masters
  SearchOptions o;
  o.globalBatch = 8;
  o.seqLen = 16;
  Prediction one = predict(factory, *info, m, o, {Grid{{1, 1, 1, 1}}, "none", false}, false);
  ASSERT_TRUE(one.rejected.empty()) << one.rejected;
  EXPECT_EQ(one.memory.parameters, params * 6);
  EXPECT_EQ(one.memory.gradients, params * 4);
  EXPECT_EQ(one.memory.optimizer, params * 8);
  EXPECT_GT(one.memory.activations, 0);
  // Data parallelism replicates every parameter; z splits the linear layers
  // (flat) but not the norms.
  Prediction data = predict(factory, *info, m, o, {Grid{{1, 1, 1, 2}}, "none", false}, false);
  EXPECT_EQ(data.memory.parameters, params * 6);
  Prediction z = predict(factory, *info, m, o, {Grid{{1, 1, 2, 1}}, "none", false}, false);
  double norms = 32 + 2 * 2 * 32;
  EXPECT_EQ(z.memory.parameters, ((params - norms) / 2 + norms) * 6);
  // Half the rows per rank: fewer live activations.
  EXPECT_LT(z.memory.activations, one.memory.activations);
}

TEST_F(CostModelPrediction, ShallowCopiesPredictTheDeepModel) {
  // 12 blocks: predicted from 1- and 2-block copies, and simulated whole.
  ModelConfig config = llama(12);
  ModelFactory factory = factoryFor(config, 8, 16);
  OwningOpRef<ModuleOp> module = factory(0);
  FailureOr<ModelInfo> info = modelInfoOf(*module);
  ASSERT_TRUE(succeeded(info));
  Machine m = testMachine();
  SearchOptions o;
  o.globalBatch = 8;
  o.seqLen = 16;
  for (const char *overlap : {"none", "oag,ors,oar,forward"})
    for (const Grid &g : {Grid{{2, 2, 1, 1}}, Grid{{1, 1, 2, 2}}, Grid{{2, 1, 2, 2}}}) {
      Configuration c{g, overlap, false};
      Prediction shallow = predict(factory, *info, m, o, c, false);
      Prediction whole = predict(factory, *info, m, o, c, true);
      ASSERT_TRUE(shallow.rejected.empty() && whole.rejected.empty()) << shallow.rejected;
      EXPECT_EQ(shallow.layersSimulated, 2);
      EXPECT_EQ(whole.layersSimulated, 12);
      EXPECT_NEAR(shallow.stepSeconds, whole.stepSeconds, 1e-9 * whole.stepSeconds)
          << g.str() << " " << overlap;
      EXPECT_NEAR(shallow.memory.parameters, whole.memory.parameters, 1e-6);
      EXPECT_FALSE(whole.timeline.empty());
    }
}

TEST_F(CostModelPrediction, OverlapHidesCommunication) {
  ModelConfig config = llama(2);
  ModelFactory factory = factoryFor(config, 8, 16);
  OwningOpRef<ModuleOp> module = factory(0);
  FailureOr<ModelInfo> info = modelInfoOf(*module);
  // Without latencies (the tiny model's messages are latency-bound, and
  // cutting them into more pieces costs more than it hides).
  Machine m = testMachine();
  m.latencyIntra = m.latencyInter = 0;
  SearchOptions o;
  o.globalBatch = 8;
  o.seqLen = 16;
  Grid g{{2, 1, 2, 1}};
  Prediction none = predict(factory, *info, m, o, {g, "none", false}, false);
  Prediction all = predict(factory, *info, m, o, {g, "all", false}, false);
  ASSERT_TRUE(none.rejected.empty() && all.rejected.empty());
  EXPECT_LT(all.exposedTotal(), none.exposedTotal());
  // Without overlap every collective blocks: all of it is exposed.
  double busy = 0;
  for (const auto &[axes, s] : none.communication)
    busy += s;
  EXPECT_NEAR(none.exposedTotal(), busy, 1e-12);
}

TEST(CostModelMachine, EveryNumberNeedsASource) {
  const char *text = R"({"format": "tetra-machine", "version": 1, "name": "m",
    "devices_per_node": 4})";
  llvm::Expected<Machine> m = parseMachine(text, "m.json");
  ASSERT_FALSE(bool(m));
  EXPECT_EQ(llvm::toString(m.takeError()),
            "m.json: key 'devices_per_node' has no 'devices_per_node_source' saying where its "
            "numbers come from");
}

TEST(CostModelMachine, PublishedMachinesLoad) {
  const char *examples = std::getenv("TETRA_EXAMPLES");
  ASSERT_NE(examples, nullptr);
  for (const char *name : {"frontier", "alps", "perlmutter", "cpu"}) {
    llvm::Expected<Machine> m =
        loadMachine(std::string(examples) + "/machines/" + name + ".json");
    ASSERT_TRUE(bool(m)) << name << ": " << llvm::toString(m.takeError());
    EXPECT_EQ(m->name, name);
  }
  llvm::Expected<Machine> frontier =
      loadMachine(std::string(examples) + "/machines/frontier.json");
  EXPECT_EQ(frontier->devicesPerNode, 8);
  EXPECT_DOUBLE_EQ(frontier->peakMatrix, 191.5e12);
  EXPECT_NEAR(frontier->gemmEfficiencyAt(1e12), 0.653, 1e-12);
  // Which kernels each machine gets.
  EXPECT_EQ(frontier->codegen, "rocdl");
  EXPECT_EQ(frontier->chip, "gfx90a");
  llvm::Expected<Machine> alps = loadMachine(std::string(examples) + "/machines/alps.json");
  EXPECT_EQ(alps->codegen, "nvvm");
  EXPECT_EQ(alps->chip, "sm_90a");
  llvm::Expected<Machine> cpu = loadMachine(std::string(examples) + "/machines/cpu.json");
  EXPECT_EQ(cpu->codegen, "cpu");
}

TEST(CostModelMachine, CodegenIsKnownAndGpusNameTheirChip) {
  llvm::Expected<Machine> unknown = parseMachine(
      R"({"format": "tetra-machine", "version": 1, "name": "m", "codegen": "spirv"})", "m.json");
  ASSERT_FALSE(bool(unknown));
  EXPECT_EQ(llvm::toString(unknown.takeError()),
            "m.json: key 'codegen' must be \"cpu\", \"nvvm\" or \"rocdl\"");
  llvm::Expected<Machine> chipless = parseMachine(
      R"({"format": "tetra-machine", "version": 1, "name": "m", "codegen": "nvvm"})", "m.json");
  ASSERT_FALSE(bool(chipless));
  EXPECT_EQ(llvm::toString(chipless.takeError()),
            "m.json: key 'chip' names the GPU to generate kernels for (sm_90a, gfx90a, ...)");
}

} // namespace
