//===- NcclCollectives.cpp - grid collectives on NCCL ---------------------===//
//
// One NCCL communicator per group of grid axes, made on first use from the
// matching MPI group (rank 0 of the group broadcasts the unique id). Each
// collective runs on its own stream and is waited for, as the MPI ones are:
// the kernels' collectives are synchronous calls. NCCL addresses device and
// managed memory only; a collective on ordinary host buffers (the trainer's
// own vectors) goes to MPI instead. The kernels' collectives stage their
// inputs in the backend's managed memory (KernelCollectives.cpp), so they
// take NCCL.
//
//===----------------------------------------------------------------------===//
#include "tetra/runtime/Error.h"
#include "tetra/runtime/NcclCollectives.h"

#include <cuda.h>
#include <nccl.h>

#include <map>

namespace tetra::rt {
namespace {

void check(ncclResult_t r, const char *what) {
  if (r != ncclSuccess)
    throw Error(std::string("NCCL ") + what + " failed: " + ncclGetErrorString(r));
}

void check(CUresult r, const char *what) {
  if (r != CUDA_SUCCESS) {
    const char *text = nullptr;
    cuGetErrorString(r, &text);
    throw Error(std::string("CUDA ") + what + " failed: " + (text ? text : "unknown error"));
  }
}

class NcclCollectives : public Collectives {
public:
  NcclCollectives(Collectives *mpi, MpiGroupOf groupOf) : mpi_(mpi), groupOf_(std::move(groupOf)) {
    check(cuCtxGetCurrent(&context_), "cuCtxGetCurrent");
    if (!context_)
      throw Error("NCCL collectives need the CUDA device started first");
    check(cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  }
  ~NcclCollectives() override {
    for (auto &[mask, comm] : comms_)
      ncclCommDestroy(comm);
    cuStreamDestroy(stream_);
  }

  const GridShape &shape() const override { return mpi_->shape(); }
  int64_t rank() const override { return mpi_->rank(); }
  void barrier() override { mpi_->barrier(); }

  void allReduceSum(float *data, int64_t count, const std::vector<Axis> &axes) override {
    if (!addressable(data))
      return mpi_->allReduceSum(data, count, axes);
    run(ncclAllReduce(data, data, count, ncclFloat, ncclSum, group(axes), stream()),
        "AllReduce");
  }
  void allReduceSum(double *data, int64_t count, const std::vector<Axis> &axes) override {
    if (!addressable(data))
      return mpi_->allReduceSum(data, count, axes);
    run(ncclAllReduce(data, data, count, ncclDouble, ncclSum, group(axes), stream()),
        "AllReduce");
  }
  void allReduceMax(float *data, int64_t count, const std::vector<Axis> &axes) override {
    if (!addressable(data))
      return mpi_->allReduceMax(data, count, axes);
    run(ncclAllReduce(data, data, count, ncclFloat, ncclMax, group(axes), stream()),
        "AllReduce");
  }
  void allGather(const float *in, int64_t count, float *out,
                 const std::vector<Axis> &axes) override {
    if (!addressable(in) || !addressable(out))
      return mpi_->allGather(in, count, out, axes);
    run(ncclAllGather(in, out, count, ncclFloat, group(axes), stream()), "AllGather");
  }
  void allGather(const uint16_t *in, int64_t count, uint16_t *out,
                 const std::vector<Axis> &axes) override {
    if (!addressable(in) || !addressable(out))
      return mpi_->allGather(in, count, out, axes);
    run(ncclAllGather(in, out, count, ncclBfloat16, group(axes), stream()), "AllGather");
  }
  void reduceScatterSum(const float *in, float *out, int64_t count,
                        const std::vector<Axis> &axes) override {
    if (!addressable(in) || !addressable(out))
      return mpi_->reduceScatterSum(in, out, count, axes);
    run(ncclReduceScatter(in, out, count, ncclFloat, ncclSum, group(axes), stream()),
        "ReduceScatter");
  }

private:
  cudaStream_t stream() { return reinterpret_cast<cudaStream_t>(stream_); }

  /// Whether the device can address `pointer`: device or managed memory
  /// (the driver does not know ordinary host memory).
  bool addressable(const void *pointer) {
    bindContext();
    unsigned int type = 0;
    return cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                 reinterpret_cast<CUdeviceptr>(pointer)) == CUDA_SUCCESS &&
           type != CU_MEMORYTYPE_HOST;
  }

  /// The kernels' collectives run on the communication thread: it needs
  /// the rank's context too.
  void bindContext() {
    CUcontext current = nullptr;
    cuCtxGetCurrent(&current);
    if (current != context_)
      check(cuCtxSetCurrent(context_), "cuCtxSetCurrent");
  }

  void run(ncclResult_t r, const char *what) {
    check(r, what);
    check(cuStreamSynchronize(stream_), "cuStreamSynchronize");
  }

  ncclComm_t group(const std::vector<Axis> &axes) {
    int mask = 0;
    for (Axis a : axes)
      mask |= 1 << static_cast<int>(a);
    bindContext();
    auto it = comms_.find(mask);
    if (it != comms_.end())
      return it->second;
    MPI_Comm mpiGroup = groupOf_(axes);
    int size = 0, rank = 0;
    MPI_Comm_size(mpiGroup, &size);
    MPI_Comm_rank(mpiGroup, &rank);
    ncclUniqueId id;
    if (rank == 0)
      check(ncclGetUniqueId(&id), "GetUniqueId");
    if (MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, mpiGroup) != MPI_SUCCESS)
      throw Error("MPI Bcast of the NCCL unique id failed");
    ncclComm_t comm = nullptr;
    check(ncclCommInitRank(&comm, size, id, rank), "CommInitRank");
    comms_[mask] = comm;
    return comm;
  }

  Collectives *mpi_;
  MpiGroupOf groupOf_;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  std::map<int, ncclComm_t> comms_;
};

} // namespace
} // namespace tetra::rt

extern "C" tetra::rt::Collectives *tetra_make_nccl_collectives(tetra::rt::Collectives *mpi,
                                                               tetra::rt::MpiGroupOf groupOf) {
  return new tetra::rt::NcclCollectives(mpi, std::move(groupOf));
}
