//===- PlanJson.cpp - sched plans as the artifact's plan.json --------------===//
//
// {"format": "tetra-plan", "version": 1, "name": "train_step", "ops": [
//   {"op": "zero", "buffers": "grad_sum", "like": "param"},
//   {"op": "repeat", "count": 2, "body": [...]},
//   {"op": "load_batch"}, {"op": "launch", "entry": "grad", "bind": {...}},
//   {"op": "accumulate", "from": "grad", "into": "grad_sum"},
//   {"op": "scale", "buffers": "grad_sum", "factor": 0.5},
//   {"op": "clip_norm", "buffers": "grad_sum"}]}
//
//===----------------------------------------------------------------------===//
#include "tetra/Target/PlanJson.h"
#include "tetra/Registration.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
namespace json = llvm::json;

static json::Array opsToJson(Block &block) {
  json::Array ops;
  for (Operation &op : block) {
    json::Object o;
    if (auto repeat = llvm::dyn_cast<sched::RepeatOp>(op)) {
      o = json::Object{{"op", "repeat"},
           {"count", repeat.getCountAttr().getInt()},
           {"body", opsToJson(repeat.getBody().front())}};
    } else if (llvm::isa<sched::LoadBatchOp>(op)) {
      o = json::Object{{"op", "load_batch"}};
    } else if (auto launch = llvm::dyn_cast<sched::LaunchOp>(op)) {
      o = json::Object{{"op", "launch"}, {"entry", launch.getEntry().str()}};
      if (std::optional<DictionaryAttr> bind = launch.getBind()) {
        json::Object b;
        for (NamedAttribute n : *bind)
          b[n.getName().str()] = llvm::cast<StringAttr>(n.getValue()).str();
        o["bind"] = std::move(b);
      }
    } else if (auto zero = llvm::dyn_cast<sched::ZeroOp>(op)) {
      o = json::Object{{"op", "zero"}, {"buffers", zero.getBuffers().str()}, {"like", zero.getLike().str()}};
    } else if (auto acc = llvm::dyn_cast<sched::AccumulateOp>(op)) {
      o = json::Object{{"op", "accumulate"}, {"from", acc.getFrom().str()}, {"into", acc.getInto().str()}};
    } else if (auto scale = llvm::dyn_cast<sched::ScaleOp>(op)) {
      o = json::Object{{"op", "scale"},
           {"buffers", scale.getBuffers().str()},
           {"factor", scale.getFactor().convertToDouble()}};
    } else if (auto reduce = llvm::dyn_cast<sched::ReduceGradientsOp>(op)) {
      o = json::Object{{"op", "reduce_gradients"}, {"buffers", reduce.getBuffers().str()}};
    } else if (auto clip = llvm::dyn_cast<sched::ClipNormOp>(op)) {
      o = json::Object{{"op", "clip_norm"}, {"buffers", clip.getBuffers().str()}};
    }
    ops.push_back(std::move(o));
  }
  return ops;
}

std::string tetra::planToJson(sched::PlanOp plan) {
  json::Object root{{"format", "tetra-plan"},
                    {"version", plan.getVersionAttr().getInt()},
                    {"name", plan.getSymName().str()},
                    {"ops", opsToJson(plan.getBody().front())}};
  std::string text;
  llvm::raw_string_ostream(text) << llvm::formatv("{0:2}", json::Value(std::move(root)))
                                 << "\n";
  return text;
}

namespace {
/// Builds sched ops from JSON, reporting the first problem at `loc`.
struct PlanReader {
  OpBuilder &b;
  Location loc;

  LogicalResult fail(const Twine &message) { return emitError(loc) << message; }

  LogicalResult string(const json::Object &o, StringRef key, StringRef op, StringRef &out) {
    std::optional<StringRef> s = o.getString(key);
    if (!s || s->empty())
      return fail("plan op '" + op + "' needs a string '" + key + "'");
    out = *s;
    return success();
  }

  LogicalResult ops(const json::Array &list) {
    for (const json::Value &v : list) {
      const json::Object *o = v.getAsObject();
      std::optional<StringRef> kind = o ? o->getString("op") : std::nullopt;
      if (!kind)
        return fail("every plan op must be an object with an \"op\" name");
      StringRef a, c;
      if (*kind == "repeat") {
        std::optional<int64_t> count = o->getInteger("count");
        const json::Array *body = o->getArray("body");
        if (!count || !body)
          return fail("plan op 'repeat' needs an integer 'count' and a 'body'");
        auto repeat = sched::RepeatOp::create(b, loc, b.getI64IntegerAttr(*count));
        OpBuilder::InsertionGuard guard(b);
        b.createBlock(&repeat.getBody());
        if (failed(ops(*body)))
          return failure();
      } else if (*kind == "load_batch") {
        sched::LoadBatchOp::create(b, loc);
      } else if (*kind == "launch") {
        if (failed(string(*o, "entry", *kind, a)))
          return failure();
        DictionaryAttr bind;
        if (const json::Object *m = o->getObject("bind")) {
          SmallVector<NamedAttribute> entries;
          for (const auto &[role, set] : *m) {
            std::optional<StringRef> name = set.getAsString();
            if (!name)
              return fail("plan op 'launch' binds role '" + role.str() + "' to a non-string");
            entries.push_back(b.getNamedAttr(role.str(), b.getStringAttr(*name)));
          }
          bind = b.getDictionaryAttr(entries);
        }
        sched::LaunchOp::create(b, loc, FlatSymbolRefAttr::get(b.getContext(), a), bind);
      } else if (*kind == "zero") {
        if (failed(string(*o, "buffers", *kind, a)) || failed(string(*o, "like", *kind, c)))
          return failure();
        sched::ZeroOp::create(b, loc, a, c);
      } else if (*kind == "accumulate") {
        if (failed(string(*o, "from", *kind, a)) || failed(string(*o, "into", *kind, c)))
          return failure();
        sched::AccumulateOp::create(b, loc, a, c);
      } else if (*kind == "scale") {
        std::optional<double> factor = o->getNumber("factor");
        if (failed(string(*o, "buffers", *kind, a)) || !factor)
          return fail("plan op 'scale' needs 'buffers' and a number 'factor'");
        sched::ScaleOp::create(b, loc, b.getStringAttr(a), b.getF64FloatAttr(*factor));
      } else if (*kind == "reduce_gradients") {
        if (failed(string(*o, "buffers", *kind, a)))
          return failure();
        sched::ReduceGradientsOp::create(b, loc, a);
      } else if (*kind == "clip_norm") {
        if (failed(string(*o, "buffers", *kind, a)))
          return failure();
        sched::ClipNormOp::create(b, loc, a);
      } else {
        return fail("unknown plan op '" + *kind + "'");
      }
    }
    return success();
  }
};
} // namespace

OwningOpRef<ModuleOp> tetra::planFromJson(llvm::SourceMgr &sourceMgr, MLIRContext *context) {
  context->loadDialect<sched::SchedDialect>();
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  Location loc = FileLineColLoc::get(context, buffer->getBufferIdentifier(), 1, 1);
  llvm::Expected<json::Value> parsed = json::parse(buffer->getBuffer());
  if (!parsed) {
    emitError(loc) << "malformed JSON: " << llvm::toString(parsed.takeError());
    return {};
  }
  const json::Object *root = parsed->getAsObject();
  if (!root || root->getString("format") != "tetra-plan") {
    emitError(loc) << "not a tetra plan (its \"format\" must be \"tetra-plan\")";
    return {};
  }
  int64_t version = root->getInteger("version").value_or(0);
  if (version != sched::kPlanVersion) {
    emitError(loc) << "plan version " << version << " is not supported (this build reads "
                   << sched::kPlanVersion << ")";
    return {};
  }
  const json::Array *ops = root->getArray("ops");
  if (!ops) {
    emitError(loc) << "the plan has no \"ops\"";
    return {};
  }
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b(context);
  b.setInsertionPointToEnd(module->getBody());
  auto plan = sched::PlanOp::create(
      b, loc, b.getStringAttr(root->getString("name").value_or("plan")),
      b.getI64IntegerAttr(version));
  b.createBlock(&plan.getBody());
  PlanReader reader{b, loc};
  if (failed(reader.ops(*ops)) || failed(verify(*module)))
    return {};
  return module;
}

void tetra::registerPlanTranslations() {
  TranslateToMLIRRegistration importPlan(
      "import-plan", "read an artifact's plan.json as sched IR",
      [](llvm::SourceMgr &sourceMgr, MLIRContext *context) {
        return planFromJson(sourceMgr, context);
      },
      [](DialectRegistry &registry) { registry.insert<sched::SchedDialect>(); });
  TranslateFromMLIRRegistration exportPlan(
      "export-plan", "write sched IR as plan.json",
      [](Operation *op, raw_ostream &os) -> LogicalResult {
        sched::PlanOp plan;
        op->walk([&](sched::PlanOp p) { plan = p; });
        if (!plan)
          return op->emitError("no sched.plan to export");
        os << planToJson(plan);
        return success();
      },
      [](DialectRegistry &registry) { registry.insert<sched::SchedDialect>(); });
}
