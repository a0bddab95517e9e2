//===- Bf16WeightCopies.cpp - kernels read bf16 copies of the weights ------===//
//
// Mixed precision keeps fp32 master weights, which AdamW updates, and lets
// the forward and backward read bf16 copies of them: half the bytes every
// micro-batch reads per weight, and both operands of a product bf16, which
// the GPU GEMM copies to shared memory without registers. The products'
// kernels rounded the fp32 weights to bf16 as they staged them, so they
// compute the same sums as before; the norms and the embedding's lookup now
// read rounded weights too. A weight sharded over the grid is gathered as
// its bf16 copy, half the bytes on the wire. One new entry, @round_params,
// makes the copies from the masters; the runtime runs it whenever the
// masters have changed before an entry reads the copies.
//
//===----------------------------------------------------------------------===//
#include "Bf16Storage.h"
#include "LinalgBuilders.h"
#include "tetra/Conversion/Passes.h"
#include "tetra/TetraOps.h"
#include "tetra/Transforms/EntryRoles.h"

#include "llvm/ADT/MapVector.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_BF16WEIGHTCOPIES
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kCopiesEntry = "round_params";
constexpr llvm::StringLiteral kCopyRole = "param_bf16";

StringAttr roleOf(func::FuncOp func, unsigned i) {
  return func.getArgAttrOfType<StringAttr>(i, tetra::kRoleAttr);
}

bool writesParameters(func::FuncOp func) {
  for (unsigned i = 0; i < func.getNumResults(); ++i)
    if (auto role = func.getResultAttrOfType<StringAttr>(i, tetra::kRoleAttr);
        role && role.getValue() == "param")
      return true;
  return false;
}

/// Argument `i` of `func`, a parameter whose readers all widen it, made
/// its bf16 copy. Returns the parameter's fp32 type (null when it is not one).
RankedTensorType readCopy(OpBuilder &b, func::FuncOp func, unsigned i) {
  StringAttr role = roleOf(func, i);
  auto type = llvm::dyn_cast<RankedTensorType>(func.getArgument(i).getType());
  if (!role || role.getValue() != "param" || !type || !type.hasStaticShape() ||
      !type.getElementType().isF32() ||
      !tetra::onlyWideningReaders(func.getArgument(i), /*throughGathers=*/true))
    return {};
  func.getArgument(i).setType(tetra::withBf16(type));
  tetra::widenReaders(b, func.getArgument(i));
  func.setArgAttr(i, tetra::kRoleAttr, b.getStringAttr(kCopyRole));
  return type;
}

/// @round_params: each parameter in `copied` (fp32, role param) rounded to
/// nearest-even bf16 (role param_bf16), one pointwise loop each.
void buildCopiesEntry(OpBuilder &b, ModuleOp module,
                      const llvm::MapVector<StringAttr, RankedTensorType> &copied) {
  Location loc = module.getLoc();
  SmallVector<Type> inputs, results;
  for (const auto &[name, type] : copied) {
    inputs.push_back(type);
    results.push_back(tetra::withBf16(type));
  }
  b.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(b, loc, kCopiesEntry, b.getFunctionType(inputs, results));
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  SmallVector<Value> copies;
  for (auto [i, entry] : llvm::enumerate(copied)) {
    auto [name, type] = entry;
    func.setArgAttr(i, tetra::kRoleAttr, b.getStringAttr("param"));
    func.setArgAttr(i, tetra::kNameAttr, name);
    func.setResultAttr(i, tetra::kRoleAttr, b.getStringAttr(kCopyRole));
    func.setResultAttr(i, tetra::kNameAttr, name);
    auto copyType = llvm::cast<RankedTensorType>(results[i]);
    AffineMap id = tetra::identity(b.getContext(), type.getRank());
    copies.push_back(tetra::generic(
        b, loc, copyType, body->getArgument(i), tetra::empty(b, loc, copyType), {id, id},
        tetra::parallel(type.getRank()), [](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(nb, l,
                                  ValueRange{arith::TruncFOp::create(nb, l, nb.getBF16Type(), args[0])});
        }));
  }
  func::ReturnOp::create(b, loc, copies);
}

struct Bf16WeightCopiesPass : tetra::impl::Bf16WeightCopiesBase<Bf16WeightCopiesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (module.lookupSymbol(kCopiesEntry)) {
      module.emitError() << "the module already has a function @" << kCopiesEntry;
      return signalPassFailure();
    }
    OpBuilder b(&getContext());
    // Parameter name -> fp32 type, in the order the entries first read them.
    llvm::MapVector<StringAttr, RankedTensorType> copied;
    for (auto func : module.getOps<func::FuncOp>()) {
      // An entry that writes the masters (the update) reads them as they are.
      if (func.isExternal() || writesParameters(func))
        continue;
      bool changed = false;
      for (unsigned i = 0; i < func.getNumArguments(); ++i) {
        RankedTensorType type = readCopy(b, func, i);
        if (!type)
          continue;
        changed = true;
        auto name = func.getArgAttrOfType<StringAttr>(i, tetra::kNameAttr);
        if (!name) {
          func.emitError() << "parameter argument " << i << " has no " << tetra::kNameAttr;
          return signalPassFailure();
        }
        auto [it, inserted] = copied.insert({name, type});
        if (!inserted && it->second != type) {
          func.emitError() << "parameter " << name << " is " << type << " here and "
                           << it->second << " in another entry";
          return signalPassFailure();
        }
      }
      if (changed)
        func.setType(b.getFunctionType(func.front().getArgumentTypes(), func.getResultTypes()));
    }
    if (!copied.empty())
      buildCopiesEntry(b, module, copied);
  }
};

} // namespace
