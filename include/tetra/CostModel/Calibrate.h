//===- Calibrate.h - fit a machine file to the runtime's measurements ------===//
//
// tetra-run --trace writes, per rank, every GEMM (m, n, k, time), every entry
// launch (with the compiler's count of its memory-bound bytes), every wait
// and every collective (bytes, ranks, time). From them:
//   - the matrix peak is the fastest size class of GEMMs, and the efficiency
//     of each class (by FLOPs, half a decade wide) its rate over that peak;
//   - the memory bandwidth is the counted bytes over the entries' time spent
//     outside GEMMs and waits;
//   - the latency and bus bandwidth of a group inside a node are the least-
//     squares fit (relative error) of the alpha-beta ring formulas to the
//     collectives.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_COSTMODEL_CALIBRATE_H
#define TETRA_COSTMODEL_CALIBRATE_H

#include "tetra/CostModel/Machine.h"

#include "llvm/Support/JSON.h"

#include <map>
#include <string>
#include <vector>

namespace mlir::tetra::cost {

struct TraceEvent {
  std::string lane, name;
  double begin = 0, seconds = 0;
  std::map<std::string, double> args;
};

/// The complete events of one trace file, with their lanes' names.
llvm::Expected<std::vector<TraceEvent>> readTrace(llvm::StringRef path);

struct Calibration {
  double peakFlops = 0;
  std::vector<EfficiencyPoint> efficiency;
  size_t gemms = 0;
  double memoryBandwidth = 0; // bytes/s
  size_t entries = 0;
  double latency = 0, busBandwidth = 0; // seconds, bytes/s
  size_t collectives = 0;
};

/// Fits the parameters; an error when the traces hold no GEMM or entry.
llvm::Expected<Calibration> calibrate(const std::vector<std::vector<TraceEvent>> &traces);

/// `machine` (a machine file's JSON) with the fitted fields and their
/// sources replaced; `from` names the measurements.
llvm::json::Object applyCalibration(llvm::json::Object machine, const Calibration &c,
                                    const std::string &from);

} // namespace mlir::tetra::cost

#endif // TETRA_COSTMODEL_CALIBRATE_H
