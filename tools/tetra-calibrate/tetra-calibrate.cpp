//===- tetra-calibrate.cpp - a machine file fitted to measured traces -----===//
#include "tetra/CostModel/Calibrate.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;
using namespace mlir::tetra::cost;

static cl::list<std::string> traces(cl::Positional, cl::desc("<trace.json>..."),
                                    cl::OneOrMore);
static cl::opt<std::string> machine("machine", cl::desc("Machine file (or name) to start from"),
                                    cl::Required);
static cl::opt<std::string> output("o", cl::desc("Calibrated machine file to write"),
                                   cl::value_desc("FILE"), cl::Required);

static int fail(const llvm::Twine &message) {
  llvm::errs() << "tetra-calibrate: error: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "Fits a machine file to tetra-run --trace measurements\n");
  std::string path;
  llvm::Expected<Machine> base = loadMachine(machine, &path);
  if (!base)
    return fail(llvm::toString(base.takeError()));
  std::vector<std::vector<TraceEvent>> events;
  for (const std::string &t : traces) {
    llvm::Expected<std::vector<TraceEvent>> e = readTrace(t);
    if (!e)
      return fail(llvm::toString(e.takeError()));
    events.push_back(std::move(*e));
  }
  llvm::Expected<Calibration> c = calibrate(events);
  if (!c)
    return fail(llvm::toString(c.takeError()));
  auto buffer = llvm::MemoryBuffer::getFile(path);
  llvm::Expected<llvm::json::Value> json = llvm::json::parse((*buffer)->getBuffer());
  if (!json || !json->getAsObject())
    return fail(path + " is not a machine file");
  std::string from = llvm::formatv("{0} trace file(s)", traces.size()).str();
  llvm::json::Object calibrated = applyCalibration(*json->getAsObject(), *c, from);
  std::string text = llvm::formatv("{0:2}", llvm::json::Value(std::move(calibrated))).str() + "\n";
  // The result must read back as a machine file before it replaces anything.
  if (llvm::Expected<Machine> check = parseMachine(text, output); !check)
    return fail(llvm::toString(check.takeError()));
  if (llvm::Error err = llvm::writeToOutput(output, [&](llvm::raw_ostream &os) {
        os << text;
        return llvm::Error::success();
      }))
    return fail("cannot write " + output + ": " + llvm::toString(std::move(err)));
  llvm::outs() << llvm::formatv(
      "tetra-calibrate: {0} GEMMs, {1} entry launches, {2} collectives\n"
      "  matrix peak {3:f2} GFLOP/s; efficiency by size:",
      c->gemms, c->entries, c->collectives, c->peakFlops / 1e9);
  for (const EfficiencyPoint &p : c->efficiency)
    llvm::outs() << llvm::formatv(" {0:e1}:{1:f2}", p.flops, p.efficiency);
  llvm::outs() << llvm::formatv("\n  memory bandwidth {0:f2} GB/s\n", c->memoryBandwidth / 1e9);
  if (c->collectives)
    llvm::outs() << llvm::formatv("  collectives: latency {0:f1} us, bus bandwidth {1:f2} GB/s\n",
                                  c->latency * 1e6, c->busBandwidth / 1e9);
  llvm::outs() << "  wrote " << output << "\n";
  return 0;
}
