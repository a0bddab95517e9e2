//===- Bf16Activations.cpp - bf16 storage between fused groups ------------===//
//
// Mixed precision on GPUs: the tensors one fused group writes and others
// read are stored as bf16, halving their memory and traffic, while every
// group computes in fp32 (it widens what it reads and rounds what it
// writes) and sums accumulate in fp32 outputs. The parameters stay fp32
// masters (the products read bf16 copies of theirs: Bf16WeightCopies.cpp).
// Flash-attention kernels read bf16 inputs and round the outputs they
// store (attention's result, its gradients) where only groups read them.
//
//===----------------------------------------------------------------------===//
#include "Bf16Storage.h"
#include "tetra/Conversion/GemmMatch.h"
#include "tetra/Conversion/Passes.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::tetra {
#define GEN_PASS_DEF_BF16ACTIVATIONS
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;
using tetra::isReshape;
using tetra::onlyWideningReaders;
using tetra::widenArgument;
using tetra::widenReaders;
using tetra::withBf16;

namespace {

/// Whether every use of `buffer` (a bufferization.to_buffer) is a query,
/// key, value or output gradient of a flash-attention kernel, which reads
/// bf16 as well as fp32.
bool onlyFlashInputs(Value buffer) {
  return llvm::all_of(buffer.getUses(), [](OpOperand &use) {
    Operation *user = use.getOwner();
    if (auto forward = llvm::dyn_cast<tetra::FlashAttentionOp>(user))
      return use.get() == forward.getQuery() || use.get() == forward.getKey() ||
             use.get() == forward.getValue();
    if (auto grad = llvm::dyn_cast<tetra::FlashAttentionGradOp>(user))
      return use.get() == grad.getQuery() || use.get() == grad.getKey() ||
             use.get() == grad.getValue() || use.get() == grad.getGrad();
    return false;
  });
}

} // namespace

namespace mlir::tetra {

bool onlyWideningReaders(Value v, bool throughGathers) {
  for (OpOperand &use : v.getUses()) {
    Operation *user = use.getOwner();
    if (llvm::isa<tensor::ExtractOp>(user))
      continue;
    if (isReshape(user) || (throughGathers && llvm::isa<tetra::AllGatherOp>(user))) {
      if (!onlyWideningReaders(user->getResult(0), throughGathers))
        return false;
      continue;
    }
    if (auto start = llvm::dyn_cast<tetra::AllGatherStartOp>(user); start && throughGathers) {
      for (Operation *wait : start.getToken().getUsers())
        if (!llvm::isa<tetra::WaitOp>(wait) || !onlyWideningReaders(wait->getResult(0), true))
          return false;
      if (start.getToken().use_empty())
        return false;
      continue;
    }
    if (llvm::isa<bufferization::ToBufferOp>(user)) {
      if (!onlyFlashInputs(user->getResult(0)))
        return false;
      continue;
    }
    auto generic = llvm::dyn_cast<linalg::GenericOp>(user);
    if (!generic || !generic.isDpsInput(&use))
      return false;
  }
  return !v.use_empty();
}

bool isReshape(Operation *op) {
  return llvm::isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op);
}

RankedTensorType withBf16(Type t) {
  auto tensor = llvm::cast<RankedTensorType>(t);
  return RankedTensorType::get(tensor.getShape(), BFloat16Type::get(t.getContext()),
                               tensor.getEncoding());
}

void widenArgument(OpBuilder &b, linalg::GenericOp op, BlockArgument arg) {
  arg.setType(b.getBF16Type());
  if (arg.use_empty())
    return;
  b.setInsertionPointToStart(&op.getRegion().front());
  auto wide = arith::ExtFOp::create(b, op.getLoc(), b.getF32Type(), arg);
  arg.replaceAllUsesExcept(wide, wide);
}

void widenReaders(OpBuilder &b, Value v) {
  for (OpOperand &use : llvm::make_early_inc_range(v.getUses())) {
    Operation *user = use.getOwner();
    if (auto extract = llvm::dyn_cast<tensor::ExtractOp>(user)) {
      extract.getResult().setType(b.getBF16Type());
      b.setInsertionPointAfter(extract);
      auto wide = arith::ExtFOp::create(b, extract.getLoc(), b.getF32Type(), extract.getResult());
      extract.getResult().replaceAllUsesExcept(wide, wide);
      continue;
    }
    if (isReshape(user)) {
      user->getResult(0).setType(withBf16(user->getResult(0).getType()));
      widenReaders(b, user->getResult(0));
      continue;
    }
    // A weight's copy gathered from its shards (tetra-partition's depth
    // all-gathers): the gathered tensor is bf16 too, and its readers widen it.
    if (auto gather = llvm::dyn_cast<tetra::AllGatherOp>(user)) {
      gather.getResult().setType(withBf16(gather.getResult().getType()));
      widenReaders(b, gather.getResult());
      continue;
    }
    if (auto start = llvm::dyn_cast<tetra::AllGatherStartOp>(user)) {
      auto token = llvm::cast<tetra::TokenType>(start.getToken().getType());
      start.getToken().setType(tetra::TokenType::get(b.getContext(), withBf16(token.getResult())));
      for (Operation *wait : start.getToken().getUsers()) {
        wait->getResult(0).setType(withBf16(wait->getResult(0).getType()));
        widenReaders(b, wait->getResult(0));
      }
      continue;
    }
    if (llvm::isa<bufferization::ToBufferOp>(user)) {
      auto memref = llvm::cast<MemRefType>(user->getResult(0).getType());
      user->getResult(0).setType(MemRefType::get(memref.getShape(), b.getBF16Type(),
                                                 memref.getLayout(), memref.getMemorySpace()));
      continue;
    }
    auto generic = llvm::cast<linalg::GenericOp>(user);
    widenArgument(b, generic, generic.getMatchingBlockArgument(&use));
  }
}

} // namespace mlir::tetra

namespace {

/// Result `i` of `op` stored as bf16 in `init` (a bf16 tensor): the body
/// widens its output if it reads it, rounds what it yields, and the readers
/// widen the result.
void storeResultAsBf16(OpBuilder &b, linalg::GenericOp op, unsigned i, Value init) {
  OpOperand *out = op.getDpsInitOperand(i);
  out->set(init);
  widenArgument(b, op, op.getMatchingBlockArgument(out));
  auto yield = llvm::cast<linalg::YieldOp>(op.getRegion().front().getTerminator());
  b.setInsertionPoint(yield);
  yield->setOperand(
      i, arith::TruncFOp::create(b, op.getLoc(), b.getBF16Type(), yield->getOperand(i)));
  op->getResult(i).setType(init.getType());
  widenReaders(b, op->getResult(i));
}

/// Result `i` of `op`, pointwise with an unread output, stored as bf16.
void storeAsBf16(OpBuilder &b, linalg::GenericOp op, unsigned i) {
  auto type = withBf16(op->getResult(i).getType());
  b.setInsertionPoint(op);
  storeResultAsBf16(
      b, op, i, tensor::EmptyOp::create(b, op.getLoc(), type.getShape(), type.getElementType()));
}

/// The constant a matrix product's output starts from: its init is a fill
/// of one (a zero, mostly), which a bf16 fill can take over.
std::optional<APFloat> filledWith(linalg::GenericOp product) {
  auto fill = product.getDpsInitOperand(0)->get().getDefiningOp<linalg::FillOp>();
  if (!fill)
    return std::nullopt;
  auto constant = fill.getInputs()[0].getDefiningOp<arith::ConstantFloatOp>();
  if (!constant)
    return std::nullopt;
  return constant.value();
}

/// Whether `op` is a matrix product the tensor-core kernels serve (which
/// sum in fp32 registers) into a filled, static fp32 output.
bool isFilledProduct(linalg::GenericOp op) {
  auto type = llvm::dyn_cast<RankedTensorType>(op->getResult(0).getType());
  return tetra::matchProduct(op) && type && type.hasStaticShape() &&
         type.getElementType().isF32() && filledWith(op).has_value();
}

/// A matrix product's output stored as bf16: a bf16 fill of its own, the
/// output widened before the add and the sum rounded back. (The GPU kernel
/// sums in fp32 registers and rounds once, as it stores.)
void storeProductAsBf16(OpBuilder &b, linalg::GenericOp op) {
  Location loc = op.getLoc();
  auto type = withBf16(op->getResult(0).getType());
  APFloat value = *filledWith(op);
  bool losesInfo = false;
  value.convert(APFloat::BFloat(), APFloat::rmNearestTiesToEven, &losesInfo);
  auto oldFill = op.getDpsInitOperand(0)->get().getDefiningOp<linalg::FillOp>();
  b.setInsertionPoint(op);
  Value constant =
      arith::ConstantFloatOp::create(b, loc, llvm::cast<FloatType>(b.getBF16Type()), value);
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  storeResultAsBf16(
      b, op, 0, linalg::FillOp::create(b, loc, ValueRange{constant}, ValueRange{empty}).getResult(0));
  if (oldFill->use_empty())
    oldFill->erase();
}

/// Whether `buffer`, an output of a flash-attention kernel, is a fresh
/// fp32 allocation that the kernel writes and one tensor takes over, read
/// only as groups' inputs: then the kernel can round it to bf16 as it
/// stores it. Returns that tensor.
bufferization::ToTensorOp bf16FlashOutput(Value buffer) {
  auto alloc = buffer.getDefiningOp<memref::AllocOp>();
  if (!alloc || !alloc.getType().getElementType().isF32() || !alloc.getType().hasStaticShape())
    return {};
  bufferization::ToTensorOp adopted;
  for (Operation *user : buffer.getUsers()) {
    if (auto tensor = llvm::dyn_cast<bufferization::ToTensorOp>(user)) {
      if (adopted)
        return {};
      adopted = tensor;
    } else if (!llvm::isa<tetra::FlashAttentionOp, tetra::FlashAttentionGradOp>(user)) {
      return {};
    }
  }
  return adopted && onlyWideningReaders(adopted.getResult(), /*throughGathers=*/false)
             ? adopted
             : bufferization::ToTensorOp();
}

/// The flash-attention output `adopted` takes over, stored as bf16.
void storeFlashOutputAsBf16(OpBuilder &b, bufferization::ToTensorOp adopted) {
  Value buffer = adopted.getBuffer();
  auto type = llvm::cast<MemRefType>(buffer.getType());
  buffer.setType(MemRefType::get(type.getShape(), b.getBF16Type(), type.getLayout(),
                                 type.getMemorySpace()));
  Value tensor = adopted.getResult();
  tensor.setType(withBf16(tensor.getType()));
  widenReaders(b, adopted.getResult());
}

struct Bf16ActivationsPass : tetra::impl::Bf16ActivationsBase<Bf16ActivationsPass> {
  void runOnOperation() override {
    SmallVector<std::pair<linalg::GenericOp, unsigned>> stored;
    SmallVector<linalg::GenericOp> products;
    SmallVector<bufferization::ToTensorOp> attentionOutputs;
    auto flashOutputs = [&](ValueRange buffers) {
      for (Value buffer : buffers)
        if (bufferization::ToTensorOp adopted = bf16FlashOutput(buffer))
          attentionOutputs.push_back(adopted);
    };
    getOperation().walk([&](tetra::FlashAttentionOp op) { flashOutputs(op.getResult()); });
    getOperation().walk([&](tetra::FlashAttentionGradOp op) {
      flashOutputs({op.getQueryGrad(), op.getKeyGrad(), op.getValueGrad()});
    });
    getOperation().walk([&](func::FuncOp func) {
      func.walk([&](linalg::GenericOp op) {
        if (!op.hasPureTensorSemantics())
          return;
        if (isFilledProduct(op) && onlyWideningReaders(op.getResult(0), /*throughGathers=*/false)) {
          products.push_back(op);
          return;
        }
        if (op.getNumReductionLoops() != 0)
          return;
        for (auto [i, result] : llvm::enumerate(op->getResults())) {
          auto type = llvm::dyn_cast<RankedTensorType>(result.getType());
          if (type && type.hasStaticShape() && type.getElementType().isF32() &&
              !op.payloadUsesValueFromOperand(op.getDpsInitOperand(i)) &&
              onlyWideningReaders(result, /*throughGathers=*/false))
            stored.push_back({op, static_cast<unsigned>(i)});
        }
      });
    });
    OpBuilder b(&getContext());
    for (auto [op, i] : stored)
      storeAsBf16(b, op, i);
    for (linalg::GenericOp op : products)
      storeProductAsBf16(b, op);
    for (bufferization::ToTensorOp adopted : attentionOutputs)
      storeFlashOutputAsBf16(b, adopted);
  }
};

} // namespace
