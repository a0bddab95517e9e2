//===- Parameters.cpp - a model's parameters: initialised or loaded -------===//
#include "tetra/runtime/Parameters.h"
#include "tetra/runtime/Error.h"
#include "tetra/runtime/Safetensors.h"

#include <functional>
#include <random>

namespace tetra::rt {

std::map<std::string, Tensor> initParameters(const Manifest &manifest, uint64_t seed) {
  std::map<std::string, Tensor> params;
  for (const ParamSpec &spec : manifest.params) {
    Tensor t(DType::F32, spec.shape);
    float *data = t.as<float>();
    std::mt19937_64 rng(seed ^ std::hash<std::string>{}(spec.name));
    std::normal_distribution<double> normal(0.0, spec.std > 0 ? spec.std : 1.0);
    for (int64_t i = 0; i < t.numElements(); ++i) {
      double v = 0;
      if (spec.init == "normal") {
        v = normal(rng);
      } else if (spec.init == "trunc_normal") {
        do
          v = normal(rng);
        while (std::abs(v) > 3 * spec.std);
      } else if (spec.init == "ones") {
        v = 1;
      } else if (spec.init != "zeros") {
        throw Error("parameter " + spec.name + " has unknown initialiser '" + spec.init + "'");
      }
      data[i] = static_cast<float>(v);
    }
    params.emplace(spec.name, std::move(t));
  }
  return params;
}

std::map<std::string, Tensor> loadParameters(const Manifest &manifest,
                                             const std::string &path) {
  std::map<std::string, Tensor> file = readSafetensors(path);
  std::map<std::string, Tensor> params;
  for (const ParamSpec &spec : manifest.params) {
    auto it = file.find(spec.name);
    if (it == file.end())
      throw Error(path + ": checkpoint has no parameter " + spec.name);
    if (it->second.shape() != spec.shape || it->second.dtype() != DType::F32)
      throw Error(path + ": parameter " + spec.name + " is " +
                  dtypeName(it->second.dtype()) + it->second.shapeString() +
                  ", the model expects f32" + Tensor(DType::F32, spec.shape).shapeString());
    params.emplace(spec.name, std::move(it->second));
  }
  return params;
}

} // namespace tetra::rt
