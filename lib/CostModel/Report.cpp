//===- Report.cpp - the search's results as text, JSON and a trace --------===//
#include "tetra/CostModel/Report.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>

namespace json = llvm::json;

namespace mlir::tetra::cost {

namespace {

std::string gib(double bytes) { return llvm::formatv("{0:f1}", bytes / (1u << 30)).str(); }

std::string seconds(double s) {
  if (s >= 1)
    return llvm::formatv("{0:f3} s", s).str();
  if (s >= 1e-3)
    return llvm::formatv("{0:f2} ms", s * 1e3).str();
  return llvm::formatv("{0:f1} us", s * 1e6).str();
}

/// The exposed communication of each group, "x 1.2 ms, data 30 ms".
std::string exposedList(const Prediction &p) {
  std::string text;
  for (const auto &[axes, s] : p.exposed)
    if (s > 0)
      text += (text.empty() ? "" : ", ") + axes + " " + seconds(s);
  return text.empty() ? "none" : text;
}

double communicationTotal(const Prediction &p) {
  double t = 0;
  for (const auto &[axes, s] : p.communication)
    t += s;
  return t;
}

/// The reason's kind, for counting rejections.
std::string reasonKind(Rejection r) {
  switch (r) {
  case Rejection::DoesNotFit:
    return "do not fit in memory";
  case Rejection::DoesNotDivide:
    return "do not divide";
  default:
    return "cannot be built";
  }
}

} // namespace

std::string explainWinner(const std::vector<Prediction> &ranked) {
  if (ranked.empty() || !ranked.front().rejected.empty())
    return "no configuration fits: " +
           (ranked.empty() ? std::string("nothing to try") : ranked.front().rejected);
  const Prediction &w = ranked.front();
  std::string text = w.config.grid.str() + " with overlap " + w.config.overlap +
                     (w.config.recompute ? " and recomputation" : "") + " wins";
  const Prediction *other = nullptr;
  for (const Prediction &p : ranked)
    if (p.rejected.empty() && !(p.config.grid.sizes == w.config.grid.sizes))
      if (!other)
        other = &p;
  if (other) {
    double gain = other->stepSeconds / w.stepSeconds - 1;
    double dCompute = other->computeSeconds - w.computeSeconds;
    double dExposed = other->exposedTotal() - w.exposedTotal();
    text += llvm::formatv(": {0:f1}% faster than the next grid, {1}", 100 * gain,
                          other->config.grid.str())
                .str();
    if (dExposed >= dCompute) {
      // Name the group that costs the runner-up the most.
      std::string worst;
      double worstGap = 0;
      for (const auto &[axes, s] : other->exposed) {
        double mine = w.exposed.count(axes) ? w.exposed.at(axes) : 0;
        if (s - mine > worstGap) {
          worstGap = s - mine;
          worst = axes;
        }
      }
      text += ", which waits " + seconds(dExposed) + " longer for communication" +
              (worst.empty() ? "" : " (most on " + worst + ")");
    } else {
      text += ", whose kernels take " + seconds(dCompute) +
              " longer (smaller or more numerous shards)";
    }
  } else {
    text += ": it is the only grid that runs";
  }
  double comm = communicationTotal(w);
  if (comm > 0)
    text += llvm::formatv("; {0:f0}% of its {1} of communication is hidden behind compute",
                          100 * (1 - w.exposedTotal() / comm), seconds(comm))
                .str();
  text += "; it uses " + gib(w.memory.total(w.config.recompute)) + " GiB per device";
  return text + ".";
}

void printReport(llvm::raw_ostream &os, const ReportContext &ctx,
                 const std::vector<Prediction> &ranked, size_t top) {
  const Machine &m = *ctx.machine;
  os << llvm::formatv("cost model: {0} ({1} layers, hidden {2}, {3:f2}B parameters) on {4} x "
                      "{5} ({6}), global batch {7} x {8} tokens, micro-batch {9}\n",
                      ctx.modelName, ctx.model.layers, ctx.model.hidden,
                      ctx.model.parameters / 1e9, ctx.options.grid ? ctx.options.grid->devices()
                                                                   : ctx.options.devices,
                      m.device, m.name, ctx.options.globalBatch, ctx.options.seqLen,
                      ctx.options.microBatch ? ctx.options.microBatch : ctx.options.globalBatch);
  std::map<std::string, int> rejected;
  size_t feasible = 0;
  for (const Prediction &p : ranked)
    p.rejected.empty() ? ++feasible : ++rejected[reasonKind(p.rejection)];
  os << llvm::formatv("{0} configurations predicted in {1:f2} s: {2} run", ranked.size(),
                      ctx.searchSeconds, feasible);
  for (const auto &[kind, n] : rejected)
    os << ", " << n << " " << kind;
  os << "\n\n";
  os << llvm::formatv("{0,-4} {1,-14} {2,-9} {3,-9} {4,12} {5,12} {6,-34} {7,10} {8,6}\n", "rank",
                      "grid", "overlap", "recompute", "step", "compute", "exposed communication",
                      "GiB/device", "MFU");
  size_t shown = 0;
  for (const Prediction &p : ranked) {
    if (!p.rejected.empty() || shown == top)
      break;
    ++shown;
    os << llvm::formatv("{0,-4} {1,-14} {2,-9} {3,-9} {4,12} {5,12} {6,-34} {7,10} {8,5:f1}%\n",
                        shown, p.config.grid.str(), p.config.overlap,
                        p.config.recompute ? "yes" : "no", seconds(p.stepSeconds),
                        seconds(p.computeSeconds), exposedList(p),
                        gib(p.memory.total(p.config.recompute)), 100 * p.mfu);
  }
  if (feasible) {
    const Prediction &w = ranked.front();
    os << llvm::formatv("\nwinner {0}: memory per device {1} GiB = parameters {2} + gradients "
                        "{3} + optimizer {4} + activations {5}{6}; model FLOPs per step {7:e3}, "
                        "predicted MFU {8:f1}%\n",
                        w.config.str(), gib(w.memory.total(w.config.recompute)),
                        gib(w.memory.parameters), gib(w.memory.gradients),
                        gib(w.memory.optimizer),
                        gib(w.config.recompute ? w.memory.activationsRecomputed
                                               : w.memory.activations),
                        w.config.recompute ? " (recomputed)" : "", w.modelFlops, 100 * w.mfu);
  }
  // The first rejection of each kind, so that a user sees the reason.
  std::map<std::string, const Prediction *> example;
  for (const Prediction &p : ranked)
    if (!p.rejected.empty())
      example.emplace(reasonKind(p.rejection), &p);
  for (const auto &[kind, p] : example)
    os << "rejected, e.g. " << p->config.str() << ": " << p->rejected << "\n";
  os << "why: " << explainWinner(ranked) << "\n";
}

json::Object predictionJson(const Prediction &p) {
  json::Object exposed, comm;
  for (const auto &[k, v] : p.exposed)
    exposed[k] = v;
  for (const auto &[k, v] : p.communication)
    comm[k] = v;
  json::Object o{{"grid", p.config.grid.str()},
                 {"x", p.config.grid.x()},
                 {"y", p.config.grid.y()},
                 {"z", p.config.grid.z()},
                 {"data", p.config.grid.data()},
                 {"overlap", p.config.overlap},
                 {"recompute", p.config.recompute},
                 {"feasible", p.rejected.empty()}};
  if (!p.rejected.empty()) {
    o["rejected"] = p.rejected;
    return o;
  }
  o["step_s"] = p.stepSeconds;
  o["compute_s"] = p.computeSeconds;
  o["exposed_communication_s"] = std::move(exposed);
  o["communication_s"] = std::move(comm);
  o["memory_bytes"] = json::Object{
      {"parameters", p.memory.parameters},
      {"gradients", p.memory.gradients},
      {"optimizer", p.memory.optimizer},
      {"activations", p.config.recompute ? p.memory.activationsRecomputed : p.memory.activations},
      {"total", p.memory.total(p.config.recompute)}};
  o["model_flops"] = p.modelFlops;
  o["mfu"] = p.mfu;
  o["layers_simulated"] = p.layersSimulated;
  return o;
}

json::Value reportJson(const ReportContext &ctx, const std::vector<Prediction> &ranked) {
  json::Array configs;
  for (const Prediction &p : ranked)
    configs.push_back(predictionJson(p));
  json::Object report{{"format", "tetra-cost-report"},
                      {"version", 1},
                      {"machine", ctx.machine->name},
                      {"device", ctx.machine->device},
                      {"devices", ctx.options.grid ? ctx.options.grid->devices()
                                                   : ctx.options.devices},
                      {"model", json::Object{{"name", ctx.modelName},
                                             {"layers", ctx.model.layers},
                                             {"hidden", ctx.model.hidden},
                                             {"vocab", ctx.model.vocab},
                                             {"parameters", ctx.model.parameters}}},
                      {"global_batch", ctx.options.globalBatch},
                      {"seq_len", ctx.options.seqLen},
                      {"search_s", ctx.searchSeconds},
                      {"configurations", std::move(configs)},
                      {"explanation", explainWinner(ranked)}};
  if (!ranked.empty() && ranked.front().rejected.empty())
    report["winner"] = predictionJson(ranked.front());
  return report;
}

llvm::Error writeJsonFile(llvm::StringRef path, const json::Value &value) {
  if (llvm::Error err = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
        os << llvm::formatv("{0:2}", value) << "\n";
        return llvm::Error::success();
      }))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot write " + path + ": " + llvm::toString(std::move(err)));
  return llvm::Error::success();
}

json::Value timelineTrace(const Prediction &p, const std::string &label) {
  return ::tetra::rt::chromeTrace(label, p.timeline);
}

} // namespace mlir::tetra::cost
