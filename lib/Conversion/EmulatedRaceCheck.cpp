//===- EmulatedRaceCheck.cpp - report races in emulated kernels -----------===//
//
// See EmulatedRaceCheck.h. The byte offset comes from the accessed memref's
// strided metadata, so views of a buffer name the same bytes as the buffer
// itself; global accesses also carry their address, since two arguments
// may be the same memory.
//
//===----------------------------------------------------------------------===//
#include "EmulatedRaceCheck.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

using namespace mlir;

namespace {

int64_t bytesOf(Type type) {
  if (auto vector = llvm::dyn_cast<VectorType>(type))
    return vector.getNumElements() * bytesOf(vector.getElementType());
  return (type.getIntOrFloatBitWidth() + 7) / 8;
}

/// The private declaration `name(index x 6)` in `module`.
func::FuncOp reporter(ModuleOp module, StringRef name) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto index = b.getIndexType();
  auto decl = func::FuncOp::create(b, module.getLoc(), name,
                                   b.getFunctionType(SmallVector<Type>(6, index), {}));
  decl.setPrivate();
  return decl;
}

/// Where the accesses to one argument (and its views) are reported.
struct Argument {
  func::FuncOp callee;
  int64_t number;      // workgroup buffer or kernel argument
  int64_t bufferBytes;     // workgroup buffers only
  int64_t bufferAlignment; // workgroup buffers only
  bool workgroup;
};

/// The alignment in bytes `op` claims for its access to `memref`: its own
/// attribute, or the element's size, as the LLVM lowering takes it.
int64_t claimedAlignment(Operation *op, Value memref) {
  if (auto attr = op->getAttrOfType<IntegerAttr>("alignment"))
    return attr.getInt();
  if (llvm::isa<nvgpu::LdMatrixOp>(op))
    return 16; // the PTX ISA's rule for each row address
  if (auto copy = llvm::dyn_cast<nvgpu::DeviceAsyncCopyOp>(op))
    return copy.getDstElements().getZExtValue() *
           bytesOf(llvm::cast<MemRefType>(memref.getType()).getElementType()); // cp.async's rule
  return bytesOf(llvm::cast<MemRefType>(memref.getType()).getElementType());
}

/// How an access touches its bytes, as the reports number it.
enum Access : int64_t { Reads = 0, Writes = 1, WritesAsynchronously = 2, Atomic = 3 };

/// Reports the access of `op` to `memref` at `indices` of a value of type
/// `accessed`, before `op`.
LogicalResult report(Operation *op, const Argument &arg, Value memref, ValueRange indices,
                     Type accessed, Access writes) {
  int64_t alignment = claimedAlignment(op, memref);
  if (arg.workgroup && alignment > arg.bufferAlignment)
    return op->emitOpError("claims ")
           << alignment << "-byte alignment in workgroup buffer " << arg.number
           << ", which is only " << arg.bufferAlignment << "-byte aligned";
  OpBuilder b(op);
  Location loc = op->getLoc();
  auto constant = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v).getResult(); };
  Value offset = tetra::elementByteOffset(b, loc, memref, indices);
  Value bytes = constant(bytesOf(accessed)), write = constant(writes);
  Value aligned = constant(alignment);
  if (arg.workgroup) {
    func::CallOp::create(b, loc, arg.callee,
                         ValueRange{constant(arg.number), constant(arg.bufferBytes), offset, bytes,
                                    write, aligned});
    return success();
  }
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, memref);
  Value address = arith::AddIOp::create(b, loc, base, offset);
  func::CallOp::create(b, loc, arg.callee,
                       ValueRange{constant(arg.number), offset, address, bytes, write, aligned});
  return success();
}

LogicalResult instrument(Value root, const Argument &arg) {
  SmallVector<Value> worklist{root};
  while (!worklist.empty()) {
    Value memref = worklist.pop_back_val();
    // Collected first: the reports add uses of `memref`.
    SmallVector<Operation *> users(memref.getUsers());
    for (Operation *user : users) {
      if (auto view = llvm::dyn_cast<ViewLikeOpInterface>(user)) {
        if (view.getViewSource() == memref && llvm::isa<MemRefType>(view->getResult(0).getType()))
          worklist.push_back(view->getResult(0));
        continue;
      }
      LogicalResult reported = success();
      if (auto load = llvm::dyn_cast<memref::LoadOp>(user))
        reported = report(user, arg, memref, load.getIndices(), load.getType(), Reads);
      else if (auto store = llvm::dyn_cast<memref::StoreOp>(user))
        reported = report(user, arg, memref, store.getIndices(),
                          store.getValueToStore().getType(), Writes);
      else if (auto atomic = llvm::dyn_cast<memref::AtomicRMWOp>(user))
        reported = report(user, arg, memref, atomic.getIndices(), atomic.getValue().getType(),
                          arg.workgroup ? Writes : Atomic);
      else if (auto load = llvm::dyn_cast<vector::LoadOp>(user))
        reported = report(user, arg, memref, load.getIndices(), load.getType(), Reads);
      else if (auto store = llvm::dyn_cast<vector::StoreOp>(user))
        reported = report(user, arg, memref, store.getIndices(),
                          store.getValueToStore().getType(), Writes);
      else if (auto ldmatrix = llvm::dyn_cast<nvgpu::LdMatrixOp>(user))
        // Each lane reads the 8 elements of the row it names.
        reported = report(
            user, arg, memref, ldmatrix.getIndices(),
            VectorType::get({8}, llvm::cast<MemRefType>(memref.getType()).getElementType()),
            Reads);
      else if (auto copy = llvm::dyn_cast<nvgpu::DeviceAsyncCopyOp>(user)) {
        // Reported as dstElements elements both ways: at the source, where
        // fewer are read, the clamped indices still name real bytes.
        auto type = VectorType::get({static_cast<int64_t>(copy.getDstElements().getZExtValue())},
                                    llvm::cast<MemRefType>(memref.getType()).getElementType());
        if (memref == copy.getDst())
          reported = report(user, arg, memref, copy.getDstIndices(), type,
                            arg.workgroup ? WritesAsynchronously : Writes);
        if (memref == copy.getSrc() && succeeded(reported))
          reported = report(user, arg, memref, copy.getSrcIndices(), type, Reads);
      } else if (!llvm::isa<memref::ExtractStridedMetadataOp, memref::ExtractAlignedPointerAsIndexOp,
                          memref::DimOp>(user))
        return user->emitOpError("uses ")
               << (arg.workgroup ? "workgroup buffer " : "kernel argument ") << arg.number
               << " in a way the emulator's race check does not follow";
      if (failed(reported))
        return failure();
    }
  }
  return success();
}

} // namespace

Value mlir::tetra::elementByteOffset(OpBuilder &b, Location loc, Value memref,
                                     ValueRange indices) {
  auto type = llvm::cast<MemRefType>(memref.getType());
  auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, memref);
  Value element = metadata.getOffset();
  for (auto [index, stride] : llvm::zip(indices, metadata.getStrides()))
    element = arith::AddIOp::create(b, loc, element, arith::MulIOp::create(b, loc, index, stride));
  return arith::MulIOp::create(
      b, loc, element, arith::ConstantIndexOp::create(b, loc, bytesOf(type.getElementType())));
}

LogicalResult mlir::tetra::checkMemoryAccesses(ModuleOp module, func::FuncOp host,
                                               unsigned firstWorkgroup,
                                               ArrayRef<int64_t> workgroupAlignments) {
  for (unsigned i = 0; i < host.getNumArguments(); ++i) {
    Value value = host.getArgument(i);
    auto type = llvm::dyn_cast<MemRefType>(value.getType());
    if (!type)
      continue;
    Argument arg{{}, i, 0, 0, i >= firstWorkgroup};
    if (arg.workgroup) {
      if (!type.hasStaticShape())
        return host.emitOpError("has a workgroup buffer of dynamic size");
      arg.number = i - firstWorkgroup;
      arg.bufferBytes = type.getNumElements() * bytesOf(type.getElementType());
      arg.bufferAlignment = workgroupAlignments[arg.number];
      arg.callee = reporter(module, "tetra_emu_workgroup_access");
    } else {
      arg.callee = reporter(module, "tetra_emu_global_access");
    }
    if (failed(instrument(value, arg)))
      return failure();
  }
  return success();
}
