//===- RowReductionKernel.cpp - one block per row of a reduction ----------===//
//
// Norms, softmax, logsumexp and the loss reduce long rows. One thread per
// row walks its row alone and, with rows side by side in memory, reads
// addresses a row apart from its neighbours; a block per row reads the row
// together (consecutive threads, consecutive elements) and combines the
// partials in shared memory.
//
//===----------------------------------------------------------------------===//
#include "RowReductionKernel.h"
#include "GenericKernelBody.h"
#include "LinalgBuilders.h"
#include "tetra/Conversion/GemmMatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::tetra;

namespace {

/// The combiner's identity: the partial a thread starts from.
std::optional<TypedAttr> identityOf(Operation *combiner, FloatType type) {
  const llvm::fltSemantics &sem = type.getFloatSemantics();
  if (llvm::isa<arith::AddFOp>(combiner))
    return FloatAttr::get(type, APFloat::getZero(sem));
  if (llvm::isa<arith::MulFOp>(combiner))
    return FloatAttr::get(type, APFloat::getOne(sem));
  if (llvm::isa<arith::MaximumFOp, arith::MaxNumFOp>(combiner))
    return FloatAttr::get(type, APFloat::getInf(sem, /*Negative=*/true));
  if (llvm::isa<arith::MinimumFOp, arith::MinNumFOp>(combiner))
    return FloatAttr::get(type, APFloat::getInf(sem, /*Negative=*/false));
  return std::nullopt;
}

/// combiner(x, y), a copy of the body's combining op on other operands.
Value combine(OpBuilder &b, Operation *combiner, Value x, Value y) {
  IRMapping m;
  m.map(combiner->getOperand(0), x);
  m.map(combiner->getOperand(1), y);
  return b.clone(*combiner, m)->getResult(0);
}

/// Two partials of every output combined: the online log-sum-exp pair
/// rescaled to the larger maximum, the others by their combiners.
SmallVector<Value> combineAll(OpBuilder &b, Location loc, const RowReduction &rows,
                              ArrayRef<Value> x, ArrayRef<Value> y) {
  SmallVector<Value> out;
  for (auto [i, combiner] : llvm::enumerate(rows.combiners))
    if (combiner)
      out.push_back(combine(b, combiner, x[i], y[i]));
  if (!rows.onlineLogSumExp)
    return out;
  Value max = arith::MaximumFOp::create(b, loc, x[0], y[0]);
  Value sum = arith::AddFOp::create(b, loc, rescaledSum(b, loc, x[1], x[0], max),
                                    rescaledSum(b, loc, y[1], y[0], max));
  out.insert(out.begin(), {max, sum});
  return out;
}

} // namespace

std::optional<RowReduction> mlir::tetra::matchRowReduction(linalg::GenericOp op) {
  if (op.getNumReductionLoops() == 0 || op.getNumDpsInits() == 0)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t rowLength = 1;
  for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray())) {
    if (ShapedType::isDynamic(ranges[d]))
      return std::nullopt;
    if (it == utils::IteratorType::reduction)
      rowLength *= ranges[d];
  }
  if (rowLength < kBlockPerRowMinimum)
    return std::nullopt;
  for (OpOperand &init : op.getDpsInitsMutable())
    for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray()))
      if (it == utils::IteratorType::reduction &&
          op.getMatchingIndexingMap(&init).isFunctionOfDim(d))
        return std::nullopt;
  Block &body = op.getRegion().front();
  RowReduction rows;
  rows.onlineLogSumExp = op->hasAttr(kOnlineLogSumExpAttr) && op.getNumDpsInits() >= 2;
  for (auto [i, yielded] : llvm::enumerate(body.getTerminator()->getOperands())) {
    BlockArgument out = body.getArgument(op.getNumDpsInputs() + i);
    if (rows.onlineLogSumExp && i < 2) {
      if (!llvm::isa<FloatType>(out.getType()))
        return std::nullopt;
      rows.combiners.push_back(nullptr);
      continue;
    }
    Operation *combiner = yielded.getDefiningOp();
    auto type = llvm::dyn_cast<FloatType>(out.getType());
    if (!combiner || !type || combiner->getNumOperands() != 2 || !out.hasOneUse() ||
        !llvm::is_contained(combiner->getOperands(), out) || !identityOf(combiner, type))
      return std::nullopt;
    rows.combiners.push_back(combiner);
  }
  return rows;
}

Value mlir::tetra::rootBuffer(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (!llvm::isa<memref::SubViewOp, memref::CastOp, memref::ReinterpretCastOp,
                   memref::CollapseShapeOp, memref::ExpandShapeOp>(def))
      break;
    v = def->getOperand(0);
  }
  return v;
}

SmallVector<Value> mlir::tetra::capturedBuffers(linalg::GenericOp op) {
  llvm::SetVector<Value> above;
  getUsedValuesDefinedAbove(op->getRegions(), above);
  SmallVector<Value> buffers;
  for (Value v : above)
    if (llvm::isa<MemRefType>(v.getType()))
      buffers.push_back(rootBuffer(v));
  return buffers;
}

bool mlir::tetra::writesWhatTheOtherCaptures(linalg::GenericOp x, linalg::GenericOp y) {
  auto writesAny = [](linalg::GenericOp writer, ArrayRef<Value> buffers) {
    return llvm::any_of(writer.getDpsInitsMutable(), [&](OpOperand &init) {
      return llvm::is_contained(buffers, rootBuffer(init.get()));
    });
  };
  return writesAny(x, capturedBuffers(y)) || writesAny(y, capturedBuffers(x));
}

namespace {

/// Whether `later` touches what `earlier` wrote (or writes what it read)
/// only at the same loop point: the same buffer through the same map (both
/// in the run's loops).
bool samePointOnly(const RowRunMember &earlier, const RowRunMember &later) {
  linalg::GenericOp x = earlier.op, y = later.op;
  if (writesWhatTheOtherCaptures(x, y))
    return false;
  for (OpOperand &a : x->getOpOperands())
    for (OpOperand &c : y->getOpOperands()) {
      bool writes = x.isDpsInit(&a) || y.isDpsInit(&c);
      if (!writes || rootBuffer(a.get()) != rootBuffer(c.get()))
        continue;
      if (a.get() != c.get() ||
          earlier.maps[a.getOperandNumber()] != later.maps[c.getOperandNumber()])
        return false;
    }
  return true;
}

} // namespace

bool mlir::tetra::adjacentGroups(Operation *earlier, Operation *later) {
  Operation *at = earlier->getNextNode();
  while (at && at != later && (isMemoryEffectFree(at) || llvm::isa<memref::AllocOp>(at)))
    at = at->getNextNode();
  return at == later;
}

SmallVector<RowRunMember> mlir::tetra::matchRowRun(ArrayRef<linalg::GenericOp> groups,
                                                   size_t first) {
  // The adjacent candidates: static groups on buffers, no products.
  SmallVector<linalg::GenericOp> candidates;
  for (size_t i = first; i < groups.size(); ++i) {
    linalg::GenericOp op = groups[i];
    if (!op || (!candidates.empty() && !adjacentGroups(candidates.back(), op)) ||
        !op.hasPureBufferSemantics() ||
        llvm::any_of(op.getStaticLoopRanges(), ShapedType::isDynamic) || matchGemm(op))
      break;
    candidates.push_back(op);
  }
  // The rows are the first reduction's.
  auto shape = llvm::find_if(candidates, [](linalg::GenericOp op) {
    return op.getNumReductionLoops() > 0;
  });
  if (shape == candidates.end())
    return {};
  linalg::GenericOp shapeOp = *shape;
  SmallVector<int64_t> ranges = shapeOp.getStaticLoopRanges(), pointRanges;
  SmallVector<utils::IteratorType> iterators = shapeOp.getIteratorTypesArray();
  SmallVector<AffineExpr> toPoint; // a point's loops in the run's loops
  for (auto [d, it] : llvm::enumerate(iterators))
    if (it == utils::IteratorType::parallel) {
      pointRanges.push_back(ranges[d]);
      toPoint.push_back(getAffineDimExpr(d, shapeOp.getContext()));
    }
  AffineMap pointOf = AffineMap::get(ranges.size(), 0, toPoint, shapeOp.getContext());

  SmallVector<RowRunMember> run;
  for (linalg::GenericOp op : candidates) {
    RowRunMember member{op, std::nullopt, false, op.getIndexingMapsArray()};
    SmallVector<int64_t> opRanges = op.getStaticLoopRanges();
    if (op.getNumReductionLoops() > 0) {
      if (opRanges != ranges || op.getIteratorTypesArray() != iterators)
        break;
      member.rows = matchRowReduction(op);
      if (!member.rows)
        break;
    } else if (opRanges != ranges) {
      // Work once per point of the rows (a fill of the statistics).
      if (opRanges != pointRanges)
        break;
      member.perPoint = true;
      for (AffineMap &m : member.maps)
        m = m.compose(pointOf);
    }
    if (!llvm::all_of(run, [&](const RowRunMember &m) { return samePointOnly(m, member); }))
      break;
    run.push_back(std::move(member));
  }
  if (llvm::none_of(run, [](const RowRunMember &m) { return m.rows.has_value(); }))
    return {};
  return run;
}

FailureOr<LaunchShape> mlir::tetra::buildRowKernel(OpBuilder &b, gpu::GPUFuncOp kernel,
                                                   ArrayRef<RowRunMember> run, IRMapping &map,
                                                   int64_t blockSize) {
  const RowRunMember *shapeOf =
      llvm::find_if(run, [](const RowRunMember &m) { return m.rows.has_value(); });
  linalg::GenericOp shapeOp = shapeOf->op;
  Location loc = shapeOp.getLoc();
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> ranges = shapeOp.getStaticLoopRanges();
  SmallVector<unsigned> parallel, reduction;
  for (auto [d, it] : llvm::enumerate(shapeOp.getIteratorTypesArray()))
    (it == utils::IteratorType::parallel ? parallel : reduction).push_back(d);
  int64_t points = 1, rowLength = 1;
  for (unsigned d : parallel)
    points *= ranges[d];
  for (unsigned d : reduction)
    rowLength *= ranges[d];
  // A power of two for the tree; every thread gets four elements or more.
  int64_t threads = std::clamp<int64_t>(
      static_cast<int64_t>(llvm::PowerOf2Ceil(rowLength)) / 4, 32,
      static_cast<int64_t>(llvm::bit_floor(static_cast<uint64_t>(blockSize))));
  LaunchShape shape{std::clamp<int64_t>(points, 1, 1 << 16), threads};

  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto c = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };
  // Each reduction's partials, one slot array an output, and identities.
  SmallVector<SmallVector<Value>> partialsOf(run.size()), identitiesOf(run.size());
  for (auto [m, member] : llvm::enumerate(run)) {
    if (!member.rows)
      continue;
    linalg::GenericOp op = member.op;
    Block &body = op.getRegion().front();
    for (auto [i, combiner] : llvm::enumerate(member.rows->combiners)) {
      auto type = llvm::cast<FloatType>(body.getArgument(op.getNumDpsInputs() + i).getType());
      partialsOf[m].push_back(kernel.addWorkgroupAttribution(
          MemRefType::get({threads}, type, MemRefLayoutAttrInterface{}, workgroup), loc));
      // The pair starts from (-inf, 0), as an empty row.
      const llvm::fltSemantics &sem = type.getFloatSemantics();
      TypedAttr identity = combiner ? *identityOf(combiner, type)
                           : i == 0 ? FloatAttr::get(type, APFloat::getInf(sem, /*Negative=*/true))
                                    : FloatAttr::get(type, APFloat::getZero(sem));
      identitiesOf[m].push_back(arith::ConstantOp::create(b, loc, identity));
    }
  }
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);

  // The threads take the row's elements in turn: `body` at each, with the
  // loop indices and the carried values.
  auto overRow = [&](OpBuilder &pb, ArrayRef<Value> ivs, ValueRange init,
                     function_ref<SmallVector<Value>(OpBuilder &, ArrayRef<Value>, ValueRange)> body) {
    return scf::ForOp::create(
        pb, loc, tid, c(pb, rowLength), c(pb, threads), init,
        [&](OpBuilder &rb, Location, Value element, ValueRange carried) {
          SmallVector<Value> at(ivs);
          delinearize(rb, loc, element, reduction, ranges, at);
          scf::YieldOp::create(rb, loc, body(rb, at, carried));
        });
  };

  /// A reduction's row: partials, a tree in shared memory, thread 0 folding
  /// the total into the output.
  auto reduceRow = [&](OpBuilder &pb, ArrayRef<Value> ivs, linalg::GenericOp op,
                       const RowReduction &rows, ArrayRef<Value> partialsIn,
                       ArrayRef<Value> identities) {
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    auto share = overRow(pb, ivs, identities,
                         [&](OpBuilder &rb, ArrayRef<Value> at, ValueRange partial) {
                           return evaluateBody(rb, op, map, at, partial);
                         });
    for (auto [partial, slots] : llvm::zip(share.getResults(), partialsIn))
      memref::StoreOp::create(pb, loc, partial, slots, tid);
    gpu::BarrierOp::create(pb, loc);
    for (int64_t half = threads / 2; half >= 1; half /= 2) {
      Value active = arith::CmpIOp::create(pb, loc, arith::CmpIPredicate::ult, tid, c(pb, half));
      auto fold = scf::IfOp::create(pb, loc, active, /*withElseRegion=*/false);
      OpBuilder fb = OpBuilder::atBlockBegin(fold.thenBlock());
      Value partner = arith::AddIOp::create(fb, loc, tid, c(fb, half));
      SmallVector<Value> mine, theirs;
      for (Value slots : partialsIn) {
        mine.push_back(memref::LoadOp::create(fb, loc, slots, tid));
        theirs.push_back(memref::LoadOp::create(fb, loc, slots, partner));
      }
      for (auto [v, slots] : llvm::zip(combineAll(fb, loc, rows, mine, theirs), partialsIn))
        memref::StoreOp::create(fb, loc, v, slots, tid);
      gpu::BarrierOp::create(pb, loc);
    }
    Value first = arith::CmpIOp::create(pb, loc, arith::CmpIPredicate::eq, tid, c(pb, 0));
    auto write = scf::IfOp::create(pb, loc, first, /*withElseRegion=*/false);
    OpBuilder wb = OpBuilder::atBlockBegin(write.thenBlock());
    SmallVector<Value> old, totals;
    for (auto [init, slots] : llvm::zip(op.getDpsInitsMutable(), partialsIn)) {
      old.push_back(loadThroughMap(wb, loc, map.lookup(init.get()),
                                   maps[init.getOperandNumber()], ivs));
      totals.push_back(memref::LoadOp::create(wb, loc, slots, c(wb, 0)));
    }
    for (auto [init, v] :
         llvm::zip(op.getDpsInitsMutable(), combineAll(wb, loc, rows, old, totals)))
      storeThroughMap(wb, loc, v, map.lookup(init.get()), maps[init.getOperandNumber()], ivs);
  };

  /// An op over the points only: thread 0 computes it.
  auto atPoint = [&](OpBuilder &pb, ArrayRef<Value> ivs, linalg::GenericOp op) {
    SmallVector<Value> point;
    for (unsigned d : parallel)
      point.push_back(ivs[d]);
    Value first = arith::CmpIOp::create(pb, loc, arith::CmpIPredicate::eq, tid, c(pb, 0));
    auto guard = scf::IfOp::create(pb, loc, first, /*withElseRegion=*/false);
    OpBuilder gb = OpBuilder::atBlockBegin(guard.thenBlock());
    updateAtPoint(gb, loc, op, map, point);
  };

  /// A pointwise op over the row: each thread its elements.
  auto mapRow = [&](OpBuilder &pb, ArrayRef<Value> ivs, linalg::GenericOp op) {
    overRow(pb, ivs, ValueRange{}, [&](OpBuilder &rb, ArrayRef<Value> at, ValueRange) {
      updateAtPoint(rb, loc, op, map, at);
      return SmallVector<Value>{};
    });
  };

  // Every thread of a block walks the same points, so the barriers inside
  // are reached by all of them. Each member ends behind a barrier: the next
  // reads what it wrote of the row, and the slots are the next point's only
  // once thread 0 has read them.
  scf::ForOp::create(
      b, loc, bid, c(b, points), c(b, shape.blocks), ValueRange{},
      [&](OpBuilder &pb, Location, Value point, ValueRange) {
        SmallVector<Value> ivs(ranges.size(), c(pb, 0));
        delinearize(pb, loc, point, parallel, ranges, ivs);
        for (auto [m, member] : llvm::enumerate(run)) {
          if (member.rows)
            reduceRow(pb, ivs, member.op, *member.rows, partialsOf[m], identitiesOf[m]);
          else if (member.perPoint)
            atPoint(pb, ivs, member.op);
          else
            mapRow(pb, ivs, member.op);
          gpu::BarrierOp::create(pb, loc);
        }
        scf::YieldOp::create(pb, loc);
      });
  return shape;
}
