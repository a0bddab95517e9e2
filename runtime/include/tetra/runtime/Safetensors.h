//===- Safetensors.h - reading and writing .safetensors checkpoints -------===//
#ifndef TETRA_RUNTIME_SAFETENSORS_H
#define TETRA_RUNTIME_SAFETENSORS_H

#include "tetra/runtime/Tensor.h"

#include <map>
#include <string>

namespace tetra::rt {

/// Reads every tensor of a safetensors file as f32 (F32, BF16 and F16 are
/// converted; I32/I64 stay integers). Throws Error naming the file and tensor
/// on a malformed file.
std::map<std::string, Tensor> readSafetensors(const std::string &path);

/// The bytes of a safetensors file before its data (8-byte header length and
/// the JSON header) and where each tensor's data starts in the file; tensors
/// are laid out in name order.
struct SafetensorsLayout {
  std::string head;
  std::map<std::string, uint64_t> offset;
  uint64_t size = 0;
};
struct TensorInfo {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};
SafetensorsLayout planSafetensors(const std::map<std::string, TensorInfo> &tensors,
                                  const std::map<std::string, std::string> &metadata);

/// Writes `tensors` (f32/i32/i64) to `path` through a temporary file and a
/// rename, so an existing file is never left half-written.
void writeSafetensors(const std::string &path,
                      const std::map<std::string, Tensor> &tensors,
                      const std::map<std::string, std::string> &metadata = {});

} // namespace tetra::rt

#endif // TETRA_RUNTIME_SAFETENSORS_H
