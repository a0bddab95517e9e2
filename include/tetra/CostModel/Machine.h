//===- Machine.h - a machine description for the cost model ---------------===//
//
// A machine file (examples/machines/NAME.json) describes one kind of node:
// its devices' peak rates, achieved GEMM efficiency by size, memory, the
// bandwidths of groups inside a node by size and placement, the NICs and the
// latencies. Every number comes with its source in a field beside it
// (`hbm_tbps` and `hbm_tbps_source`); a file without one is refused.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_COSTMODEL_MACHINE_H
#define TETRA_COSTMODEL_MACHINE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::tetra::cost {

/// Bus bandwidth of a group by its size and span (the product of the sizes
/// of the grid axes placed before it): the first row that matches counts.
struct BandwidthRow {
  int64_t spanMin = 1, spanMax = INT64_MAX;
  int64_t groupMin = 1, groupMax = INT64_MAX;
  double bytesPerSecond = 0;
};
using BandwidthTable = std::vector<BandwidthRow>;

/// The bus bandwidth `table` gives a group, or nullopt when no row matches.
std::optional<double> lookupBandwidth(const BandwidthTable &table, int64_t span,
                                      int64_t group);

/// Achieved fraction of the matrix peak by a GEMM's FLOPs, interpolated in
/// log(FLOPs) between the points (and held flat beyond them).
struct EfficiencyPoint {
  double flops = 0, efficiency = 0;
};

struct Machine {
  std::string name;
  std::string device;
  /// How kernels are generated: "cpu" (LLVM for the host), "nvvm" or
  /// "rocdl" (GPU kernels for `chip`, e.g. sm_90a or gfx90a).
  std::string codegen = "cpu";
  std::string chip;
  int64_t devicesPerNode = 1;
  /// Bytes of one stored element (2 for bf16 on GPUs, 4 for f32 on CPUs).
  int64_t storageBytes = 4;
  /// Peak rates (FLOP/s) for the storage dtype.
  double peakMatrix = 0, peakVector = 0;
  std::vector<EfficiencyPoint> gemmEfficiency;
  double memoryBytes = 0;      // per device
  double memoryBandwidth = 0;  // bytes/s per device
  double memoryEfficiency = 1; // reached by memory-bound kernels
  double launchSeconds = 0;    // per kernel
  /// Attention writes its score matrix to memory and reads it back (the CPU
  /// lowering); false where the kernels keep it on chip (flash attention).
  bool attentionMaterialised = false;
  BandwidthTable intraNode;
  double nicBytesPerSecondPerNode = 0;
  double latencyIntra = 0, latencyInter = 0; // seconds per step of a collective
  /// AxoNN's published table, for the reference communication model.
  std::optional<BandwidthTable> reference;

  double gemmEfficiencyAt(double flops) const;
};

/// Parses a machine file; errors name the file and the key at fault.
llvm::Expected<Machine> parseMachine(llvm::StringRef text, llvm::StringRef path);

/// `nameOrPath` is a file, or the name of one in the machines folder
/// (frontier, alps, perlmutter, cpu). `resolved` receives the file read.
llvm::Expected<Machine> loadMachine(llvm::StringRef nameOrPath,
                                    std::string *resolved = nullptr);

/// The folder the named machines live in (examples/machines of the source
/// tree, or $TETRA_MACHINES).
std::string machinesDirectory();

} // namespace mlir::tetra::cost

#endif // TETRA_COSTMODEL_MACHINE_H
