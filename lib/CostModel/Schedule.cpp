//===- Schedule.cpp - entry points as kernels and collectives -------------===//
#include "tetra/CostModel/Schedule.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::tetra::cost {

double Work::gemmFlops() const {
  double f = 0;
  for (const Gemm &g : gemms)
    f += g.flops();
  return f;
}

namespace {

double elementsOf(Type type) {
  auto shaped = llvm::dyn_cast<RankedTensorType>(type);
  if (!shaped || !shaped.hasStaticShape())
    return 0;
  double n = 1;
  for (int64_t d : shaped.getShape())
    n *= static_cast<double>(d);
  return n;
}

/// Elements of every tensor operand and result: a memory-bound kernel reads
/// and writes each once.
double operandAndResultElements(Operation *op) {
  double n = 0;
  for (Value v : op->getOperands())
    n += elementsOf(v.getType());
  for (Value v : op->getResults())
    n += elementsOf(v.getType());
  return n;
}

/// Rows of a [..., K] tensor: the product of its leading dimensions.
int64_t rowsOf(Value v) {
  auto t = llvm::cast<RankedTensorType>(v.getType());
  int64_t rows = 1;
  for (int64_t d : t.getShape().drop_back())
    rows *= d;
  return rows;
}

AxisMask maskOf(std::optional<ArrayRef<int32_t>> axes) {
  AxisMask mask = 0;
  if (axes)
    for (int32_t a : *axes)
      mask |= 1u << a;
  return mask;
}

/// One attention: per (batch, query head) S x T scores over D, then the S x D
/// output over T (the CPU lowering's two GEMMs per head).
Work attentionWork(Value query, Value key, int64_t gemmsPerHead) {
  auto q = llvm::cast<RankedTensorType>(query.getType());
  auto k = llvm::cast<RankedTensorType>(key.getType());
  int64_t b = q.getDimSize(0), s = q.getDimSize(1), heads = q.getDimSize(2),
          d = q.getDimSize(3), t = k.getDimSize(1);
  Work w;
  // Scores (S x T over D) and the products with it (over T or S), alike in
  // FLOPs: 2 forward; the backward recomputes the scores and adds 4.
  w.gemms.push_back({s, t, d, b * heads * gemmsPerHead});
  w.scoreElements = static_cast<double>(b) * heads * s * t * (gemmsPerHead == 2 ? 2 : 4);
  return w;
}

Work normWork(Operation *op, Value input, std::optional<ArrayRef<int32_t>> statAxes,
              double statisticsPerRow) {
  Work w;
  w.memoryElements = operandAndResultElements(op);
  if (statAxes)
    w.collectives.push_back({CollectiveKind::AllReduce, maskOf(statAxes),
                             statisticsPerRow * static_cast<double>(rowsOf(input))});
  return w;
}

/// A collective op as the runtime runs it: its kind, axes, buffer (see
/// collectiveSeconds) and whether it returns a token; nullopt for other ops.
struct CollectiveOpInfo {
  CollectiveKind kind;
  AxisMask axes;
  double elements;
  bool async;
};

std::optional<CollectiveOpInfo> collectiveOf(Operation *op) {
  using K = CollectiveKind;
  if (auto c = llvm::dyn_cast<AllReduceOp>(op))
    return CollectiveOpInfo{K::AllReduce, maskOf(c.getAxes()),
                            elementsOf(c.getInput().getType()), false};
  if (auto c = llvm::dyn_cast<AllGatherOp>(op))
    return CollectiveOpInfo{K::AllGather, maskOf(c.getAxes()),
                            elementsOf(c.getResult().getType()), false};
  if (auto c = llvm::dyn_cast<ReduceScatterOp>(op))
    return CollectiveOpInfo{K::ReduceScatter, maskOf(c.getAxes()),
                            elementsOf(c.getInput().getType()), false};
  if (auto c = llvm::dyn_cast<AllReduceStartOp>(op))
    return CollectiveOpInfo{K::AllReduce, maskOf(c.getAxes()),
                            elementsOf(c.getInput().getType()), true};
  if (auto c = llvm::dyn_cast<AllGatherStartOp>(op)) // the gathered result: its token's type
    return CollectiveOpInfo{K::AllGather, maskOf(c.getAxes()),
                            elementsOf(llvm::cast<TokenType>(c.getToken().getType()).getResult()),
                            true};
  if (auto c = llvm::dyn_cast<ReduceScatterStartOp>(op))
    return CollectiveOpInfo{K::ReduceScatter, maskOf(c.getAxes()),
                            elementsOf(c.getInput().getType()), true};
  return std::nullopt;
}

} // namespace

FailureOr<Work> workOf(Operation *op) {
  if (!llvm::isa<TetraDialect>(op->getDialect())) {
    // Views cost nothing; a copying tensor op reads and writes its result.
    if (llvm::isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp, tensor::CastOp,
                  tensor::EmptyOp, tensor::DimOp>(op) ||
        op->getNumResults() == 0 || !llvm::isa<RankedTensorType>(op->getResult(0).getType()))
      return Work{};
    Work w;
    // Bufferized in place, an insert_slice moves only its source.
    if (auto insert = llvm::dyn_cast<tensor::InsertSliceOp>(op))
      w.memoryElements = 2 * elementsOf(insert.getSource().getType());
    else
      w.memoryElements = 2 * elementsOf(op->getResult(0).getType());
    return w;
  }
  using Result = FailureOr<Work>;
  return llvm::TypeSwitch<Operation *, Result>(op)
      .Case([](LinearOp l) -> Result {
        Work w;
        w.gemms.push_back({rowsOf(l.getInput()), l.getOutFeatures(), l.getInFeatures()});
        if (l.getBias())
          w.memoryElements = 2 * elementsOf(l.getResult().getType());
        return w;
      })
      .Case([](LinearWeightGradOp g) -> Result {
        auto grad = llvm::cast<RankedTensorType>(g.getGrad().getType());
        auto in = llvm::cast<RankedTensorType>(g.getInput().getType());
        Work w;
        w.gemms.push_back({grad.getShape().back(), in.getShape().back(), rowsOf(g.getInput())});
        return w;
      })
      .Case([](AttentionOp a) -> Result { return attentionWork(a.getQuery(), a.getKey(), 2); })
      .Case([](AttentionGradOp a) -> Result {
        return attentionWork(a.getQuery(), a.getKey(), 5);
      })
      // Norms: a memory-bound kernel; sharded over features, the statistics
      // of each row (RMS; or mean and variance, and their gradients' two sums
      // each) are all-reduced over `stat_axes`.
      .Case([](RMSNormOp n) -> Result { return normWork(n, n.getInput(), n.getStatAxes(), 1); })
      .Case([](RMSNormGradOp n) -> Result {
        return normWork(n, n.getInput(), n.getStatAxes(), 2);
      })
      .Case([](LayerNormOp n) -> Result { return normWork(n, n.getInput(), n.getStatAxes(), 2); })
      .Case([](LayerNormGradOp n) -> Result {
        return normWork(n, n.getInput(), n.getStatAxes(), 4);
      })
      .Case([](CrossEntropyOp ce) -> Result {
        Work w;
        // Max, sum of exponentials: logits read twice.
        w.memoryElements = 2 * operandAndResultElements(ce);
        double rows = static_cast<double>(rowsOf(ce.getLogits()));
        if (ce.getVocabAxes())
          w.collectives.push_back(
              {CollectiveKind::AllReduce, maskOf(ce.getVocabAxes()), 3 * rows});
        if (ce.getRowAxes())
          w.collectives.push_back({CollectiveKind::AllReduce, maskOf(ce.getRowAxes()), 2});
        return w;
      })
      .Case<GetParamOp, WaitOp, AllGatherStartOp, AllReduceStartOp, ReduceScatterStartOp,
            AllGatherOp, AllReduceOp, ReduceScatterOp, FanOutOp>(
          [](Operation *) -> Result { return Work{}; })
      .Case<RecurrentOp>([](Operation *o) -> Result {
        return o->emitOpError("has no cost rule yet (recurrent models are not modelled)");
      })
      // Everything else is elementwise or a gather: memory-bound.
      .Default([](Operation *o) -> Result {
        Work w;
        w.memoryElements = operandAndResultElements(o);
        return w;
      });
}

FailureOr<Schedule> extractSchedule(func::FuncOp func) {
  Schedule schedule;
  llvm::DenseMap<Operation *, int64_t> started; // start op -> collective id
  int64_t next = 0;
  bool forward = true;
  // Liveness: a value dies after its last use in the block.
  Block &body = func.getBody().front();
  llvm::DenseMap<Operation *, unsigned> order;
  for (auto [i, op] : llvm::enumerate(body))
    order[&op] = i;
  std::vector<double> freed(body.getOperations().size() + 1, 0);
  double live = 0;
  for (BlockArgument arg : body.getArguments())
    live += elementsOf(arg.getType());
  schedule.peakLiveElements = live;

  auto addStart = [&](Operation *op, CollectiveKind kind, AxisMask axes, double elements) {
    Task t;
    t.kind = Task::Start;
    t.name = op->getName().getStringRef().str();
    t.collective = kind;
    t.axes = axes;
    t.elements = elements;
    t.id = next++;
    t.forward = forward;
    schedule.tasks.push_back(t);
    return t.id;
  };
  auto addWait = [&](int64_t id) {
    Task t;
    t.kind = Task::Wait;
    t.name = "tetra.wait";
    t.id = id;
    t.forward = forward;
    schedule.tasks.push_back(t);
  };

  for (auto [index, opRef] : llvm::enumerate(body)) {
    Operation *op = &opRef;
    // Liveness bookkeeping: results become live here, operands die at their
    // last use.
    for (Value r : op->getResults()) {
      double n = elementsOf(r.getType());
      if (n == 0 || r.use_empty())
        continue;
      unsigned last = index;
      for (Operation *user : r.getUsers())
        if (Operation *top = body.findAncestorOpInBlock(*user))
          last = std::max(last, order.lookup(top));
      live += n;
      freed[last] += n;
    }
    schedule.peakLiveElements = std::max(schedule.peakLiveElements, live);
    live -= freed[index];

    if (std::optional<CollectiveOpInfo> c = collectiveOf(op)) {
      int64_t id = addStart(op, c->kind, c->axes, c->elements);
      if (c->async)
        started[op] = id;
      else
        addWait(id); // a synchronous collective waits at once
      continue;
    }
    if (auto w = llvm::dyn_cast<WaitOp>(op)) {
      Operation *start = w.getToken().getDefiningOp();
      if (!start || !started.count(start))
        return w.emitOpError("waits for a collective the cost model did not see start");
      addWait(started[start]);
      continue;
    }
    FailureOr<Work> work = workOf(op);
    if (failed(work))
      return failure();
    bool empty = work->gemms.empty() && work->memoryElements == 0;
    if (!empty) {
      Task t;
      t.name = op->getName().getStringRef().str();
      t.work = *work;
      t.forward = forward;
      schedule.tasks.push_back(t);
    }
    for (const InnerCollective &c : work->collectives)
      addWait(addStart(op, c.kind, c.axes, c.elements));
    if (llvm::isa<CrossEntropyOp>(op))
      forward = false; // the backward pass follows the loss
  }
  return schedule;
}

} // namespace mlir::tetra::cost
