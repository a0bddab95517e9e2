//===- Parameters.h - a model's parameters: initialised or loaded ---------===//
#ifndef TETRA_RUNTIME_PARAMETERS_H
#define TETRA_RUNTIME_PARAMETERS_H

#include "tetra/runtime/Artifact.h"

#include <map>
#include <string>

namespace tetra::rt {

/// Fresh parameters from the manifest's initialisers. Each parameter draws
/// from its own generator seeded by (seed, name), so adding a parameter does
/// not change the others.
std::map<std::string, Tensor> initParameters(const Manifest &manifest, uint64_t seed);

/// Parameters from a safetensors checkpoint (e.g. one PyTorch wrote under the
/// Hugging Face names). Throws Error naming the file and the parameter when
/// one is missing or has another shape.
std::map<std::string, Tensor> loadParameters(const Manifest &manifest,
                                             const std::string &path);

} // namespace tetra::rt

#endif // TETRA_RUNTIME_PARAMETERS_H
