//===- EmulateGPULaunches.cpp - outlined kernels as host code -------------===//
//
// Kernels whose threads run alone become loops; kernels whose threads
// cooperate become host functions run by the runtime's fiber emulator
// (runtime/lib/GpuEmulator.cpp).
//
//===----------------------------------------------------------------------===//
#include "tetra/Conversion/Passes.h"
#include "EmulatedRaceCheck.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_EMULATEGPULAUNCHES
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

/// The launch's x size, a constant (the outlining makes them so).
std::optional<int64_t> constantSize(Value v) {
  if (auto c = v.getDefiningOp<arith::ConstantIndexOp>())
    return c.value();
  return std::nullopt;
}

/// The private declaration `name : type` in `module`, made on first use.
func::FuncOp declare(ModuleOp module, StringRef name, FunctionType type) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto decl = func::FuncOp::create(b, module.getLoc(), name, type);
  decl.setPrivate();
  return decl;
}

/// `type` in host memory: without its GPU memory space.
MemRefType hostType(MemRefType type) {
  return MemRefType::get(type.getShape(), type.getElementType(), type.getLayout());
}

/// The kernel's workgroup buffers as host memrefs.
SmallVector<MemRefType> sharedTypes(gpu::GPUFuncOp kernel) {
  SmallVector<MemRefType> types;
  for (BlockArgument arg : kernel.getWorkgroupAttributions())
    types.push_back(hostType(llvm::cast<MemRefType>(arg.getType())));
  return types;
}

/// The alignment of each workgroup buffer on the GPU: its `llvm.align`,
/// else its element's size.
SmallVector<int64_t> sharedAlignments(gpu::GPUFuncOp kernel) {
  SmallVector<int64_t> alignments;
  for (auto [i, arg] : llvm::enumerate(kernel.getWorkgroupAttributions())) {
    auto align = llvm::dyn_cast_or_null<IntegerAttr>(
        kernel.getWorkgroupAttributionAttr(i, LLVM::LLVMDialect::getAlignAttrName()));
    Type element = llvm::cast<MemRefType>(arg.getType()).getElementType();
    alignments.push_back(align ? align.getInt() : (element.getIntOrFloatBitWidth() + 7) / 8);
  }
  return alignments;
}

/// Threads cooperate through workgroup memory, barriers and warp-wide
/// instructions.
bool cooperates(gpu::GPUFuncOp kernel) {
  bool found = kernel.getNumWorkgroupAttributions() > 0;
  kernel.walk([&](Operation *op) {
    StringRef dialect = op->getDialect()->getNamespace();
    if (dialect == "nvvm" || dialect == "nvgpu" || dialect == "amdgpu" || dialect == "rocdl" ||
        llvm::isa<gpu::BarrierOp, gpu::ShuffleOp>(op))
      found = true;
  });
  return found;
}

/// Rewrites the body of a cooperating kernel, copied into a host function,
/// into calls of the runtime's emulator.
class CooperatingKernel {
public:
  CooperatingKernel(ModuleOp module, func::FuncOp host) : module(module), host(host) {}

  LogicalResult rewrite() {
    SmallVector<Operation *> ops;
    host.walk([&](Operation *op) { ops.push_back(op); });
    for (Operation *op : ops)
      if (failed(rewrite(op)))
        return failure();
    // A group's token is used only by waits, a copy's only by groups.
    for (Operation *op : llvm::reverse(unused))
      op->erase();
    return success();
  }

private:
  ModuleOp module;
  func::FuncOp host;
  Value resultBuffer; // memref<4xf32> the matrix instructions write D into
  Value wideBuffer;   // memref<128xf32> wgmma's accumulators pass through
  SmallVector<Operation *> unused; // async copies and groups, erased last

  Value call(OpBuilder &b, Location loc, StringRef name, ValueRange operands, TypeRange results) {
    auto callee = declare(module, name, b.getFunctionType(operands.getTypes(), results));
    auto c = func::CallOp::create(b, loc, callee, operands);
    return results.empty() ? Value() : c.getResult(0);
  }

  /// One buffer per function, at its entry, so no loop grows the stack.
  Value buffer(Location loc) {
    if (!resultBuffer) {
      OpBuilder b = OpBuilder::atBlockBegin(&host.getBody().front());
      resultBuffer = memref::AllocaOp::create(
          b, loc, MemRefType::get({4}, b.getF32Type()));
    }
    return resultBuffer;
  }

  LogicalResult idCall(Operation *op, gpu::Dimension dim, StringRef name) {
    if (dim != gpu::Dimension::x)
      return op->emitOpError("emulates the x dimension only");
    OpBuilder b(op);
    op->getResult(0).replaceAllUsesWith(
        call(b, op->getLoc(), name, {}, b.getIndexType()));
    op->erase();
    return success();
  }

  /// nvvm.wgmma.mma_async: the accumulators go through the wide buffer,
  /// the descriptors as they are; the emulator decodes them.
  LogicalResult rewriteWgmma(NVVM::WgmmaMmaAsyncOp wgmma) {
    auto shape = wgmma.getShape();
    int64_t n = shape.getN();
    auto accumulators = llvm::dyn_cast<LLVM::LLVMStructType>(wgmma.getInouts().getType());
    bool supported =
        shape.getM() == 64 && shape.getK() == 16 && n % 8 == 0 && n >= 8 && n <= 256 &&
        wgmma.getTypeA() == NVVM::WGMMATypes::bf16 && wgmma.getTypeB() == NVVM::WGMMATypes::bf16 &&
        wgmma.getTypeD() == NVVM::WGMMATypes::f32 &&
        wgmma.getScaleD() == NVVM::WGMMAScaleOut::one &&
        wgmma.getScaleA() == NVVM::WGMMAScaleIn::one &&
        wgmma.getScaleB() == NVVM::WGMMAScaleIn::one &&
        wgmma.getLayoutA() == NVVM::MMALayout::row && wgmma.getLayoutB() == NVVM::MMALayout::col &&
        accumulators && static_cast<int64_t>(accumulators.getBody().size()) == n / 2 &&
        llvm::all_of(accumulators.getBody(), [](Type t) { return t.isF32(); });
    if (!supported)
      return wgmma.emitOpError("is emulated for m64nNk16 bf16 with N / 2 f32 accumulators, "
                               "both operands K-major, accumulating and not negated, only");
    OpBuilder b(wgmma);
    Location loc = wgmma.getLoc();
    if (!wideBuffer) {
      OpBuilder entry = OpBuilder::atBlockBegin(&host.getBody().front());
      wideBuffer = memref::AllocaOp::create(entry, loc, MemRefType::get({128}, b.getF32Type()));
    }
    for (int64_t i = 0; i < n / 2; ++i)
      memref::StoreOp::create(
          b, loc, LLVM::ExtractValueOp::create(b, loc, wgmma.getInouts(), i), wideBuffer,
          ValueRange{arith::ConstantIndexOp::create(b, loc, i)});
    call(b, loc, "tetra_emu_wgmma_m64k16_bf16",
         {wgmma.getDescriptorA(), wgmma.getDescriptorB(), arith::ConstantIndexOp::create(b, loc, n),
          wideBuffer},
         {});
    Value result = LLVM::PoisonOp::create(b, loc, accumulators);
    for (int64_t i = 0; i < n / 2; ++i)
      result = LLVM::InsertValueOp::create(
          b, loc, result,
          memref::LoadOp::create(b, loc, wideBuffer,
                                 ValueRange{arith::ConstantIndexOp::create(b, loc, i)}),
          i);
    wgmma.getResults().replaceAllUsesWith(result);
    wgmma.erase();
    return success();
  }

  /// wgmma's commit and wait go to the emulator, which counts its reads as
  /// live until then. Its fence and the async proxy's fence order nothing
  /// more there: the emulator computes a wgmma when its warpgroup meets,
  /// after every earlier access of its threads.
  LogicalResult rewriteWgmmaSync(Operation *op) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    if (llvm::isa<NVVM::WgmmaGroupSyncAlignedOp>(op))
      call(b, loc, "tetra_emu_wgmma_commit", {}, {});
    else if (auto wait = llvm::dyn_cast<NVVM::WgmmaWaitGroupSyncOp>(op))
      call(b, loc, "tetra_emu_wgmma_wait",
           {arith::ConstantIndexOp::create(b, loc, wait.getGroup())}, {});
    op->erase();
    return success();
  }

  /// Replaces each `llvm.extractvalue %d[i]` of the struct result by the
  /// i-th element of the result buffer.
  LogicalResult replaceStructResult(Operation *op, Value buf) {
    for (Operation *user : llvm::make_early_inc_range(op->getResult(0).getUsers())) {
      auto extract = llvm::dyn_cast<LLVM::ExtractValueOp>(user);
      if (!extract || extract.getPosition().size() != 1)
        return op->emitOpError("has a use the emulator does not know: ") << *user;
      OpBuilder b(extract);
      Value index = arith::ConstantIndexOp::create(b, extract.getLoc(), extract.getPosition()[0]);
      extract.getResult().replaceAllUsesWith(
          memref::LoadOp::create(b, extract.getLoc(), buf, index));
      extract.erase();
    }
    return success();
  }

  /// gpu.shuffle xor on f32: the partner lane's value; always valid (the
  /// partner of a lane in a full warp is in the warp).
  LogicalResult rewriteShuffle(gpu::ShuffleOp shuffle) {
    if (shuffle.getMode() != gpu::ShuffleMode::XOR || !shuffle.getValue().getType().isF32())
      return shuffle.emitOpError("is emulated for xor on f32 only");
    OpBuilder b(shuffle);
    Location loc = shuffle.getLoc();
    Value v = call(b, loc, "tetra_emu_shuffle_xor_f32",
                   {shuffle.getValue(), shuffle.getOffset(), shuffle.getWidth()}, b.getF32Type());
    shuffle.getShuffleResult().replaceAllUsesWith(v);
    shuffle.getValid().replaceAllUsesWith(
        arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1).getResult());
    shuffle.erase();
    return success();
  }

  LogicalResult rewriteMma(NVVM::MmaOp mma) {
    auto shape = mma.getShapeAttr();
    bool supported = shape.getM() == 16 && shape.getN() == 8 && shape.getK() == 16 &&
                     mma.getMultiplicandAPtxType() == NVVM::MMATypes::bf16 &&
                     mma.getLayoutA() == NVVM::MMALayout::row &&
                     mma.getLayoutB() == NVVM::MMALayout::col &&
                     mma.getOperandA().size() == 4 && mma.getOperandB().size() == 2 &&
                     mma.getOperandC().size() == 4 && mma.getOperandC()[0].getType().isF32();
    if (!supported)
      return mma.emitOpError("is emulated for m16n8k16 row.col bf16 with f32 accumulators only");
    Value buf = buffer(mma.getLoc());
    OpBuilder b(mma);
    SmallVector<Value> operands(mma.getOperandA());
    llvm::append_range(operands, mma.getOperandB());
    llvm::append_range(operands, mma.getOperandC());
    operands.push_back(buf);
    call(b, mma.getLoc(), "tetra_emu_mma_sync_m16n8k16_bf16", operands, {});
    if (failed(replaceStructResult(mma, buf)))
      return failure();
    mma.erase();
    return success();
  }

  LogicalResult rewriteMfma(amdgpu::MFMAOp mfma) {
    auto operandType = VectorType::get({4}, OpBuilder(mfma).getBF16Type());
    auto accType = VectorType::get({4}, OpBuilder(mfma).getF32Type());
    if (mfma.getM() != 16 || mfma.getN() != 16 || mfma.getK() != 16 || mfma.getBlocks() != 1 ||
        mfma.getSourceA().getType() != operandType || mfma.getSourceB().getType() != operandType ||
        mfma.getDestC().getType() != accType || mfma.getCbsz() != 0 || mfma.getAbid() != 0 ||
        mfma.getBlgp() != amdgpu::MFMAPermB::none)
      return mfma.emitOpError("is emulated for 16x16x16 bf16 with f32 accumulators only");
    Value buf = buffer(mfma.getLoc());
    OpBuilder b(mfma);
    Location loc = mfma.getLoc();
    SmallVector<Value> operands{
        LLVM::BitcastOp::create(b, loc, b.getI64Type(), mfma.getSourceA()),
        LLVM::BitcastOp::create(b, loc, b.getI64Type(), mfma.getSourceB())};
    for (int64_t i = 0; i < 4; ++i)
      operands.push_back(vector::ExtractOp::create(b, loc, mfma.getDestC(), i));
    operands.push_back(buf);
    call(b, loc, "tetra_emu_mfma_16x16x16_bf16", operands, {});
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    mfma.getResult().replaceAllUsesWith(
        vector::LoadOp::create(b, loc, accType, buf, ValueRange{zero}));
    mfma.erase();
    return success();
  }

  /// nvgpu.ldmatrix x4 of bf16: the row address this lane names goes in,
  /// the four registers come back through the result buffer, each read
  /// where the op's result was extracted.
  LogicalResult rewriteLdMatrix(nvgpu::LdMatrixOp ld) {
    auto type = llvm::cast<VectorType>(ld.getRes().getType());
    OpBuilder b(ld);
    Location loc = ld.getLoc();
    auto pair = VectorType::get({2}, b.getBF16Type());
    if (ld.getNumTiles() != 4 || ld.getTranspose() ||
        type != VectorType::get({4, 2}, b.getBF16Type()))
      return ld.emitOpError("is emulated for x4, not transposed, bf16 only");
    Value buf = buffer(loc);
    Value address = addressOf(b, loc, ld.getSrcMemref(), ld.getIndices());
    call(b, loc, "tetra_emu_ldmatrix_x4_b16", {address, buf}, {});
    for (Operation *user : llvm::make_early_inc_range(ld.getRes().getUsers())) {
      auto extract = llvm::dyn_cast<vector::ExtractOp>(user);
      if (!extract || extract.getStaticPosition().size() != 1 ||
          !extract.getDynamicPosition().empty())
        return ld.emitOpError("has a use the emulator does not know: ") << *user;
      OpBuilder eb(extract);
      Value index = arith::ConstantIndexOp::create(eb, loc, extract.getStaticPosition()[0]);
      Value bits = memref::LoadOp::create(eb, loc, buf, index);
      extract.getResult().replaceAllUsesWith(LLVM::BitcastOp::create(eb, loc, pair, bits));
      extract.erase();
    }
    ld.erase();
    return success();
  }

  /// The address of `memref[indices]` as an index.
  Value addressOf(OpBuilder &b, Location loc, Value memref, ValueRange indices) {
    return arith::AddIOp::create(b, loc,
                                 memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref),
                                 tetra::elementByteOffset(b, loc, memref, indices));
  }

  /// nvgpu's asynchronous copies: each thread's start, commit and wait go
  /// to the emulator, which lands a copy's bytes only at the wait that
  /// covers it, as a GPU may.
  LogicalResult rewriteAsyncCopy(Operation *op) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    if (auto copy = llvm::dyn_cast<nvgpu::DeviceAsyncCopyOp>(op)) {
      auto element = llvm::cast<MemRefType>(copy.getDst().getType()).getElementType();
      Value elementBytes = arith::ConstantIndexOp::create(b, loc, element.getIntOrFloatBitWidth() / 8);
      Value elements =
          arith::ConstantIndexOp::create(b, loc, copy.getDstElements().getZExtValue());
      Value read = copy.getSrcElements() ? copy.getSrcElements() : elements;
      call(b, loc, "tetra_emu_async_copy",
           {addressOf(b, loc, copy.getDst(), copy.getDstIndices()),
            addressOf(b, loc, copy.getSrc(), copy.getSrcIndices()),
            arith::MulIOp::create(b, loc, elements, elementBytes),
            arith::MulIOp::create(b, loc, read, elementBytes)},
           {});
      unused.push_back(op);
      return success();
    }
    if (llvm::isa<nvgpu::DeviceAsyncCreateGroupOp>(op)) {
      call(b, loc, "tetra_emu_async_commit", {}, {});
      unused.push_back(op);
      return success();
    }
    auto wait = llvm::cast<nvgpu::DeviceAsyncWaitOp>(op);
    call(b, loc, "tetra_emu_async_wait",
         {arith::ConstantIndexOp::create(b, loc, wait.getNumGroups().value_or(0))}, {});
    wait.erase();
    return success();
  }

  LogicalResult rewrite(Operation *op) {
    if (auto id = llvm::dyn_cast<gpu::ThreadIdOp>(op))
      return idCall(op, id.getDimension(), "tetra_emu_thread_id");
    if (auto id = llvm::dyn_cast<gpu::BlockIdOp>(op))
      return idCall(op, id.getDimension(), "tetra_emu_block_id");
    if (auto dim = llvm::dyn_cast<gpu::BlockDimOp>(op))
      return idCall(op, dim.getDimension(), "tetra_emu_block_dim");
    if (auto dim = llvm::dyn_cast<gpu::GridDimOp>(op))
      return idCall(op, dim.getDimension(), "tetra_emu_grid_dim");
    if (llvm::isa<gpu::BarrierOp>(op)) {
      OpBuilder b(op);
      call(b, op->getLoc(), "tetra_emu_barrier", {}, {});
      op->erase();
      return success();
    }
    if (llvm::isa<gpu::ReturnOp>(op)) {
      OpBuilder b(op);
      func::ReturnOp::create(b, op->getLoc());
      op->erase();
      return success();
    }
    if (auto shuffle = llvm::dyn_cast<gpu::ShuffleOp>(op))
      return rewriteShuffle(shuffle);
    if (auto mma = llvm::dyn_cast<NVVM::MmaOp>(op))
      return rewriteMma(mma);
    if (auto mfma = llvm::dyn_cast<amdgpu::MFMAOp>(op))
      return rewriteMfma(mfma);
    if (auto ld = llvm::dyn_cast<nvgpu::LdMatrixOp>(op))
      return rewriteLdMatrix(ld);
    if (auto wgmma = llvm::dyn_cast<NVVM::WgmmaMmaAsyncOp>(op))
      return rewriteWgmma(wgmma);
    if (llvm::isa<NVVM::WgmmaGroupSyncAlignedOp, NVVM::WgmmaWaitGroupSyncOp,
                  NVVM::WgmmaFenceAlignedOp, NVVM::FenceProxyOp>(op))
      return rewriteWgmmaSync(op);
    if (llvm::isa<nvgpu::DeviceAsyncCopyOp, nvgpu::DeviceAsyncCreateGroupOp,
                  nvgpu::DeviceAsyncWaitOp>(op))
      return rewriteAsyncCopy(op);
    StringRef dialect = op->getDialect()->getNamespace();
    if (dialect == "gpu" || dialect == "nvvm" || dialect == "nvgpu" || dialect == "amdgpu" ||
        dialect == "rocdl")
      return op->emitOpError("is not emulated on the host");
    return success();
  }
};

struct EmulateGPULaunchesPass : tetra::impl::EmulateGPULaunchesBase<EmulateGPULaunchesPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTableCollection symbols;
    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
    for (gpu::LaunchFuncOp launch : launches)
      if (failed(emulate(launch, symbols)))
        return signalPassFailure();
    for (auto kernels : llvm::make_early_inc_range(module.getOps<gpu::GPUModuleOp>()))
      kernels.erase();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
    // The vendor GEMM of the GPU backends is the CPU's BLAS call here.
    if (auto vendor = module.lookupSymbol<func::FuncOp>("tetra_gpu_sgemm")) {
      if (module.lookupSymbol("tetra_sgemm")) {
        module.emitError("both tetra_gpu_sgemm and tetra_sgemm are declared");
        return signalPassFailure();
      }
      if (failed(SymbolTable::replaceAllSymbolUses(vendor, StringAttr::get(&getContext(), "tetra_sgemm"), module)))
        return signalPassFailure();
      vendor.setName("tetra_sgemm");
    }
  }

  /// `<kernel>_emulated`, made on the first launch of `kernel`.
  FailureOr<func::FuncOp> hostFunction(gpu::GPUFuncOp kernel) {
    ModuleOp module = getOperation();
    std::string name = (kernel.getName() + "_emulated").str();
    if (auto existing = module.lookupSymbol<func::FuncOp>(name))
      return existing;
    if (kernel.getNumPrivateAttributions())
      return kernel.emitOpError("has private memory, which is not emulated");
    // Workgroup memory becomes operands: buffers the launch allocates, which
    // the blocks (run one after another) share.
    SmallVector<Type> operands(kernel.getArgumentTypes());
    for (Type type : sharedTypes(kernel))
      operands.push_back(type);
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto host = func::FuncOp::create(b, kernel.getLoc(), name, b.getFunctionType(operands, {}));
    host.setPrivate();
    IRMapping map;
    kernel.getBody().cloneInto(&host.getBody(), map);
    for (auto [arg, type] : llvm::zip(host.getArguments(), operands))
      arg.setType(type);
    // Views of workgroup buffers are host memory too.
    host.walk([](Operation *op) {
      for (Value result : op->getResults())
        if (auto type = llvm::dyn_cast<MemRefType>(result.getType()))
          if (llvm::isa_and_nonnull<gpu::AddressSpaceAttr>(type.getMemorySpace()))
            result.setType(hostType(type));
    });
    // Accesses are reported first, while ldmatrix still names its memref.
    if (failed(tetra::checkMemoryAccesses(module, host, kernel.getNumArguments(),
                                               sharedAlignments(kernel))) ||
        failed(CooperatingKernel(module, host).rewrite()))
      return failure();
    registerWorkgroupBuffers(host, kernel);
    return host;
  }

  /// Each thread tells the emulator where the workgroup buffers lie, so
  /// that it can read what wgmma's descriptors point to.
  void registerWorkgroupBuffers(func::FuncOp host, gpu::GPUFuncOp kernel) {
    ModuleOp module = getOperation();
    OpBuilder b = OpBuilder::atBlockBegin(&host.getBody().front());
    Location loc = host.getLoc();
    auto index = b.getIndexType();
    auto callee = declare(module, "tetra_emu_workgroup_buffer",
                          b.getFunctionType({index, index, index}, {}));
    for (auto [i, type] : llvm::enumerate(sharedTypes(kernel))) {
      Value buffer = host.getArgument(kernel.getNumArguments() + i);
      Value address = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buffer);
      func::CallOp::create(b, loc, callee,
                           ValueRange{arith::ConstantIndexOp::create(b, loc, i), address,
                                      arith::ConstantIndexOp::create(b, loc, bytesOf(type))});
    }
  }

  static int64_t bytesOf(MemRefType type) {
    return type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8);
  }

  /// The launch's workgroup buffers: views of the emulator's arena, which is
  /// aligned to the 256 KiB window wgmma's descriptors address (and, being
  /// the emulator's, is not counted as the program's memory), each at its
  /// alignment.
  FailureOr<SmallVector<Value>> allocateShared(OpBuilder &b, Location loc,
                                               gpu::GPUFuncOp kernel) {
    SmallVector<MemRefType> types = sharedTypes(kernel);
    SmallVector<Value> views;
    if (types.empty())
      return views;
    SmallVector<int64_t> offsets;
    int64_t bytes = 0;
    for (auto [type, alignment] : llvm::zip(types, sharedAlignments(kernel))) {
      bytes = llvm::alignTo(bytes, std::max<int64_t>(alignment, 16));
      offsets.push_back(bytes);
      bytes += bytesOf(type);
    }
    constexpr int64_t kWindow = int64_t(1) << 18;
    if (bytes > kWindow)
      return kernel.emitOpError("has ") << bytes << " bytes of workgroup memory; the emulator "
                                        << "holds at most " << kWindow;
    auto arenaType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
    func::FuncOp arenaOf = declare(getOperation(), "tetra_emu_workgroup_arena",
                                   b.getFunctionType({b.getIndexType()}, {arenaType}));
    arenaOf->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(), b.getUnitAttr());
    Value arena = func::CallOp::create(b, loc, arenaOf,
                                       ValueRange{arith::ConstantIndexOp::create(b, loc, bytes)})
                      .getResult(0);
    for (auto [type, offset] : llvm::zip(types, offsets))
      views.push_back(memref::ViewOp::create(b, loc, type, arena,
                                             arith::ConstantIndexOp::create(b, loc, offset),
                                             ValueRange{}));
    return views;
  }

  /// The launch as a call of `<kernel>_emulated_launch(grid, block, warp
  /// size, operands...)`.
  LogicalResult emulateCooperating(gpu::LaunchFuncOp launch, gpu::GPUFuncOp kernel) {
    FailureOr<func::FuncOp> host = hostFunction(kernel);
    if (failed(host))
      return failure();
    OpBuilder b(launch);
    Location loc = launch.getLoc();
    SmallVector<Value> operands{launch.getGridSizeX(), launch.getBlockSizeX(),
                                arith::ConstantIndexOp::create(b, loc, warpSize)};
    llvm::append_range(operands, launch.getKernelOperands());
    FailureOr<SmallVector<Value>> shared = allocateShared(b, loc, kernel);
    if (failed(shared))
      return failure();
    llvm::append_range(operands, *shared);
    auto callee = declare(getOperation(), (host->getName() + "_launch").str(),
                          b.getFunctionType(ValueRange(operands).getTypes(), {}));
    func::CallOp::create(b, loc, callee, operands);
    launch.erase();
    return success();
  }

  LogicalResult emulate(gpu::LaunchFuncOp launch, SymbolTableCollection &symbols) {
    auto kernel = symbols.lookupNearestSymbolFrom<gpu::GPUFuncOp>(launch, launch.getKernel());
    if (!kernel)
      return launch.emitOpError("launches a kernel that is not here");
    for (Value size : {launch.getGridSizeY(), launch.getGridSizeZ(), launch.getBlockSizeY(),
                       launch.getBlockSizeZ()})
      if (constantSize(size) != 1)
        return launch.emitOpError("emulates launches along x only");
    if (launch.getDynamicSharedMemorySize())
      return launch.emitOpError("has dynamic shared memory, which is not emulated");
    if (checkEveryKernel || cooperates(kernel))
      return emulateCooperating(launch, kernel);
    std::optional<int64_t> blocks = constantSize(launch.getGridSizeX());
    std::optional<int64_t> threads = constantSize(launch.getBlockSizeX());
    if (!blocks || !threads)
      return launch.emitOpError("has a launch size that is not a constant");

    OpBuilder b(launch);
    Location loc = launch.getLoc();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto blockLoop =
        scf::ForOp::create(b, loc, zero, arith::ConstantIndexOp::create(b, loc, *blocks), one);
    b.setInsertionPointToStart(blockLoop.getBody());
    auto threadLoop =
        scf::ForOp::create(b, loc, zero, arith::ConstantIndexOp::create(b, loc, *threads), one);
    b.setInsertionPointToStart(threadLoop.getBody());
    IRMapping map;
    for (auto [arg, operand] :
         llvm::zip(kernel.getArguments(), launch.getKernelOperands()))
      map.map(arg, operand);
    for (Operation &op : kernel.getBody().front()) {
      if (llvm::isa<gpu::ReturnOp>(op))
        break;
      if (auto id = llvm::dyn_cast<gpu::ThreadIdOp>(op)) {
        if (id.getDimension() != gpu::Dimension::x)
          return launch.emitOpError("emulates x threads only");
        map.map(id.getResult(), threadLoop.getInductionVar());
        continue;
      }
      if (auto id = llvm::dyn_cast<gpu::BlockIdOp>(op)) {
        if (id.getDimension() != gpu::Dimension::x)
          return launch.emitOpError("emulates x blocks only");
        map.map(id.getResult(), blockLoop.getInductionVar());
        continue;
      }
      b.clone(op, map);
    }
    launch.erase();
    return success();
  }
};

} // namespace
