//===- HsaDevice.cpp - the AMD backend: the HSA runtime under mgpu* -------===//
//
// The same mgpu* entry points as the CUDA backend, on Debian's HSA runtime:
// an HSACO is loaded into an executable for this rank's GPU agent, a launch
// is an AQL kernel-dispatch packet on the thread's queue. Launches do not
// wait: each packet has the barrier bit (it starts once the one before it is
// done, the order of a CUDA stream) and decrements the queue's completion
// signal when it completes, which mgpuStreamSynchronize waits to see at
// zero. The driver knows no parameter sizes, so they come from
// the HSACO's own metadata note (amdhsa.kernels: each argument's offset,
// size and kind). Tensors live in fine-grained system memory the GPU is
// allowed to access, so the host code and MPI address them directly.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Device.h"
#include "tetra/runtime/TemporaryPool.h"

#include <hsa/hsa.h>
#include <hsa/hsa_ext_amd.h>

#include "llvm/BinaryFormat/ELF.h"
#include "llvm/BinaryFormat/MsgPackDocument.h"
#include "llvm/Object/ELFObjectFile.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

hsa_agent_t gpu{}, cpu{};
hsa_region_t kernargRegion{};
hsa_amd_memory_pool_t hostPool{};

[[noreturn]] void fail(const char *call, hsa_status_t status) {
  const char *text = nullptr;
  hsa_status_string(status, &text);
  std::fprintf(stderr, "tetra-run: HSA: %s failed: %s\n", call, text ? text : "unknown error");
  std::exit(1);
}

void check(hsa_status_t status, const char *call) {
  if (status != HSA_STATUS_SUCCESS && status != HSA_STATUS_INFO_BREAK)
    fail(call, status);
}

struct Argument {
  uint64_t offset = 0, size = 0;
  std::string kind;
};

struct KernelInfo {
  std::vector<Argument> args;
  size_t explicitArgs = 0; // those not named hidden_*
};

struct Kernel {
  uint64_t object = 0;
  uint32_t kernargBytes = 0, groupBytes = 0, privateBytes = 0;
  const KernelInfo *info = nullptr;
};

struct Module {
  hsa_executable_t executable{};
  hsa_code_object_reader_t reader{};
  std::map<std::string, KernelInfo> kernels; // by symbol name
  std::map<std::string, Kernel> functions;
};

/// The argument layout of every kernel, from the NT_AMDGPU_METADATA note.
std::map<std::string, KernelInfo> readMetadata(const void *data, size_t size) {
  std::map<std::string, KernelInfo> kernels;
  llvm::StringRef bytes(static_cast<const char *>(data), size);
  auto file = llvm::object::ELF64LEFile::create(bytes);
  if (!file) {
    llvm::consumeError(file.takeError());
    return kernels;
  }
  auto sections = file->sections();
  if (!sections) {
    llvm::consumeError(sections.takeError());
    return kernels;
  }
  for (const auto &section : *sections) {
    if (section.sh_type != llvm::ELF::SHT_NOTE)
      continue;
    llvm::Error err = llvm::Error::success();
    for (const auto &note : file->notes(section, err)) {
      if (note.getName() != "AMDGPU" || note.getType() != llvm::ELF::NT_AMDGPU_METADATA)
        continue;
      // Notes are 4-aligned at least, as LLVM's own reader assumes.
      llvm::ArrayRef<uint8_t> desc =
          note.getDesc(std::max<uint64_t>(section.sh_addralign, 4));
      llvm::msgpack::Document doc;
      if (!doc.readFromBlob(llvm::StringRef(reinterpret_cast<const char *>(desc.data()),
                                            desc.size()),
                            false))
        continue;
      auto &root = doc.getRoot().getMap(true);
      auto list = root.find(doc.getNode("amdhsa.kernels"));
      if (list == root.end())
        continue;
      for (auto &kernel : list->second.getArray(true)) {
        auto &k = kernel.getMap(true);
        KernelInfo info;
        std::string symbol = k[".symbol"].getString().str();
        for (auto &arg : k[".args"].getArray(true)) {
          auto &a = arg.getMap(true);
          Argument argument;
          argument.offset = a[".offset"].getUInt();
          argument.size = a[".size"].getUInt();
          argument.kind = a[".value_kind"].getString().str();
          if (argument.kind.rfind("hidden_", 0) != 0)
            ++info.explicitArgs;
          info.args.push_back(argument);
        }
        kernels[symbol] = std::move(info);
      }
    }
    llvm::consumeError(std::move(err));
  }
  return kernels;
}

/// A thread's queue and what its launches still hold: the completion
/// signal, whose value counts the launches not done yet, and their kernel
/// arguments, freed once the queue has drained.
struct ThreadQueue {
  hsa_queue_t *queue = nullptr;
  hsa_signal_t pending{};
  std::vector<void *> kernargs;
  std::mutex mutex; // the kernargs, when another thread drains every queue
};

std::mutex queuesMutex;
std::vector<ThreadQueue *> queues; // every thread's, for synchronize()

ThreadQueue &threadQueue() {
  // Never destroyed: at exit the runtime may already be gone.
  thread_local ThreadQueue *mine = nullptr;
  if (!mine) {
    auto *q = new ThreadQueue();
    uint32_t size = 0;
    check(hsa_agent_get_info(gpu, HSA_AGENT_INFO_QUEUE_MAX_SIZE, &size), "hsa_agent_get_info");
    check(hsa_queue_create(gpu, std::min<uint32_t>(size, 1024), HSA_QUEUE_TYPE_SINGLE, nullptr,
                           nullptr, UINT32_MAX, UINT32_MAX, &q->queue),
          "hsa_queue_create");
    check(hsa_signal_create(0, 0, nullptr, &q->pending), "hsa_signal_create");
    std::lock_guard<std::mutex> lock(queuesMutex);
    queues.push_back(q);
    mine = q;
  }
  return *mine;
}

/// Waits until every launch on `q` is done, then frees their arguments.
void drain(ThreadQueue &q) {
  while (hsa_signal_wait_scacquire(q.pending, HSA_SIGNAL_CONDITION_EQ, 0, UINT64_MAX,
                                   HSA_WAIT_STATE_BLOCKED) != 0) {
  }
  std::lock_guard<std::mutex> lock(q.mutex);
  for (void *kernargs : q.kernargs)
    hsa_memory_free(kernargs);
  q.kernargs.clear();
}

void *allocate(size_t bytes) {
  void *pointer = nullptr;
  check(hsa_amd_memory_pool_allocate(hostPool, bytes ? bytes : 1, 0, &pointer),
        "hsa_amd_memory_pool_allocate");
  check(hsa_amd_agents_allow_access(1, &gpu, nullptr, pointer), "hsa_amd_agents_allow_access");
  std::memset(pointer, 0, bytes ? bytes : 1);
  return pointer;
}

/// Every thread's launches, done.
void synchronize() {
  std::vector<ThreadQueue *> all;
  {
    std::lock_guard<std::mutex> lock(queuesMutex);
    all = queues;
  }
  for (ThreadQueue *q : all)
    drain(*q);
}

void release(void *pointer) {
  if (!pointer)
    return;
  // Work still using it finishes first.
  synchronize();
  hsa_amd_memory_pool_free(pointer);
}

/// The compiled code's temporaries come from the thread's pool
/// (TemporaryPool.h), which launches still queued may be reading.
void *allocateTemporary(size_t bytes) {
  tetra::rt::TemporaryPool &pool = tetra::rt::TemporaryPool::ofThisThread();
  if (void *block = pool.take(bytes))
    return block;
  void *pointer = nullptr;
  if (hsa_amd_memory_pool_allocate(hostPool, bytes ? bytes : 1, 0, &pointer) !=
      HSA_STATUS_SUCCESS) {
    // Blocks of other sizes wait in the pool: once the queue is done with
    // them, they go back to the runtime, and the allocation is tried again.
    drain(threadQueue());
    pool.drain([](void *block) { hsa_amd_memory_pool_free(block); });
    check(hsa_amd_memory_pool_allocate(hostPool, bytes ? bytes : 1, 0, &pointer),
          "hsa_amd_memory_pool_allocate");
  }
  check(hsa_amd_agents_allow_access(1, &gpu, nullptr, pointer), "hsa_amd_agents_allow_access");
  return pointer;
}

void releaseTemporary(void *pointer, size_t bytes) {
  tetra::rt::TemporaryPool::ofThisThread().give(pointer, bytes);
}

const tetra::rt::DeviceBackend backend{"rocm",            allocate,        release, synchronize,
                                       allocateTemporary, releaseTemporary};


struct Agents {
  std::vector<hsa_agent_t> gpus, cpus;
};

hsa_status_t collectAgent(hsa_agent_t agent, void *data) {
  hsa_device_type_t type;
  hsa_agent_get_info(agent, HSA_AGENT_INFO_DEVICE, &type);
  auto *agents = static_cast<Agents *>(data);
  if (type == HSA_DEVICE_TYPE_GPU)
    agents->gpus.push_back(agent);
  else if (type == HSA_DEVICE_TYPE_CPU)
    agents->cpus.push_back(agent);
  return HSA_STATUS_SUCCESS;
}

hsa_status_t findKernargRegion(hsa_region_t region, void *data) {
  hsa_region_segment_t segment;
  hsa_region_get_info(region, HSA_REGION_INFO_SEGMENT, &segment);
  uint32_t flags = 0;
  hsa_region_get_info(region, HSA_REGION_INFO_GLOBAL_FLAGS, &flags);
  if (segment == HSA_REGION_SEGMENT_GLOBAL && (flags & HSA_REGION_GLOBAL_FLAG_KERNARG)) {
    *static_cast<hsa_region_t *>(data) = region;
    return HSA_STATUS_INFO_BREAK;
  }
  return HSA_STATUS_SUCCESS;
}

hsa_status_t findFineGrainedPool(hsa_amd_memory_pool_t pool, void *data) {
  hsa_amd_segment_t segment;
  hsa_amd_memory_pool_get_info(pool, HSA_AMD_MEMORY_POOL_INFO_SEGMENT, &segment);
  uint32_t flags = 0;
  hsa_amd_memory_pool_get_info(pool, HSA_AMD_MEMORY_POOL_INFO_GLOBAL_FLAGS, &flags);
  bool allocatable = false;
  hsa_amd_memory_pool_get_info(pool, HSA_AMD_MEMORY_POOL_INFO_RUNTIME_ALLOC_ALLOWED, &allocatable);
  if (segment == HSA_AMD_SEGMENT_GLOBAL && allocatable &&
      (flags & HSA_AMD_MEMORY_POOL_GLOBAL_FLAG_FINE_GRAINED) &&
      !(flags & HSA_AMD_MEMORY_POOL_GLOBAL_FLAG_KERNARG_INIT)) {
    *static_cast<hsa_amd_memory_pool_t *>(data) = pool;
    return HSA_STATUS_INFO_BREAK;
  }
  return HSA_STATUS_SUCCESS;
}

} // namespace

extern "C" {

const tetra::rt::DeviceBackend *tetra_device_backend(char *error, size_t errorSize) {
  auto refuse = [&](const char *call, hsa_status_t status) -> const tetra::rt::DeviceBackend * {
    const char *text = nullptr;
    hsa_status_string(status, &text);
    std::snprintf(error, errorSize, "HSA: %s failed: %s", call, text ? text : "unknown error");
    return nullptr;
  };
  if (hsa_status_t s = hsa_init(); s != HSA_STATUS_SUCCESS)
    return refuse("hsa_init", s);
  Agents agents;
  if (hsa_status_t s = hsa_iterate_agents(collectAgent, &agents); s != HSA_STATUS_SUCCESS)
    return refuse("hsa_iterate_agents", s);
  if (agents.gpus.empty() || agents.cpus.empty()) {
    std::snprintf(error, errorSize, "HSA: no GPU agent");
    return nullptr;
  }
  gpu = agents.gpus[tetra::rt::launcherLocalRank() % agents.gpus.size()];
  cpu = agents.cpus.front();
  kernargRegion.handle = 0;
  hsa_agent_iterate_regions(gpu, findKernargRegion, &kernargRegion);
  hostPool.handle = 0;
  hsa_amd_agent_iterate_memory_pools(cpu, findFineGrainedPool, &hostPool);
  if (!kernargRegion.handle || !hostPool.handle) {
    std::snprintf(error, errorSize, "HSA: no kernarg region or fine-grained host pool");
    return nullptr;
  }
  return &backend;
}

void *mgpuModuleLoad(void *data, size_t size) {
  auto *module = new Module;
  module->kernels = readMetadata(data, size);
  check(hsa_code_object_reader_create_from_memory(data, size, &module->reader),
        "hsa_code_object_reader_create_from_memory");
  check(hsa_executable_create_alt(HSA_PROFILE_FULL, HSA_DEFAULT_FLOAT_ROUNDING_MODE_DEFAULT,
                                  nullptr, &module->executable),
        "hsa_executable_create_alt");
  check(hsa_executable_load_agent_code_object(module->executable, gpu, module->reader, nullptr,
                                              nullptr),
        "hsa_executable_load_agent_code_object");
  check(hsa_executable_freeze(module->executable, nullptr), "hsa_executable_freeze");
  return module;
}

void mgpuModuleUnload(void *opaque) {
  auto *module = static_cast<Module *>(opaque);
  hsa_executable_destroy(module->executable);
  hsa_code_object_reader_destroy(module->reader);
  delete module;
}

void *mgpuModuleGetFunction(void *opaque, const char *name) {
  auto *module = static_cast<Module *>(opaque);
  auto found = module->functions.find(name);
  if (found != module->functions.end())
    return &found->second;
  std::string symbolName = std::string(name) + ".kd";
  hsa_executable_symbol_t symbol;
  check(hsa_executable_get_symbol_by_name(module->executable, symbolName.c_str(), &gpu, &symbol),
        "hsa_executable_get_symbol_by_name");
  Kernel kernel;
  check(hsa_executable_symbol_get_info(symbol, HSA_EXECUTABLE_SYMBOL_INFO_KERNEL_OBJECT,
                                       &kernel.object),
        "hsa_executable_symbol_get_info");
  hsa_executable_symbol_get_info(symbol, HSA_EXECUTABLE_SYMBOL_INFO_KERNEL_KERNARG_SEGMENT_SIZE,
                                 &kernel.kernargBytes);
  hsa_executable_symbol_get_info(
      symbol, HSA_EXECUTABLE_SYMBOL_INFO_KERNEL_GROUP_SEGMENT_SIZE, &kernel.groupBytes);
  hsa_executable_symbol_get_info(
      symbol, HSA_EXECUTABLE_SYMBOL_INFO_KERNEL_PRIVATE_SEGMENT_SIZE, &kernel.privateBytes);
  auto info = module->kernels.find(symbolName);
  if (info == module->kernels.end()) {
    std::fprintf(stderr, "tetra-run: HSA: kernel %s has no argument metadata\n", name);
    std::exit(1);
  }
  kernel.info = &info->second;
  return &(module->functions[name] = kernel);
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                      intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t sharedBytes,
                      void * /*stream*/, void **params, void ** /*extra*/, size_t paramsCount) {
  auto *kernel = static_cast<Kernel *>(function);
  if (paramsCount != kernel->info->explicitArgs) {
    std::fprintf(stderr, "tetra-run: HSA: a launch passes %zu arguments, the kernel takes %zu\n",
                 paramsCount, kernel->info->explicitArgs);
    std::exit(1);
  }
  void *kernargs = nullptr;
  check(hsa_memory_allocate(kernargRegion, std::max<uint32_t>(kernel->kernargBytes, 16),
                            &kernargs),
        "hsa_memory_allocate");
  std::memset(kernargs, 0, std::max<uint32_t>(kernel->kernargBytes, 16));
  ThreadQueue &q = threadQueue();
  hsa_queue_t *queue = q.queue;
  // Explicit arguments in order, then the hidden ones the launch knows
  // (code object v5). The rest stay zero: the hostcall buffer and heap
  // serve printf and malloc in kernels, which Tetra's kernels do not call.
  size_t explicitIndex = 0;
  for (const Argument &arg : kernel->info->args) {
    auto *slot = static_cast<char *>(kernargs) + arg.offset;
    if (arg.kind.rfind("hidden_", 0) != 0) {
      if (explicitIndex < paramsCount)
        std::memcpy(slot, params[explicitIndex], arg.size);
      ++explicitIndex;
    } else if (arg.kind == "hidden_block_count_x" || arg.kind == "hidden_block_count_y" ||
               arg.kind == "hidden_block_count_z") {
      uint32_t v = arg.kind.back() == 'x' ? gridX : arg.kind.back() == 'y' ? gridY : gridZ;
      std::memcpy(slot, &v, std::min<uint64_t>(arg.size, sizeof(v)));
    } else if (arg.kind == "hidden_group_size_x" || arg.kind == "hidden_group_size_y" ||
               arg.kind == "hidden_group_size_z") {
      uint16_t v = arg.kind.back() == 'x' ? blockX : arg.kind.back() == 'y' ? blockY : blockZ;
      std::memcpy(slot, &v, std::min<uint64_t>(arg.size, sizeof(v)));
    } else if (arg.kind == "hidden_grid_dims") {
      uint16_t dims = 3;
      std::memcpy(slot, &dims, std::min<uint64_t>(arg.size, sizeof(dims)));
    } else if (arg.kind == "hidden_dynamic_lds_size") {
      uint32_t bytes = sharedBytes;
      std::memcpy(slot, &bytes, std::min<uint64_t>(arg.size, sizeof(bytes)));
    } else if (arg.kind == "hidden_queue_ptr") {
      std::memcpy(slot, &queue, std::min<uint64_t>(arg.size, sizeof(queue)));
    }
  }

  {
    std::lock_guard<std::mutex> lock(q.mutex);
    q.kernargs.push_back(kernargs);
  }
  // One more launch to wait for; the packet processor takes it back (the
  // signal's value less one) when the kernel completes.
  hsa_signal_add_screlease(q.pending, 1);
  uint64_t index = hsa_queue_add_write_index_relaxed(queue, 1);
  while (index - hsa_queue_load_read_index_scacquire(queue) >= queue->size) {
  }
  auto *packet = static_cast<hsa_kernel_dispatch_packet_t *>(queue->base_address) +
                 (index & (queue->size - 1));
  std::memset(reinterpret_cast<char *>(packet) + 4, 0, sizeof(*packet) - 4);
  packet->setup = 3 << HSA_KERNEL_DISPATCH_PACKET_SETUP_DIMENSIONS;
  packet->workgroup_size_x = blockX;
  packet->workgroup_size_y = blockY;
  packet->workgroup_size_z = blockZ;
  // HSA's grid counts work-items, not blocks.
  packet->grid_size_x = gridX * blockX;
  packet->grid_size_y = gridY * blockY;
  packet->grid_size_z = gridZ * blockZ;
  packet->kernel_object = kernel->object;
  packet->kernarg_address = kernargs;
  packet->private_segment_size = kernel->privateBytes;
  packet->group_segment_size = kernel->groupBytes + sharedBytes;
  packet->completion_signal = q.pending;
  uint16_t header = (HSA_PACKET_TYPE_KERNEL_DISPATCH << HSA_PACKET_HEADER_TYPE) |
                    (1 << HSA_PACKET_HEADER_BARRIER) |
                    (HSA_FENCE_SCOPE_SYSTEM << HSA_PACKET_HEADER_ACQUIRE_FENCE_SCOPE) |
                    (HSA_FENCE_SCOPE_SYSTEM << HSA_PACKET_HEADER_RELEASE_FENCE_SCOPE);
  __atomic_store_n(reinterpret_cast<uint32_t *>(packet),
                   header | (static_cast<uint32_t>(packet->setup) << 16), __ATOMIC_RELEASE);
  hsa_signal_store_screlease(queue->doorbell_signal, index);
}

// One queue per thread: the stream is the calling thread's.
void *mgpuStreamCreate() { return &threadQueue(); }
void mgpuStreamDestroy(void *) {}
void mgpuStreamSynchronize(void *) { drain(threadQueue()); }

void *mgpuMemAlloc(uint64_t bytes, void * /*stream*/, bool /*hostShared*/) {
  return allocate(bytes);
}
void mgpuMemFree(void *pointer, void * /*stream*/) { release(pointer); }
void mgpuMemcpy(void *dst, void *src, size_t bytes, void * /*stream*/) {
  drain(threadQueue()); // the launches before it write what it copies
  std::memcpy(dst, src, bytes);
}

} // extern "C"
