//===- ScatterAddKernel.cpp - loop nests that only add into memory -------===//
//
// Bufferization leaves the embedding gradient as host loops: for each token,
// for each feature, table[id, h] += grad[token, h]. On a GPU the host would
// drag the table across. The nest's iterations only add into memory, so
// they may run in any order: one thread each, the adds atomic. (Atomics
// make the order of a row's sum vary from run to run on a GPU.)
//
//===----------------------------------------------------------------------===//
#include "ScatterAddKernel.h"
#include "GenericKernelBody.h"
#include "RowReductionKernel.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::tetra;

namespace {

std::optional<int64_t> constantIndex(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
    return c.value();
  return std::nullopt;
}

/// `store(addf(load(X[i]), v), X[i])`, the load and the add used only
/// there: the add and the load, and v.
struct AddInto {
  Operation *add = nullptr, *load = nullptr;
  Value addend;
};

std::optional<AddInto> addIntoOf(memref::StoreOp store) {
  auto add = store.getValueToStore().getDefiningOp<arith::AddFOp>();
  if (!add || !add->hasOneUse() || add->getBlock() != store->getBlock() ||
      !store.getMemRefType().getElementType().isF32())
    return std::nullopt;
  for (unsigned side : {0u, 1u}) {
    auto load = add->getOperand(side).getDefiningOp<memref::LoadOp>();
    if (!load || !load->hasOneUse() || load->getBlock() != store->getBlock() ||
        load.getMemRef() != store.getMemRef() || load.getIndices() != store.getIndices())
      continue;
    // Nothing else is stored between the read and the write.
    bool alone = true;
    for (Operation *o = load->getNextNode(); o != store.getOperation(); o = o->getNextNode())
      alone &= !llvm::isa<memref::StoreOp>(o);
    if (alone)
      return AddInto{add, load, add->getOperand(1 - side)};
  }
  return std::nullopt;
}

} // namespace

std::optional<ScatterAddNest> mlir::tetra::matchScatterAdd(scf::ForOp outer) {
  ScatterAddNest nest;
  SmallVector<memref::LoadOp> loads;
  SmallVector<Value> stored;
  for (scf::ForOp loop = outer; loop;) {
    std::optional<int64_t> lb = constantIndex(loop.getLowerBound()),
                           ub = constantIndex(loop.getUpperBound()),
                           step = constantIndex(loop.getStep());
    if (!lb || !ub || !step || *step <= 0 || *ub <= *lb || loop.getNumResults() != 0)
      return std::nullopt;
    nest.loops.push_back(loop);
    nest.tripCounts.push_back((*ub - *lb + *step - 1) / *step);
    scf::ForOp inner;
    bool adds = false;
    Block *body = loop.getBody();
    for (Operation &op : body->without_terminator()) {
      if (inner)
        return std::nullopt; // the inner loop must come last
      if (auto next = llvm::dyn_cast<scf::ForOp>(op)) {
        inner = next;
      } else if (auto load = llvm::dyn_cast<memref::LoadOp>(op)) {
        loads.push_back(load);
      } else if (auto store = llvm::dyn_cast<memref::StoreOp>(op)) {
        adds = true;
        std::optional<AddInto> into = addIntoOf(store);
        if (!into)
          return std::nullopt;
        nest.addends[store] = into->addend;
        nest.absorbed.insert(into->add);
        nest.absorbed.insert(into->load);
        stored.push_back(rootBuffer(store.getMemRef()));
      } else if (!isMemoryEffectFree(&op) || op.getNumRegions() != 0) {
        return std::nullopt;
      }
    }
    // Only the innermost body may add: each thread runs every level's ops
    // once for each point of the whole nest.
    if (inner && adds)
      return std::nullopt;
    loop = inner;
  }
  if (nest.addends.empty())
    return std::nullopt;
  // Only the adds themselves may read what is added into.
  for (memref::LoadOp load : loads)
    if (!nest.absorbed.contains(load) && llvm::is_contained(stored, rootBuffer(load.getMemRef())))
      return std::nullopt;
  return nest;
}

LaunchShape mlir::tetra::gridStrideShape(int64_t points, int64_t blockSize) {
  LaunchShape shape;
  shape.threads = std::min<int64_t>(blockSize, std::max<int64_t>(32, (points + 31) / 32 * 32));
  shape.blocks = std::clamp<int64_t>((points + shape.threads - 1) / shape.threads, 1, 1 << 16);
  return shape;
}

LaunchShape mlir::tetra::buildScatterAdd(OpBuilder &b, const ScatterAddNest &nest,
                                         IRMapping &map, int64_t blockSize) {
  Location loc = scf::ForOp(nest.loops.front()).getLoc();
  int64_t points = 1;
  for (int64_t n : nest.tripCounts)
    points *= n;
  LaunchShape shape = gridStrideShape(points, blockSize);
  auto c = [&](OpBuilder &cb, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(cb, loc, v);
  };
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value first = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, bid, c(b, shape.threads)), tid);
  scf::ForOp::create(
      b, loc, first, c(b, points), c(b, shape.blocks * shape.threads), ValueRange{},
      [&](OpBuilder &nb, Location, Value linear, ValueRange) {
        unsigned depth = nest.loops.size();
        SmallVector<Value> counts(depth);
        delinearize(nb, loc, linear, llvm::to_vector(llvm::seq<unsigned>(0, depth)),
                    nest.tripCounts, counts);
        for (auto [level, count] : llvm::zip(nest.loops, counts)) {
          scf::ForOp loop = level;
          // iv = lb + count * step
          Value iv = arith::AddIOp::create(
              nb, loc, map.lookupOrDefault(loop.getLowerBound()),
              arith::MulIOp::create(nb, loc, count, map.lookupOrDefault(loop.getStep())));
          map.map(loop.getInductionVar(), iv);
          for (Operation &op : loop.getBody()->without_terminator()) {
            if (llvm::isa<scf::ForOp>(op))
              continue;
            if (auto store = llvm::dyn_cast<memref::StoreOp>(op)) {
              SmallVector<Value> indices;
              for (Value i : store.getIndices())
                indices.push_back(map.lookup(i));
              memref::AtomicRMWOp::create(nb, loc, arith::AtomicRMWKind::addf,
                                          map.lookup(nest.addends.lookup(store)),
                                          map.lookup(store.getMemRef()), indices);
              continue;
            }
            // The add and its load go with their store.
            if (!nest.absorbed.contains(&op))
              nb.clone(op, map);
          }
        }
        scf::YieldOp::create(nb, loc);
      });
  return shape;
}
