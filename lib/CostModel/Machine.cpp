//===- Machine.cpp - reading machine descriptions -------------------------===//
#include "tetra/CostModel/Machine.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstdlib>

namespace json = llvm::json;
using llvm::StringRef;

namespace mlir::tetra::cost {

std::optional<double> lookupBandwidth(const BandwidthTable &table, int64_t span,
                                      int64_t group) {
  for (const BandwidthRow &row : table)
    if (span >= row.spanMin && span <= row.spanMax && group >= row.groupMin &&
        group <= row.groupMax)
      return row.bytesPerSecond;
  return std::nullopt;
}

double Machine::gemmEfficiencyAt(double flops) const {
  if (gemmEfficiency.empty())
    return 1.0;
  if (flops <= gemmEfficiency.front().flops)
    return gemmEfficiency.front().efficiency;
  for (size_t i = 1; i < gemmEfficiency.size(); ++i) {
    const EfficiencyPoint &lo = gemmEfficiency[i - 1], &hi = gemmEfficiency[i];
    if (flops <= hi.flops) {
      double t = std::log(flops / lo.flops) / std::log(hi.flops / lo.flops);
      return lo.efficiency + t * (hi.efficiency - lo.efficiency);
    }
  }
  return gemmEfficiency.back().efficiency;
}

namespace {

/// Reads one machine file's keys, remembering the first problem.
class Reader {
public:
  Reader(const json::Object &root, StringRef path) : root_(root), path_(path) {}

  llvm::Error error(StringRef key, const llvm::Twine &what) const {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path_ + ": key '" + key + "' " + what);
  }

  llvm::Expected<double> number(StringRef key, bool positive = true) const {
    std::optional<double> v = root_.getNumber(key);
    if (!v)
      return error(key, root_.get(key) ? "must be a number" : "is missing");
    if (positive ? *v <= 0 : *v < 0)
      return error(key, positive ? "must be positive" : "must not be negative");
    return *v;
  }

  llvm::Expected<double> member(StringRef key, StringRef name) const {
    const json::Object *o = root_.getObject(key);
    if (!o)
      return error(key, root_.get(key) ? "must be an object" : "is missing");
    std::optional<double> v = o->getNumber(name);
    if (!v || *v < 0)
      return error(key, "needs a non-negative number '" + name + "'");
    return *v;
  }

  llvm::Expected<BandwidthTable> table(StringRef key) const {
    const json::Array *rows = root_.getArray(key);
    if (!rows)
      return error(key, root_.get(key) ? "must be an array" : "is missing");
    BandwidthTable table;
    for (const json::Value &v : *rows) {
      const json::Object *row = v.getAsObject();
      const json::Array *span = row ? row->getArray("span") : nullptr;
      const json::Array *group = row ? row->getArray("group") : nullptr;
      std::optional<double> gbps = row ? row->getNumber("gbps") : std::nullopt;
      if (!span || !group || span->size() != 2 || group->size() != 2 || !gbps || *gbps <= 0)
        return error(key, "rows must be {\"span\": [lo, hi], \"group\": [lo, hi], "
                          "\"gbps\": positive} (hi may be null)");
      auto bound = [](const json::Value &b, int64_t open) {
        std::optional<int64_t> i = b.getAsInteger();
        return i ? *i : open;
      };
      table.push_back({bound((*span)[0], 1), bound((*span)[1], INT64_MAX),
                       bound((*group)[0], 1), bound((*group)[1], INT64_MAX), *gbps * 1e9});
    }
    return table;
  }

private:
  const json::Object &root_;
  StringRef path_;
};

} // namespace

llvm::Expected<Machine> parseMachine(StringRef text, StringRef path) {
  llvm::Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": not valid JSON: " +
                                       llvm::toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": a machine file is a JSON object");
  Reader r(*root, path);
  if (root->getString("format") != std::optional<StringRef>("tetra-machine") ||
      root->getInteger("version") != std::optional<int64_t>(1))
    return r.error("format", "must be \"tetra-machine\" with \"version\": 1");

  // Every number is documented: KEY needs KEY_source beside it.
  static const llvm::StringSet<> plain{"format", "version", "name", "description", "device",
                                       "codegen", "chip"};
  for (const auto &kv : *root) {
    StringRef key = kv.first;
    if (plain.contains(key) || key.ends_with("_source"))
      continue;
    std::optional<StringRef> source = root->getString((key + "_source").str());
    if (!source || source->trim().empty())
      return r.error(key, "has no '" + key + "_source' saying where its numbers come from");
  }

  Machine m;
  m.name = root->getString("name").value_or("").str();
  m.device = root->getString("device").value_or("").str();
  m.codegen = root->getString("codegen").value_or("cpu").str();
  m.chip = root->getString("chip").value_or("").str();
  if (m.codegen != "cpu" && m.codegen != "nvvm" && m.codegen != "rocdl")
    return r.error("codegen", "must be \"cpu\", \"nvvm\" or \"rocdl\"");
  if (m.codegen != "cpu" && m.chip.empty())
    return r.error("chip", "names the GPU to generate kernels for (sm_90a, gfx90a, ...)");
  auto fail = [](llvm::Error e) -> llvm::Expected<Machine> { return std::move(e); };
#define READ(target, expr)                                                                     \
  if (auto v = (expr))                                                                         \
    target = *v;                                                                               \
  else                                                                                         \
    return fail(v.takeError());
  double devices = 0;
  READ(devices, r.number("devices_per_node"));
  m.devicesPerNode = static_cast<int64_t>(devices);
  StringRef dtype = root->getString("storage_dtype").value_or("");
  if (dtype != "bf16" && dtype != "f32" && dtype != "fp32")
    return r.error("storage_dtype", "must be \"bf16\" or \"f32\"");
  m.storageBytes = dtype == "bf16" ? 2 : 4;
  StringRef rateKey = dtype == "bf16" ? "bf16" : "fp32";
  READ(m.peakMatrix, r.member("peak_matrix_tflops", rateKey));
  READ(m.peakVector, r.member("peak_vector_tflops", rateKey));
  m.peakMatrix *= 1e12;
  m.peakVector *= 1e12;
  if (m.peakMatrix <= 0 || m.peakVector <= 0)
    return r.error("peak_matrix_tflops", "and peak_vector_tflops must be positive");
  const json::Array *eff = root->getArray("gemm_efficiency");
  if (!eff || eff->empty())
    return r.error("gemm_efficiency", "must be a non-empty array of {flops, efficiency}");
  for (const json::Value &v : *eff) {
    const json::Object *p = v.getAsObject();
    std::optional<double> f = p ? p->getNumber("flops") : std::nullopt;
    std::optional<double> e = p ? p->getNumber("efficiency") : std::nullopt;
    if (!f || !e || *f <= 0 || *e <= 0 || *e > 1 ||
        (!m.gemmEfficiency.empty() && *f <= m.gemmEfficiency.back().flops))
      return r.error("gemm_efficiency", "points need flops > 0 (increasing) and 0 < "
                                        "efficiency <= 1");
    m.gemmEfficiency.push_back({*f, *e});
  }
  READ(m.memoryBytes, r.number("hbm_gib"));
  m.memoryBytes *= 1024.0 * 1024.0 * 1024.0;
  READ(m.memoryBandwidth, r.number("hbm_tbps"));
  m.memoryBandwidth *= 1e12;
  READ(m.memoryEfficiency, r.number("memory_efficiency"));
  READ(m.launchSeconds, r.number("kernel_launch_us", /*positive=*/false));
  m.launchSeconds *= 1e-6;
  StringRef attention = root->getString("attention").value_or("");
  if (attention != "materialised" && attention != "fused")
    return r.error("attention", "must be \"materialised\" (scores written to memory) or "
                                "\"fused\" (kept on chip)");
  m.attentionMaterialised = attention == "materialised";
  if (auto t = r.table("intra_node_bus_gbps"))
    m.intraNode = std::move(*t);
  else
    return fail(t.takeError());
  READ(m.nicBytesPerSecondPerNode, r.number("nic_gbps_per_node"));
  m.nicBytesPerSecondPerNode *= 1e9;
  READ(m.latencyIntra, r.member("latency_us", "intra_node"));
  READ(m.latencyInter, r.member("latency_us", "inter_node"));
  m.latencyIntra *= 1e-6;
  m.latencyInter *= 1e-6;
  if (root->get("reference_bus_gbps")) {
    if (auto t = r.table("reference_bus_gbps"))
      m.reference = std::move(*t);
    else
      return fail(t.takeError());
  }
#undef READ
  return m;
}

std::string machinesDirectory() {
  if (const char *dir = std::getenv("TETRA_MACHINES"))
    return dir;
  return TETRA_MACHINES_DIR;
}

llvm::Expected<Machine> loadMachine(StringRef nameOrPath, std::string *resolved) {
  std::string path = nameOrPath.str();
  // A folder of that name (an artifact called "cpu", say) is not a machine file.
  if (!llvm::sys::fs::is_regular_file(path) && !nameOrPath.contains('/') &&
      !nameOrPath.ends_with(".json")) {
    llvm::SmallString<256> named(machinesDirectory());
    llvm::sys::path::append(named, nameOrPath + ".json");
    if (!llvm::sys::fs::exists(named))
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "unknown machine '" + nameOrPath +
              "' (a machine file, or one of frontier, alps, perlmutter, cpu in " +
              machinesDirectory() + ")");
    path = named.str().str();
  }
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot read machine file " + path + ": " +
                                       buffer.getError().message());
  if (resolved)
    *resolved = path;
  return parseMachine((*buffer)->getBuffer(), path);
}

} // namespace mlir::tetra::cost
