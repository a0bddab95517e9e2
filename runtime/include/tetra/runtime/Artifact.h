//===- Artifact.h - a compiled model: manifest and kernels ----------------===//
#ifndef TETRA_RUNTIME_ARTIFACT_H
#define TETRA_RUNTIME_ARTIFACT_H

#include "tetra/runtime/Grid.h"
#include "tetra/runtime/Plan.h"
#include "tetra/runtime/Tensor.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tetra::rt {

/// The artifact format this runtime reads.
inline constexpr int64_t kArtifactVersion = 1;

struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;      // global
  std::vector<int64_t> localShape; // the shard one rank holds
  /// Axes splitting each dimension (outermost first), and those splitting the
  /// rank's block once more after flattening (none: the parameter is whole).
  std::vector<std::vector<Axis>> dims;
  std::vector<Axis> flat;
  std::string init; // normal, trunc_normal, zeros, ones
  double std = 0;
};

/// One argument or result of an entry point.
struct ArgSpec {
  std::string role; // tokens, targets, param, grad, m, v, lr, step, loss, ...
  std::string name; // the parameter a per-parameter value belongs to
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  bool scalar = false;
};

struct EntrySpec {
  std::string symbol;
  std::vector<ArgSpec> args;
  std::vector<ArgSpec> results; // passed as out-params after the arguments
  int64_t peakTemporaryBytes = 0;
  /// The compiler's count of the entry's work (the cost model's): bytes its
  /// memory-bound kernels move and its GEMMs' FLOPs; 0 when not given.
  double workBytes = 0, gemmFlops = 0;
};

struct Manifest {
  int64_t version = 0;
  std::string machine;
  int64_t microBatch = 0, seqLen = 0, globalBatch = 0;
  std::string family;
  int64_t vocab = 0;
  GridShape grid; // 1x1x1x1 unless compiled with --grid
  std::vector<ParamSpec> params;
  std::map<std::string, EntrySpec> entries;
  std::string kernels; // file name inside the artifact
  std::string plan;    // file name inside the artifact
  /// GPU artifacts: "nvvm" or "rocdl" and the chip; empty for the CPU.
  std::string gpuCodegen, gpuChip;
};

/// Reads DIR/manifest.json; throws Error naming the file on any problem,
/// including a version this runtime does not know.
Manifest readManifest(const std::string &dir);

/// The kernels' shared object and its packed entry points.
class KernelLibrary {
public:
  KernelLibrary(const std::string &path);
  ~KernelLibrary();
  KernelLibrary(const KernelLibrary &) = delete;
  KernelLibrary &operator=(const KernelLibrary &) = delete;

  using PackedFn = void (*)(void **);
  PackedFn lookup(const std::string &symbol) const;

private:
  std::string path_;
  void *handle_ = nullptr;
};

/// A loaded artifact: call an entry with its inputs and parameters.
class Artifact {
public:
  explicit Artifact(const std::string &dir);

  const Manifest &manifest() const { return manifest_; }
  bool hasEntry(const std::string &name) const { return manifest_.entries.count(name); }

  /// Finds the tensor for one argument (null if the caller has none).
  using Binder = std::function<Tensor *(const ArgSpec &)>;

  /// Runs entry `name` with the tensors `bind` gives for its arguments;
  /// returns its results in the manifest's order. Shapes and dtypes are
  /// checked against the manifest.
  /// `outputs`, when given, may bind a result to an existing tensor (written
  /// in place; its slot in the returned vector stays empty).
  std::vector<Tensor> call(const std::string &name, const Binder &bind,
                           const Binder &outputs = nullptr) const;
  /// Entry `name`'s peak temporary bytes, as the compiler predicted them
  /// (0 when the manifest does not say).
  int64_t peakTemporaryBytes(const std::string &name) const;
  const EntrySpec &entry(const std::string &name) const;
  /// The training step's plan (plan.json); throws Error when there is none.
  const Plan &plan() const;

private:
  std::string dir_;
  Manifest manifest_;
  std::unique_ptr<KernelLibrary> kernels_;
  std::optional<Plan> plan_;
};

} // namespace tetra::rt

#endif // TETRA_RUNTIME_ARTIFACT_H
