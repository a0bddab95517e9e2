//===- GenericKernelBody.cpp - a linalg.generic's body inside a kernel ----===//
#include "GenericKernelBody.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

namespace {
SmallVector<Value> indicesThroughMap(OpBuilder &b, Location loc, AffineMap map, ValueRange ivs) {
  SmallVector<Value> indices;
  for (AffineExpr e : map.getResults())
    indices.push_back(affine::AffineApplyOp::create(
        b, loc, AffineMap::get(map.getNumDims(), 0, e), ivs));
  return indices;
}
} // namespace

Value mlir::tetra::loadThroughMap(OpBuilder &b, Location loc, Value memory, AffineMap map,
                                  ValueRange ivs) {
  return memref::LoadOp::create(b, loc, memory, indicesThroughMap(b, loc, map, ivs));
}

void mlir::tetra::storeThroughMap(OpBuilder &b, Location loc, Value value, Value memory,
                                  AffineMap map, ValueRange ivs) {
  memref::StoreOp::create(b, loc, value, memory, indicesThroughMap(b, loc, map, ivs));
}

SmallVector<Value> mlir::tetra::evaluateBody(OpBuilder &b, linalg::GenericOp op, IRMapping &map,
                                             ArrayRef<Value> ivs, ValueRange outs) {
  Location loc = op.getLoc();
  Block &body = op.getRegion().front();
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  for (OpOperand *input : op.getDpsInputOperands()) {
    Value operand = map.lookup(input->get());
    Value v = llvm::isa<MemRefType>(operand.getType())
                  ? loadThroughMap(b, loc, operand, maps[input->getOperandNumber()], ivs)
                  : operand;
    map.map(body.getArgument(input->getOperandNumber()), v);
  }
  for (auto [i, out] : llvm::enumerate(outs))
    map.map(body.getArgument(op.getNumDpsInputs() + i), out);
  for (Operation &inner : body.without_terminator()) {
    if (auto index = llvm::dyn_cast<linalg::IndexOp>(inner)) {
      map.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    b.clone(inner, map);
  }
  SmallVector<Value> results;
  for (Value v : body.getTerminator()->getOperands())
    results.push_back(map.lookupOrDefault(v));
  return results;
}

void mlir::tetra::updateAtPoint(OpBuilder &b, Location loc, linalg::GenericOp op,
                                IRMapping &map, ArrayRef<Value> ivs) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<Value> outs;
  for (OpOperand &init : op.getDpsInitsMutable())
    outs.push_back(
        loadThroughMap(b, loc, map.lookup(init.get()), maps[init.getOperandNumber()], ivs));
  for (auto [init, v] : llvm::zip(op.getDpsInitsMutable(), evaluateBody(b, op, map, ivs, outs)))
    storeThroughMap(b, loc, v, map.lookup(init.get()), maps[init.getOperandNumber()], ivs);
}

void mlir::tetra::delinearize(OpBuilder &b, Location loc, Value linear, ArrayRef<unsigned> dims,
                              ArrayRef<int64_t> ranges, SmallVectorImpl<Value> &ivs) {
  Value rest = linear;
  for (unsigned d : llvm::reverse(dims)) {
    Value size = arith::ConstantIndexOp::create(b, loc, ranges[d]);
    ivs[d] = arith::RemUIOp::create(b, loc, rest, size);
    rest = arith::DivUIOp::create(b, loc, rest, size);
  }
}
