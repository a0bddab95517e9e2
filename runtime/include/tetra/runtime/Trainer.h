//===- Trainer.h - training steps: the artifact's plan, executed -----------===//
#ifndef TETRA_RUNTIME_TRAINER_H
#define TETRA_RUNTIME_TRAINER_H

#include "tetra/runtime/Artifact.h"
#include "tetra/runtime/Collectives.h"
#include "tetra/runtime/Data.h"
#include "tetra/runtime/Plan.h"
#include "tetra/runtime/Schedule.h"

#include <map>
#include <string>

namespace tetra::rt {

struct StepResult {
  double loss = 0;
  double lr = 0;
  double gradNorm = 0;
  /// Targets the goldfish mask dropped in the step (-1 without goldfish).
  int64_t droppedTokens = -1;
  /// Seconds the step waited for communication (not hidden by computation).
  double exposedComm = 0;
};

/// Named buffer sets (parameters, AdamW moments, gradients, ...) and the step
/// counter of one training run; a step runs the artifact's plan.
class Trainer {
public:
  /// `params` are global tensors; on a grid (`comm`, for artifacts compiled
  /// with --grid) each rank keeps its shard of them.
  Trainer(const Artifact &artifact, std::map<std::string, Tensor> params,
          Collectives *comm = nullptr);

  /// Resumes from a checkpoint written by save() (parameters, moments, step),
  /// on any grid; a checkpoint without moments (e.g. from PyTorch) starts at
  /// step 0.
  static Trainer fromCheckpoint(const Artifact &artifact, const std::string &path,
                                Collectives *comm = nullptr);

  /// One optimizer step: runs the plan on the global batch of step
  /// `stepCount() + 1`, at the schedule's learning rate, clipping at `clip`
  /// (0: off). The loss reported is the plan's `loss_sum` set.
  StepResult step(const TokenData &data, const Schedule &schedule, double clip);

  /// The averaged gradients and loss of the next step (the plan run up to its
  /// `update` launch), without updating anything.
  std::map<std::string, Tensor> gradients(const TokenData &data, double &loss);

  /// The goldfish mask of the micro-batch starting at sample `first`: 1.0
  /// where a target is dropped. Throws Error without goldfish.
  Tensor goldfishMask(const TokenData &data, int64_t first);
  Tensor goldfishMask(Batch &batch);

  /// Mean loss of the micro-batch starting at sample `first`, no update; with
  /// goldfish, over every target (the artifact's `eval_loss`).
  double evaluate(const TokenData &data, int64_t first);

  /// Parameters, moments and step as global tensors, atomically (temporary
  /// file + rename). On a grid every rank must call it (the shards are
  /// gathered); rank 0 writes.
  void save(const std::string &path) const;
  /// A set of this rank's shards (param, grad_sum, ...) as global tensors
  /// (collective on a grid).
  std::map<std::string, Tensor> globalTensors(const std::map<std::string, Tensor> &shards) const;
  /// Bytes of the buffer sets this rank holds now (parameters, moments,
  /// gradients, sums).
  int64_t stateBytes() const;
  /// The rank's micro-batch: its rows of the samples from `first` on.
  Batch localBatch(const TokenData &data, int64_t first) const;

  int64_t stepCount() const { return step_; }
  /// The grid's collectives (null on one process).
  Collectives *collectives() const { return comm_; }
  /// This rank's fp32 master parameters.
  const std::map<std::string, Tensor> &parameters() const { return sets_.at("param"); }
  /// The tensor an entry's parameter argument binds: the fp32 master (role
  /// `param`) or its bf16 working copy (role `param_bf16`, artifacts
  /// compiled with --storage bf16), which the artifact's `round_params`
  /// makes again first when the masters changed since it last ran.
  Tensor *parameterArgument(const ArgSpec &arg);

  /// Binds a micro-batch's tokens and targets and the parameters.
  Artifact::Binder batchBinder(Batch &batch);

private:
  struct Context;
  void run(const std::vector<PlanStep> &steps, Context &ctx);
  std::map<std::string, Tensor> &set(const std::string &name);
  /// Rounds the masters into the working copies (the `param_bf16` set).
  void roundParameters();

  const Artifact &artifact_;
  Collectives *comm_;
  std::map<std::string, const ParamSpec *> specs_;
  std::map<std::string, std::map<std::string, Tensor>> sets_;
  int64_t step_ = 0;
  /// Whether the working copies hold the masters as they are now.
  bool copiesCurrent_ = false;
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_TRAINER_H
