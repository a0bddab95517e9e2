//===- tetra-compile.cpp - model config to artifact ------------------------===//
#include "tetra/Compile/Compile.h"

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
static cl::opt<std::string> machine("machine", cl::desc("Target machine (cpu)"),
                                    cl::init("cpu"));
static cl::opt<int64_t> seqLen("seq-len", cl::desc("Sequence length"), cl::Required);
static cl::opt<int64_t> microBatch("micro-batch", cl::desc("Samples per micro-batch"),
                                   cl::Required);
static cl::opt<std::string> emit(
    "emit", cl::desc("Print one stage instead of writing the artifact: tetra, "
                     "linalg or llvm"),
    cl::init(""));
static cl::opt<std::string> clang("clang", cl::desc("C compiler for the kernels"),
                                  cl::init(TETRA_CLANG));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "Tetra compiler: model config to artifact\n");
  if (emit.empty() && output.empty()) {
    llvm::errs() << "tetra-compile: -o DIR is required (or --emit=STAGE)\n";
    return 1;
  }
  if (!emit.empty() && emit != "tetra" && emit != "linalg" && emit != "llvm") {
    llvm::errs() << "tetra-compile: --emit must be tetra, linalg or llvm\n";
    return 1;
  }
  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  mlir::tetra::CompileOptions options{config, output, machine, seqLen,
                                      microBatch, emit, clang};
  return mlir::failed(mlir::tetra::compileArtifact(options, context)) ? 1 : 0;
}
