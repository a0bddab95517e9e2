//===- TrainPlan.cpp - the plan of one training step -----------------------===//
#include "tetra/Compile/Compile.h"

#include "mlir/IR/Builders.h"

using namespace mlir;

sched::PlanOp tetra::buildTrainPlan(OpBuilder &b, Location loc, int64_t microBatches,
                                    bool reduceGradients) {
  auto plan = sched::PlanOp::create(b, loc, b.getStringAttr("train_step"),
                                    b.getI64IntegerAttr(sched::kPlanVersion));
  OpBuilder::InsertionGuard guard(b);
  b.createBlock(&plan.getBody());
  // Gradients and loss summed over the micro-batches, then averaged.
  sched::ZeroOp::create(b, loc, "grad_sum", "param");
  sched::ZeroOp::create(b, loc, "loss_sum", "loss");
  auto repeat = sched::RepeatOp::create(b, loc, b.getI64IntegerAttr(microBatches));
  {
    OpBuilder::InsertionGuard inner(b);
    b.createBlock(&repeat.getBody());
    sched::LoadBatchOp::create(b, loc);
    sched::LaunchOp::create(b, loc, FlatSymbolRefAttr::get(b.getContext(), "grad"),
                            DictionaryAttr());
    sched::AccumulateOp::create(b, loc, "grad", "grad_sum");
    sched::AccumulateOp::create(b, loc, "loss", "loss_sum");
  }
  if (microBatches > 1) {
    auto mean = b.getF64FloatAttr(1.0 / static_cast<double>(microBatches));
    sched::ScaleOp::create(b, loc, b.getStringAttr("grad_sum"), mean);
    sched::ScaleOp::create(b, loc, b.getStringAttr("loss_sum"), mean);
  }
  if (reduceGradients)
    sched::ReduceGradientsOp::create(b, loc, "grad_sum");
  sched::ClipNormOp::create(b, loc, "grad_sum");
  sched::LaunchOp::create(b, loc, FlatSymbolRefAttr::get(b.getContext(), "update"),
                          b.getDictionaryAttr({b.getNamedAttr("grad", b.getStringAttr("grad_sum"))}));
  return plan;
}
