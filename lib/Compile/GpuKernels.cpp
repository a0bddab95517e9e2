//===- GpuKernels.cpp - fused groups to cubin / HSACO, host code to LLVM ---===//
//
// The bufferized entry points keep their ABI; their fused groups become GPU
// kernels (convert-linalg-to-gpu-kernels), serialised by MLIR's NVVM target
// (PTX assembled by ptxas into a cubin) or ROCDL target (AMDGCN linked by
// ld.lld with the ROCm device libraries into an HSACO). The host code keeps
// the launches as calls of the runtime's mgpu* functions and the binary
// embedded, so kernels.so loads its own kernels.
//
//===----------------------------------------------------------------------===//
#include "tetra/Compile/Compile.h"
#include "tetra/CostModel/Machine.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::tetra;

namespace {

/// Host code after the launches are in place: runs of launches queued on
/// one stream, the CPU path's lowering without its BLAS calls, and the
/// launches as mgpu* calls.
std::string hostToLLVM() {
  return std::string("tetra-stream-gpu-launches,") + kHostToLLVM +
         ",gpu-to-llvm,reconcile-unrealized-casts";
}


std::string toolkitOf(StringRef codegen) {
  // ROCDL wants $ROCM_PATH/amdgcn/bitcode and $ROCM_PATH/llvm/bin/ld.lld;
  // the build lays such a folder out from Debian's packages.
  const char *variable = codegen == "rocdl" ? "ROCM_PATH" : "CUDA_PATH";
  if (std::optional<std::string> env = llvm::sys::Process::GetEnv(variable))
    return *env;
  return codegen == "rocdl" ? TETRA_ROCM_PATH : TETRA_CUDA_PATH;
}

/// Lowers the kernels of `module` (already outlined) to their target's
/// LLVM dialect.
std::string kernelPipeline(const cost::Machine &machine) {
  if (machine.codegen == "rocdl")
    return llvm::formatv("rocdl-attach-target{{chip={0} O=3},"
                         "convert-math-to-rocdl{{chipset={0}},"
                         "gpu.module(lower-affine,convert-scf-to-cf,"
                         "convert-amdgpu-to-rocdl{{chipset={0}},"
                         "convert-gpu-to-rocdl{{chipset={0}},reconcile-unrealized-casts)",
                         machine.chip)
        .str();
  return llvm::formatv("nvvm-attach-target{{chip={0} features=+ptx81 O=3},"
                       "gpu.module(lower-affine,convert-scf-to-cf,convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,"
                       "convert-nvvm-to-llvm,reconcile-unrealized-casts)",
                       machine.chip)
      .str();
}


/// Writes every gpu.binary's object of `module` as `dir/NAME.suffix`.
LogicalResult writeObjects(ModuleOp module, StringRef dir, StringRef suffix) {
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute attr : binary.getObjects()) {
      auto object = llvm::cast<gpu::ObjectAttr>(attr);
      SmallString<256> path(dir);
      llvm::sys::path::append(path, (binary.getName() + "." + suffix).str());
      if (failed(writeAtomically(*module.getContext(), path, object.getObject().getValue())))
        return failure();
    }
  return success();
}

} // namespace

LogicalResult mlir::tetra::outlineGpuKernels(ModuleOp module, const cost::Machine &machine,
                                            StringRef gemm, StringRef gemmInstruction) {
  return runPipeline(module, "convert-linalg-to-gpu-kernels{target=" + machine.codegen +
                                 " chip=" + machine.chip + " gemm=" + gemm.str() +
                                 " gemm-instruction=" + gemmInstruction.str() + "}");
}

FailureOr<GpuKernelsInfo> mlir::tetra::lowerToGpuKernels(ModuleOp module,
                                                       const cost::Machine &machine,
                                                       StringRef outputDir, Location loc) {
  if (failed(runPipeline(module, kernelPipeline(machine))))
    return failure();
  GpuKernelsInfo info;
  info.codegen = machine.codegen;
  info.chip = machine.chip;
  for (auto kernels : module.getOps<gpu::GPUModuleOp>())
    for (auto fn : kernels.getOps<LLVM::LLVMFuncOp>())
      if (fn->hasAttr(gpu::GPUDialect::getKernelFuncAttrName()))
        ++info.kernels;

  SmallString<256> dir(outputDir);
  llvm::sys::path::append(dir, "kernels");
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return emitError(loc) << "cannot create " << dir << ": " << ec.message();
  std::string toolkit = toolkitOf(machine.codegen);
  bool amd = machine.codegen == "rocdl";
  // The assembly, for reading: PTX or AMDGCN, from a copy of the kernels.
  {
    OwningOpRef<ModuleOp> copy = ModuleOp::create(loc);
    for (auto kernels : module.getOps<gpu::GPUModuleOp>())
      copy->getBody()->push_back(kernels->clone());
    if (failed(runPipeline(*copy, "gpu-module-to-binary{format=isa toolkit=" + toolkit + "}")) ||
        failed(writeObjects(*copy, dir, amd ? "s" : "ptx")))
      return failure();
  }
  if (failed(runPipeline(module, hostToLLVM())) ||
      failed(runPipeline(module, "gpu-module-to-binary{format=bin toolkit=" + toolkit + "}")) ||
      failed(writeObjects(module, dir, amd ? "hsaco" : "cubin")))
    return failure();
  info.assembly = std::string("kernels/kernels.") + (amd ? "s" : "ptx");
  info.binary = std::string("kernels/kernels.") + (amd ? "hsaco" : "cubin");
  return info;
}
