//===- CollectivesToRuntime.cpp - collectives bufferize into runtime calls ===//
//
// tetra.all_reduce, all_gather and reduce_scatter stay in the kernels as tensor
// ops until one-shot bufferization, where each becomes a fresh output buffer
// and a call into the runtime (tetra_rt_*), which runs it on the grid's
// communicator (MPI on CPU). Gathers and scatters are along dimension 0, the
// flattened weight shards of tetra-partition, so the buffers are contiguous.
//
//===----------------------------------------------------------------------===//
#include "LinalgBuilders.h"
#include "tetra/Registration.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;
using namespace mlir::tetra;
using namespace mlir::bufferization;

namespace {

int32_t axesMask(ArrayRef<int32_t> axes) {
  int32_t mask = 0;
  for (int32_t a : axes)
    mask |= 1 << a;
  return mask;
}

template <typename OpTy>
struct CollectiveBufferization
    : BufferizableOpInterface::ExternalModel<CollectiveBufferization<OpTy>, OpTy> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &, const AnalysisState &) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &, const AnalysisState &) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *, OpOperand &, const AnalysisState &) const {
    return {};
  }
  bool bufferizesToAllocation(Operation *, Value) const { return true; }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto collective = llvm::cast<OpTy>(op);
    Location loc = op->getLoc();
    auto resultType = llvm::cast<RankedTensorType>(op->getResult(0).getType());
    if (!resultType.getElementType().isF32())
      return op->emitOpError("runs on f32 buffers only, got ") << resultType;
    int64_t dim = 0;
    if constexpr (!std::is_same_v<OpTy, AllReduceOp>)
      dim = collective.getDim();
    if (dim != 0)
      return op->emitOpError("runs along dimension 0 only, got ") << dim;
    FailureOr<Value> input = getBuffer(rewriter, op->getOperand(0), options, state);
    if (failed(input))
      return failure();
    Value in = *input;
    auto inType = llvm::cast<MemRefType>(in.getType());
    if (!inType.getLayout().isIdentity()) {
      // The runtime reads one contiguous block.
      Value copy = memref::AllocOp::create(
          rewriter, loc, MemRefType::get(inType.getShape(), inType.getElementType()));
      memref::CopyOp::create(rewriter, loc, in, copy);
      in = copy;
    }
    Value out = memref::AllocOp::create(
        rewriter, loc, MemRefType::get(resultType.getShape(), resultType.getElementType()));
    auto unranked = UnrankedMemRefType::get(rewriter.getF32Type(), 0);
    SmallVector<Value> args{memref::CastOp::create(rewriter, loc, unranked, in),
                            memref::CastOp::create(rewriter, loc, unranked, out),
                            arith::ConstantIntOp::create(
                                rewriter, loc, axesMask(collective.getAxes()), 32)};
    StringRef name = "tetra_rt_all_gather";
    if constexpr (std::is_same_v<OpTy, AllReduceOp>) {
      name = "tetra_rt_all_reduce";
      args.push_back(arith::ConstantIntOp::create(
          rewriter, loc, static_cast<int32_t>(collective.getKind()), 32));
    } else if constexpr (std::is_same_v<OpTy, ReduceScatterOp>) {
      name = "tetra_rt_reduce_scatter";
    }
    func::FuncOp callee = runtimeFunction(op->getParentOfType<ModuleOp>(), name,
                                          ValueRange(args).getTypes(), {});
    func::CallOp::create(rewriter, loc, callee, args);
    replaceOpWithBufferizedValues(rewriter, op, out);
    return success();
  }
};

} // namespace

void mlir::tetra::registerCollectiveBufferization(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, TetraDialect *) {
    AllReduceOp::attachInterface<CollectiveBufferization<AllReduceOp>>(*ctx);
    AllGatherOp::attachInterface<CollectiveBufferization<AllGatherOp>>(*ctx);
    ReduceScatterOp::attachInterface<CollectiveBufferization<ReduceScatterOp>>(*ctx);
  });
}
