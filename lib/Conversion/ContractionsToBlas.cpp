//===- ContractionsToBlas.cpp - matrix products as BLAS calls --------------===//
#include "tetra/Conversion/Passes.h"
#include "tetra/Conversion/GemmMatch.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_CONVERTCONTRACTIONSTOBLAS
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;
using mlir::tetra::Gemm;
using mlir::tetra::matchGemm;

namespace {

constexpr llvm::StringLiteral kSgemm = "tetra_sgemm";

struct ConvertContractionsToBlasPass
    : tetra::impl::ConvertContractionsToBlasBase<ConvertContractionsToBlasPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    // Fully dynamic strided memrefs: any 2-D view passes.
    int64_t dyn = ShapedType::kDynamic;
    auto anyMatrix = MemRefType::get(
        {dyn, dyn}, b.getF32Type(), StridedLayoutAttr::get(ctx, dyn, {dyn, dyn}));
    func::FuncOp callee;
    SmallVector<linalg::GenericOp> gemms;
    module.walk([&](linalg::GenericOp op) {
      if (matchGemm(op))
        gemms.push_back(op);
    });
    if (gemms.empty())
      return;
    b.setInsertionPointToStart(module.getBody());
    callee = func::FuncOp::create(
        b, module.getLoc(), kSgemm,
        b.getFunctionType({b.getI64Type(), b.getI64Type(), anyMatrix, anyMatrix, anyMatrix},
                          {}));
    callee.setPrivate();
    callee->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    for (linalg::GenericOp op : gemms) {
      Gemm g = *matchGemm(op);
      b.setInsertionPoint(op);
      Location loc = op.getLoc();
      auto cast = [&](Value v) -> Value {
        return memref::CastOp::create(b, loc, anyMatrix, v);
      };
      Value transA = arith::ConstantIntOp::create(b, loc, g.transA, 64);
      Value transB = arith::ConstantIntOp::create(b, loc, g.transB, 64);
      func::CallOp::create(b, loc, callee,
                           ValueRange{transA, transB, cast(g.a), cast(g.b), cast(g.c)});
      op.erase();
    }
  }
};

} // namespace
