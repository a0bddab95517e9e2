//===- Device.h - where tensors live and kernels run -----------------------===//
//
// The CPU is the default device. A GPU artifact names its codegen (nvvm or
// rocdl); the runtime then loads the matching backend library
// (libtetra_cuda.so, libtetra_rocm.so), which provides the mgpu* functions
// the compiled host code calls to load and launch its kernels, and memory
// that both the host code and the kernels can address.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_RUNTIME_DEVICE_H
#define TETRA_RUNTIME_DEVICE_H

#include <cstddef>
#include <cstdlib>
#include <string>

namespace tetra::rt {

struct DeviceBackend {
  const char *name; // "cpu", "cuda", "rocm"
  /// Zeroed bytes the host and the device can both address.
  void *(*allocate)(size_t bytes);
  void (*release)(void *pointer);
  /// Waits until every launched kernel has finished.
  void (*synchronize)();
  /// The compiled code's temporaries (not zeroed): a block released here
  /// may still be in use by kernels queued on the releasing thread's
  /// stream, so it is handed out again only to that thread, whose later
  /// kernels queue behind them. Neither call waits for the device.
  void *(*allocateTemporary)(size_t bytes);
  void (*releaseTemporary)(void *pointer, size_t bytes);
};

/// The backend in use (the CPU until loadDeviceBackend succeeds).
const DeviceBackend &device();

/// Loads the backend library for `codegen` ("nvvm" or "rocdl") and selects
/// the device of this rank. Throws Error naming the library or the driver
/// call that failed (no GPU, no driver, a stub driver).
void loadDeviceBackend(const std::string &codegen);

/// The symbol a backend library exports: fills `error` and returns null
/// when its device cannot be used.
using DeviceBackendEntry = const DeviceBackend *(*)(char *error, size_t errorSize);
constexpr const char *kDeviceBackendSymbol = "tetra_device_backend";

/// This process's rank among those the launcher started on its node
/// (mpirun, srun, MPICH); 0 when started alone. Backends pick their device
/// by it.
inline int launcherLocalRank() {
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"})
    if (const char *v = std::getenv(name))
      return std::atoi(v);
  return 0;
}

} // namespace tetra::rt

#endif // TETRA_RUNTIME_DEVICE_H
