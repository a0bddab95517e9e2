//===- Plan.cpp - the artifact's plan.json, read for execution -------------===//
#include "tetra/runtime/Plan.h"
#include "tetra/runtime/Error.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>

namespace tetra::rt {
namespace json = llvm::json;

namespace {
std::vector<PlanStep> readSteps(const json::Array &list, const std::string &path) {
  static const char *known[] = {"zero", "repeat", "load_batch", "launch",
                                "accumulate", "scale", "reduce_gradients",
                                "clip_norm"};
  std::vector<PlanStep> steps;
  for (const json::Value &v : list) {
    const json::Object *o = v.getAsObject();
    if (!o || !o->getString("op"))
      throw Error(path + ": every plan op must be an object with an \"op\" name");
    PlanStep s;
    s.op = o->getString("op")->str();
    if (std::find(std::begin(known), std::end(known), s.op) == std::end(known))
      throw Error(path + ": unknown plan op '" + s.op + "'");
    s.count = o->getInteger("count").value_or(0);
    if (const json::Array *body = o->getArray("body"))
      s.body = readSteps(*body, path);
    s.entry = o->getString("entry").value_or("").str();
    if (const json::Object *bind = o->getObject("bind"))
      for (const auto &[role, set] : *bind)
        s.bind[role.str()] = set.getAsString().value_or("").str();
    s.buffers = o->getString("buffers").value_or("").str();
    s.like = o->getString("like").value_or("").str();
    s.from = o->getString("from").value_or("").str();
    s.into = o->getString("into").value_or("").str();
    s.factor = o->getNumber("factor").value_or(1.0);
    if (s.op == "repeat" && s.count < 1)
      throw Error(path + ": plan op 'repeat' needs a positive count");
    if (s.op == "launch" && s.entry.empty())
      throw Error(path + ": plan op 'launch' needs an entry");
    steps.push_back(std::move(s));
  }
  return steps;
}
} // namespace

Plan readPlan(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    throw Error(path + ": cannot read the plan (" + buffer.getError().message() + ")");
  llvm::Expected<json::Value> parsed = json::parse((*buffer)->getBuffer());
  if (!parsed)
    throw Error(path + ": malformed JSON: " + llvm::toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root || root->getString("format") != "tetra-plan")
    throw Error(path + ": not a tetra plan");
  int64_t version = root->getInteger("version").value_or(0);
  if (version != kPlanVersion)
    throw Error(path + ": plan version " + std::to_string(version) +
                " is not supported by this runtime (it reads version " +
                std::to_string(kPlanVersion) + "); recompile with tetra-compile");
  const json::Array *ops = root->getArray("ops");
  if (!ops)
    throw Error(path + ": the plan has no ops");
  return Plan{root->getString("name").value_or("").str(), readSteps(*ops, path)};
}

} // namespace tetra::rt
