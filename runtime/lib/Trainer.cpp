//===- Trainer.cpp - training steps over an artifact -----------------------===//
#include "tetra/runtime/Trainer.h"
#include "tetra/runtime/Error.h"
#include "tetra/runtime/Parameters.h"
#include "tetra/runtime/Safetensors.h"

#include <cmath>

namespace tetra::rt {

namespace {
constexpr const char *kMomentPrefix[2] = {"optimizer.m.", "optimizer.v."};

std::map<std::string, Tensor> zerosLike(const std::map<std::string, Tensor> &params) {
  std::map<std::string, Tensor> zeros;
  for (const auto &[name, t] : params)
    zeros.emplace(name, Tensor(t.dtype(), t.shape()));
  return zeros;
}

Tensor scalarF32(double value) {
  Tensor t(DType::F32, {});
  t.as<float>()[0] = static_cast<float>(value);
  return t;
}
} // namespace

Trainer::Trainer(const Artifact &artifact, std::map<std::string, Tensor> params)
    : artifact_(artifact), params_(std::move(params)) {
  m_ = zerosLike(params_);
  v_ = zerosLike(params_);
}

Trainer Trainer::fromCheckpoint(const Artifact &artifact, const std::string &path) {
  Trainer trainer(artifact, loadParameters(artifact.manifest(), path));
  std::map<std::string, Tensor> file = readSafetensors(path);
  auto stepIt = file.find("optimizer.step");
  if (stepIt == file.end())
    return trainer; // parameters only: a fresh optimizer
  if (stepIt->second.dtype() != DType::I64 || stepIt->second.numElements() != 1)
    throw Error(path + ": optimizer.step must be one i64");
  trainer.step_ = stepIt->second.as<int64_t>()[0];
  for (int which = 0; which < 2; ++which)
    for (auto &[name, param] : trainer.params_) {
      auto it = file.find(kMomentPrefix[which] + name);
      if (it == file.end() || it->second.shape() != param.shape())
        throw Error(path + ": checkpoint at step " + std::to_string(trainer.step_) +
                    " lacks optimizer state " + kMomentPrefix[which] + name +
                    " of shape " + param.shapeString());
      (which ? trainer.v_ : trainer.m_)[name] = std::move(it->second);
    }
  return trainer;
}

Artifact::Binder Trainer::batchBinder(Batch &batch) {
  return [this, &batch](const ArgSpec &a) -> Tensor * {
    if (a.role == "tokens")
      return &batch.tokens;
    if (a.role == "targets")
      return &batch.targets;
    if (a.role == "param")
      return &params_.at(a.name);
    return nullptr;
  };
}

double Trainer::evaluate(const TokenData &data, int64_t first) {
  const Manifest &m = artifact_.manifest();
  Batch batch = makeBatch(data, first, m.microBatch, m.seqLen, m.vocab);
  std::vector<Tensor> out = artifact_.call("loss", batchBinder(batch));
  return out[0].as<float>()[0];
}

std::map<std::string, Tensor> Trainer::gradients(const TokenData &data, double &loss) {
  const Manifest &m = artifact_.manifest();
  int64_t micro = m.globalBatch / m.microBatch;
  const EntrySpec &gradEntry = artifact_.entry("grad");
  // Sum of the micro-batches' gradients, then their mean.
  std::map<std::string, Tensor> grads = zerosLike(params_);
  double lossSum = 0;
  for (int64_t j = 0; j < micro; ++j) {
    Batch batch = makeBatch(data, step_ * m.globalBatch + j * m.microBatch, m.microBatch,
                            m.seqLen, m.vocab);
    std::vector<Tensor> out = artifact_.call("grad", batchBinder(batch));
    for (size_t i = 0; i < out.size(); ++i) {
      const ArgSpec &r = gradEntry.results[i];
      if (r.role == "loss") {
        lossSum += out[i].as<float>()[0];
      } else if (r.role == "grad") {
        float *acc = grads.at(r.name).as<float>();
        const float *g = out[i].as<float>();
        for (int64_t k = 0; k < out[i].numElements(); ++k)
          acc[k] += g[k];
      }
    }
  }
  if (micro > 1)
    for (auto &[name, g] : grads) {
      float *values = g.as<float>();
      for (int64_t k = 0; k < g.numElements(); ++k)
        values[k] /= static_cast<float>(micro);
    }
  loss = lossSum / static_cast<double>(micro);
  return grads;
}

StepResult Trainer::step(const TokenData &data, const Schedule &schedule, double clip) {
  int64_t next = step_ + 1;
  double loss = 0;
  std::map<std::string, Tensor> grads = gradients(data, loss);
  double sumSquares = 0;
  for (auto &[name, g] : grads) {
    const float *values = g.as<float>();
    for (int64_t k = 0; k < g.numElements(); ++k)
      sumSquares += static_cast<double>(values[k]) * values[k];
  }
  StepResult result;
  result.loss = loss;
  result.gradNorm = std::sqrt(sumSquares);
  result.lr = schedule.at(next);
  // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when < 1.
  double scale = 1.0;
  if (clip > 0)
    scale = std::min(1.0, clip / (result.gradNorm + 1e-6));

  Tensor lr = scalarF32(result.lr), gradScale = scalarF32(scale);
  Tensor stepTensor(DType::I64, {});
  stepTensor.as<int64_t>()[0] = next;
  const EntrySpec &updateEntry = artifact_.entry("update");
  std::vector<Tensor> out = artifact_.call("update", [&](const ArgSpec &a) -> Tensor * {
    if (a.role == "lr")
      return &lr;
    if (a.role == "step")
      return &stepTensor;
    if (a.role == "grad_scale")
      return &gradScale;
    if (a.role == "grad")
      return &grads.at(a.name);
    if (a.role == "m")
      return &m_.at(a.name);
    if (a.role == "v")
      return &v_.at(a.name);
    if (a.role == "param")
      return &params_.at(a.name);
    return nullptr;
  });
  for (size_t i = 0; i < out.size(); ++i) {
    const ArgSpec &r = updateEntry.results[i];
    auto &target = r.role == "param" ? params_ : r.role == "m" ? m_ : v_;
    target[r.name] = std::move(out[i]);
  }
  step_ = next;
  return result;
}

void Trainer::save(const std::string &path) const {
  std::map<std::string, Tensor> all;
  for (const auto &[name, t] : params_) {
    Tensor copy(t.dtype(), t.shape());
    std::copy_n(t.as<float>(), t.numElements(), copy.as<float>());
    all.emplace(name, std::move(copy));
  }
  for (int which = 0; which < 2; ++which)
    for (const auto &[name, t] : which ? v_ : m_) {
      Tensor copy(t.dtype(), t.shape());
      std::copy_n(t.as<float>(), t.numElements(), copy.as<float>());
      all.emplace(kMomentPrefix[which] + name, std::move(copy));
    }
  Tensor step(DType::I64, {});
  step.as<int64_t>()[0] = step_;
  all.emplace("optimizer.step", std::move(step));
  writeSafetensors(path, all, {{"format", "pt"}, {"tetra.step", std::to_string(step_)}});
}

} // namespace tetra::rt
