//===- tetra-compile.cpp - model config to artifact ------------------------===//
#include "tetra/Compile/Compile.h"
#include "tetra/Support/NumberFormat.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"

namespace cl = llvm::cl;

static cl::opt<std::string> config(cl::Positional, cl::desc("<config.json>"),
                                   cl::Required);
static cl::opt<std::string> output("o", cl::desc("Artifact directory to write"),
                                   cl::value_desc("DIR"));
static cl::opt<std::string> machine(
    "machine",
    cl::desc("Target machine: cpu, frontier, alps, perlmutter, or a machine file "
             "(examples/machines); kernels are generated for cpu"),
    cl::init("cpu"));
static cl::opt<int64_t> gpus("gpus", cl::desc("Devices for --grid auto"), cl::init(0));
static cl::opt<bool> report(
    "report", cl::desc("Print the cost model's top configurations and why the winner wins"),
    cl::init(false));
static cl::opt<int64_t> reportTop("report-top", cl::desc("Configurations --report shows"),
                                  cl::init(5));
static cl::opt<std::string> reportJson("report-json",
                                       cl::desc("Write the cost model's ranking as JSON"),
                                       cl::value_desc("FILE"));
static cl::opt<std::string> predictTrace(
    "predict-trace",
    cl::desc("Write the predicted timeline of one step as a Perfetto trace (the runtime's "
             "lanes)"),
    cl::value_desc("FILE"));
static cl::opt<int64_t> seqLen("seq-len", cl::desc("Sequence length"), cl::Required);
static cl::opt<int64_t> microBatch("micro-batch", cl::desc("Samples per micro-batch"),
                                   cl::Required);
static cl::opt<int64_t> globalBatch(
    "global-batch", cl::desc("Samples per optimizer step (default: the micro-batch)"),
    cl::init(0));
static cl::opt<std::string> grid(
    "grid",
    cl::desc("4D grid XxYxZxD: x, y, z tensor-parallel and data-parallel sizes (tetra-run "
             "then needs X*Y*Z*D MPI ranks), or auto: the cost model's choice for --gpus"),
    cl::init("1x1x1x1"));
static cl::opt<std::string> overlap(
    "overlap",
    cl::desc("Collectives overlapped with computation on a grid: all (default), none, or a "
             "comma list of oag (weight all-gathers prefetched), ors (dW reduce-scatters), "
             "oar (backward dX all-reduces), forward (forward all-reduces), dp (the "
             "data-parallel gradient all-reduce, bucketed, during backward: when a step is "
             "one micro-batch)"),
    cl::init("all"));
static cl::opt<int64_t> prefetch(
    "prefetch", cl::desc("Weight all-gathers in flight ahead of the one in use (oag)"),
    cl::init(1));
static cl::opt<std::string> gemm(
    "gemm", cl::desc("GPU machines: matrix products as generated tensor-core kernels "
                     "(tensor-cores, the default) or by the vendor library (vendor: cuBLAS)"),
    cl::init("tensor-cores"));
static cl::opt<std::string> gemmInstruction(
    "gemm-instruction",
    cl::desc("GPU machines with NVIDIA GPUs: the generated GEMMs' matrix instruction, "
             "mma.sync (warp-wide), wgmma (warpgroup-wide, sm_90a only) or auto (the "
             "default: wgmma on sm_90a, else mma.sync)"),
    cl::init("auto"));
static cl::opt<bool> flashAttention(
    "flash-attention",
    cl::desc("GPU machines: attention as one fused tensor-core kernel (the default); "
             "=false keeps its score, softmax and value kernels"),
    cl::init(true));
static cl::opt<std::string> storage(
    "storage",
    cl::desc("GPU machines: storage of the tensors between fused groups, f32 (the default) or "
             "bf16 (computed and accumulated in fp32; parameters, their gradients and the "
             "optimizer's state stay fp32)"),
    cl::init("f32"));
static cl::opt<bool> emulateGpu(
    "emulate-gpu",
    cl::desc("GPU machines: run the outlined kernels on the CPU (tests of the GPU "
             "lowering: loops, or emulated threads where they cooperate)"),
    cl::init(false), cl::Hidden);
static cl::opt<std::string> kernelOpt(
    "kernel-opt", cl::desc("Optimisation level of the kernels' C compile: O0..O3 (default O3)"),
    cl::init("O3"));
static cl::opt<std::string> hostCpu(
    "host-cpu",
    cl::desc("CPU the kernels' host code is compiled for (clang's -march; default native, "
             "x86-64-v3 for an artifact that runs on another machine)"),
    cl::init("native"));
static cl::opt<double> beta1("beta1", cl::desc("AdamW beta1"), cl::init(0.9));
static cl::opt<double> beta2("beta2", cl::desc("AdamW beta2"), cl::init(0.95));
static cl::opt<double> adamEps("adam-eps", cl::desc("AdamW epsilon"), cl::init(1e-8));
static cl::opt<double> weightDecay(
    "weight-decay", cl::desc("AdamW weight decay, on parameters of rank >= 2"),
    cl::init(0.1));
static cl::opt<std::string> goldfish(
    "goldfish",
    cl::desc("Goldfish loss: hash:k=4:h=13 or static:k=4[:start=N] (default: none)"),
    cl::init(""));
static cl::opt<std::string> emit(
    "emit", cl::desc("Print one stage instead of writing the artifact: tetra, "
                     "linalg, gpu (the kernels outlined; GPU machines) or llvm"),
    cl::init(""));
static cl::opt<std::string> clang("clang", cl::desc("C compiler for the kernels"),
                                  cl::init(TETRA_CLANG));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "Tetra compiler: model config to artifact\n");
  bool planning = report || !reportJson.empty() || !predictTrace.empty();
  if (emit.empty() && output.empty() && !planning) {
    llvm::errs() << "tetra-compile: -o DIR is required (or --emit=STAGE, or --report)\n";
    return 1;
  }
  if (!emit.empty() && emit != "tetra" && emit != "linalg" && emit != "gpu" && emit != "llvm") {
    llvm::errs() << "tetra-compile: --emit must be tetra, linalg, gpu or llvm\n";
    return 1;
  }
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  mlir::tetra::CompileOptions options;
  options.configPath = config;
  options.outputDir = output;
  options.machine = machine;
  options.gpus = gpus;
  options.report = report;
  options.reportTop = reportTop;
  options.reportJson = reportJson;
  options.predictTrace = predictTrace;
  options.seqLen = seqLen;
  options.microBatch = microBatch;
  options.globalBatch = globalBatch ? globalBatch : microBatch;
  using mlir::tetra::numberToString;
  options.optimizer = "beta1=" + numberToString(beta1) + " beta2=" + numberToString(beta2) +
                      " eps=" + numberToString(adamEps) +
                      " weight-decay=" + numberToString(weightDecay);
  options.goldfish = goldfish;
  options.grid = grid;
  options.kernelOpt = kernelOpt;
  options.hostCpu = hostCpu;
  options.gemm = gemm;
  options.gemmInstruction = gemmInstruction;
  options.emulateGpu = emulateGpu;
  options.storage = storage;
  options.flashAttention = flashAttention;
  options.overlap = overlap;
  options.prefetch = prefetch;
  options.emit = emit;
  options.clang = clang;
  return mlir::failed(mlir::tetra::compileArtifact(options, context)) ? 1 : 0;
}
