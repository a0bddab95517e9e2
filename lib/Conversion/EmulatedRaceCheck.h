//===- EmulatedRaceCheck.h - report races in emulated kernels --------------===//
//
// The emulator runs a block's threads in one fixed order, and a launch's
// blocks one after another, so a kernel that reads what another thread
// wrote with no barrier between, or what another block wrote at all, still
// gets the value it wanted; on a GPU it may not. Each load and store of an
// emulated kernel is preceded by a call that tells the emulator which bytes
// it touches, and the emulator stops the run at two accesses to the same
// bytes, one a write, that nothing orders: in workgroup memory, two threads
// between the same barriers; in global memory, that too, or two blocks. It
// also stops at an access off the alignment its code claims, which a CPU
// forgives and a GPU does not. An asynchronous copy into workgroup memory
// (nvgpu.device_async_copy) writes twice as far as the check goes: when it
// starts, and again when the wait that covers it lands it.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_CONVERSION_EMULATEDRACECHECK_H
#define TETRA_CONVERSION_EMULATEDRACECHECK_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::tetra {

/// Precedes every access to a memref argument of `host`, and to views of
/// one, with a report: arguments from `firstWorkgroup` on are workgroup
/// buffers (`tetra_emu_workgroup_access(buffer, buffer bytes, byte offset,
/// bytes, writes, alignment)`; writes is 2 for an asynchronous copy's
/// destination, whose landing the next tetra_emu_async_copy takes over),
/// those before it global memory
/// (`tetra_emu_global_access(argument, byte offset, address, bytes,
/// writes, alignment)`, writes 3 for an atomic read-modify-write, which
/// races with other threads' plain accesses, not with their atomics);
/// `alignment` is what the access claims, which the
/// emulator checks against its address. Fails on a use that is neither an
/// access nor a view, whose bytes it could not name, and on an access that
/// claims more alignment than its workgroup buffer has
/// (`workgroupAlignments`, one a buffer).
LogicalResult checkMemoryAccesses(ModuleOp module, func::FuncOp host, unsigned firstWorkgroup,
                                  ArrayRef<int64_t> workgroupAlignments);

/// The byte offset of `memref[indices]` from the start of its allocation
/// (its aligned pointer), from the memref's strided metadata.
Value elementByteOffset(OpBuilder &b, Location loc, Value memref, ValueRange indices);

} // namespace mlir::tetra

#endif // TETRA_CONVERSION_EMULATEDRACECHECK_H
