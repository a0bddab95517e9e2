//===- Predict.cpp - one configuration: build, simulate, count memory -----===//
#include "tetra/CostModel/CostModel.h"
#include "tetra/TetraOps.h"
#include "tetra/Transforms/EntryRoles.h"
#include "tetra/Transforms/Passes.h"
#include "tetra/Transforms/Pipeline.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::tetra::cost {

std::string Configuration::str() const {
  return grid.str() + " overlap=" + overlap + (recompute ? " recompute" : "");
}

double Prediction::exposedTotal() const {
  double t = 0;
  for (const auto &[axes, seconds] : exposed)
    t += seconds;
  return t;
}

std::optional<Grid> parseGrid(llvm::StringRef text) {
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, 'x');
  if (parts.size() != 4)
    return std::nullopt;
  Grid g;
  for (int i = 0; i < 4; ++i)
    if (parts[i].getAsInteger(10, g.sizes[i]) || g.sizes[i] < 1)
      return std::nullopt;
  return g;
}

double modelFlopsPerStep(const ModelInfo &model, const SearchOptions &o, bool recompute) {
  double b = o.globalBatch, s = o.seqLen, l = model.layers, h = model.hidden,
         v = model.vocab;
  return (recompute ? 96.0 : 72.0) * b * s * l * h * h *
         (1 + s / (6 * h) + v / (16 * l * h));
}

namespace {

/// The forward pass again before the backward one: what recomputing the
/// activations costs (collectives included).
Schedule withRecomputation(const Schedule &s) {
  Schedule r;
  r.peakLiveElements = s.peakLiveElements;
  int64_t offset = 0;
  for (const Task &t : s.tasks)
    offset = std::max(offset, t.id + 1);
  std::vector<Task> forward, backward;
  for (const Task &t : s.tasks)
    (t.forward ? forward : backward).push_back(t);
  r.tasks = forward;
  for (Task t : forward) {
    if (t.id >= 0)
      t.id += offset;
    r.tasks.push_back(t);
  }
  r.tasks.insert(r.tasks.end(), backward.begin(), backward.end());
  return r;
}

/// Step time, communication and memory of the program built from `module`.
Prediction predictModule(ModuleOp module, const Machine &m, const SearchOptions &o,
                         const Configuration &c, bool keepTimeline) {
  Prediction p;
  p.config = c;
  int64_t microBatch = o.microBatch ? o.microBatch : o.globalBatch;
  TrainingPipelineOptions po;
  po.grid = c.grid.str();
  po.overlap = c.overlap;
  po.prefetch = o.prefetch;
  po.goldfish = o.goldfish;
  po.optimizer = o.optimizer;
  po.oneMicroBatch = microBatch == o.globalBatch;
  llvm::Expected<TrainingPipeline> pipeline = trainingPipeline(po);
  if (!pipeline) {
    p.rejected = llvm::toString(pipeline.takeError());
    return p;
  }
  MLIRContext *ctx = module.getContext();
  std::string diagnostic;
  ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
    if (diagnostic.empty() && d.getSeverity() == DiagnosticSeverity::Error)
      diagnostic = d.str();
    return success();
  });
  PassManager pm(ctx);
  if (failed(parsePassPipeline(pipeline->passes, pm, llvm::errs())) || failed(pm.run(module))) {
    p.rejected = diagnostic.empty() ? "the training program could not be built" : diagnostic;
    return p;
  }
  auto grad = module.lookupSymbol<func::FuncOp>("grad");
  auto update = module.lookupSymbol<func::FuncOp>("update");
  FailureOr<Schedule> gradSchedule = grad ? extractSchedule(grad) : FailureOr<Schedule>(failure());
  FailureOr<Schedule> updateSchedule = update ? extractSchedule(update) : FailureOr<Schedule>(failure());
  if (failed(gradSchedule) || failed(updateSchedule)) {
    p.rejected = diagnostic.empty() ? "no @grad or @update to simulate" : diagnostic;
    return p;
  }

  GridAttr gridAttr = module->getAttrOfType<GridAttr>(kGridAttrName);
  double paramElements = 0;
  struct Param {
    std::string name;
    double elements;
    AxisMask axes;
  };
  std::vector<Param> params;
  for (ParamOp param : module.getOps<ParamOp>()) {
    double n = static_cast<double>(param.getLocalTensorType().getNumElements());
    paramElements += n;
    AxisMask axes = 0;
    if (gridAttr)
      for (int32_t a : gradientReduceAxes(param, gridAttr))
        axes |= 1u << a;
    params.push_back({param.getSymName().str(), n, axes});
  }

  Simulator sim(m, c.grid, keepTimeline);
  sim.materialisedScores = m.attentionMaterialised;
  Schedule step = c.recompute ? withRecomputation(*gradSchedule) : *gradSchedule;
  int64_t microBatches = o.globalBatch / microBatch;
  constexpr double kGradientBytes = 4; // gradients, their sums and AdamW state: fp32
  for (int64_t i = 0; i < microBatches; ++i) {
    sim.play(step, "grad");
    sim.hostWork(3 * paramElements * kGradientBytes, "accumulate gradients");
  }
  bool reduce = (c.grid.z() > 1 || c.grid.data() > 1) && !pipeline->gradientsReducedInGrad;
  if (reduce)
    for (const Param &param : params)
      if (param.axes)
        sim.blockingCollective(CollectiveKind::AllReduce, param.axes,
                               param.elements * kGradientBytes,
                               "gradient all-reduce " + param.name);
  sim.hostWork(paramElements * kGradientBytes, "gradient norm");
  sim.blockingCollective(CollectiveKind::AllReduce, 0b0111, 8, "gradient norm");
  sim.play(*updateSchedule, "update");

  p.stepSeconds = sim.now();
  p.computeSeconds = sim.computeBusy();
  p.exposed = sim.exposed();
  p.communication = sim.communication();
  if (keepTimeline)
    p.timeline = sim.timeline();

  // Memory: weights (bf16 storage keeps fp32 masters too), the gradient sum,
  // two moments; the working set of @grad beyond its parameter arguments.
  p.memory.parameters = paramElements * (m.storageBytes == 2 ? 2 + 4 : 4);
  p.memory.gradients = paramElements * kGradientBytes;
  p.memory.optimizer = 2 * paramElements * kGradientBytes;
  p.memory.activations =
      std::max(0.0, gradSchedule->peakLiveElements - paramElements) * m.storageBytes;
  return p;
}

/// Blocks in a module: its tetra.model's layer count.
int64_t layersOf(ModuleOp module) {
  if (auto model = module->getAttrOfType<ModelAttr>(kModelAttrName))
    return model.getLayers();
  return 0;
}

/// a + t (b - a), entry by entry.
void extrapolate(Prediction &into, const Prediction &a, const Prediction &b, double t) {
  auto lerp = [t](double x, double y) { return y + t * (y - x); };
  into.stepSeconds = lerp(a.stepSeconds, b.stepSeconds);
  into.computeSeconds = lerp(a.computeSeconds, b.computeSeconds);
  for (const auto &[k, v] : b.exposed)
    into.exposed[k] = lerp(a.exposed.count(k) ? a.exposed.at(k) : 0, v);
  for (const auto &[k, v] : b.communication)
    into.communication[k] = lerp(a.communication.count(k) ? a.communication.at(k) : 0, v);
  into.memory.parameters = lerp(a.memory.parameters, b.memory.parameters);
  into.memory.gradients = lerp(a.memory.gradients, b.memory.gradients);
  into.memory.optimizer = lerp(a.memory.optimizer, b.memory.optimizer);
  into.memory.activations = lerp(a.memory.activations, b.memory.activations);
}

std::string gib(double bytes) { return llvm::formatv("{0:f1} GiB", bytes / (1u << 30)).str(); }

} // namespace

Prediction predict(const ModelFactory &factory, const ModelInfo &model, const Machine &m,
                   const SearchOptions &o, const Configuration &c, bool fullDepth) {
  Prediction p;
  p.config = c;
  constexpr int64_t kShallow = 2;
  OwningOpRef<ModuleOp> shallow, deeper;
  if (!fullDepth && model.layers > kShallow + 1) {
    shallow = factory(kShallow);
    deeper = shallow ? factory(kShallow + 1) : OwningOpRef<ModuleOp>();
  }
  if (shallow && deeper) {
    Prediction a = predictModule(*shallow, m, o, c, false);
    Prediction b = predictModule(*deeper, m, o, c, false);
    if (!a.rejected.empty() || !b.rejected.empty()) {
      p.rejected = a.rejected.empty() ? b.rejected : a.rejected;
      return p;
    }
    extrapolate(p, a, b, static_cast<double>(model.layers - kShallow - 1));
    p.layersSimulated = kShallow + 1;
  } else {
    OwningOpRef<ModuleOp> full = factory(0);
    if (!full) {
      p.rejected = "the model could not be built";
      return p;
    }
    int64_t layers = layersOf(*full);
    p = predictModule(*full, m, o, c, fullDepth);
    p.layersSimulated = layers;
    if (!p.rejected.empty())
      return p;
  }
  // Recomputation keeps each block's input and one block's working set.
  double rows = static_cast<double>(o.microBatch ? o.microBatch : o.globalBatch) * o.seqLen /
                static_cast<double>(c.grid.data() * c.grid.z());
  double boundary = rows * static_cast<double>(model.hidden) / c.grid.x() * m.storageBytes;
  double perBlock = p.memory.activations / std::max<int64_t>(1, model.layers);
  p.memory.activationsRecomputed = perBlock + model.layers * boundary;
  p.modelFlops = modelFlopsPerStep(model, o, c.recompute);
  p.mfu = p.modelFlops / (p.stepSeconds * c.grid.devices() * m.peakMatrix);
  double need = p.memory.total(c.recompute);
  if (need > m.memoryBytes)
    p.rejected = "needs " + gib(need) + " per device" +
                 (c.recompute ? " even with recomputation" : "") + ", the device has " +
                 gib(m.memoryBytes);
  return p;
}

} // namespace mlir::tetra::cost
