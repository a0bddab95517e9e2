//===- Trainer.h - training steps over an artifact -------------------------===//
#ifndef TETRA_RUNTIME_TRAINER_H
#define TETRA_RUNTIME_TRAINER_H

#include "tetra/runtime/Artifact.h"
#include "tetra/runtime/Data.h"
#include "tetra/runtime/Schedule.h"

#include <map>
#include <string>

namespace tetra::rt {

struct StepResult {
  double loss = 0;
  double lr = 0;
  double gradNorm = 0;
};

/// Parameters, AdamW moments and the step counter of one training run.
class Trainer {
public:
  Trainer(const Artifact &artifact, std::map<std::string, Tensor> params);

  /// Resumes from a checkpoint written by save() (parameters, moments, step);
  /// a checkpoint without moments (e.g. from PyTorch) starts at step 0.
  static Trainer fromCheckpoint(const Artifact &artifact, const std::string &path);

  /// One optimizer step: the global batch of step `step() + 1`, cut from
  /// `data` as `global_batch / micro_batch` micro-batches whose gradients are
  /// averaged; global-norm clipping at `clip` (0: off); AdamW at the
  /// schedule's learning rate.
  StepResult step(const TokenData &data, const Schedule &schedule, double clip);

  /// The mean gradients and loss of the next step's global batch (what step()
  /// would apply), without updating anything.
  std::map<std::string, Tensor> gradients(const TokenData &data, double &loss);

  /// Mean loss of the micro-batch starting at sample `first`, no update.
  double evaluate(const TokenData &data, int64_t first);

  /// Parameters, moments and step, atomically (temporary file + rename).
  void save(const std::string &path) const;

  int64_t stepCount() const { return step_; }
  std::map<std::string, Tensor> &parameters() { return params_; }

  /// Binds a micro-batch's tokens and targets and the parameters.
  Artifact::Binder batchBinder(Batch &batch);

private:
  const Artifact &artifact_;
  std::map<std::string, Tensor> params_, m_, v_;
  int64_t step_ = 0;
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_TRAINER_H
