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

/// The training program of one configuration, as the simulator needs it.
struct Program {
  std::string rejected;
  Schedule grad, update;
  struct Param {
    std::string name;
    double elements;
    AxisMask axes;
  };
  std::vector<Param> params;
  double paramElements = 0;
  bool gradientsReducedInGrad = false;
};

/// Runs `passes` on `module`; the first error's text, or "" on success.
std::string runPasses(ModuleOp module, const std::string &passes) {
  MLIRContext *ctx = module.getContext();
  std::string diagnostic;
  ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
    if (diagnostic.empty() && d.getSeverity() == DiagnosticSeverity::Error)
      diagnostic = d.str();
    return success();
  });
  PassManager pm(ctx);
  if (failed(parsePassPipeline(passes, pm, llvm::errs())) || failed(pm.run(module)))
    return diagnostic.empty() ? "the training program could not be built" : diagnostic;
  return "";
}

TrainingPipelineOptions pipelineOptions(const SearchOptions &o, const Grid &grid,
                                        const std::string &overlap) {
  TrainingPipelineOptions po;
  po.grid = grid.str();
  po.overlap = overlap;
  po.prefetch = o.prefetch;
  po.goldfish = o.goldfish;
  po.optimizer = o.optimizer;
  po.oneMicroBatch = (o.microBatch ? o.microBatch : o.globalBatch) == o.globalBatch;
  return po;
}

/// The schedules and parameters of a module the whole pipeline has run on.
Program programOf(ModuleOp module, bool gradientsReducedInGrad) {
  Program program;
  program.gradientsReducedInGrad = gradientsReducedInGrad;
  std::string diagnostic;
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
    if (diagnostic.empty())
      diagnostic = d.str();
    return success();
  });
  auto grad = module.lookupSymbol<func::FuncOp>("grad");
  auto update = module.lookupSymbol<func::FuncOp>("update");
  FailureOr<Schedule> gradSchedule =
      grad ? extractSchedule(grad) : FailureOr<Schedule>(failure());
  FailureOr<Schedule> updateSchedule =
      update ? extractSchedule(update) : FailureOr<Schedule>(failure());
  if (failed(gradSchedule) || failed(updateSchedule)) {
    program.rejected = diagnostic.empty() ? "no @grad or @update to simulate" : diagnostic;
    return program;
  }
  program.grad = std::move(*gradSchedule);
  program.update = std::move(*updateSchedule);
  GridAttr gridAttr = module->getAttrOfType<GridAttr>(kGridAttrName);
  for (ParamOp param : module.getOps<ParamOp>()) {
    double n = static_cast<double>(param.getLocalTensorType().getNumElements());
    program.paramElements += n;
    AxisMask axes = 0;
    if (gridAttr)
      for (int32_t a : gradientReduceAxes(param, gridAttr))
        axes |= 1u << a;
    program.params.push_back({param.getSymName().str(), n, axes});
  }
  return program;
}

/// The training programs of `module` on `grid` for each overlap setting:
/// the passes before tetra-overlap run once.
std::vector<Program> buildPrograms(ModuleOp module, const SearchOptions &o, const Grid &grid,
                                   const std::vector<std::string> &overlaps) {
  std::vector<Program> programs(overlaps.size());
  std::vector<TrainingPipeline> pipelines;
  for (size_t i = 0; i < overlaps.size(); ++i) {
    llvm::Expected<TrainingPipeline> p = trainingPipeline(pipelineOptions(o, grid, overlaps[i]));
    if (!p) { // a bad overlap setting: nothing is built
      std::string why = llvm::toString(p.takeError());
      for (Program &program : programs)
        program.rejected = why;
      return programs;
    }
    pipelines.push_back(*p);
  }
  if (std::string why = runPasses(module, pipelines.front().front); !why.empty()) {
    for (Program &p : programs)
      p.rejected = why;
    return programs;
  }
  for (size_t i = 0; i < overlaps.size(); ++i) {
    OwningOpRef<ModuleOp> copy = i + 1 < overlaps.size() ? module.clone() : ModuleOp();
    ModuleOp target = copy ? *copy : module;
    if (!pipelines[i].overlap.empty())
      if (std::string why = runPasses(target, pipelines[i].overlap); !why.empty()) {
        programs[i].rejected = why;
        continue;
      }
    programs[i] = programOf(target, pipelines[i].gradientsReducedInGrad);
  }
  return programs;
}

/// Step time, communication and memory of `program` (recomputing the
/// activations when `c` says so).
Prediction simulateProgram(const Program &program, const Machine &m, const SearchOptions &o,
                           const Configuration &c, bool keepTimeline) {
  Prediction p;
  p.config = c;
  p.rejected = program.rejected;
  if (!p.rejected.empty()) {
    p.rejection = Rejection::CannotBuild;
    return p;
  }
  int64_t microBatch = o.microBatch ? o.microBatch : o.globalBatch;
  Simulator sim(m, c.grid, keepTimeline);
  Schedule step = c.recompute ? withRecomputation(program.grad) : program.grad;
  int64_t microBatches = o.globalBatch / microBatch;
  constexpr double kGradientBytes = 4; // gradients, their sums and AdamW state: fp32
  double paramElements = program.paramElements;
  for (int64_t i = 0; i < microBatches; ++i) {
    sim.play(step, "grad");
    sim.hostWork(3 * paramElements * kGradientBytes, "accumulate gradients");
  }
  bool reduce = (c.grid.z() > 1 || c.grid.data() > 1) && !program.gradientsReducedInGrad;
  if (reduce)
    for (const Program::Param &param : program.params)
      if (param.axes)
        sim.blockingCollective(CollectiveKind::AllReduce, param.axes,
                               param.elements * kGradientBytes,
                               "gradient all-reduce " + param.name);
  sim.hostWork(paramElements * kGradientBytes, "gradient norm");
  sim.blockingCollective(CollectiveKind::AllReduce, 0b0111, 8, "gradient norm");
  sim.play(program.update, "update");

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
      std::max(0.0, program.grad.peakLiveElements - paramElements) * m.storageBytes;
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
  auto lerp = [t](double x, double y) { return std::max(0.0, y + t * (y - x)); };
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

/// Recomputation's memory, model FLOPs, MFU and the memory check.
void finish(Prediction &p, const ModelInfo &model, const Machine &m, const SearchOptions &o) {
  // Recomputation keeps each block's input and one block's working set.
  const Configuration &c = p.config;
  double rows = static_cast<double>(o.microBatch ? o.microBatch : o.globalBatch) * o.seqLen /
                static_cast<double>(c.grid.data() * c.grid.z());
  double boundary = rows * static_cast<double>(model.hidden) / c.grid.x() * m.storageBytes;
  double perBlock = p.memory.activations / std::max<int64_t>(1, model.layers);
  p.memory.activationsRecomputed = perBlock + model.layers * boundary;
  p.modelFlops = modelFlopsPerStep(model, o, c.recompute);
  p.mfu = p.modelFlops / (p.stepSeconds * c.grid.devices() * m.peakMatrix);
  double need = p.memory.total(c.recompute);
  if (need > m.memoryBytes) {
    p.rejection = Rejection::DoesNotFit;
    p.rejected = "needs " + gib(need) + " per device" +
                 (c.recompute ? " even with recomputation" : "") + ", the device has " +
                 gib(m.memoryBytes);
  }
}

} // namespace

std::vector<std::pair<Prediction, Prediction>>
predictGrid(const ModelFactory &factory, const ModelInfo &model, const Machine &m,
            const SearchOptions &o, const Grid &grid, const std::vector<std::string> &overlaps,
            bool fullDepth, bool keepTimeline) {
  std::vector<std::pair<Prediction, Prediction>> out(overlaps.size());
  auto configure = [&](size_t i) {
    out[i].first.config = Configuration{grid, overlaps[i], false};
    out[i].second.config = Configuration{grid, overlaps[i], true};
  };
  // Shallow copies pay off for deep models only; below that the whole model
  // is simulated (and the blocks' periodicity, e.g. of gradient buckets, is
  // not assumed).
  constexpr int64_t kShallow = 1, kDeep = 8;
  OwningOpRef<ModuleOp> shallow;
  if (!fullDepth && model.layers > kDeep)
    shallow = factory(kShallow);
  if (shallow) {
    std::vector<Program> a = buildPrograms(*shallow, o, grid, overlaps);
    bool anyBuilt = llvm::any_of(a, [](const Program &p) { return p.rejected.empty(); });
    std::vector<Program> b;
    if (anyBuilt) {
      OwningOpRef<ModuleOp> deeper = factory(kShallow + 1);
      if (deeper)
        b = buildPrograms(*deeper, o, grid, overlaps);
    }
    double t = static_cast<double>(model.layers - kShallow - 1);
    for (size_t i = 0; i < overlaps.size(); ++i) {
      configure(i);
      for (Prediction *p : {&out[i].first, &out[i].second}) {
        p->layersSimulated = kShallow + 1;
        if (!a[i].rejected.empty() || b.size() <= i || !b[i].rejected.empty()) {
          p->rejection = Rejection::CannotBuild;
          p->rejected = !a[i].rejected.empty() ? a[i].rejected
                        : b.size() > i        ? b[i].rejected
                                              : "the model could not be built";
          continue;
        }
        Prediction pa = simulateProgram(a[i], m, o, p->config, false);
        Prediction pb = simulateProgram(b[i], m, o, p->config, false);
        extrapolate(*p, pa, pb, t);
      }
    }
  } else {
    OwningOpRef<ModuleOp> full = factory(0);
    int64_t layers = full ? layersOf(*full) : 0;
    std::vector<Program> programs =
        full ? buildPrograms(*full, o, grid, overlaps) : std::vector<Program>(overlaps.size());
    for (size_t i = 0; i < overlaps.size(); ++i) {
      if (!full)
        programs[i].rejected = "the model could not be built";
      configure(i);
      Configuration plain = out[i].first.config, recomputed = out[i].second.config;
      out[i].first = simulateProgram(programs[i], m, o, plain, keepTimeline);
      out[i].second = simulateProgram(programs[i], m, o, recomputed, keepTimeline);
      out[i].first.layersSimulated = out[i].second.layersSimulated = layers;
    }
  }
  for (auto &[p, r] : out)
    for (Prediction *x : {&p, &r})
      if (x->rejected.empty())
        finish(*x, model, m, o);
  return out;
}

Prediction predict(const ModelFactory &factory, const ModelInfo &model, const Machine &m,
                   const SearchOptions &o, const Configuration &c, bool fullDepth) {
  auto both = predictGrid(factory, model, m, o, c.grid, {c.overlap}, fullDepth, fullDepth);
  return c.recompute ? both.front().second : both.front().first;
}

} // namespace mlir::tetra::cost
