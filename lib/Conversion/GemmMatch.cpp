//===- GemmMatch.cpp - recognise a 2-D matrix product ---------------------===//
#include "tetra/Conversion/GemmMatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/AffineMap.h"

using namespace mlir;

bool tetra::isProductBody(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1)
    return false;
  Block &body = op.getRegion().front();
  // A value as it is, or widened from bf16 (its only use).
  auto unwiden = [&](Value v) -> Value {
    if (auto wide = v.getDefiningOp<arith::ExtFOp>();
        wide && wide->hasOneUse() && wide.getIn().getType().isBF16() && wide.getType().isF32())
      return wide.getIn();
    return v;
  };
  int64_t ops = 1; // the yield
  auto yield = llvm::cast<linalg::YieldOp>(body.getTerminator());
  Value sum = yield.getOperand(0);
  // A bf16 output: the sum rounded back.
  if (auto round = sum.getDefiningOp<arith::TruncFOp>(); round && round.getType().isBF16()) {
    sum = round.getIn();
    ++ops;
  }
  auto add = sum.getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value out = body.getArgument(2);
  bool outFirst = unwiden(add.getLhs()) == out;
  if (!outFirst && unwiden(add.getRhs()) != out)
    return false;
  Value outSide = outFirst ? add.getLhs() : add.getRhs();
  auto mul = (outFirst ? add.getRhs() : add.getLhs()).getDefiningOp<arith::MulFOp>();
  if (!mul)
    return false;
  Value x = unwiden(mul.getLhs()), y = unwiden(mul.getRhs());
  auto isInput = [&](Value v) {
    auto arg = llvm::dyn_cast<BlockArgument>(v);
    return arg && arg.getOwner() == &body && arg.getArgNumber() < 2;
  };
  if (!isInput(x) || !isInput(y) || x == y)
    return false;
  ops += 2 + (outSide != out) + (mul.getLhs() != x) + (mul.getRhs() != y);
  // Nothing else in the body.
  return static_cast<int64_t>(body.getOperations().size()) == ops;
}

std::optional<tetra::Gemm> tetra::matchProduct(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 || op.getNumLoops() != 3)
    return std::nullopt;
  auto iters = op.getIteratorTypesArray();
  if (iters[0] != utils::IteratorType::parallel || iters[1] != utils::IteratorType::parallel ||
      iters[2] != utils::IteratorType::reduction)
    return std::nullopt;
  if (!isProductBody(op))
    return std::nullopt;
  for (Value v : op->getOperands()) {
    auto type = llvm::dyn_cast<ShapedType>(v.getType());
    if (!type || !type.hasRank() || type.getRank() != 2 ||
        !(type.getElementType().isF32() || type.getElementType().isBF16()))
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

std::optional<tetra::Gemm> tetra::matchGemm(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics())
    return std::nullopt;
  return matchProduct(op);
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

bool tetra::isFp32Gemm(const Gemm &g) {
  return llvm::all_of(ValueRange{g.a, g.b, g.c}, [](Value v) {
    return llvm::cast<MemRefType>(v.getType()).getElementType().isF32();
  });
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
