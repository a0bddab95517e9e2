//===- Calibrate.cpp - machine parameters from the runtime's traces --------===//
#include "tetra/CostModel/Calibrate.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cmath>

namespace json = llvm::json;

namespace mlir::tetra::cost {

static llvm::Error fail(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Expected<std::vector<TraceEvent>> readTrace(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return fail("cannot read " + path + ": " + buffer.getError().message());
  llvm::Expected<json::Value> parsed = json::parse((*buffer)->getBuffer());
  if (!parsed)
    return fail(path + ": not a trace (" + llvm::toString(parsed.takeError()) + ")");
  const json::Object *root = parsed->getAsObject();
  const json::Array *list = root ? root->getArray("traceEvents") : nullptr;
  if (!list)
    return fail(path + ": no traceEvents (write traces with tetra-run --trace DIR)");
  std::map<int64_t, std::string> lanes;
  for (const json::Value &v : *list)
    if (const json::Object *e = v.getAsObject())
      if (e->getString("ph") == std::optional<llvm::StringRef>("M") &&
          e->getString("name") == std::optional<llvm::StringRef>("thread_name"))
        if (const json::Object *args = e->getObject("args"))
          lanes[e->getInteger("tid").value_or(0)] = args->getString("name").value_or("").str();
  std::vector<TraceEvent> events;
  for (const json::Value &v : *list) {
    const json::Object *e = v.getAsObject();
    if (!e || e->getString("ph") != std::optional<llvm::StringRef>("X"))
      continue;
    TraceEvent t;
    t.lane = lanes[e->getInteger("tid").value_or(0)];
    t.name = e->getString("name").value_or("").str();
    t.begin = e->getNumber("ts").value_or(0) * 1e-6;
    t.seconds = e->getNumber("dur").value_or(0) * 1e-6;
    if (const json::Object *args = e->getObject("args"))
      for (const auto &kv : *args)
        if (std::optional<double> n = kv.second.getAsNumber())
          t.args[kv.first.str()] = *n;
    events.push_back(std::move(t));
  }
  return events;
}

namespace {

double arg(const TraceEvent &e, const char *key) {
  auto it = e.args.find(key);
  return it == e.args.end() ? 0 : it->second;
}

/// Time of `name` events on the compute lane inside [begin, end].
double inside(const std::vector<TraceEvent> &events, const std::string &name, double begin,
              double end) {
  double t = 0;
  for (const TraceEvent &e : events)
    if (e.lane == "compute" && e.name == name && e.begin >= begin &&
        e.begin + e.seconds <= end + 1e-9)
      t += e.seconds;
  return t;
}

} // namespace

llvm::Expected<Calibration> calibrate(const std::vector<std::vector<TraceEvent>> &traces) {
  Calibration c;
  // GEMMs by size class: half a decade of FLOPs.
  std::map<int, std::pair<double, double>> classes; // class -> (flops, seconds)
  double entryBytes = 0, entrySeconds = 0;
  struct Sample {
    double latencySteps, busBytes, seconds;
  };
  std::vector<Sample> samples;
  for (const std::vector<TraceEvent> &events : traces) {
    for (const TraceEvent &e : events) {
      if (e.lane == "compute" && e.name == "gemm" && e.seconds > 0) {
        double flops = 2 * arg(e, "m") * arg(e, "n") * arg(e, "k");
        auto &[f, s] = classes[static_cast<int>(std::floor(2 * std::log10(flops)))];
        f += flops;
        s += e.seconds;
        ++c.gemms;
      } else if (e.lane == "compute" && arg(e, "work_bytes") > 0) {
        double end = e.begin + e.seconds;
        double outside = e.seconds - inside(events, "gemm", e.begin, end) -
                         inside(events, "wait", e.begin, end);
        if (outside > 0) {
          entryBytes += arg(e, "work_bytes");
          entrySeconds += outside;
          ++c.entries;
        }
      } else if (e.lane != "compute" && arg(e, "bytes") > 0 && arg(e, "ranks") > 1 &&
                 e.seconds > 0) {
        double n = arg(e, "ranks"), bytes = arg(e, "bytes");
        bool reduce = llvm::StringRef(e.name).contains("all_reduce") ||
                      llvm::StringRef(e.name).contains("all-reduce");
        double k = reduce ? 2 : 1; // an all-reduce is a reduce-scatter and an all-gather
        samples.push_back({k * (n - 1), k * (n - 1) / n * bytes, e.seconds});
      }
    }
  }
  if (classes.empty())
    return fail("the traces hold no GEMM (run tetra-run with --trace DIR on this machine)");
  if (entrySeconds <= 0)
    return fail("the traces hold no entry launch with a work count (compile the artifact "
                "with this tetra-compile)");
  for (const auto &[cls, fs] : classes)
    c.peakFlops = std::max(c.peakFlops, fs.first / fs.second);
  for (const auto &[cls, fs] : classes)
    c.efficiency.push_back({std::pow(10.0, (cls + 0.5) / 2), fs.first / fs.second / c.peakFlops});
  c.memoryBandwidth = entryBytes / entrySeconds;

  // t = alpha * steps + beta * bus bytes, least squares of the relative error.
  c.collectives = samples.size();
  if (!samples.empty()) {
    double saa = 0, sab = 0, sbb = 0, sa = 0, sb = 0;
    for (const Sample &s : samples) {
      double a = s.latencySteps / s.seconds, b = s.busBytes / s.seconds;
      saa += a * a, sab += a * b, sbb += b * b, sa += a, sb += b;
    }
    double det = saa * sbb - sab * sab;
    double alpha = det != 0 ? (sa * sbb - sb * sab) / det : 0;
    double beta = det != 0 ? (saa * sb - sab * sa) / det : 0;
    if (alpha < 0 || beta <= 0) { // latency-free fit
      alpha = 0;
      beta = sb / sbb;
    }
    c.latency = alpha;
    c.busBandwidth = 1 / beta;
  }
  return c;
}

json::Object applyCalibration(json::Object m, const Calibration &c, const std::string &from) {
  std::string source = "measured by tetra-calibrate from " + from;
  // The matrix peak of the storage dtype (f32 on CPUs).
  std::string dtype = m.getString("storage_dtype").value_or("f32") == "bf16" ? "bf16" : "fp32";
  json::Object peaks;
  if (const json::Object *old = m.getObject("peak_matrix_tflops"))
    peaks = *old;
  peaks[dtype] = c.peakFlops / 1e12;
  m["peak_matrix_tflops"] = std::move(peaks);
  m["peak_matrix_tflops_source"] =
      llvm::formatv("{0}: the fastest size class of {1} GEMMs", source, c.gemms).str();
  json::Array points;
  for (const EfficiencyPoint &p : c.efficiency)
    points.push_back(json::Object{{"flops", p.flops}, {"efficiency", p.efficiency}});
  m["gemm_efficiency"] = std::move(points);
  m["gemm_efficiency_source"] =
      llvm::formatv("{0}: rate of each half-decade of GEMM FLOPs over the peak", source).str();
  m["hbm_tbps"] = c.memoryBandwidth / 1e12;
  m["hbm_tbps_source"] = llvm::formatv("{0}: the compiler's counted bytes of {1} entry "
                                       "launches over their time outside GEMMs and waits",
                                       source, c.entries)
                             .str();
  m["memory_efficiency"] = 1.0;
  m["memory_efficiency_source"] = "the calibrated bandwidth is what the kernels reach";
  if (c.collectives) {
    m["intra_node_bus_gbps"] = json::Array{json::Object{
        {"span", json::Array{1, nullptr}}, {"group", json::Array{2, nullptr}},
        {"gbps", c.busBandwidth / 1e9}}};
    m["intra_node_bus_gbps_source"] =
        llvm::formatv("{0}: alpha-beta fit to {1} collectives", source, c.collectives).str();
    json::Object latency;
    if (const json::Object *old = m.getObject("latency_us"))
      latency = *old;
    latency["intra_node"] = c.latency * 1e6;
    m["latency_us"] = std::move(latency);
    m["latency_us_source"] =
        llvm::formatv("{0}: alpha-beta fit to {1} collectives (inter_node kept)", source,
                      c.collectives)
            .str();
  }
  return m;
}

} // namespace mlir::tetra::cost
