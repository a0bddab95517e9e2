//===- Sharding.cpp - a parameter's shards on the grid --------------------===//
#include "tetra/runtime/Sharding.h"
#include "tetra/runtime/Error.h"
#include "tetra/runtime/Safetensors.h"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace tetra::rt {

namespace {
int64_t groupSize(const GridShape &grid, const std::vector<Axis> &axes) {
  int64_t n = 1;
  for (Axis a : axes)
    n *= grid.size(a);
  return n;
}

/// The rank's index in its group over `axes`, outermost first.
int64_t indexIn(const GridShape &grid, const GridCoord &coord, const std::vector<Axis> &axes) {
  int64_t index = 0;
  for (Axis a : axes)
    index = index * grid.size(a) + coord.of(a);
  return index;
}

bool contains(const std::vector<Axis> &axes, Axis a) {
  return std::find(axes.begin(), axes.end(), a) != axes.end();
}
} // namespace

std::vector<Axis> splitAxes(const ParamSpec &spec) {
  std::vector<Axis> axes = spec.flat;
  for (const std::vector<Axis> &d : spec.dims)
    axes.insert(axes.end(), d.begin(), d.end());
  return axes;
}

int64_t tensorReplicas(const ParamSpec &spec, const GridShape &grid) {
  std::vector<Axis> split = splitAxes(spec);
  int64_t replicas = 1;
  for (Axis a : {Axis::X, Axis::Y, Axis::Z})
    if (!contains(split, a))
      replicas *= grid.size(a);
  return replicas;
}

std::vector<Axis> gradientReduceAxes(const ParamSpec &spec, const GridShape &grid) {
  std::vector<Axis> split = splitAxes(spec), axes;
  for (Axis a : {Axis::Z, Axis::Data})
    if (!contains(split, a) && grid.size(a) > 1)
      axes.push_back(a);
  return axes;
}

void forEachShardElement(const ParamSpec &spec, const GridShape &grid,
                         const GridCoord &coord,
                         const std::function<void(int64_t, int64_t)> &f) {
  size_t rank = spec.shape.size();
  std::vector<int64_t> block(rank), offset(rank);
  int64_t blockElements = 1;
  for (size_t d = 0; d < rank; ++d) {
    std::vector<Axis> axes = d < spec.dims.size() ? spec.dims[d] : std::vector<Axis>{};
    int64_t group = groupSize(grid, axes);
    block[d] = (spec.shape[d] + group - 1) / group;
    offset[d] = indexIn(grid, coord, axes) * block[d];
    blockElements *= block[d];
  }
  int64_t flatGroup = groupSize(grid, spec.flat);
  int64_t count = blockElements / flatGroup;
  int64_t first = indexIn(grid, coord, spec.flat) * count;
  std::vector<int64_t> at(rank);
  for (int64_t local = 0; local < count; ++local) {
    // Block-relative coordinates of this element, then global ones.
    int64_t rest = first + local, global = 0;
    bool real = true;
    for (size_t d = rank; d-- > 0;) {
      at[d] = offset[d] + rest % block[d];
      rest /= block[d];
      real &= at[d] < spec.shape[d];
    }
    if (!real)
      continue;
    for (size_t d = 0; d < rank; ++d)
      global = global * spec.shape[d] + at[d];
    f(local, global);
  }
}

Tensor shardOf(const ParamSpec &spec, const Tensor &global, const GridShape &grid,
               const GridCoord &coord) {
  if (spec.dims.empty() && spec.flat.empty()) {
    Tensor copy(global.dtype(), global.shape());
    std::memcpy(copy.data(), global.data(), global.numBytes());
    return copy;
  }
  Tensor local(DType::F32, spec.localShape);
  const float *in = global.as<float>();
  float *out = local.as<float>();
  forEachShardElement(spec, grid, coord, [&](int64_t l, int64_t g) { out[l] = in[g]; });
  return local;
}

Tensor gatherGlobal(const ParamSpec &spec, const Tensor &local, Collectives &comm) {
  Tensor global(DType::F32, spec.shape);
  std::vector<Axis> axes;
  for (Axis a : splitAxes(spec))
    if (comm.shape().size(a) > 1)
      axes.push_back(a);
  if (axes.empty()) {
    std::memcpy(global.data(), local.data(), global.numBytes());
    return global;
  }
  std::sort(axes.begin(), axes.end());
  std::vector<int64_t> members = groupOf(comm.shape(), comm.rank(), axes);
  int64_t count = local.numElements();
  std::vector<float> all(count * members.size());
  comm.allGather(local.as<float>(), count, all.data(), axes);
  float *out = global.as<float>();
  for (size_t i = 0; i < members.size(); ++i) {
    const float *shard = all.data() + i * count;
    forEachShardElement(spec, comm.shape(), coordOf(comm.shape(), members[i]),
                        [&](int64_t l, int64_t g) { out[g] = shard[l]; });
  }
  return global;
}

namespace {
std::string systemError(const std::string &path, const char *what) {
  return path + ": cannot " + what + " (" + std::strerror(errno) + ")";
}

/// Writes all of `bytes` at `offset` of the open file.
void writeAt(int fd, const std::string &path, const void *bytes, uint64_t size,
             uint64_t offset) {
  auto *p = static_cast<const char *>(bytes);
  while (size > 0) {
    ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      throw Error(systemError(path, "write the checkpoint"));
    p += n;
    size -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}
} // namespace

void writeShardedCheckpoint(const std::string &path,
                            const std::vector<CheckpointTensor> &tensors,
                            const std::map<std::string, std::string> &metadata,
                            Collectives &comm) {
  std::map<std::string, TensorInfo> infos;
  for (const CheckpointTensor &t : tensors)
    infos[t.name] = {t.local->dtype(), t.spec ? t.spec->shape : t.local->shape()};
  SafetensorsLayout layout = planSafetensors(infos, metadata);
  std::string temporary = path + ".tetra-partial";
  const GridShape &grid = comm.shape();
  GridCoord me = comm.coord();
  if (comm.rank() == 0) {
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
      throw Error(systemError(temporary, "create"));
    writeAt(fd, temporary, layout.head.data(), layout.head.size(), 0);
    if (::ftruncate(fd, static_cast<off_t>(layout.size)) != 0 || ::close(fd) != 0)
      throw Error(systemError(temporary, "size"));
  }
  comm.barrier();
  int fd = ::open(temporary.c_str(), O_WRONLY);
  if (fd < 0)
    throw Error(systemError(temporary, "open"));
  int64_t index = 0;
  for (const CheckpointTensor &t : tensors) {
    ++index;
    if (!t.spec) { // the same everywhere: rank 0 writes it
      if (comm.rank() == 0)
        writeAt(fd, temporary, t.local->data(), t.local->numBytes(), layout.offset.at(t.name));
      continue;
    }
    std::vector<Axis> split = splitAxes(*t.spec);
    // Ranks outside the split hold copies: only the copy at coordinate 0
    // of every other axis takes part, and within it one rank per tensor,
    // taking turns.
    bool copyZero = true;
    for (Axis a : {Axis::X, Axis::Y, Axis::Z, Axis::Data})
      if (std::find(split.begin(), split.end(), a) == split.end())
        copyZero &= me.of(a) == 0;
    if (!copyZero)
      continue;
    Tensor global = gatherGlobal(*t.spec, *t.local, comm);
    std::vector<Axis> axes;
    for (Axis a : split)
      if (grid.size(a) > 1)
        axes.push_back(a);
    std::sort(axes.begin(), axes.end());
    std::vector<int64_t> members = groupOf(grid, comm.rank(), axes);
    if (members[index % members.size()] == comm.rank())
      writeAt(fd, temporary, global.data(), global.numBytes(), layout.offset.at(t.name));
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw Error(systemError(temporary, "sync"));
  comm.barrier();
  if (comm.rank() == 0 && std::rename(temporary.c_str(), path.c_str()) != 0)
    throw Error(systemError(path, "rename the finished checkpoint to"));
}

} // namespace tetra::rt
