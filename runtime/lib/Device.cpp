//===- Device.cpp - the CPU device and loading a GPU backend --------------===//
#include "tetra/runtime/Device.h"
#include "tetra/runtime/Error.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstdlib>
#include <dlfcn.h>

namespace tetra::rt {
namespace {

void *cpuAllocate(size_t bytes) { return std::calloc(1, bytes ? bytes : 1); }
void cpuRelease(void *pointer) { std::free(pointer); }
void cpuSynchronize() {}
void cpuReleaseTemporary(void *pointer, size_t) { std::free(pointer); }

const DeviceBackend cpuBackend{"cpu",       cpuAllocate, cpuRelease, cpuSynchronize,
                               cpuAllocate, cpuReleaseTemporary};
const DeviceBackend *current = &cpuBackend;

/// The folder of the running executable's libraries: <bin>/../lib.
std::string libraryDir() {
  static int anchor;
  std::string exe = llvm::sys::fs::getMainExecutable(nullptr, &anchor);
  llvm::SmallString<256> dir(llvm::sys::path::parent_path(llvm::sys::path::parent_path(exe)));
  llvm::sys::path::append(dir, "lib");
  return std::string(dir);
}

} // namespace

const DeviceBackend &device() { return *current; }

void loadDeviceBackend(const std::string &codegen) {
  std::string file;
  if (codegen == "nvvm")
    file = "libtetra_cuda.so";
  else if (codegen == "rocdl")
    file = "libtetra_rocm.so";
  else
    throw Error("no device backend for codegen '" + codegen + "' (nvvm or rocdl)");
  const char *override = std::getenv("TETRA_DEVICE_LIBRARY");
  std::string path = override ? override : libraryDir() + "/" + file;
  // Global: the kernels' host code resolves mgpu* against it.
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (!handle)
    throw Error("the " + codegen + " artifact needs a GPU: cannot load the device backend " + path + ": " +
                dlerror());
  auto entry = reinterpret_cast<DeviceBackendEntry>(dlsym(handle, kDeviceBackendSymbol));
  if (!entry)
    throw Error(path + ": no " + kDeviceBackendSymbol);
  char error[512] = {0};
  const DeviceBackend *backend = entry(error, sizeof(error));
  if (!backend)
    throw Error(path + ": " + error);
  current = backend;
}

} // namespace tetra::rt
