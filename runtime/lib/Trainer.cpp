//===- Trainer.cpp - training steps: the artifact's plan, executed ---------===//
#include "tetra/runtime/Trainer.h"
#include "tetra/runtime/Error.h"
#include "tetra/runtime/Parameters.h"
#include "tetra/runtime/Safetensors.h"
#include "tetra/runtime/Sharding.h"
#include "tetra/runtime/Trace.h"

#include <cmath>
#include <cstring>
#include <optional>

namespace tetra::rt {

namespace {
constexpr const char *kMomentPrefix[2] = {"optimizer.m.", "optimizer.v."};
/// The bf16 working copies of the weights and the entry that rounds them.
constexpr const char *kCopyRole = "param_bf16";
constexpr const char *kCopiesEntry = "round_params";

std::map<std::string, Tensor> zerosLike(const std::map<std::string, Tensor> &tensors) {
  std::map<std::string, Tensor> zeros;
  for (const auto &[name, t] : tensors)
    zeros.emplace(name, Tensor(t.dtype(), t.shape()));
  return zeros;
}

Tensor scalarF32(double value) {
  Tensor t(DType::F32, {});
  t.as<float>()[0] = static_cast<float>(value);
  return t;
}

std::map<std::string, Tensor> copyOf(const std::map<std::string, Tensor> &tensors) {
  std::map<std::string, Tensor> copy;
  for (const auto &[name, t] : tensors) {
    Tensor c(t.dtype(), t.shape());
    std::memcpy(c.data(), t.data(), t.numBytes());
    copy.emplace(name, std::move(c));
  }
  return copy;
}
} // namespace

/// What one run of the plan works with besides the buffer sets.
struct Trainer::Context {
  const TokenData &data;
  int64_t batchesLoaded = 0;
  std::optional<Batch> batch;
  Tensor lr = scalarF32(0), step = Tensor(DType::I64, {}), gradScale = scalarF32(1);
  double clip = 0, gradNorm = 0;
  /// Targets the goldfish mask dropped in the loaded batches (-1: no goldfish).
  int64_t dropped = -1;
  /// Stop before launching this entry (gradients() stops before `update`).
  std::string stopBefore;
  bool stopped = false;
};

Trainer::Trainer(const Artifact &artifact, std::map<std::string, Tensor> params,
                 Collectives *comm)
    : artifact_(artifact), comm_(comm) {
  const Manifest &m = artifact.manifest();
  for (const ParamSpec &spec : m.params)
    specs_[spec.name] = &spec;
  if (m.grid.ranks() > 1) {
    if (!comm || comm->shape().sizes != m.grid.sizes)
      throw Error("the artifact is compiled for grid " + m.grid.str() + "; run it with " +
                  std::to_string(m.grid.ranks()) + " MPI ranks (mpirun -np " +
                  std::to_string(m.grid.ranks()) + ")");
    for (auto &[name, t] : params)
      t = shardOf(*specs_.at(name), t, m.grid, comm->coord());
  }
  sets_["m"] = zerosLike(params);
  sets_["v"] = zerosLike(params);
  sets_["param"] = std::move(params);
  sets_["loss"].emplace("", Tensor(DType::F32, {}));
}

Trainer Trainer::fromCheckpoint(const Artifact &artifact, const std::string &path,
                                Collectives *comm) {
  Trainer trainer(artifact, loadParameters(artifact.manifest(), path), comm);
  const GridShape &grid = artifact.manifest().grid;
  std::map<std::string, Tensor> file = readSafetensors(path);
  auto stepIt = file.find("optimizer.step");
  if (stepIt == file.end())
    return trainer; // parameters only: a fresh optimizer
  if (stepIt->second.dtype() != DType::I64 || stepIt->second.numElements() != 1)
    throw Error(path + ": optimizer.step must be one i64");
  trainer.step_ = stepIt->second.as<int64_t>()[0];
  for (int which = 0; which < 2; ++which)
    for (const auto &[name, param] : trainer.parameters()) {
      const ParamSpec &spec = *trainer.specs_.at(name);
      auto it = file.find(kMomentPrefix[which] + name);
      if (it == file.end() || it->second.shape() != spec.shape)
        throw Error(path + ": checkpoint at step " + std::to_string(trainer.step_) +
                    " lacks optimizer state " + kMomentPrefix[which] + name +
                    " of the parameter's shape");
      trainer.sets_[which ? "v" : "m"][name] =
          grid.ranks() > 1 ? shardOf(spec, it->second, grid, comm->coord())
                           : std::move(it->second);
    }
  return trainer;
}

std::map<std::string, Tensor> &Trainer::set(const std::string &name) {
  auto it = sets_.find(name);
  if (it == sets_.end())
    throw Error("the plan uses buffer set '" + name + "' before making it");
  return it->second;
}

Artifact::Binder Trainer::batchBinder(Batch &batch) {
  return [this, &batch](const ArgSpec &a) -> Tensor * {
    if (a.role == "tokens")
      return &batch.tokens;
    if (a.role == "targets")
      return &batch.targets;
    return parameterArgument(a);
  };
}

Tensor *Trainer::parameterArgument(const ArgSpec &arg) {
  if (arg.role != "param" && arg.role != kCopyRole)
    return nullptr;
  if (arg.role == kCopyRole && !copiesCurrent_)
    roundParameters();
  std::map<std::string, Tensor> &tensors = sets_.at(arg.role);
  auto it = tensors.find(arg.name);
  return it == tensors.end() ? nullptr : &it->second;
}

void Trainer::roundParameters() {
  const EntrySpec &entry = artifact_.entry(kCopiesEntry);
  std::map<std::string, Tensor> &copies = sets_[kCopyRole];
  double begin = trace().now();
  std::vector<Tensor> fresh = artifact_.call(
      kCopiesEntry,
      [&](const ArgSpec &a) { return parameterArgument(a); },
      [&](const ArgSpec &r) -> Tensor * {
        auto it = copies.find(r.name);
        return it == copies.end() ? nullptr : &it->second;
      });
  trace().record("compute", kCopiesEntry, begin, trace().now(),
                 {{"work_bytes", entry.workBytes}, {"gemm_flops", entry.gemmFlops}});
  for (size_t i = 0; i < fresh.size(); ++i)
    if (fresh[i].data())
      copies[entry.results[i].name] = std::move(fresh[i]);
  copiesCurrent_ = true;
}

void Trainer::run(const std::vector<PlanStep> &steps, Context &ctx) {
  const Manifest &m = artifact_.manifest();
  for (const PlanStep &s : steps) {
    if (ctx.stopped)
      return;
    if (s.op == "repeat") {
      for (int64_t i = 0; i < s.count && !ctx.stopped; ++i)
        run(s.body, ctx);
    } else if (s.op == "load_batch") {
      int64_t first = step_ * m.globalBatch + ctx.batchesLoaded++ * m.microBatch;
      ctx.batch.emplace(localBatch(ctx.data, first));
      if (ctx.dropped >= 0) {
        Tensor mask = goldfishMask(*ctx.batch);
        for (int64_t k = 0; k < mask.numElements(); ++k)
          ctx.dropped += mask.as<float>()[k] != 0.0f;
      }
    } else if (s.op == "zero") {
      // Reuse the set's buffers from the last step when it has them.
      auto existing = sets_.find(s.buffers);
      if (existing != sets_.end() && existing->second.size() == set(s.like).size()) {
        for (auto &[name, t] : existing->second)
          std::memset(t.data(), 0, t.numBytes());
      } else {
        sets_[s.buffers] = zerosLike(set(s.like));
      }
    } else if (s.op == "accumulate" || s.op == "scale") {
      std::map<std::string, Tensor> &target = set(s.op == "scale" ? s.buffers : s.into);
      for (auto &[name, t] : target) {
        float *out = t.as<float>();
        if (s.op == "scale") {
          for (int64_t k = 0; k < t.numElements(); ++k)
            out[k] *= static_cast<float>(s.factor);
          continue;
        }
        const float *in = set(s.from).at(name).as<float>();
        for (int64_t k = 0; k < t.numElements(); ++k)
          out[k] += in[k];
      }
    } else if (s.op == "reduce_gradients") {
      // Blocking, between the kernels: all of it is exposed communication.
      if (comm_)
        for (auto &[name, t] : set(s.buffers)) {
          std::vector<Axis> axes = gradientReduceAxes(*specs_.at(name), m.grid);
          if (axes.empty())
            continue;
          double begin = trace().now();
          comm_->allReduceSum(t.as<float>(), t.numElements(), axes);
          double end = trace().now();
          double ranks = 1;
          for (Axis a : axes)
            ranks *= static_cast<double>(m.grid.size(a));
          trace().record(axesName(axes), "gradient all-reduce " + name, begin, end,
                         {{"bytes", static_cast<double>(t.numBytes())}, {"ranks", ranks}});
          trace().addExposed(end - begin);
        }
    } else if (s.op == "clip_norm") {
      double sumSquares = 0;
      for (auto &[name, t] : set(s.buffers)) {
        const float *g = t.as<float>();
        double local = 0;
        for (int64_t k = 0; k < t.numElements(); ++k)
          local += static_cast<double>(g[k]) * g[k];
        // A shard several tensor-parallel ranks hold counts once.
        sumSquares += comm_ ? local / tensorReplicas(*specs_.at(name), m.grid) : local;
      }
      if (comm_)
        comm_->allReduceSum(&sumSquares, 1, {Axis::X, Axis::Y, Axis::Z});
      ctx.gradNorm = std::sqrt(sumSquares);
      // torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when < 1.
      double scale = ctx.clip > 0 ? std::min(1.0, ctx.clip / (ctx.gradNorm + 1e-6)) : 1.0;
      ctx.gradScale.as<float>()[0] = static_cast<float>(scale);
    } else if (s.op == "launch") {
      if (s.entry == ctx.stopBefore) {
        ctx.stopped = true;
        return;
      }
      auto setOf = [&](const std::string &role) {
        auto renamed = s.bind.find(role);
        return renamed == s.bind.end() ? role : renamed->second;
      };
      const EntrySpec &entry = artifact_.entry(s.entry);
      // Results replace last launch's: free those first.
      for (const ArgSpec &r : entry.results)
        if (sets_.count(r.role) && !s.bind.count(r.role))
          if (r.role != "param" && r.role != "m" && r.role != "v")
            sets_[r.role].erase(r.name);
      // AdamW is elementwise: the update writes parameters and moments in place.
      Artifact::Binder inPlace = nullptr;
      if (s.entry == "update")
        inPlace = [&](const ArgSpec &r) -> Tensor * {
          auto it = sets_.find(r.role);
          if (it == sets_.end() || !it->second.count(r.name))
            return nullptr;
          return &it->second.at(r.name);
        };
      double launched = trace().now();
      std::vector<Tensor> results = artifact_.call(s.entry, [&](const ArgSpec &a) -> Tensor * {
        if ((a.role == "tokens" || a.role == "targets") && !ctx.batch)
          throw Error("the plan launches " + s.entry + " before loading a batch");
        if (a.role == "tokens")
          return &ctx.batch->tokens;
        if (a.role == "targets")
          return &ctx.batch->targets;
        if (a.role == "lr")
          return &ctx.lr;
        if (a.role == "step")
          return &ctx.step;
        if (a.role == "grad_scale")
          return &ctx.gradScale;
        if (a.role == kCopyRole && !copiesCurrent_)
          roundParameters();
        auto &buffers = set(setOf(a.role));
        auto it = buffers.find(a.name);
        return it == buffers.end() ? nullptr : &it->second;
      }, inPlace);
      trace().record("compute", s.entry, launched, trace().now(),
                     {{"work_bytes", entry.workBytes}, {"gemm_flops", entry.gemmFlops}});
      for (size_t i = 0; i < results.size(); ++i)
        if (results[i].data())
          sets_[entry.results[i].role][entry.results[i].name] = std::move(results[i]);
      // New masters (AdamW's): the working copies are rounded again when next read.
      for (const ArgSpec &r : entry.results)
        if (r.role == "param")
          copiesCurrent_ = false;
    }
  }
}

Tensor Trainer::goldfishMask(Batch &batch) {
  if (!artifact_.hasEntry("goldfish_mask"))
    throw Error("the artifact was compiled without --goldfish");
  return std::move(artifact_.call("goldfish_mask", batchBinder(batch))[0]);
}

Batch Trainer::localBatch(const TokenData &data, int64_t first) const {
  const Manifest &m = artifact_.manifest();
  // Samples are split over data*z: this rank's rows, data outermost.
  int64_t shards = m.grid.size(Axis::Data) * m.grid.size(Axis::Z);
  int64_t rows = m.microBatch / shards, index = 0;
  if (comm_ && shards > 1) {
    GridCoord c = comm_->coord();
    index = c.of(Axis::Data) * m.grid.size(Axis::Z) + c.of(Axis::Z);
  }
  return makeBatch(data, first + index * rows, rows, m.seqLen, m.vocab);
}

Tensor Trainer::goldfishMask(const TokenData &data, int64_t first) {
  Batch batch = localBatch(data, first);
  return goldfishMask(batch);
}

double Trainer::evaluate(const TokenData &data, int64_t first) {
  Batch batch = localBatch(data, first);
  // Validation counts every target: goldfish's mask is for training only.
  std::vector<Tensor> out = artifact_.call(
      artifact_.hasEntry("eval_loss") ? "eval_loss" : "loss", batchBinder(batch));
  return out[0].as<float>()[0];
}

std::map<std::string, Tensor> Trainer::gradients(const TokenData &data, double &loss) {
  Context ctx{data};
  ctx.stopBefore = "update";
  run(artifact_.plan().steps, ctx);
  loss = set("loss_sum").at("").as<float>()[0];
  return std::move(set("grad_sum"));
}

StepResult Trainer::step(const TokenData &data, const Schedule &schedule, double clip) {
  StepResult result;
  result.lr = schedule.at(step_ + 1);
  Context ctx{data};
  ctx.clip = clip;
  ctx.lr.as<float>()[0] = static_cast<float>(result.lr);
  ctx.step.as<int64_t>()[0] = step_ + 1;
  if (artifact_.hasEntry("goldfish_mask"))
    ctx.dropped = 0;
  trace().takeExposed(); // what came before is not this step's
  run(artifact_.plan().steps, ctx);
  result.exposedComm = trace().takeExposed();
  result.loss = set(sets_.count("loss_sum") ? "loss_sum" : "loss").at("").as<float>()[0];
  result.gradNorm = ctx.gradNorm;
  result.droppedTokens = ctx.dropped;
  if (comm_ && ctx.dropped >= 0) {
    // Each rank counted its own rows: the step's count is their sum.
    double dropped = static_cast<double>(ctx.dropped);
    comm_->allReduceSum(&dropped, 1, {Axis::Z, Axis::Data});
    result.droppedTokens = static_cast<int64_t>(dropped);
  }
  ++step_;
  return result;
}

std::map<std::string, Tensor>
Trainer::globalTensors(const std::map<std::string, Tensor> &shards) const {
  if (!comm_ || artifact_.manifest().grid.ranks() == 1)
    return copyOf(shards);
  std::map<std::string, Tensor> global;
  for (const auto &[name, t] : shards)
    global.emplace(name, gatherGlobal(*specs_.at(name), t, *comm_));
  return global;
}

int64_t Trainer::stateBytes() const {
  int64_t bytes = 0;
  for (const auto &[set, tensors] : sets_)
    for (const auto &[name, t] : tensors)
      bytes += t.numBytes();
  return bytes;
}

void Trainer::save(const std::string &path) const {
  Tensor step(DType::I64, {});
  step.as<int64_t>()[0] = step_;
  std::map<std::string, std::string> metadata{{"format", "pt"},
                                              {"tetra.step", std::to_string(step_)}};
  if (comm_ && artifact_.manifest().grid.ranks() > 1) {
    std::vector<CheckpointTensor> tensors;
    for (const char *set : {"param", "m", "v"})
      for (const auto &[name, t] : sets_.at(set)) {
        std::string prefix = std::string(set) == "param" ? ""
                             : std::string(set) == "m"   ? kMomentPrefix[0]
                                                         : kMomentPrefix[1];
        tensors.push_back({prefix + name, specs_.at(name), &t});
      }
    tensors.push_back({"optimizer.step", nullptr, &step});
    writeShardedCheckpoint(path, tensors, metadata, *comm_);
    return;
  }
  std::map<std::string, Tensor> all = globalTensors(sets_.at("param"));
  for (int which = 0; which < 2; ++which)
    for (auto &[name, t] : globalTensors(sets_.at(which ? "v" : "m")))
      all.emplace(kMomentPrefix[which] + name, std::move(t));
  all.emplace("optimizer.step", std::move(step));
  writeSafetensors(path, all, metadata);
}

} // namespace tetra::rt
