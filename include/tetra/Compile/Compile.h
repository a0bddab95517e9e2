//===- Compile.h - from a model config to an artifact directory ----------===//
#ifndef TETRA_COMPILE_COMPILE_H
#define TETRA_COMPILE_COMPILE_H

#include "sched/SchedOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <string>

namespace mlir::tetra {

/// The artifact's format version; the runtime refuses any other.
inline constexpr int64_t kArtifactVersion = 1;

struct CompileOptions {
  std::string configPath;
  std::string outputDir;
  /// A machine name (cpu, frontier, alps, perlmutter) or machine file.
  std::string machine = "cpu";
  /// Devices for `grid = "auto"`: the cost model picks the grid among them.
  int64_t gpus = 0;
  /// The cost model's report: printed (`report`, the top `reportTop`), as
  /// JSON, and the predicted timeline of the chosen configuration.
  bool report = false;
  int64_t reportTop = 5;
  std::string reportJson, predictTrace;
  int64_t seqLen = 0;
  int64_t microBatch = 0;
  /// Samples per optimizer step: micro-batches are accumulated up to it.
  int64_t globalBatch = 0;
  /// The 4D grid "XxYxZxD" the program is partitioned for (1x1x1x1: one
  /// process).
  std::string grid = "1x1x1x1";
  /// Collective overlap (tetra-overlap): "all", "none", or a comma list of
  /// oag, ors, oar, forward; `prefetch` all-gathers in flight ahead.
  std::string overlap = "all";
  int64_t prefetch = 1;
  /// Goldfish loss: `hash:k=4:h=13`, `static:k=4[:start=N]`, or empty.
  std::string goldfish;
  /// Options of tetra-autodiff's optimizer (`beta1=0.9 weight-decay=0.1`).
  std::string optimizer;
  /// Stop after this stage and print it: "tetra", "linalg", "llvm", or "" for
  /// the whole artifact.
  std::string emit;
  /// The C compiler that turns the LLVM IR into the kernels' shared object,
  /// and its optimisation level (O3; tests use O1 to compile faster).
  std::string clang;
  std::string kernelOpt = "O3";
  /// The CPU that code is compiled for (clang's -march): "native" runs here,
  /// a generic level such as "x86-64-v3" on other machines too.
  std::string hostCpu = "native";
  /// GPU machines: matrix products as generated tensor-core kernels
  /// ("tensor-cores") or served by the vendor library ("vendor": cuBLAS).
  std::string gemm = "tensor-cores";
  /// NVIDIA machines: the generated GEMMs' matrix instruction, "mma.sync",
  /// "wgmma" (sm_90a) or "auto" (wgmma where the chip has it).
  std::string gemmInstruction = "auto";
  /// GPU machines: attention as one fused kernel (online softmax, no scores
  /// in memory) rather than its score, softmax and value groups.
  bool flashAttention = true;
  /// GPU machines: how the tensors between fused groups are stored, "f32"
  /// or "bf16" (computed and accumulated in fp32 either way; parameters,
  /// gradients and optimizer state stay fp32).
  std::string storage = "f32";
  /// GPU machines, for tests: outline the kernels, then run them on the
  /// host (loops, or the runtime's emulator) in a CPU artifact.
  bool emulateGpu = false;
};

struct ModelConfig;
namespace cost {
struct Machine;
}

/// Runs the cost model for `options` (every grid of `gpus` devices when the
/// grid is "auto", else the given one), writes the reports it asks for, and
/// returns the chosen grid and overlap.
FailureOr<std::pair<std::string, std::string>>
chooseConfiguration(const CompileOptions &options, const ModelConfig &config,
                    const cost::Machine &machine, MLIRContext &context, Location loc);

/// Imports, lowers and compiles; writes `outputDir/{manifest.json,kernels.ll,
/// kernels.so}`. Reports errors through `context`'s diagnostics.
LogicalResult compileArtifact(const CompileOptions &options, MLIRContext &context);

/// The artifact for a decided grid and overlap (compileArtifact's second
/// half).
LogicalResult compileChosen(const CompileOptions &options, const ModelConfig &config,
                            MLIRContext &context, Location loc, const cost::Machine &machine);

/// Runs a comma-separated list of module passes.
LogicalResult runPipeline(ModuleOp module, StringRef pipeline);

/// Writes `bytes` to `path` through a temporary file and a rename; errors
/// name the file.
LogicalResult writeAtomically(MLIRContext &ctx, StringRef path, StringRef bytes);

/// Bufferized host code (scf, memref, math, arith, func) to the LLVM
/// dialect, as a pass pipeline; without the final reconcile-unrealized-casts.
extern const char *const kHostToLLVM;

/// What lowerToGpuKernels wrote.
struct GpuKernelsInfo {
  std::string codegen, chip;
  int64_t kernels = 0;
  /// Paths relative to the artifact: the assembly and the loadable binary.
  std::string assembly, binary;
};

/// Outlines the fused groups of a bufferized module as GPU kernels for
/// `machine` (codegen nvvm or rocdl): one gpu.func and one launch each.
LogicalResult outlineGpuKernels(ModuleOp module, const cost::Machine &machine,
                                StringRef gemm, StringRef gemmInstruction);

/// Lowers outlined kernels to their target, writes `outputDir/kernels/`
/// (assembly, and cubin or HSACO) and lowers the host code to the LLVM
/// dialect with the binary embedded.
FailureOr<GpuKernelsInfo> lowerToGpuKernels(ModuleOp module, const cost::Machine &machine,
                                            StringRef outputDir, Location loc);

/// The most bytes the temporaries of a bufferized entry point hold at once
/// (static allocations only; failure for a dynamic one).
FailureOr<int64_t> peakTemporaryBytes(func::FuncOp func);

/// Adds to `module` one `void tetra_NAME(void **argv)` per function carrying
/// `llvm.emit_c_interface`: argv[i] points at argument i (a memref descriptor,
/// or an integer), in the function's order; out-params follow the inputs.
LogicalResult addPackedWrappers(ModuleOp module);

/// The plan of one training step with `microBatches` micro-batches:
/// accumulate `grad` over them, average, (on a grid with data or z ranks)
/// sum the gradients over the ranks that saw other samples, clip, launch
/// `update`.
sched::PlanOp buildTrainPlan(OpBuilder &b, Location loc, int64_t microBatches,
                             bool reduceGradients);

} // namespace mlir::tetra

#endif // TETRA_COMPILE_COMPILE_H
