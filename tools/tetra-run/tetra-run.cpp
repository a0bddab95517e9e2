//===- tetra-run.cpp - run a compiled artifact ----------------------------===//
//
// Today: evaluate the loss of one micro-batch (and optionally dump its
// logits) with parameters from a checkpoint or from the initialisers, and save
// parameters as a checkpoint. Training steps need the autodiff pass and are
// refused with a message.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Artifact.h"
#include "tetra/runtime/Data.h"
#include "tetra/runtime/Error.h"
#include "tetra/runtime/Parameters.h"
#include "tetra/runtime/Safetensors.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;
using namespace tetra::rt;

static cl::opt<std::string> artifactDir(cl::Positional, cl::desc("<artifact dir>"),
                                        cl::Required);
static cl::opt<std::string> dataFile("data", cl::desc("Token file (raw little-endian ids)"));
static cl::opt<std::string> dataDType("data-dtype", cl::desc("u16 (default) or u32"),
                                      cl::init("u16"));
static cl::opt<std::string> dataText("data-text",
                                     cl::desc("UTF-8 text file: bytes are the tokens"));
static cl::opt<std::string> initFrom("init-from",
                                     cl::desc("Safetensors checkpoint to start from"));
static cl::opt<uint64_t> seed("seed", cl::desc("Seed of the initialisers"), cl::init(0));
static cl::opt<bool> evaluate("evaluate",
                              cl::desc("Print the loss of the first micro-batch"));
static cl::opt<std::string> dumpLogits(
    "dump-logits", cl::desc("Write the first micro-batch's logits (raw f32) here"));
static cl::opt<std::string> saveCheckpoint(
    "save-checkpoint", cl::desc("Write the parameters to this safetensors file"));
static cl::opt<int64_t> steps("steps", cl::desc("Training steps"), cl::init(0));

static void writeRaw(const std::string &path, const Tensor &tensor) {
  std::string tmp = path + ".tmp";
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(tmp, ec);
    if (ec)
      throw Error(tmp + ": cannot write (" + ec.message() + ")");
    os.write(static_cast<const char *>(tensor.data()), tensor.numBytes());
  }
  if ((ec = llvm::sys::fs::rename(tmp, path)))
    throw Error(path + ": cannot write (" + ec.message() + ")");
}

static int run() {
  if (steps > 0)
    throw Error("training (--steps) is not available yet: this build of Tetra "
                "compiles forward and loss only; use --evaluate");
  Artifact artifact(artifactDir);
  const Manifest &m = artifact.manifest();
  std::map<std::string, Tensor> params =
      initFrom.empty() ? initParameters(m, seed) : loadParameters(m, initFrom);
  int64_t count = 0;
  for (const auto &[name, t] : params)
    count += t.numElements();
  llvm::errs() << "tetra-run: " << m.family << " model, " << count << " parameters ("
               << (initFrom.empty() ? "initialised, seed " + std::to_string(seed)
                                    : "from " + initFrom)
               << "), micro-batch " << m.microBatch << " x " << m.seqLen << "\n";

  if (evaluate || !dumpLogits.empty()) {
    if (dataFile.empty() == dataText.empty())
      throw Error("give the data with exactly one of --data FILE or --data-text FILE");
    TokenData data = dataText.empty() ? readTokenFile(dataFile, dataDType)
                                      : readTextFile(dataText);
    Batch batch = makeBatch(data, 0, m.microBatch, m.seqLen, m.vocab);
    auto start = std::chrono::steady_clock::now();
    std::vector<Tensor> loss = artifact.call(
        "loss", {{"tokens", &batch.tokens}, {"targets", &batch.targets}}, params);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    llvm::outs() << "loss: " << llvm::format("%.6f", loss[0].as<float>()[0]) << "\n";
    llvm::errs() << "tetra-run: loss of " << m.microBatch * m.seqLen << " tokens in "
                 << llvm::format("%.3f", seconds) << " s\n";
    if (!dumpLogits.empty()) {
      std::vector<Tensor> logits =
          artifact.call("forward", {{"tokens", &batch.tokens}}, params);
      writeRaw(dumpLogits, logits[0]);
    }
  }
  if (!saveCheckpoint.empty())
    writeSafetensors(saveCheckpoint, params, {{"format", "pt"}});
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "Tetra launcher: run a compiled artifact\n");
  try {
    return run();
  } catch (const Error &e) {
    llvm::errs() << "tetra-run: error: " << e.what() << "\n";
    return 1;
  }
}
