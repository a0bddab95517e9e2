//===- Compile.cpp - from a model config to an artifact directory ---------===//
//
// config.json -> tetra IR with static batch and sequence -> @loss added ->
// parameters as arguments -> linalg on tensors -> bufferized loops -> LLVM IR
// -> kernels.so (by clang), plus manifest.json describing every entry point.
//
//===----------------------------------------------------------------------===//
#include "tetra/Compile/Compile.h"
#include "tetra/Conversion/Passes.h"
#include "tetra/CostModel/Machine.h"
#include "tetra/CostModel/Schedule.h"
#include "tetra/Import/ModelBuilder.h"
#include "tetra/Import/ModelConfig.h"
#include "tetra/Registration.h"
#include "tetra/Target/PlanJson.h"
#include "tetra/TetraOps.h"
#include "tetra/Transforms/EntryRoles.h"
#include "tetra/Transforms/Passes.h"
#include "tetra/Transforms/Pipeline.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::tetra;
namespace json = llvm::json;

namespace {

/// Bufferization: every temporary a static allocation with its deallocation,
/// every product's zero-filled destination filled in place, and each result
/// computed straight into its out-parameter (no copy out).
constexpr const char *kBufferize =
    "tetra-unshare-fills,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "tetra-unshare-results,"
    "buffer-results-to-out-params{modify-public-functions hoist-static-allocs},"
    "buffer-deallocation-pipeline,"
    "canonicalize";

/// Lowering after bufferization on the CPU: BLAS calls, loops, then the
/// host code's lowering to LLVM.
std::string cpuToLLVM() {
  return std::string("convert-contractions-to-blas,convert-linalg-to-loops,lower-affine,") +
         kHostToLLVM + ",reconcile-unrealized-casts";
}

/// The GPU kernels run on the host (tests of the GPU lowering) as fibers of
/// the runtime's emulator, every one under its race check (about twice the
/// time of running the kernels whose threads run alone as plain loops). bf16 rounding
/// becomes integer arithmetic, since the host's libgcc has no bf16 helpers.
std::string emulatedGpuToLLVM(const cost::Machine &machine) {
  std::string warp = machine.codegen == "rocdl" ? "64" : "32";
  return "tetra-emulate-gpu-launches{warp-size=" + warp + " check-every-kernel=true},arith-expand{include-bf16=true},convert-vector-to-llvm," +
         cpuToLLVM() + ",tetra-emulate-gpu-trampolines";
}

json::Array shapeOf(ShapedType type) {
  json::Array shape;
  for (int64_t d : type.getShape())
    shape.push_back(d);
  return shape;
}

std::string dtypeOf(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isInteger(32))
    return "i32";
  if (type.isInteger(64))
    return "i64";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

/// One argument or result: its role (and parameter name), shape and dtype.
json::Object describeValue(Type type, DictionaryAttr attrs, StringRef fallbackRole) {
  json::Object value;
  auto role = attrs ? attrs.getAs<StringAttr>(kRoleAttr) : StringAttr();
  value["role"] = role ? role.str() : fallbackRole.str();
  if (auto name = attrs ? attrs.getAs<StringAttr>(kNameAttr) : StringAttr())
    value["name"] = name.str();
  if (auto shaped = llvm::dyn_cast<ShapedType>(type)) {
    value["shape"] = shapeOf(shaped);
    value["dtype"] = dtypeOf(shaped.getElementType());
  } else {
    value["shape"] = json::Array();
    value["dtype"] = dtypeOf(type);
    value["scalar"] = true;
  }
  return value;
}

/// One entry point: its arguments in ABI order, the results (out-params) last.
json::Object describeEntry(func::FuncOp func) {
  json::Array args, results;
  FunctionType type = func.getFunctionType();
  for (auto [i, t] : llvm::enumerate(type.getInputs()))
    args.push_back(describeValue(t, func.getArgAttrDict(i), "input"));
  for (auto [i, t] : llvm::enumerate(type.getResults()))
    results.push_back(describeValue(t, func.getResultAttrDict(i), "output"));
  return json::Object{{"symbol", ("tetra_" + func.getName()).str()},
                      {"args", std::move(args)},
                      {"results", std::move(results)}};
}

json::Array axesOf(ArrayRef<GridAxis> axes) {
  json::Array names;
  for (GridAxis a : axes)
    names.push_back(stringifyGridAxis(a).str());
  return names;
}

json::Object describeParam(ParamOp param) {
  InitAttr init = param.getInit();
  json::Object initJson{{"kind", stringifyInitKind(init.getKind()).str()}};
  if (init.getKind() == InitKind::normal || init.getKind() == InitKind::trunc_normal)
    initJson["std"] = init.getStd().convertToDouble();
  json::Object described{{"name", param.getSymName().str()},
                         {"shape", shapeOf(param.getTensorType())},
                         {"local_shape", shapeOf(param.getLocalTensorType())},
                         {"dtype", dtypeOf(param.getTensorType().getElementType())},
                         {"init", std::move(initJson)}};
  // How the global tensor is split (absent: every rank holds all of it).
  if (std::optional<LayoutAttr> layout = param.getLayout()) {
    json::Array dims;
    for (unsigned d = 0; d < layout->getRank(); ++d)
      dims.push_back(axesOf(layout->getDimAxes(d)));
    described["layout"] =
        json::Object{{"dims", std::move(dims)}, {"flat", axesOf(layout->getFlatAxes())}};
  }
  return described;
}

} // namespace

LogicalResult mlir::tetra::writeAtomically(MLIRContext &ctx, StringRef path, StringRef text) {
  if (llvm::Error err = llvm::writeToOutput(path, [&](raw_ostream &os) {
        os << text;
        return llvm::Error::success();
      }))
    return emitError(UnknownLoc::get(&ctx))
           << "cannot write " << path << ": " << llvm::toString(std::move(err));
  return success();
}

LogicalResult mlir::tetra::runPipeline(ModuleOp module, StringRef pipeline) {
  PassManager pm(module.getContext());
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    return failure();
  return pm.run(module);
}

// Allocations go through the runtime's _mlir_memref_to_llvm_alloc, which
// counts them.
const char *const mlir::tetra::kHostToLLVM =
    "convert-scf-to-cf,"
    "expand-strided-metadata,"
    "lower-affine,"
    "finalize-memref-to-llvm{use-generic-functions=true},"
    // LLVM intrinsics where they exist (rsqrt, exp, sin, ...), libm for the
    // rest (erf, tanh).
    "convert-math-to-llvm,"
    "convert-math-to-libm,"
    "convert-arith-to-llvm,"
    "convert-index-to-llvm,"
    "convert-cf-to-llvm,"
    "convert-func-to-llvm";

LogicalResult mlir::tetra::compileArtifact(const CompileOptions &options, MLIRContext &context) {
  Location fileLoc = FileLineColLoc::get(&context, options.configPath, 1, 1);
  llvm::Expected<cost::Machine> machine = cost::loadMachine(options.machine);
  if (!machine)
    return emitError(fileLoc) << llvm::toString(machine.takeError());
  bool planOnly = options.outputDir.empty() && options.emit.empty();
  // What the GPU options ask of the machine, before any work.
  bool gpuMachine = machine->codegen != "cpu";
  if (!gpuMachine && options.emit == "gpu")
    return emitError(fileLoc) << "--emit gpu: --machine " << machine->name
                              << " has no GPU kernels (try --machine alps or frontier)";
  if (options.emulateGpu && !gpuMachine)
    return emitError(fileLoc) << "--emulate-gpu: --machine " << machine->name
                              << " has no GPU kernels to emulate";
  if (gpuMachine && options.gemm != "tensor-cores" && options.gemm != "vendor")
    return emitError(fileLoc) << "--gemm must be tensor-cores or vendor, not '" << options.gemm
                              << "'";
  // The vendor GEMM is cuBLAS, in the CUDA backend; the AMD backend has no
  // BLAS (Debian ships neither hipBLASLt nor rocBLAS).
  if (gpuMachine && options.gemm == "vendor" && machine->codegen != "nvvm")
    return emitError(fileLoc) << "--gemm vendor: no vendor GEMM library for " << machine->device
                              << " in this build; use --gemm tensor-cores";
  if (options.gemmInstruction != "auto" && options.gemmInstruction != "mma.sync" &&
      options.gemmInstruction != "wgmma")
    return emitError(fileLoc) << "--gemm-instruction must be auto, mma.sync or wgmma, not '"
                              << options.gemmInstruction << "'";
  if (options.gemmInstruction != "auto" && !(gpuMachine && machine->codegen == "nvvm"))
    return emitError(fileLoc) << "--gemm-instruction " << options.gemmInstruction
                              << ": --machine " << machine->name
                              << " has no NVIDIA GPU (the option picks NVIDIA matrix instructions)";
  if (options.gemmInstruction == "wgmma" && machine->chip != "sm_90a")
    return emitError(fileLoc) << "--gemm-instruction wgmma: --machine " << machine->name
                              << "'s " << machine->chip << " has no wgmma (sm_90a has)";
  if (options.storage != "f32" && options.storage != "bf16")
    return emitError(fileLoc) << "--storage must be f32 or bf16, not '" << options.storage << "'";
  if (options.storage == "bf16" && !gpuMachine)
    return emitError(fileLoc) << "--storage bf16: --machine " << machine->name
                              << " computes on fp32 storage; bf16 storage is for GPU machines";
  if (options.storage == "bf16" && options.gemm == "vendor")
    return emitError(fileLoc) << "--storage bf16 needs --gemm tensor-cores: the vendor GEMM "
                                 "reads fp32 storage";
  if (options.kernelOpt != "O0" && options.kernelOpt != "O1" && options.kernelOpt != "O2" &&
      options.kernelOpt != "O3")
    return emitError(fileLoc) << "--kernel-opt must be O0, O1, O2 or O3, not '"
                              << options.kernelOpt << "'";
  if (options.seqLen < 1 || options.microBatch < 1)
    return emitError(fileLoc) << "--seq-len and --micro-batch must be positive";
  if (options.globalBatch < options.microBatch ||
      options.globalBatch % options.microBatch != 0)
    return emitError(fileLoc) << "--global-batch " << options.globalBatch
                              << " must be a multiple of --micro-batch " << options.microBatch;

  auto buffer = llvm::MemoryBuffer::getFile(options.configPath);
  if (!buffer)
    return emitError(fileLoc) << "cannot read " << options.configPath << ": "
                              << buffer.getError().message();
  ConfigError error;
  std::optional<ModelConfig> config = parseModelConfig((*buffer)->getBuffer(), error);
  if (!config)
    return emitError(FileLineColLoc::get(&context, options.configPath, error.line,
                                         error.column))
           << error.message;
  for (const std::string &warning : config->warnings)
    emitWarning(fileLoc) << warning;
  if (options.seqLen > config->context)
    return emitError(fileLoc) << "--seq-len " << options.seqLen
                              << " exceeds the model's context length " << config->context;

  registerPasses();
  CompileOptions chosen = options;
  bool plan = options.grid == "auto" || options.report || !options.reportJson.empty() ||
              !options.predictTrace.empty();
  DialectRegistry registry;
  registerDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();

  if (plan) {
    auto choice = chooseConfiguration(options, *config, *machine, context, fileLoc);
    if (failed(choice))
      return failure();
    chosen.grid = choice->first;
    chosen.overlap = choice->second;
    if (planOnly)
      return success();
  }
  if (chosen.grid == "auto")
    return emitError(fileLoc) << "--grid auto needs the cost model";
  return compileChosen(chosen, *config, context, fileLoc, *machine);
}

LogicalResult mlir::tetra::compileChosen(const CompileOptions &options, const ModelConfig &configRef,
                                   MLIRContext &context, Location fileLoc,
                                   const cost::Machine &machine) {
  const ModelConfig *config = &configRef;
  OwningOpRef<ModuleOp> module =
      buildModel(*config, &context, fileLoc, ModelShape{options.microBatch, options.seqLen});
  if (!module)
    return failure();
  // Generation: @decode, one token per row against a KV cache of the
  // compiled sequence length (recurrent models have none yet).
  bool recurrent = config->recurrentDepth || config->abacus;
  if (!recurrent) {
    OwningOpRef<ModuleOp> decoder = buildModel(
        *config, &context, fileLoc, ModelShape{options.microBatch, 1, options.seqLen});
    if (!decoder)
      return failure();
    auto decode = decoder->lookupSymbol<func::FuncOp>("decode");
    decode->moveBefore(module->getBody(), module->getBody()->end());
  }

  llvm::Expected<std::string> goldfish = goldfishAttributeBody(options.goldfish);
  if (!goldfish)
    return emitError(fileLoc) << llvm::toString(goldfish.takeError());
  TrainingPipelineOptions pipelineOptions;
  pipelineOptions.grid = options.grid;
  pipelineOptions.overlap = options.overlap;
  pipelineOptions.prefetch = options.prefetch;
  pipelineOptions.goldfish = *goldfish;
  pipelineOptions.optimizer = options.optimizer;
  pipelineOptions.oneMicroBatch = options.globalBatch == options.microBatch;
  llvm::Expected<TrainingPipeline> pipeline = trainingPipeline(pipelineOptions);
  if (!pipeline)
    return emitError(fileLoc) << llvm::toString(pipeline.takeError());
  bool gradientsInGrad = pipeline->gradientsReducedInGrad;
  if (failed(runPipeline(*module, pipeline->passes)))
    return failure();
  GridAttr grid = (*module)->getAttrOfType<GridAttr>(kGridAttrName);
  if (options.emit == "tetra") {
    module->print(llvm::outs());
    return success();
  }

  // The ABI is fixed here, before lowering rewrites the signatures.
  SmallVector<ParamOp> params(module->getOps<ParamOp>());
  json::Object entries;
  for (auto func : module->getOps<func::FuncOp>()) {
    entries[func.getName()] = describeEntry(func);
    // The cost model's count of the entry's work, which the runtime puts in
    // its trace for tetra-calibrate.
    // (An entry without a cost rule just has no count.)
    ScopedDiagnosticHandler quiet(&context, [](Diagnostic &) { return success(); });
    if (FailureOr<cost::Schedule> schedule = cost::extractSchedule(func); succeeded(schedule)) {
      double elements = 0, flops = 0;
      for (const cost::Task &t : schedule->tasks) {
        elements += t.work.memoryElements + t.work.scoreElements;
        flops += t.work.gemmFlops();
      }
      (*entries.getObject(func.getName()))["work"] =
          json::Object{{"memory_bytes", elements * 4}, {"gemm_flops", flops}};
    }
  }

  // GPUs get attention as one fused kernel (FlashAttentionKernel.cpp).
  std::string toLinalg = machine.codegen != "cpu" && options.flashAttention
                             ? "convert-tetra-to-linalg{flash-attention=true}"
                             : "convert-tetra-to-linalg";
  // GPUs: a row reduction's pointwise reader next to it, for the row fusion.
  std::string adjoin = machine.codegen != "cpu" ? ",tetra-adjoin-row-consumers" : "";
  if (failed(runPipeline(*module, toLinalg + ",canonicalize,cse,tetra-fuse-elementwise,canonicalize,cse" +
                                      adjoin)))
    return failure();
  // Mixed precision: bf16 between the fused groups, which are final now.
  // The products read bf16 copies of their weights (a new entry makes them).
  if (options.storage == "bf16" &&
      failed(runPipeline(*module, "tetra-bf16-activations,tetra-bf16-weight-copies")))
    return failure();
  for (auto func : module->getOps<func::FuncOp>()) {
    if (func.isExternal())
      continue;
    // The final signatures: bf16 storage changes some arguments' types and roles.
    json::Object described = describeEntry(func);
    if (json::Object *entry = entries.getObject(func.getName())) {
      (*entry)["args"] = std::move(*described.get("args"));
      (*entry)["results"] = std::move(*described.get("results"));
    } else {
      entries[func.getName()] = std::move(described);
    }
    // The roles are in the manifest now; LLVM has no use for them.
    func.removeArgAttrsAttr();
    func.removeResAttrsAttr();
    func->setAttr("llvm.emit_c_interface", UnitAttr::get(&context));
  }
  if (options.emit == "linalg") {
    module->print(llvm::outs());
    return success();
  }
  // The parameter descriptions are data in the manifest from here on.
  json::Array paramJson;
  for (ParamOp param : params) {
    paramJson.push_back(describeParam(param));
    param.erase();
  }
  if (failed(runPipeline(*module, kBufferize)))
    return failure();
  // What each entry's temporaries need at most: the runtime's memory report.
  for (auto func : module->getOps<func::FuncOp>()) {
    json::Object *entry = entries.getObject(func.getName());
    if (!entry)
      continue;
    FailureOr<int64_t> peak = peakTemporaryBytes(func);
    if (succeeded(peak))
      (*entry)["peak_temporary_bytes"] = *peak;
  }
  // The artifact's folder; an artifact is complete once its manifest
  // exists, so an old one goes first.
  bool gpu = machine.codegen != "cpu";
  // Tests of the GPU lowering on a CPU: the outlined kernels run as loops.
  bool emulated = gpu && options.emulateGpu;
  SmallString<256> manifestPath(options.outputDir);
  llvm::sys::path::append(manifestPath, "manifest.json");
  auto prepareOutput = [&]() -> LogicalResult {
    if (std::error_code ec = llvm::sys::fs::create_directories(options.outputDir))
      return emitError(fileLoc) << "cannot create " << options.outputDir << ": " << ec.message();
    llvm::sys::fs::remove(manifestPath);
    return success();
  };
  std::optional<GpuKernelsInfo> gpuInfo;
  if (gpu) {
    if (failed(outlineGpuKernels(*module, machine, options.gemm, options.gemmInstruction)))
      return failure();
    if (options.emit == "gpu") {
      module->print(llvm::outs());
      return success();
    }
  }
  if (gpu && !emulated) {
    if (options.outputDir.empty())
      return emitError(fileLoc) << "--machine " << machine.name
                                << ": GPU kernels go into an artifact; give -o";
    if (failed(prepareOutput()))
      return failure();
    FailureOr<GpuKernelsInfo> info = lowerToGpuKernels(*module, machine, options.outputDir, fileLoc);
    if (failed(info))
      return failure();
    gpuInfo = *info;
  } else if (failed(runPipeline(*module, emulated ? emulatedGpuToLLVM(machine) : cpuToLLVM()))) {
    return failure();
  }
  if (failed(addPackedWrappers(*module)))
    return failure();
  if (options.emit == "llvm") {
    module->print(llvm::outs());
    return success();
  }

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule = translateModuleToLLVMIR(*module, llvmContext);
  if (!llvmModule)
    return emitError(fileLoc) << "translation to LLVM IR failed";

  if (!gpuInfo && failed(prepareOutput()))
    return failure();

  SmallString<256> irPath(options.outputDir), soPath(options.outputDir);
  llvm::sys::path::append(irPath, "kernels.ll");
  llvm::sys::path::append(soPath, "kernels.so");
  {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    if (failed(writeAtomically(context, irPath, text)))
      return failure();
  }
  // memrefCopy and friends come from MLIR's C runner utilities; a GPU
  // artifact's host code calls none of them, and --as-needed then leaves the
  // library (and the libMLIR it loads) out, so the artifact runs where MLIR
  // is not installed.
  std::string libDir = TETRA_MLIR_LIB_DIR;
  std::string libFlag = "-L" + libDir, rpathFlag = "-Wl,-rpath," + libDir;
  std::string optFlag = "-" + options.kernelOpt;
  std::string cpuFlag = "-march=" + options.hostCpu;
  SmallVector<StringRef> argv{options.clang, optFlag, cpuFlag, "-shared",
                              "-fPIC", "-Wno-override-module", irPath,
                              "-o", soPath, libFlag, rpathFlag, "-Wl,--as-needed",
                              "-lmlir_c_runner_utils", "-lm"};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(options.clang, argv, std::nullopt, {}, 0, 0, &message);
  if (rc != 0)
    return emitError(fileLoc) << "compiling the kernels with " << options.clang
                              << " failed (" << (message.empty() ? "exit " + std::to_string(rc) : message) << ")";

  // The plan of a training step, in its own module.
  {
    OwningOpRef<ModuleOp> planModule = ModuleOp::create(fileLoc);
    OpBuilder b(&context);
    b.setInsertionPointToEnd(planModule->getBody());
    sched::PlanOp plan =
        buildTrainPlan(b, fileLoc, options.globalBatch / options.microBatch,
                       grid && (grid.getZ() > 1 || grid.getData() > 1) && !gradientsInGrad);
    SmallString<256> planPath(options.outputDir);
    llvm::sys::path::append(planPath, "plan.json");
    if (failed(verify(*planModule)) ||
        failed(writeAtomically(context, planPath, planToJson(plan))))
      return failure();
  }

  json::Object model{{"family", config->family},
                     {"vocab", config->vocab},
                     {"hidden", config->hidden},
                     {"layers", config->layers},
                     {"context", config->context}};
  json::Object manifest{{"format", "tetra-artifact"},
                        {"version", kArtifactVersion},
                        {"machine", machine.name},
                        {"micro_batch", options.microBatch},
                        {"seq_len", options.seqLen},
                        {"global_batch", options.globalBatch},
                        {"grid", json::Object{{"x", grid ? grid.getX() : 1},
                                              {"y", grid ? grid.getY() : 1},
                                              {"z", grid ? grid.getZ() : 1},
                                              {"data", grid ? grid.getData() : 1}}},
                        {"model", std::move(model)},
                        {"params", std::move(paramJson)},
                        {"kernels", "kernels.so"},
                        {"plan", "plan.json"},
                        {"entries", std::move(entries)}};
  if (gpuInfo)
    manifest["gpu"] = json::Object{{"codegen", gpuInfo->codegen},
                                   {"chip", gpuInfo->chip},
                                   {"kernels", gpuInfo->kernels},
                                   {"assembly", gpuInfo->assembly},
                                   {"binary", gpuInfo->binary}};
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", json::Value(std::move(manifest))) << "\n";
  return writeAtomically(context, manifestPath, text);
}
