//===- CostModel.h - predict a training step, search the 4D grids ---------===//
//
// For one configuration (grid, overlap options, recomputation) the model
// builds the program tetra-compile would build (the same passes), takes each
// entry point's schedule, plays the training step's plan on the simulator,
// and counts the memory a device holds. The search does so for every
// power-of-two grid of the device count, rejects what does not divide or fit
// (with the reason), and ranks the rest by predicted step time.
//
// Large models are predicted from two shallow copies (2 and 3 blocks): every
// block is the same program, so a step's time and memory are linear in the
// depth; the winner can be predicted again at full depth.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_COSTMODEL_COSTMODEL_H
#define TETRA_COSTMODEL_COSTMODEL_H

#include "tetra/CostModel/Machine.h"
#include "tetra/CostModel/Network.h"
#include "tetra/CostModel/Simulator.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir::tetra::cost {

struct Configuration {
  Grid grid;
  std::string overlap = "all"; // as tetra-compile's --overlap
  bool recompute = false;      // activations recomputed in the backward pass
  std::string str() const;     // "2x2x1x4 overlap=all"
};

/// Bytes one device holds.
struct MemoryBreakdown {
  double parameters = 0; // the weights (and fp32 master copies when stored in bf16)
  double gradients = 0;  // the gradients and their sum over micro-batches
  double optimizer = 0;  // AdamW's two moments
  double activations = 0, activationsRecomputed = 0; // peak live tensors of @grad
  double total(bool recompute) const {
    return parameters + gradients + optimizer +
           (recompute ? activationsRecomputed : activations);
  }
};

/// Why a configuration does not run.
enum class Rejection {
  None,
  DoesNotDivide, // the micro-batch over data*z
  DoesNotFit,    // memory per device
  CannotBuild,   // the compiler's passes refuse it (a split of a tensor, ...)
};

struct Prediction {
  Configuration config;
  /// Empty when the configuration runs; else why not, in words, and the kind.
  std::string rejected;
  Rejection rejection = Rejection::None;
  double stepSeconds = 0;
  double computeSeconds = 0; // busy time of the compute stream
  std::map<std::string, double> exposed;       // per group of axes
  std::map<std::string, double> communication; // busy time per group of axes
  MemoryBreakdown memory;
  double modelFlops = 0; // per step, ALGORITHMS.md §1
  double mfu = 0;
  int64_t layersSimulated = 0; // blocks in the program that was simulated
  std::vector<TimelineEvent> timeline;
  double exposedTotal() const;
};

/// What the search needs to know of the model itself.
struct ModelInfo {
  int64_t layers = 0, hidden = 0, vocab = 0;
  double parameters = 0;
};

struct SearchOptions {
  int64_t devices = 1;
  int64_t globalBatch = 1, microBatch = 0, seqLen = 1; // microBatch 0: the global batch
  int64_t prefetch = 1;
  std::string goldfish;  // attribute body
  std::string optimizer; // tetra-autodiff options
  /// Overlap settings tried for every grid.
  std::vector<std::string> overlaps = {"all", "none"};
  /// Try recomputation when the activations do not fit.
  bool recompute = true;
  /// Only this grid (tetra-compile --grid with --report).
  std::optional<Grid> grid;
};

/// The model as a fresh module with `layers` blocks (0: as it is); null when
/// the depth cannot be changed.
using ModelFactory = std::function<OwningOpRef<ModuleOp>(int64_t layers)>;

/// Model FLOPs of one step by ALGORITHMS.md §1 (96 with recomputation, 72
/// without).
double modelFlopsPerStep(const ModelInfo &model, const SearchOptions &o, bool recompute);

/// Predicts one configuration; `fullDepth` simulates every block (and keeps
/// the timeline) instead of extrapolating from two shallow copies.
Prediction predict(const ModelFactory &factory, const ModelInfo &model, const Machine &m,
                   const SearchOptions &o, const Configuration &c, bool fullDepth);

/// Each overlap setting on `grid`, without and with recomputation, from one
/// build of the passes before tetra-overlap.
std::vector<std::pair<Prediction, Prediction>>
predictGrid(const ModelFactory &factory, const ModelInfo &model, const Machine &m,
            const SearchOptions &o, const Grid &grid, const std::vector<std::string> &overlaps,
            bool fullDepth, bool keepTimeline);

/// Every configuration, feasible ones first, fastest first.
std::vector<Prediction> search(const ModelFactory &factory, const ModelInfo &model,
                               const Machine &m, const SearchOptions &o);

/// Layers, hidden size, vocabulary and parameter count of a model module;
/// an error on the module when it has no embedding to read them from.
FailureOr<ModelInfo> modelInfoOf(ModuleOp module);

/// The grid string "XxYxZxD" as a Grid; nullopt when malformed.
std::optional<Grid> parseGrid(llvm::StringRef text);

} // namespace mlir::tetra::cost

#endif // TETRA_COSTMODEL_COSTMODEL_H
