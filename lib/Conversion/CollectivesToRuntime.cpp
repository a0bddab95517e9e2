//===- CollectivesToRuntime.cpp - collectives bufferize into runtime calls ===//
//
// tetra.all_reduce, all_gather and reduce_scatter stay in the kernels as tensor
// ops until one-shot bufferization, where each becomes a fresh output buffer
// and a call into the runtime (tetra_rt_*), which runs it on the grid's
// communicator (MPI on CPU). Gathers and scatters are along dimension 0, the
// flattened weight shards of tetra-partition, so the buffers are contiguous.
//
// The asynchronous forms (tetra-overlap's *_start / wait) become
// tetra_rt_*_start, which takes the input at once (the runtime copies it) and
// returns a handle, and tetra_rt_wait(handle); the output buffer is allocated
// at the start and becomes the wait's result.
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
constexpr bool isAsync = std::is_same_v<OpTy, AllReduceStartOp> ||
                         std::is_same_v<OpTy, AllGatherStartOp> ||
                         std::is_same_v<OpTy, ReduceScatterStartOp>;

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
    Type produced = op->getResult(0).getType();
    if (auto token = llvm::dyn_cast<TokenType>(produced))
      produced = token.getResult();
    auto resultType = llvm::cast<RankedTensorType>(produced);
    // Gathers also move bf16 (the weights' copies), bit for bit; sums need f32.
    constexpr bool isGather =
        std::is_same_v<OpTy, AllGatherOp> || std::is_same_v<OpTy, AllGatherStartOp>;
    bool bf16 = isGather && resultType.getElementType().isBF16();
    if (!resultType.getElementType().isF32() && !bf16)
      return op->emitOpError(isGather ? "runs on f32 or bf16 buffers only, got "
                                      : "runs on f32 buffers only, got ")
             << resultType;
    int64_t dim = 0;
    if constexpr (!std::is_same_v<OpTy, AllReduceOp> && !std::is_same_v<OpTy, AllReduceStartOp>)
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
    auto unranked = UnrankedMemRefType::get(resultType.getElementType(), 0);
    SmallVector<Value> args{memref::CastOp::create(rewriter, loc, unranked, in),
                            memref::CastOp::create(rewriter, loc, unranked, out),
                            arith::ConstantIntOp::create(
                                rewriter, loc, axesMask(collective.getAxes()), 32)};
    std::string name = bf16 ? "tetra_rt_all_gather_bf16" : "tetra_rt_all_gather";
    if constexpr (std::is_same_v<OpTy, AllReduceOp> || std::is_same_v<OpTy, AllReduceStartOp>) {
      name = "tetra_rt_all_reduce";
      args.push_back(arith::ConstantIntOp::create(
          rewriter, loc, static_cast<int32_t>(collective.getKind()), 32));
    } else if constexpr (std::is_same_v<OpTy, ReduceScatterOp> ||
                         std::is_same_v<OpTy, ReduceScatterStartOp>) {
      name = "tetra_rt_reduce_scatter";
    }
    auto module = op->getParentOfType<ModuleOp>();
    if constexpr (isAsync<OpTy>) {
      // The token carries the output buffer and the runtime's handle to the
      // wait.
      func::FuncOp callee = runtimeFunction(module, name + "_start", ValueRange(args).getTypes(),
                                            {rewriter.getI64Type()});
      Value handle = func::CallOp::create(rewriter, loc, callee, args).getResult(0);
      Value token = UnrealizedConversionCastOp::create(
                        rewriter, loc, op->getResult(0).getType(), ValueRange{out, handle})
                        .getResult(0);
      replaceOpWithBufferizedValues(rewriter, op, token);
    } else {
      func::FuncOp callee =
          runtimeFunction(module, name, ValueRange(args).getTypes(), {});
      func::CallOp::create(rewriter, loc, callee, args);
      replaceOpWithBufferizedValues(rewriter, op, out);
    }
    return success();
  }
};

/// The wait of an asynchronous collective: its result is the buffer the
/// start allocated, complete once tetra_rt_wait returns.
struct WaitBufferization : BufferizableOpInterface::ExternalModel<WaitBufferization, WaitOp> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &, const AnalysisState &) const {
    return false;
  }
  bool bufferizesToMemoryWrite(Operation *, OpOperand &, const AnalysisState &) const {
    return false;
  }
  AliasingValueList getAliasingValues(Operation *, OpOperand &, const AnalysisState &) const {
    return {};
  }
  bool bufferizesToAllocation(Operation *, Value) const { return true; }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter, const BufferizationOptions &,
                          BufferizationState &) const {
    auto started = op->getOperand(0).getDefiningOp<UnrealizedConversionCastOp>();
    if (!started || started.getNumOperands() != 2)
      return op->emitOpError("waits on a collective that was not started in this function");
    Value out = started.getOperand(0), handle = started.getOperand(1);
    func::FuncOp wait = runtimeFunction(op->getParentOfType<ModuleOp>(), "tetra_rt_wait",
                                        {rewriter.getI64Type()}, {}, /*cInterface=*/false);
    func::CallOp::create(rewriter, op->getLoc(), wait, ValueRange{handle});
    replaceOpWithBufferizedValues(rewriter, op, out);
    if (started->use_empty())
      rewriter.eraseOp(started);
    return success();
  }
};

} // namespace

void mlir::tetra::registerCollectiveBufferization(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, TetraDialect *) {
    AllReduceOp::attachInterface<CollectiveBufferization<AllReduceOp>>(*ctx);
    AllGatherOp::attachInterface<CollectiveBufferization<AllGatherOp>>(*ctx);
    ReduceScatterOp::attachInterface<CollectiveBufferization<ReduceScatterOp>>(*ctx);
    AllReduceStartOp::attachInterface<CollectiveBufferization<AllReduceStartOp>>(*ctx);
    AllGatherStartOp::attachInterface<CollectiveBufferization<AllGatherStartOp>>(*ctx);
    ReduceScatterStartOp::attachInterface<CollectiveBufferization<ReduceScatterStartOp>>(*ctx);
    WaitOp::attachInterface<WaitBufferization>(*ctx);
  });
}
