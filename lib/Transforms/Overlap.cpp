//===- Overlap.cpp - tetra-overlap: collectives as start/wait pairs -------===//
#include "tetra/TetraOps.h"
#include "tetra/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SmallPtrSet.h"
#include <map>

namespace mlir::tetra {
#define GEN_PASS_DEF_OVERLAP
#include "tetra/Transforms/Passes.h.inc"

// The axes a parameter's gradient is summed over after the backward pass:
// data, and z unless the parameter is split over z (its rows differ there).
SmallVector<int32_t> gradientReduceAxes(ParamOp param, GridAttr grid) {
  SmallVector<int32_t> axes;
  bool splitOverZ = false;
  if (std::optional<LayoutAttr> layout = param.getLayout()) {
    splitOverZ = llvm::is_contained(layout->getFlatAxes(), GridAxis::z);
    for (unsigned d = 0; d < layout->getRank(); ++d)
      splitOverZ |= llvm::is_contained(layout->getDimAxes(d), GridAxis::z);
  }
  if (grid.getZ() > 1 && !splitOverZ)
    axes.push_back(static_cast<int32_t>(GridAxis::z));
  if (grid.getData() > 1)
    axes.push_back(static_cast<int32_t>(GridAxis::data));
  return axes;
}


namespace {

/// The op of `block` that contains `op` (op itself when it is in the block).
Operation *inBlock(Block *block, Operation *op) {
  while (op && op->getBlock() != block)
    op = op->getParentOp();
  return op;
}

/// The earliest op of the block using `value` (null when unused).
Operation *firstUser(Value value, Block *block) {
  Operation *first = nullptr;
  for (Operation *user : value.getUsers()) {
    Operation *top = inBlock(block, user);
    if (top && (!first || top->isBeforeInBlock(first)))
      first = top;
  }
  return first;
}

/// Replaces a collective by start + wait at the same place; returns both.
std::pair<Operation *, Operation *> split(Operation *op) {
  OpBuilder b(op);
  Location loc = op->getLoc();
  Value input = op->getOperand(0);
  Type result = op->getResult(0).getType();
  auto token = TokenType::get(op->getContext(), llvm::cast<RankedTensorType>(result));
  Operation *start;
  if (auto ar = llvm::dyn_cast<AllReduceOp>(op))
    start = AllReduceStartOp::create(b, loc, token, input, ar.getAxesAttr(), ar.getKindAttr());
  else if (auto ag = llvm::dyn_cast<AllGatherOp>(op))
    start = AllGatherStartOp::create(b, loc, token, input, ag.getAxesAttr(), ag.getDimAttr());
  else {
    auto rs = llvm::cast<ReduceScatterOp>(op);
    start = ReduceScatterStartOp::create(b, loc, token, input, rs.getAxesAttr(),
                                         rs.getDimAttr(), rs.getKindAttr());
  }
  auto wait = WaitOp::create(b, loc, start->getResult(0));
  op->getResult(0).replaceAllUsesWith(wait.getResult());
  op->erase();
  return {start, wait};
}

/// Right after the definition of `value` in `block` (its start otherwise).
void moveAfterDefinition(Operation *start, Value value, Block *block) {
  Operation *def = value.getDefiningOp();
  def = def ? inBlock(block, def) : nullptr;
  if (def)
    start->moveAfter(def);
  else
    start->moveBefore(&block->front());
}

/// Moves the ops after `wait` that do not need its result (nor anything that
/// does) before it: work the kernel can do while the collective is in flight
/// (k and v's GEMMs while q's sum travels). Side-effect-free ops move; so do
/// the waits of collectives started before this one (the communication thread
/// runs collectives in start order, so they finish first) and the starts of
/// all-reduces and reduce-scatters (issued as soon as their input exists;
/// all-gathers keep their prefetch distance).
void hoistReadyWork(Operation *wait) {
  llvm::SmallPtrSet<Operation *, 16> waiting{wait};
  auto needsWait = [&](Operation *op) {
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp(); def && waiting.contains(def))
        return true;
    bool nested = false;
    op->walk([&](Operation *inner) {
      for (Value operand : inner->getOperands())
        if (Operation *def = operand.getDefiningOp(); def && waiting.contains(def))
          nested = true;
    });
    return nested;
  };
  Operation *started = wait->getOperand(0).getDefiningOp();
  auto startedEarlier = [&](Operation *op) {
    Operation *other = op->getOperand(0).getDefiningOp();
    return started && other && other->getBlock() == started->getBlock() &&
           other->isBeforeInBlock(started);
  };
  SmallVector<Operation *> ready;
  for (Operation *op = wait->getNextNode(); op; op = op->getNextNode()) {
    bool movable = isPure(op) || llvm::isa<AllReduceStartOp, ReduceScatterStartOp>(op) ||
                   (llvm::isa<WaitOp>(op) && startedEarlier(op));
    if (op->hasTrait<OpTrait::IsTerminator>() || !movable || needsWait(op))
      waiting.insert(op); // stays after the wait, and so does what needs it
    else
      ready.push_back(op);
  }
  // A wait moves only for work that needs it: the others stay as late as
  // they are (a dW reduce-scatter is waited at the end).
  llvm::SmallPtrSet<Operation *, 16> moving(ready.begin(), ready.end());
  for (Operation *op : ready)
    if (llvm::isa<WaitOp>(op) && llvm::none_of(op->getUsers(), [&](Operation *user) {
          return moving.contains(user);
        }))
      moving.erase(op);
  for (Operation *op : ready)
    if (moving.contains(op))
      op->moveBefore(wait);
}

/// In @grad: the data-parallel all-reduce of the parameters' gradients, in
/// buckets (the gradients flattened into one tensor), each started right
/// after its last gradient is computed and waited before the return.
void bucketGradients(func::FuncOp func, GridAttr grid, int64_t bucketBytes) {
  Block *block = &func.getBody().front();
  auto ret = llvm::cast<func::ReturnOp>(block->getTerminator());
  auto module = func->getParentOfType<ModuleOp>();
  struct Gradient {
    unsigned result;
    Value value;
    SmallVector<int32_t> axes;
  };
  SmallVector<Gradient> grads;
  for (unsigned i = 0; i < func.getNumResults(); ++i) {
    auto role = func.getResultAttrOfType<StringAttr>(i, "tetra.role");
    auto name = func.getResultAttrOfType<StringAttr>(i, "tetra.name");
    if (!role || role.getValue() != "grad" || !name)
      continue;
    auto param = module.lookupSymbol<ParamOp>(name.getValue());
    SmallVector<int32_t> axes = param ? gradientReduceAxes(param, grid) : SmallVector<int32_t>{};
    if (!axes.empty())
      grads.push_back({i, ret.getOperand(i), axes});
  }
  // In the order the backward pass makes them (the last layers' first).
  auto position = [&](Value v) -> Operation * {
    Operation *def = v.getDefiningOp();
    return def ? inBlock(block, def) : nullptr;
  };
  llvm::stable_sort(grads, [&](const Gradient &a, const Gradient &b) {
    Operation *pa = position(a.value), *pb = position(b.value);
    if (!pa || !pb)
      return pa == nullptr && pb != nullptr;
    return pa->isBeforeInBlock(pb);
  });
  auto flush = [&](SmallVector<Gradient> &bucket) {
    if (bucket.empty())
      return;
    Operation *last = nullptr;
    for (const Gradient &g : bucket)
      if (Operation *p = position(g.value); p && (!last || last->isBeforeInBlock(p)))
        last = p;
    OpBuilder b(func.getContext());
    if (last)
      b.setInsertionPointAfter(last);
    else
      b.setInsertionPointToStart(block);
    Location loc = func.getLoc();
    int64_t total = 0;
    for (const Gradient &g : bucket)
      total += llvm::cast<RankedTensorType>(g.value.getType()).getNumElements();
    auto flatType = RankedTensorType::get({total}, b.getF32Type());
    Value flat = tensor::EmptyOp::create(b, loc, flatType.getShape(), b.getF32Type());
    int64_t offset = 0;
    SmallVector<int64_t> offsets;
    for (const Gradient &g : bucket) {
      auto type = llvm::cast<RankedTensorType>(g.value.getType());
      Value piece = g.value;
      if (type.getRank() != 1) {
        ReassociationIndices all = llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
        piece = tensor::CollapseShapeOp::create(b, loc, piece, ArrayRef<ReassociationIndices>{all});
      }
      offsets.push_back(offset);
      flat = tensor::InsertSliceOp::create(
          b, loc, piece, flat, ArrayRef<OpFoldResult>{b.getIndexAttr(offset)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(type.getNumElements())},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
      offset += type.getNumElements();
    }
    auto token = TokenType::get(func.getContext(), flatType);
    Value started = AllReduceStartOp::create(
        b, loc, token, flat, b.getDenseI32ArrayAttr(bucket.front().axes),
        ReduceKindAttr::get(func.getContext(), ReduceKind::sum));
    b.setInsertionPoint(ret);
    Value summed = WaitOp::create(b, loc, started);
    for (auto [g, at] : llvm::zip(bucket, offsets)) {
      auto type = llvm::cast<RankedTensorType>(g.value.getType());
      Value piece = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({type.getNumElements()}, b.getF32Type()), summed,
          ArrayRef<OpFoldResult>{b.getIndexAttr(at)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(type.getNumElements())},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
      if (type.getRank() != 1) {
        ReassociationIndices all = llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
        piece = tensor::ExpandShapeOp::create(b, loc, type, piece,
                                              ArrayRef<ReassociationIndices>{all});
      }
      ret->setOperand(g.result, piece);
    }
    bucket.clear();
  };
  // One bucket per set of axes at a time.
  std::map<int64_t, SmallVector<Gradient>> open;
  std::map<int64_t, int64_t> openBytes;
  for (const Gradient &g : grads) {
    int64_t key = 0;
    for (int32_t a : g.axes)
      key |= 1 << a;
    open[key].push_back(g);
    openBytes[key] += 4 * llvm::cast<RankedTensorType>(g.value.getType()).getNumElements();
    if (openBytes[key] >= bucketBytes) {
      flush(open[key]);
      openBytes[key] = 0;
    }
  }
  for (auto &[key, bucket] : open)
    flush(bucket);
}

/// A forward all-reduce of a linear layer's partial product, cut into
/// `chunks` pieces along the samples (dimension 0): the GEMM of each piece,
/// then its all-reduce; the pieces are put back together after their waits.
/// The overlap placement then lets piece i's sum travel during piece i+1's
/// GEMM. Returns the all-reduces made (empty when it does not apply).
SmallVector<Operation *> chunkForwardAllReduce(AllReduceOp reduce, int64_t chunks) {
  auto linear = reduce.getInput().getDefiningOp<LinearOp>();
  auto type = llvm::cast<RankedTensorType>(reduce.getType());
  if (chunks < 2 || !linear || !reduce.getInput().hasOneUse() || linear.getBias() ||
      type.getRank() < 2 || type.getDimSize(0) % chunks != 0)
    return {};
  OpBuilder b(reduce);
  Location loc = reduce.getLoc();
  auto inType = llvm::cast<RankedTensorType>(linear.getInput().getType());
  int64_t rows = type.getDimSize(0) / chunks;
  auto slice = [&](Value v, RankedTensorType full, int64_t first) -> Value {
    SmallVector<int64_t> shape(full.getShape());
    shape[0] = rows;
    SmallVector<OpFoldResult> offsets(full.getRank(), b.getIndexAttr(0)), sizes, strides;
    offsets[0] = b.getIndexAttr(first);
    for (int64_t d : shape)
      sizes.push_back(b.getIndexAttr(d));
    strides.assign(full.getRank(), b.getIndexAttr(1));
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get(shape, full.getElementType()), v, offsets, sizes, strides);
  };
  SmallVector<Value> pieces;
  SmallVector<Operation *> made;
  for (int64_t c = 0; c < chunks; ++c) {
    Value input = slice(linear.getInput(), inType, c * rows);
    Value partial = LinearOp::create(b, loc, input, linear.getWeight(), Value(),
                                     linear.getTransposedAttr(), linear.getWeightInOutAttr());
    auto piece = AllReduceOp::create(b, loc, partial.getType(), partial, reduce.getAxesAttr(),
                                     reduce.getKindAttr());
    made.push_back(piece);
    pieces.push_back(piece);
  }
  Value whole = tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  for (auto [c, piece] : llvm::enumerate(pieces)) {
    auto pieceType = llvm::cast<RankedTensorType>(piece.getType());
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0)), sizes, strides;
    offsets[0] = b.getIndexAttr(static_cast<int64_t>(c) * rows);
    for (int64_t d : pieceType.getShape())
      sizes.push_back(b.getIndexAttr(d));
    strides.assign(type.getRank(), b.getIndexAttr(1));
    whole = tensor::InsertSliceOp::create(b, loc, piece, whole, offsets, sizes, strides);
  }
  reduce.getResult().replaceAllUsesWith(whole);
  reduce.erase();
  linear.erase();
  return made;
}

struct OverlapPass : impl::OverlapBase<OverlapPass> {
  using Base::Base;

  void overlapFunction(func::FuncOp func) {
    Block *block = &func.getBody().front();
    // Ops after the first gradient of the loss are the backward pass.
    Operation *backward = nullptr;
    for (Operation &op : *block)
      if (llvm::isa<CrossEntropyGradOp>(op)) {
        backward = &op;
        break;
      }
    auto inBackward = [&](Operation *op) { return backward && backward->isBeforeInBlock(op); };

    SmallVector<Operation *> gathers, others;
    for (Operation &op : *block) {
      if (llvm::isa<AllGatherOp>(op) && oag)
        gathers.push_back(&op);
      else if (llvm::isa<ReduceScatterOp>(op) && ors)
        others.push_back(&op);
      else if (auto ar = llvm::dyn_cast<AllReduceOp>(op);
               ar && (inBackward(&op) ? oar : forwardAllReduce))
        others.push_back(&op);
    }
    // Forward all-reduces of a GEMM's partial product: in pieces.
    SmallVector<Operation *> pieces;
    for (Operation *&op : others) {
      auto ar = llvm::dyn_cast<AllReduceOp>(op);
      if (!ar || inBackward(op))
        continue;
      SmallVector<Operation *> made = chunkForwardAllReduce(ar, forwardChunks);
      if (made.empty())
        continue;
      op = nullptr;
      llvm::append_range(pieces, made);
    }
    llvm::erase(others, nullptr);
    llvm::append_range(others, pieces);

    // Reduce-scatters and all-reduces: start at the input, wait at the use.
    for (Operation *op : others) {
      Value input = op->getOperand(0);
      auto [start, wait] = split(op);
      if (Operation *use = firstUser(wait->getResult(0), block))
        wait->moveBefore(use);
      moveAfterDefinition(start, input, block);
    }

    // All-gathers: each waited at its use; gather i starts where gather
    // i - N is waited (N = prefetch, lowered to keep the gathered bytes in
    // flight within the budget), or at its input if that comes later.
    SmallVector<std::pair<Operation *, Operation *>> pairs;
    SmallVector<int64_t> bytes;
    for (Operation *op : gathers) {
      auto type = llvm::cast<RankedTensorType>(op->getResult(0).getType());
      bytes.push_back(type.getNumElements() * type.getElementTypeBitWidth() / 8);
      Value input = op->getOperand(0);
      auto pair = split(op);
      if (Operation *use = firstUser(pair.second->getResult(0), block))
        pair.second->moveBefore(use);
      moveAfterDefinition(pair.first, input, block);
      pairs.push_back(pair);
    }
    // Gathers in the order they are used.
    SmallVector<size_t> order(pairs.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    llvm::sort(order, [&](size_t a, size_t b) {
      return pairs[a].second->isBeforeInBlock(pairs[b].second);
    });
    for (size_t k = 0; k < order.size(); ++k) {
      int64_t ahead = std::max<int64_t>(0, prefetch);
      // In flight while gather k is being used: gathers k - ahead .. k.
      while (ahead > 0 && memoryBudget > 0) {
        int64_t inFlight = 0;
        for (int64_t j = static_cast<int64_t>(k) - ahead; j <= static_cast<int64_t>(k); ++j)
          if (j >= 0)
            inFlight += bytes[order[j]];
        if (inFlight <= memoryBudget)
          break;
        --ahead;
      }
      Operation *start = pairs[order[k]].first, *wait = pairs[order[k]].second;
      Operation *anchor = static_cast<int64_t>(k) >= ahead
                              ? pairs[order[k - ahead]].second
                              : &block->front();
      // Never before the input exists, never after the own wait.
      if (ahead == 0) {
        start->moveBefore(wait);
      } else if (start->isBeforeInBlock(anchor)) {
        start->moveBefore(anchor);
      }
    }
  }

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      overlapFunction(func);
      if (gradientAllReduce && func.getName() == "grad")
        if (auto grid = getOperation()->getAttrOfType<GridAttr>(kGridAttrName))
          bucketGradients(func, grid, bucketBytes);
      SmallVector<Operation *> waits;
      for (Operation &op : func.getBody().front())
        if (llvm::isa<WaitOp>(op))
          waits.push_back(&op);
      for (Operation *wait : waits)
        hoistReadyWork(wait);
    }
  }
};

} // namespace
} // namespace mlir::tetra
