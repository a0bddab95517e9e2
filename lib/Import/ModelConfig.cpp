//===- ModelConfig.cpp - read a Hugging Face config.json -------------------===//
//
// One reader per model_type maps that family's keys onto ModelConfig. Every
// problem becomes one ConfigError that names the key and, where the key is in
// the file, its line.
//
//===----------------------------------------------------------------------===//
#include "tetra/Import/ModelConfig.h"
#include "tetra/Support/NumberFormat.h"

#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Regex.h"
#include <cmath>

using namespace mlir::tetra;
using llvm::StringRef;
namespace json = llvm::json;

llvm::StringRef mlir::tetra::supportedModelTypes() {
  return "llama, mistral, qwen2, gemma, gpt2, gpt_neox, huginn_raven, abacus";
}

namespace {

std::string num(double value) { return numberToString(value); }

/// Typed access to the keys of one JSON object, recording the first error.
class ConfigReader {
public:
  ConfigReader(const json::Object &object, StringRef text, ConfigError &error)
      : object(object), text(text), error(error) {}

  bool failed() const { return hasError; }

  /// Records an error about `key` (located at the key in the file, if there).
  void fail(StringRef key, const llvm::Twine &message) {
    if (hasError)
      return;
    hasError = true;
    locate(key);
    error.message = message.str();
  }

  bool has(StringRef key) const {
    const json::Value *v = object.get(key);
    return v && v->kind() != json::Value::Null;
  }

  int64_t integer(StringRef key) {
    if (!has(key)) {
      fail(key, "missing required key '" + key + "'");
      return 0;
    }
    return integerOr(key, 0);
  }

  int64_t integerOr(StringRef key, int64_t fallback) {
    if (!has(key))
      return fallback;
    const json::Value *v = object.get(key);
    if (std::optional<int64_t> i = v->getAsInteger())
      return *i;
    fail(key, "key '" + key + "' must be an integer, got " + describe(*v));
    return fallback;
  }

  int64_t positive(StringRef key) { return requirePositive(key, integer(key)); }

  int64_t positiveOr(StringRef key, int64_t fallback) {
    return requirePositive(key, integerOr(key, fallback));
  }

  double numberOr(StringRef key, double fallback) {
    if (!has(key))
      return fallback;
    const json::Value *v = object.get(key);
    if (std::optional<double> d = v->getAsNumber())
      return *d;
    fail(key, "key '" + key + "' must be a number, got " + describe(*v));
    return fallback;
  }

  double positiveNumberOr(StringRef key, double fallback) {
    double value = numberOr(key, fallback);
    if (!hasError && !(value > 0.0 && std::isfinite(value)))
      fail(key, "key '" + key + "' must be a positive number, got " +
                    num(value));
    return value;
  }

  bool booleanOr(StringRef key, bool fallback) {
    if (!has(key))
      return fallback;
    const json::Value *v = object.get(key);
    if (std::optional<bool> b = v->getAsBoolean())
      return *b;
    fail(key, "key '" + key + "' must be true or false, got " + describe(*v));
    return fallback;
  }

  std::string stringOr(StringRef key, StringRef fallback) {
    if (!has(key))
      return fallback.str();
    const json::Value *v = object.get(key);
    if (std::optional<StringRef> s = v->getAsString())
      return s->str();
    fail(key, "key '" + key + "' must be a string, got " + describe(*v));
    return fallback.str();
  }

  /// A nested object (`init_values`), or null when absent.
  const json::Object *objectOr(StringRef key) {
    if (!has(key))
      return nullptr;
    const json::Object *o = object.get(key)->getAsObject();
    if (!o)
      fail(key, "key '" + key + "' must be an object, got " +
                    describe(*object.get(key)));
    return o;
  }

private:
  int64_t requirePositive(StringRef key, int64_t value) {
    if (!hasError && value <= 0)
      fail(key, "key '" + key + "' must be positive, got " + llvm::Twine(value));
    return value;
  }

  static std::string describe(const json::Value &v) {
    switch (v.kind()) {
    case json::Value::Null:
      return "null";
    case json::Value::Boolean:
      return "a boolean";
    case json::Value::Number:
      return "the number " + llvm::formatv("{0}", v).str();
    case json::Value::String:
      return "the string " + llvm::formatv("{0}", v).str();
    case json::Value::Array:
      return "an array";
    case json::Value::Object:
      return "an object";
    }
    return "a value";
  }

  /// Points the error at the first `"key"` followed by `:` in the file.
  void locate(StringRef key) {
    std::string quoted = ("\"" + key + "\"").str();
    size_t pos = 0;
    while ((pos = text.find(quoted, pos)) != StringRef::npos) {
      StringRef rest = text.drop_front(pos + quoted.size()).ltrim();
      if (rest.starts_with(":"))
        break;
      pos += quoted.size();
    }
    if (pos == StringRef::npos)
      return;
    StringRef before = text.take_front(pos);
    error.line = 1 + before.count('\n');
    size_t lineStart = before.rfind('\n');
    error.column = 1 + (lineStart == StringRef::npos ? pos : pos - lineStart - 1);
  }

  const json::Object &object;
  StringRef text;
  ConfigError &error;
  bool hasError = false;
};

Activation activationFrom(ConfigReader &r, StringRef key, StringRef name) {
  if (name == "silu" || name == "swish")
    return Activation::Silu;
  if (name == "gelu")
    return Activation::Gelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast" ||
      name == "gelu_approximate")
    return Activation::GeluTanh;
  r.fail(key, "key '" + key + "' names unsupported activation '" + name +
                  "' (supported: silu, gelu, gelu_new, gelu_pytorch_tanh)");
  return Activation::Silu;
}

/// The sizes every family but gpt2 and huginn_raven spells the same way.
void readStandardSizes(ConfigReader &r, ModelConfig &c) {
  c.vocab = r.positive("vocab_size");
  c.hidden = r.positive("hidden_size");
  c.layers = r.positive("num_hidden_layers");
  c.heads = r.positive("num_attention_heads");
  c.kvHeads = r.positiveOr("num_key_value_heads", c.heads);
  c.intermediate = r.positive("intermediate_size");
  c.context = r.positive("max_position_embeddings");
}

/// llama, mistral, qwen2 and gemma share their keys and parameter names.
void readLlamaFamily(ConfigReader &r, ModelConfig &c) {
  readStandardSizes(r, c);
  c.normEps = r.positiveNumberOr("rms_norm_eps", 1e-6);
  c.ropeTheta = r.positiveNumberOr("rope_theta", 10000.0);
  c.initStd = r.positiveNumberOr("initializer_range", 0.02);
  c.norm = NormKind::RMS;
  c.positions = PositionKind::Rotary;
  c.mlp = MlpKind::Gated;
  c.qkv = QkvStorage::Separate;
  bool attentionBias = r.booleanOr("attention_bias", false);
  c.qkvBias = attentionBias;
  c.outBias = attentionBias;
  c.mlpBias = r.booleanOr("mlp_bias", false);
  if (r.has("head_dim"))
    c.headDim = r.positive("head_dim");
  std::string act = r.stringOr("hidden_act", "silu");
  StringRef actKey = "hidden_act";
  if (c.family == "gemma") {
    // Gemma: (1 + w) norms, embeddings scaled by sqrt(hidden), GeGLU, tied.
    c.normUnitOffset = true;
    c.embeddingScale = std::sqrt(static_cast<double>(c.hidden));
    c.tiedEmbeddings = true;
    if (r.has("hidden_activation")) {
      actKey = "hidden_activation";
      act = r.stringOr("hidden_activation", "gelu_pytorch_tanh");
    } else {
      act = "gelu_pytorch_tanh";
    }
  } else {
    c.tiedEmbeddings = r.booleanOr("tie_word_embeddings", false);
  }
  c.activation = activationFrom(r, actKey, act);
  if (c.family == "qwen2") {
    c.qkvBias = true;
    if (r.booleanOr("use_sliding_window", false) && r.has("sliding_window"))
      c.slidingWindow = r.positive("sliding_window");
  }
  if (c.family == "mistral" && r.has("sliding_window"))
    c.slidingWindow = r.positive("sliding_window");
  if (r.has("rope_scaling"))
    c.warnings.push_back("key 'rope_scaling' is not applied: rotary "
                         "frequencies use rope_theta alone");
}

void readGpt2(ConfigReader &r, ModelConfig &c) {
  c.vocab = r.positive("vocab_size");
  c.hidden = r.positive("n_embd");
  c.layers = r.positive("n_layer");
  c.heads = r.positive("n_head");
  c.kvHeads = c.heads;
  c.context = r.positive("n_positions");
  c.intermediate = r.positiveOr("n_inner", 4 * c.hidden);
  c.normEps = r.positiveNumberOr("layer_norm_epsilon", 1e-5);
  c.initStd = r.positiveNumberOr("initializer_range", 0.02);
  c.activation = activationFrom(r, "activation_function",
                                r.stringOr("activation_function", "gelu_new"));
  c.norm = NormKind::Layer;
  c.normBias = true;
  c.positions = PositionKind::Learned;
  c.mlp = MlpKind::Plain;
  c.qkv = QkvStorage::FusedInOut;
  c.qkvBias = c.outBias = c.mlpBias = true;
  c.tiedEmbeddings = true;
}

void readGptNeox(ConfigReader &r, ModelConfig &c) {
  readStandardSizes(r, c);
  c.kvHeads = c.heads;
  c.normEps = r.positiveNumberOr("layer_norm_eps", 1e-5);
  c.ropeTheta = r.positiveNumberOr("rotary_emb_base", 10000.0);
  c.rotaryFraction = r.positiveNumberOr("rotary_pct", 0.25);
  if (!r.failed() && c.rotaryFraction > 1.0)
    r.fail("rotary_pct", "key 'rotary_pct' must be in (0, 1], got " +
                             num(c.rotaryFraction));
  c.initStd = r.positiveNumberOr("initializer_range", 0.02);
  c.activation = activationFrom(r, "hidden_act", r.stringOr("hidden_act", "gelu"));
  c.parallelResidual = r.booleanOr("use_parallel_residual", true);
  c.tiedEmbeddings = r.booleanOr("tie_word_embeddings", false);
  bool bias = r.booleanOr("attention_bias", true);
  c.norm = NormKind::Layer;
  c.normBias = true;
  c.positions = PositionKind::Rotary;
  c.mlp = MlpKind::Plain;
  c.qkv = QkvStorage::FusedPerHead;
  c.qkvBias = c.outBias = bias;
  c.mlpBias = true;
}

/// Recurrent-depth models in the published checkpoint's own format.
void readHuginn(ConfigReader &r, ModelConfig &c) {
  c.hidden = r.positive("n_embd");
  c.heads = r.has("num_attention_heads") ? r.positive("num_attention_heads")
                                         : r.positive("n_heads");
  c.kvHeads = r.positiveOr("num_key_value_heads", c.heads);
  c.intermediate = r.positive("intermediate_size");
  c.vocab = r.has("padded_vocab_size") ? r.positive("padded_vocab_size")
                                       : r.positive("vocab_size");
  c.context = r.positive("block_size");
  c.normEps = r.positiveNumberOr("norm_eps", 1e-6);
  c.ropeTheta = r.positiveNumberOr("rope_base", 50000.0);
  c.qkBias = r.booleanOr("qk_bias", true);
  c.tiedEmbeddings = r.booleanOr("tie_embeddings", true);
  if (r.booleanOr("bias", false))
    r.fail("bias", "key 'bias' = true (biases in every linear layer) is not "
                   "supported for huginn_raven");
  std::string injection = r.stringOr("injection_type", "linear");
  if (injection != "linear")
    r.fail("injection_type", "key 'injection_type' = '" + injection +
                                 "' is not supported (supported: linear)");
  RecurrentDepthConfig rd;
  rd.preludeLayers = r.positive("n_layers_in_prelude");
  rd.coreLayers = r.positive("n_layers_in_recurrent_block");
  rd.codaLayers = r.positive("n_layers_in_coda");
  rd.meanRecurrence = r.positive("mean_recurrence");
  rd.backpropDepth = r.positiveOr("mean_backprop_depth", 8);
  c.layers = rd.preludeLayers + rd.coreLayers + rd.codaLayers;
  c.embeddingScale = std::sqrt(static_cast<double>(c.hidden));
  c.initStd = std::sqrt(2.0 / (5.0 * static_cast<double>(c.hidden)));
  if (const json::Object *init = r.objectOr("init_values")) {
    for (auto [key, slot] : {std::pair<StringRef, double *>{"embed_scale",
                                                            &c.embeddingScale},
                             {"std", &c.initStd}}) {
      const json::Value *v = init->get(key);
      if (!v)
        continue;
      std::optional<double> number = v->getAsNumber();
      if (!number || !(*number > 0.0))
        r.fail(key, "key 'init_values." + key + "' must be a positive number");
      else
        *slot = *number;
    }
  }
  c.norm = NormKind::RMS;
  c.sandwichNorm = true;
  c.positions = PositionKind::Rotary;
  c.rotaryInterleaved = true; // complex-number RoPE: adjacent pairs
  c.mlp = MlpKind::Gated;
  c.activation = Activation::Silu;
  c.qkv = QkvStorage::FusedContiguous;
  c.recurrentDepth = rd;
}

/// Abacus arithmetic models (Tetra's own format, see docs/importer.md).
void readAbacus(ConfigReader &r, ModelConfig &c) {
  readStandardSizes(r, c);
  c.kvHeads = c.heads;
  c.normEps = r.positiveNumberOr("layer_norm_eps", 1e-5);
  c.initStd = r.positiveNumberOr("initializer_range", 0.02);
  c.tiedEmbeddings = r.booleanOr("tie_word_embeddings", false);
  c.activation = activationFrom(r, "hidden_act", r.stringOr("hidden_act", "gelu"));
  AbacusConfig ab;
  ab.firstDigit = r.integer("first_digit_id");
  ab.lastDigit = r.integer("last_digit_id");
  ab.maxDigits = r.positive("max_digits");
  ab.maxOffset = r.integerOr("max_abacus_offset", 100);
  ab.recurrence = r.positiveOr("num_recurrences", 16);
  if (!r.failed() && (ab.firstDigit < 0 || ab.lastDigit < ab.firstDigit ||
                      ab.lastDigit >= c.vocab))
    r.fail("last_digit_id", "digit ids first_digit_id..last_digit_id (" +
                                llvm::Twine(ab.firstDigit) + ".." +
                                llvm::Twine(ab.lastDigit) +
                                ") must be a range inside the vocabulary of " +
                                llvm::Twine(c.vocab));
  if (!r.failed() && ab.maxOffset < 0)
    r.fail("max_abacus_offset", "key 'max_abacus_offset' must be non-negative");
  c.norm = NormKind::Layer;
  c.normBias = true;
  c.positions = PositionKind::None;
  c.mlp = MlpKind::Plain;
  c.qkv = QkvStorage::Separate;
  c.abacus = ab;
}

/// Checks that hold for every family.
void checkConsistency(ConfigReader &r, ModelConfig &c) {
  if (r.failed())
    return;
  if (c.headDim == 0) {
    if (c.hidden % c.heads != 0) {
      r.fail("num_attention_heads",
             "num_attention_heads (" + llvm::Twine(c.heads) +
                 ") does not divide the hidden size (" + llvm::Twine(c.hidden) +
                 ") and no head_dim is given");
      return;
    }
    c.headDim = c.hidden / c.heads;
  }
  if (c.heads % c.kvHeads != 0) {
    r.fail("num_key_value_heads",
           "num_key_value_heads (" + llvm::Twine(c.kvHeads) +
               ") must divide num_attention_heads (" + llvm::Twine(c.heads) + ")");
    return;
  }
  if (c.positions == PositionKind::Rotary) {
    double rotated = c.rotaryFraction * static_cast<double>(c.headDim);
    int64_t dims = static_cast<int64_t>(std::llround(rotated));
    if (std::fabs(rotated - static_cast<double>(dims)) > 1e-9 || dims % 2 ||
        dims == 0)
      r.fail("rotary_pct", "rotary fraction " + num(c.rotaryFraction) +
                               " of head_dim " + llvm::Twine(c.headDim) +
                               " is not a positive even number of channels");
  }
}

} // namespace

std::optional<ModelConfig> mlir::tetra::parseModelConfig(StringRef text,
                                                         ConfigError &error) {
  llvm::Expected<json::Value> parsed = json::parse(text);
  if (!parsed) {
    std::string message = llvm::toString(parsed.takeError());
    // llvm::json reports "[line:column, byte=N]: what".
    llvm::SmallVector<StringRef> m;
    if (llvm::Regex("^\\[([0-9]+):([0-9]+), byte=[0-9]+\\]: (.*)$")
            .match(message, &m)) {
      m[1].getAsInteger(10, error.line);
      m[2].getAsInteger(10, error.column);
      error.message = "malformed JSON: " + m[3].str();
    } else {
      error.message = "malformed JSON: " + message;
    }
    return std::nullopt;
  }
  const json::Object *object = parsed->getAsObject();
  if (!object) {
    error.message = "the config must be a JSON object";
    return std::nullopt;
  }
  ConfigReader reader(*object, text, error);
  ModelConfig config;
  if (!reader.has("model_type")) {
    reader.fail("model_type", "missing required key 'model_type' (supported: " +
                                  supportedModelTypes() + ")");
    return std::nullopt;
  }
  config.family = reader.stringOr("model_type", "");
  if (reader.failed())
    return std::nullopt;
  StringRef family = config.family;
  if (family == "llama" || family == "mistral" || family == "qwen2" ||
      family == "gemma")
    readLlamaFamily(reader, config);
  else if (family == "gpt2")
    readGpt2(reader, config);
  else if (family == "gpt_neox")
    readGptNeox(reader, config);
  else if (family == "huginn_raven")
    readHuginn(reader, config);
  else if (family == "abacus")
    readAbacus(reader, config);
  else
    reader.fail("model_type", "unknown model_type '" + family +
                                  "' (supported: " + supportedModelTypes() + ")");
  checkConsistency(reader, config);
  if (reader.failed())
    return std::nullopt;
  return config;
}
