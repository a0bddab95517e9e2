//===- GemmMatch.cpp - recognise a 2-D matrix product ---------------------===//
#include "tetra/Conversion/GemmMatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/AffineMap.h"

using namespace mlir;

std::optional<tetra::Gemm> tetra::matchGemm(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      op.getNumLoops() != 3)
    return std::nullopt;
  auto iters = op.getIteratorTypesArray();
  if (iters[0] != utils::IteratorType::parallel || iters[1] != utils::IteratorType::parallel ||
      iters[2] != utils::IteratorType::reduction)
    return std::nullopt;
  // Body: yield(out + x * y).
  Block &body = op.getRegion().front();
  if (body.getOperations().size() != 3)
    return std::nullopt;
  auto mul = llvm::dyn_cast<arith::MulFOp>(&body.front());
  auto add = llvm::dyn_cast<arith::AddFOp>(mul ? mul->getNextNode() : nullptr);
  if (!mul || !add)
    return std::nullopt;
  Value out = body.getArgument(2);
  bool addsProduct = (add.getLhs() == out && add.getRhs() == mul.getResult()) ||
                     (add.getRhs() == out && add.getLhs() == mul.getResult());
  bool mulsInputs = (mul.getLhs() == body.getArgument(0) && mul.getRhs() == body.getArgument(1)) ||
                    (mul.getLhs() == body.getArgument(1) && mul.getRhs() == body.getArgument(0));
  if (!addsProduct || !mulsInputs)
    return std::nullopt;
  for (Value v : op->getOperands()) {
    auto type = llvm::dyn_cast<MemRefType>(v.getType());
    if (!type || type.getRank() != 2 || !type.getElementType().isF32())
      return std::nullopt;
  }
  MLIRContext *ctx = op.getContext();
  auto map = [&](unsigned x, unsigned y) {
    return AffineMap::get(3, 0, {getAffineDimExpr(x, ctx), getAffineDimExpr(y, ctx)}, ctx);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps[2] != map(0, 1))
    return std::nullopt;
  Gemm g;
  g.c = op.getDpsInitOperand(0)->get();
  for (unsigned i = 0; i < 2; ++i) {
    Value v = op.getDpsInputOperand(i)->get();
    if (maps[i] == map(0, 2) || maps[i] == map(2, 0)) {
      g.a = v;
      g.transA = maps[i] == map(2, 0);
    } else if (maps[i] == map(2, 1) || maps[i] == map(1, 2)) {
      g.b = v;
      g.transB = maps[i] == map(1, 2);
    }
  }
  if (!g.a || !g.b)
    return std::nullopt;
  return g;
}

func::FuncOp tetra::declareGemmFunction(ModuleOp module, StringRef name) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  // Fully dynamic strided memrefs: any 2-D view passes.
  int64_t dyn = ShapedType::kDynamic;
  auto anyMatrix = MemRefType::get({dyn, dyn}, b.getF32Type(),
                                   StridedLayoutAttr::get(ctx, dyn, {dyn, dyn}));
  b.setInsertionPointToStart(module.getBody());
  auto callee = func::FuncOp::create(
      b, module.getLoc(), name,
      b.getFunctionType({b.getI64Type(), b.getI64Type(), anyMatrix, anyMatrix, anyMatrix}, {}));
  callee.setPrivate();
  callee->setAttr("llvm.emit_c_interface", b.getUnitAttr());
  return callee;
}

void tetra::replaceWithGemmCall(linalg::GenericOp op, const Gemm &g, func::FuncOp callee) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Type anyMatrix = callee.getFunctionType().getInput(2);
  auto cast = [&](Value v) -> Value { return memref::CastOp::create(b, loc, anyMatrix, v); };
  Value transA = arith::ConstantIntOp::create(b, loc, g.transA, 64);
  Value transB = arith::ConstantIntOp::create(b, loc, g.transB, 64);
  func::CallOp::create(b, loc, callee, ValueRange{transA, transB, cast(g.a), cast(g.b), cast(g.c)});
  op.erase();
}
