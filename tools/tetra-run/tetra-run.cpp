//===- tetra-run.cpp - train or evaluate a compiled artifact ---------------===//
#include "tetra/runtime/Artifact.h"
#include "tetra/runtime/Communicator.h"
#include "tetra/runtime/Data.h"
#include "tetra/runtime/Device.h"
#include "tetra/runtime/Error.h"
#include "tetra/runtime/Generate.h"
#include "tetra/runtime/NcclCollectives.h"
#include "tetra/runtime/Trace.h"
#include "tetra/runtime/Parameters.h"
#include "tetra/runtime/Safetensors.h"
#include "tetra/runtime/Trainer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <dlfcn.h>
#include <malloc.h>
#include <optional>

namespace cl = llvm::cl;
using namespace tetra::rt;

static cl::opt<std::string> artifactDir(cl::Positional, cl::desc("<artifact dir>"),
                                        cl::Required);
static cl::OptionCategory dataCat("Data");
static cl::opt<std::string> dataFile("data", cl::desc("Token file (raw little-endian ids)"),
                                     cl::cat(dataCat));
static cl::opt<std::string> dataDType("data-dtype", cl::desc("u16 (default) or u32"),
                                      cl::init("u16"), cl::cat(dataCat));
static cl::opt<std::string> dataText("data-text",
                                     cl::desc("UTF-8 text file: its bytes are the tokens"),
                                     cl::cat(dataCat));
static cl::opt<uint64_t> shuffle(
    "shuffle", cl::desc("Visit samples in a permutation per epoch seeded by this (0: in order)"),
    cl::init(0), cl::cat(dataCat));
static cl::OptionCategory trainCat("Training");
static cl::opt<int64_t> steps("steps", cl::desc("Total optimizer steps (the schedule's length)"),
                              cl::init(0), cl::cat(trainCat));
static cl::opt<int64_t> stopAt("stop-at",
                               cl::desc("Stop after this step (default: --steps)"),
                               cl::init(0), cl::cat(trainCat));
static cl::opt<double> lr("lr", cl::desc("Peak learning rate"), cl::init(1e-3),
                          cl::cat(trainCat));
static cl::opt<int64_t> warmup("warmup", cl::desc("Linear warm-up steps"), cl::init(0),
                               cl::cat(trainCat));
static cl::opt<double> minLrRatio("min-lr-ratio",
                                  cl::desc("Cosine decay ends at lr * this"),
                                  cl::init(0.1), cl::cat(trainCat));
static cl::opt<std::string> schedule("schedule", cl::desc("cosine (default) or constant"),
                                     cl::init("cosine"), cl::cat(trainCat));
static cl::opt<double> clip("clip", cl::desc("Global gradient-norm clipping (0: off)"),
                            cl::init(1.0), cl::cat(trainCat));
static cl::opt<std::string> initFrom("init-from",
                                     cl::desc("Safetensors checkpoint to start or resume from"),
                                     cl::cat(trainCat));
static cl::opt<uint64_t> seed("seed", cl::desc("Seed of the initialisers"), cl::init(0),
                              cl::cat(trainCat));
static cl::opt<std::string> saveCheckpoint(
    "save-checkpoint", cl::desc("Write parameters, optimizer state and step here at the end"),
    cl::cat(trainCat));
static cl::opt<std::string> collectivesKind(
    "collectives",
    cl::desc("Collectives of a grid: mpi, or nccl (GPU artifacts on CUDA; the default there)"),
    cl::init("auto"), cl::cat(trainCat));
static cl::opt<std::string> traceDir(
    "trace", cl::desc("Write a Chrome/Perfetto trace per rank (DIR/rank-R.json): compute "
                      "and one track per communicator"),
    cl::cat(trainCat));
static cl::opt<std::string> logFile("log", cl::desc("Metrics, one JSON line per step"),
                                    cl::cat(trainCat));
static cl::opt<bool> evaluate("evaluate",
                              cl::desc("Print the loss of the first micro-batch"));
static cl::opt<std::string> dumpLogits(
    "dump-logits", cl::desc("Write the first micro-batch's logits (raw f32) here"));

static cl::opt<bool> goldfishMask(
    "goldfish-mask", cl::desc("Print the goldfish mask of the first --rows samples: one "
                              "line per sample, '1' where the target is dropped"));
static cl::opt<int64_t> rows("rows", cl::desc("Samples for --goldfish-mask"), cl::init(1));
static cl::opt<std::string> dumpGradients(
    "dump-gradients",
    cl::desc("Write the next step's gradients (safetensors) here, without training"));

static cl::OptionCategory generateCat("Generation");
static cl::opt<bool> generateTokens(
    "generate", cl::desc("Continue the prompts of --prompt-tokens; print one line of "
                         "token ids per prompt"),
    cl::cat(generateCat));
static cl::opt<std::string> promptTokens(
    "prompt-tokens",
    cl::desc("Prompts: token ids (as --data-dtype), --prompt-len per prompt (default: "
             "the whole file is one prompt)"),
    cl::cat(generateCat));
static cl::opt<int64_t> promptLen("prompt-len", cl::desc("Tokens per prompt"), cl::init(0),
                                  cl::cat(generateCat));
static cl::opt<int64_t> maxNewTokens("max-new-tokens", cl::desc("Tokens to generate"),
                                     cl::init(16), cl::cat(generateCat));
static cl::opt<double> temperature("temperature",
                                   cl::desc("Sampling temperature (0: greedy)"),
                                   cl::init(0.0), cl::cat(generateCat));
static cl::opt<int64_t> topK("top-k", cl::desc("Sample among the k most likely (0: all)"),
                             cl::init(0), cl::cat(generateCat));

/// Writes a tensor's bytes through a temporary file and a rename.
static void writeRaw(const std::string &path, const Tensor &tensor) {
  if (llvm::Error err = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
        os.write(static_cast<const char *>(tensor.data()), tensor.numBytes());
        return llvm::Error::success();
      }))
    throw Error(path + ": cannot write (" + llvm::toString(std::move(err)) + ")");
}

static std::optional<TokenData> readData() {
  if (!dataFile.empty() && !dataText.empty())
    throw Error("give the data with one of --data FILE or --data-text FILE, not both");
  std::optional<TokenData> data;
  if (!dataFile.empty())
    data = readTokenFile(dataFile, dataDType);
  if (!dataText.empty())
    data = readTextFile(dataText);
  if (data)
    data->shuffle = shuffle;
  return data;
}

/// The grid's communicators when the artifact has one or mpirun started us.
static std::unique_ptr<GridCommunicator> comm;

/// The collectives in use: MPI's, or NCCL's on a CUDA device.
static std::unique_ptr<Collectives> deviceCollectives;
static Collectives *collectives() {
  return deviceCollectives ? deviceCollectives.get() : comm.get();
}

/// NCCL communicators beside the MPI ones, from the CUDA backend.
static void startDeviceCollectives() {
  std::string kind = collectivesKind;
  if (kind != "auto" && kind != "mpi" && kind != "nccl")
    throw Error("--collectives must be mpi or nccl, not '" + kind + "'");
  bool cuda = device().name == std::string("cuda");
  if (kind == "nccl" && !cuda)
    throw Error("--collectives nccl needs a CUDA artifact on a CUDA device (this is " +
                std::string(device().name) + ")");
  if (kind == "mpi" || !cuda || !comm)
    return;
  auto factory =
      reinterpret_cast<NcclCollectivesFactory>(dlsym(RTLD_DEFAULT, kNcclCollectivesSymbol));
  if (!factory)
    throw Error(std::string("the CUDA backend has no ") + kNcclCollectivesSymbol);
  GridCommunicator *mpi = comm.get();
  deviceCollectives.reset(
      factory(mpi, [mpi](const std::vector<Axis> &axes) { return mpi->group(axes); }));
  setKernelCollectives(deviceCollectives.get());
}

/// Whether this process prints: rank 0, or the only process.
static bool leader() { return !comm || comm->rank() == 0; }

static double mib(int64_t bytes) { return bytes / (1024.0 * 1024.0); }

/// Tensor bytes one rank holds at the peak of a training step: the buffer
/// sets (parameters, AdamW moments, accumulated gradients, and during the
/// backward pass the micro-batch's gradients), the weights' bf16 working
/// copies (--storage bf16), plus the kernels' temporaries (activations among
/// them) as the compiler counted them, plus the batch.
struct MemoryPrediction {
  int64_t params = 0, copies = 0, temporariesGrad = 0, temporariesUpdate = 0, batch = 0;
  int64_t total() const {
    return 4 * params + copies + batch + std::max(params + temporariesGrad, temporariesUpdate);
  }
};

static int64_t elementsOf(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

static MemoryPrediction predictMemory(const Artifact &artifact) {
  const Manifest &m = artifact.manifest();
  constexpr int64_t kAlign = 64; // each runtime tensor's alignment slack
  MemoryPrediction p;
  for (const ParamSpec &spec : m.params)
    p.params += 4 * elementsOf(spec.localShape) + kAlign;
  if (artifact.hasEntry("round_params"))
    for (const ArgSpec &copy : artifact.entry("round_params").results)
      p.copies += static_cast<int64_t>(dtypeSize(copy.dtype)) * elementsOf(copy.shape) + kAlign;
  p.temporariesGrad = artifact.peakTemporaryBytes("grad");
  p.temporariesUpdate = artifact.peakTemporaryBytes("update");
  int64_t rows = m.microBatch / (m.grid.size(Axis::Data) * m.grid.size(Axis::Z));
  // Tokens and targets (two batches while the next one is cut), and the
  // scalars: loss, its sum, learning rate, step, gradient scale.
  p.batch = 2 * 2 * (4 * rows * m.seqLen + kAlign) + 5 * (8 + kAlign);
  return p;
}

static bool startedByMpi() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE");
}

static int run() {
  Artifact artifact(artifactDir);
  const Manifest &m = artifact.manifest();
  if (m.grid.ranks() > 1 || startedByMpi()) {
    // The kernels' collectives run on a communication thread, MPI is called
    // from one thread at a time.
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (provided < MPI_THREAD_SERIALIZED)
      throw Error("this MPI library does not allow calls from more than one thread");
    comm = std::make_unique<GridCommunicator>(MPI_COMM_WORLD, m.grid);
    setKernelCollectives(comm.get());
  }
  startDeviceCollectives();
  if (!traceDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(traceDir))
      throw Error(traceDir + ": cannot create the trace directory (" + ec.message() + ")");
    trace().enable();
  }
  Trainer trainer = initFrom.empty()
                        ? Trainer(artifact, initParameters(m, seed), collectives())
                        : Trainer::fromCheckpoint(artifact, initFrom, collectives());
  int64_t count = 0;
  for (const ParamSpec &spec : m.params)
    count += elementsOf(spec.shape);
  llvm::raw_ostream &info = leader() ? llvm::errs() : llvm::nulls();
  info << "tetra-run: " << m.family << " model, " << count << " parameters ("
               << (initFrom.empty() ? "initialised, seed " + std::to_string(seed)
                                    : "from " + initFrom)
               << (trainer.stepCount() ? ", step " + std::to_string(trainer.stepCount()) : "")
               << "), micro-batch " << m.microBatch << " x " << m.seqLen
               << ", global batch " << m.globalBatch
               << (m.grid.ranks() > 1 ? ", grid " + m.grid.str() : std::string()) << "\n";
  MemoryPrediction memory = predictMemory(artifact);
  info << llvm::format("tetra-run: memory per rank: parameters %.2f MiB + gradients %.2f MiB "
                       "(micro-batch and sum) + AdamW state %.2f MiB + ",
                       mib(memory.params), mib(2 * memory.params), mib(2 * memory.params));
  if (memory.copies)
    info << llvm::format("bf16 weight copies %.2f MiB + ", mib(memory.copies));
  info << llvm::format("kernel temporaries "
                       "%.2f MiB (activations) + batch %.2f MiB = %.2f MiB at the peak of a "
                       "step\n",
                       mib(std::max(memory.temporariesGrad,
                                    memory.temporariesUpdate - memory.params)),
                       mib(memory.batch), mib(memory.total()));
  // What initialisation needed (whole tensors before sharding) is not a
  // step's: measure from here.
  resetMemoryPeak();
  std::optional<TokenData> data = readData();
  if ((steps > 0 || evaluate || goldfishMask || !dumpLogits.empty() || !dumpGradients.empty()) &&
      !data)
    throw Error("give the data with --data FILE or --data-text FILE");

  if (evaluate || !dumpLogits.empty()) {
    auto start = std::chrono::steady_clock::now();
    double loss = trainer.evaluate(*data, 0);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    llvm::raw_ostream &out = leader() ? llvm::outs() : llvm::nulls();
    out << "loss: " << llvm::format("%.6f", loss) << "\n";
    info << "tetra-run: loss of " << m.microBatch * m.seqLen << " tokens in "
                 << llvm::format("%.3f", seconds) << " s\n";
    if (!dumpLogits.empty()) {
      if (comm)
        throw Error("--dump-logits runs on one process (logits are split over the grid)");
      Batch batch = makeBatch(*data, 0, m.microBatch, m.seqLen, m.vocab);
      std::vector<Tensor> logits = artifact.call("forward", trainer.batchBinder(batch));
      writeRaw(dumpLogits, logits[0]);
    }
  }

  if (goldfishMask) {
    if (comm)
      throw Error("--goldfish-mask runs on one process");
    if (!data)
      throw Error("give the data with --data FILE or --data-text FILE");
    for (int64_t first = 0; first < rows; first += m.microBatch) {
      Tensor mask = trainer.goldfishMask(*data, first);
      for (int64_t r = 0; r < m.microBatch && first + r < rows; ++r) {
        for (int64_t s = 0; s < m.seqLen; ++s)
          llvm::outs() << (mask.as<float>()[r * m.seqLen + s] != 0.0f ? '1' : '0');
        llvm::outs() << "\n";
      }
    }
  }

  if (!dumpGradients.empty()) {
    double loss = 0;
    std::map<std::string, Tensor> grads = trainer.globalTensors(trainer.gradients(*data, loss));
    if (leader()) {
      writeSafetensors(dumpGradients, grads, {{"format", "pt"}});
      llvm::outs() << "gradient-loss: " << llvm::format("%.6f", loss) << "\n";
    }
  }

  if (steps > 0) {
    if (schedule != "cosine" && schedule != "constant")
      throw Error("--schedule must be cosine or constant");
    Schedule sched{lr, warmup, steps, minLrRatio, schedule == "cosine"};
    int64_t last = stopAt > 0 ? std::min<int64_t>(stopAt, steps) : steps;
    std::unique_ptr<llvm::raw_fd_ostream> log;
    if (!logFile.empty() && leader()) {
      std::error_code ec;
      log = std::make_unique<llvm::raw_fd_ostream>(
          logFile, ec, trainer.stepCount() ? llvm::sys::fs::OF_Append : llvm::sys::fs::OF_None);
      if (ec)
        throw Error(logFile + ": cannot write metrics (" + ec.message() + ")");
    }
    auto start = std::chrono::steady_clock::now();
    int64_t tokensPerStep = m.globalBatch * m.seqLen;
    while (trainer.stepCount() < last) {
      auto t0 = std::chrono::steady_clock::now();
      StepResult r = trainer.step(*data, sched, clip);
      auto t1 = std::chrono::steady_clock::now();
      double stepSeconds = std::chrono::duration<double>(t1 - t0).count();
      double elapsed = std::chrono::duration<double>(t1 - start).count();
      double tokensPerSecond = tokensPerStep / stepSeconds;
      info << llvm::format("step %lld/%lld  loss %.4f  lr %.2e  grad-norm %.3f  "
                                   "%.0f tok/s",
                                   static_cast<long long>(trainer.stepCount()),
                                   static_cast<long long>(steps), r.loss, r.lr, r.gradNorm,
                                   tokensPerSecond);
      if (comm)
        info << llvm::format("  comm %.1f ms exposed", 1e3 * r.exposedComm);
      if (r.droppedTokens >= 0)
        info << "  dropped " << r.droppedTokens;
      info << "\n";
      if (log) {
        llvm::json::Object line{{"step", trainer.stepCount()},  {"loss", r.loss},
                                {"lr", r.lr},                   {"grad_norm", r.gradNorm},
                                {"tokens_per_s", tokensPerSecond}, {"elapsed_s", elapsed}};
        if (r.droppedTokens >= 0)
          line["dropped_tokens"] = r.droppedTokens;
        if (comm)
          line["exposed_comm_s"] = r.exposedComm;
        *log << llvm::json::Value(std::move(line)) << "\n";
        log->flush();
      }
    }
  }
  if (generateTokens) {
    if (promptTokens.empty())
      throw Error("--generate needs --prompt-tokens FILE");
    TokenData file = readTokenFile(promptTokens, dataDType);
    int64_t each = promptLen > 0 ? promptLen : static_cast<int64_t>(file.tokens.size());
    if (file.tokens.empty() || file.tokens.size() % each != 0)
      throw Error(promptTokens + ": " + std::to_string(file.tokens.size()) +
                  " tokens do not make whole prompts of " + std::to_string(each));
    std::vector<std::vector<int64_t>> prompts;
    for (size_t i = 0; i < file.tokens.size(); i += each)
      prompts.emplace_back(file.tokens.begin() + i, file.tokens.begin() + i + each);
    Sampling sampling{temperature, topK, seed};
    llvm::raw_ostream &out = leader() ? llvm::outs() : llvm::nulls();
    for (const std::vector<int64_t> &c :
         generate(artifact, trainer, prompts, maxNewTokens, sampling)) {
      for (size_t i = 0; i < c.size(); ++i)
        out << (i ? " " : "") << c[i];
      out << "\n";
    }
  }

  if (steps > 0)
    info << llvm::format("tetra-run: memory per rank: measured peak %.3f MiB of tensors "
                         "(predicted %.3f MiB, %+.1f%%)\n",
                         mib(memoryUse().peak), mib(memory.total()),
                         100.0 * (memory.total() - memoryUse().peak) /
                             std::max<int64_t>(1, memoryUse().peak));
  if (!saveCheckpoint.empty())
    trainer.save(saveCheckpoint);
  if (!traceDir.empty()) {
    int64_t rank = comm ? comm->rank() : 0;
    std::string label = "rank " + std::to_string(rank);
    if (comm) {
      GridCoord c = comm->coord();
      label += " (x " + std::to_string(c.of(Axis::X)) + ", y " + std::to_string(c.of(Axis::Y)) +
               ", z " + std::to_string(c.of(Axis::Z)) + ", data " +
               std::to_string(c.of(Axis::Data)) + ")";
    }
    trace().write(traceDir + "/rank-" + std::to_string(rank) + ".json", label);
  }
  if (comm) {
    // NCCL's communicators go before the MPI groups their ids came over.
    setKernelCollectives(nullptr);
    deviceCollectives.reset();
    comm.reset();
    MPI_Finalize();
  }
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // The kernels allocate the same large temporaries every step: keep them in
  // the heap instead of mapping fresh (page-faulting) memory each time.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  cl::ParseCommandLineOptions(argc, argv, "Tetra launcher: train or evaluate an artifact\n");
  try {
    return run();
  } catch (const Error &e) {
    if (comm && comm->shape().ranks() > 1) {
      // One rank's failure ends the run: the others would wait forever in
      // their next collective.
      llvm::errs() << "tetra-run: error on rank " << comm->rank() << ": " << e.what() << "\n";
      llvm::errs().flush();
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    llvm::errs() << "tetra-run: error: " << e.what() << "\n";
    return 1;
  }
}
