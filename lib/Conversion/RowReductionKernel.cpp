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

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
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

FailureOr<LaunchShape> mlir::tetra::buildRowReduction(OpBuilder &b, gpu::GPUFuncOp kernel,
                                                      linalg::GenericOp op, IRMapping &map,
                                                      const RowReduction &rows,
                                                      int64_t blockSize) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<unsigned> parallel, reduction;
  for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray()))
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

  Block &body = op.getRegion().front();
  SmallVector<Value> partialsIn, identities;
  auto workgroup = gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup);
  auto c = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };
  for (auto [i, combiner] : llvm::enumerate(rows.combiners)) {
    auto type = llvm::cast<FloatType>(body.getArgument(op.getNumDpsInputs() + i).getType());
    partialsIn.push_back(kernel.addWorkgroupAttribution(
        MemRefType::get({threads}, type, MemRefLayoutAttrInterface{}, workgroup), loc));
    // The pair starts from (-inf, 0), as an empty row.
    const llvm::fltSemantics &sem = type.getFloatSemantics();
    TypedAttr identity = combiner ? *identityOf(combiner, type)
                         : i == 0 ? FloatAttr::get(type, APFloat::getInf(sem, /*Negative=*/true))
                                  : FloatAttr::get(type, APFloat::getZero(sem));
    identities.push_back(arith::ConstantOp::create(b, loc, identity));
  }
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);

  // Every thread of a block walks the same points, so the barriers inside
  // are reached by all of them.
  scf::ForOp::create(
      b, loc, bid, c(b, points), c(b, shape.blocks), ValueRange{},
      [&](OpBuilder &pb, Location, Value point, ValueRange) {
        SmallVector<Value> ivs(ranges.size(), c(pb, 0));
        delinearize(pb, loc, point, parallel, ranges, ivs);
        auto share = scf::ForOp::create(
            pb, loc, tid, c(pb, rowLength), c(pb, threads), identities,
            [&](OpBuilder &rb, Location, Value element, ValueRange partial) {
              SmallVector<Value> at = ivs;
              delinearize(rb, loc, element, reduction, ranges, at);
              scf::YieldOp::create(rb, loc, evaluateBody(rb, op, map, at, partial));
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
        for (auto [init, v] : llvm::zip(op.getDpsInitsMutable(), combineAll(wb, loc, rows, old, totals)))
          storeThroughMap(wb, loc, v, map.lookup(init.get()), maps[init.getOperandNumber()], ivs);
        // The slots are the next point's only once thread 0 has read them.
        gpu::BarrierOp::create(pb, loc);
        scf::YieldOp::create(pb, loc);
      });
  return shape;
}
