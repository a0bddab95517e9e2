//===- ModelConfig.h - a model's architecture, read from config.json -------===//
//
// One family-neutral description of the architectures Tetra imports. Each
// family's reader (ModelConfig.cpp) fills it from that family's Hugging Face
// keys; the builder (ModelBuilder.cpp) emits tetra IR from it.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_IMPORT_MODELCONFIG_H
#define TETRA_IMPORT_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir::tetra {

enum class NormKind { RMS, Layer };
enum class PositionKind { Rotary, Learned, None };
enum class MlpKind { Gated, Plain };
enum class Activation { Silu, Gelu, GeluTanh };
/// How the checkpoint stores the attention projections.
enum class QkvStorage {
  Separate,        // q_proj, k_proj, v_proj
  FusedInOut,      // GPT-2 c_attn: [H, 3H], q|k|v contiguous, stored [in, out]
  FusedPerHead,    // GPT-NeoX query_key_value: rows grouped [heads, 3, head_dim]
  FusedContiguous, // recurrent depth Wqkv: [q; k; v] rows
};

/// Recurrent-depth models: prelude, a core iterated r times, coda.
struct RecurrentDepthConfig {
  int64_t preludeLayers = 0, coreLayers = 0, codaLayers = 0;
  int64_t meanRecurrence = 0, backpropDepth = 0;
};

/// Abacus models: digit positions plus a looped block with additive injection.
struct AbacusConfig {
  int64_t firstDigit = 0, lastDigit = 0;
  int64_t maxDigits = 0, maxOffset = 0;
  int64_t recurrence = 0;
};

struct ModelConfig {
  std::string family; // model_type
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0,
          headDim = 0, intermediate = 0, context = 0;

  NormKind norm = NormKind::RMS;
  double normEps = 1e-6;
  bool normUnitOffset = false; // Gemma: scale by (1 + w)
  bool normBias = false;       // LayerNorm with a shift

  PositionKind positions = PositionKind::Rotary;
  double ropeTheta = 10000.0;
  double rotaryFraction = 1.0;
  bool rotaryInterleaved = false;

  MlpKind mlp = MlpKind::Gated;
  Activation activation = Activation::Silu;

  QkvStorage qkv = QkvStorage::Separate;
  bool qkvBias = false, outBias = false, mlpBias = false;
  bool qkBias = false; // a learned [2, 1, heads, head_dim] bias before RoPE
  bool tiedEmbeddings = false;
  double embeddingScale = 0.0; // 0: none
  std::optional<int64_t> slidingWindow;
  bool parallelResidual = false;
  bool sandwichNorm = false; // four norms per block (recurrent depth)
  double initStd = 0.02;

  std::optional<RecurrentDepthConfig> recurrentDepth;
  std::optional<AbacusConfig> abacus;

  /// Warnings about keys that were read but are not modelled exactly.
  std::vector<std::string> warnings;
};

/// Where in the config file a problem is, and what it is.
struct ConfigError {
  unsigned line = 1, column = 1;
  std::string message;
};

/// The model types the importer reads.
llvm::StringRef supportedModelTypes();

/// Reads a Hugging Face `config.json` (text). On failure returns nothing and
/// fills `error` with a message naming the offending key.
std::optional<ModelConfig> parseModelConfig(llvm::StringRef text,
                                            ConfigError &error);

} // namespace mlir::tetra

#endif // TETRA_IMPORT_MODELCONFIG_H
