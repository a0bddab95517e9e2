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
    SmallVector<std::pair<linalg::GenericOp, Gemm>> gemms;
    getOperation().walk([&](linalg::GenericOp op) {
      // sgemm takes fp32 storage; other products stay loops.
      if (std::optional<Gemm> g = matchGemm(op); g && tetra::isFp32Gemm(*g))
        gemms.push_back({op, *g});
    });
    if (gemms.empty())
      return;
    func::FuncOp callee = tetra::declareGemmFunction(getOperation(), kSgemm);
    for (auto &[op, g] : gemms)
      tetra::replaceWithGemmCall(op, g, callee);
  }
};

} // namespace
