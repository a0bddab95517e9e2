//===- LinalgToGPUKernels.cpp - one GPU kernel per fused linalg group ------===//
//
// After bufferization every top-level linalg op is one group of fused work.
// Each becomes a gpu.func in gpu.module @kernels, launched where the op was:
// matrix products on the tensor cores (TensorCoreGemm.cpp), reductions of
// long rows as a block per row (RowReductionKernel.cpp), everything else as
// one thread per point of the parallel loops.
//
//===----------------------------------------------------------------------===//
#include "FlashAttentionKernel.h"
#include "GenericKernelBody.h"
#include "RowReductionKernel.h"
#include "ScatterAddKernel.h"
#include "TensorCoreGemm.h"
#include "tetra/Conversion/GemmMatch.h"
#include "tetra/Conversion/Passes.h"
#include "tetra/TetraOps.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

#include <cmath>

namespace mlir::tetra {
#define GEN_PASS_DEF_CONVERTLINALGTOGPUKERNELS
#include "tetra/Conversion/Passes.h.inc"
} // namespace mlir::tetra

using namespace mlir;
using namespace mlir::tetra;

namespace {

/// Loops over reduction dims `dims[from..]`, carrying the outputs.
SmallVector<Value> reduce(OpBuilder &b, linalg::GenericOp op, IRMapping &map,
                          SmallVector<Value> &ivs, ArrayRef<unsigned> dims,
                          ArrayRef<int64_t> ranges, ValueRange outs) {
  if (dims.empty())
    return evaluateBody(b, op, map, ivs, outs);
  Location loc = op.getLoc();
  unsigned d = dims.front();
  Value lb = arith::ConstantIndexOp::create(b, loc, 0);
  Value ub = arith::ConstantIndexOp::create(b, loc, ranges[d]);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, lb, ub, one, outs, [&](OpBuilder &nb, Location, Value iv, ValueRange carried) {
        ivs[d] = iv;
        SmallVector<Value> next = reduce(nb, op, map, ivs, dims.drop_front(), ranges, carried);
        scf::YieldOp::create(nb, loc, next);
      });
  return SmallVector<Value>(loop.getResults());
}

/// One thread per point of the parallel loops (grid-stride), each walking
/// the reduction loops in order; several independent ops (a pointwise set)
/// one after the other in the same launch.
FailureOr<LaunchShape> buildPointwise(OpBuilder &b, ArrayRef<linalg::GenericOp> ops,
                                      IRMapping &map, int64_t blockSize) {
  Location loc = linalg::GenericOp(ops.front()).getLoc();
  // Each op's loops: parallel dims, reduction dims, parallel points.
  struct Loops {
    SmallVector<unsigned> parallel, reduction;
    int64_t points = 1;
  };
  SmallVector<Loops> loops;
  int64_t most = 1;
  for (linalg::GenericOp op : ops) {
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    if (llvm::any_of(ranges, ShapedType::isDynamic))
      return op.emitOpError("has dynamic loop bounds; GPU kernels need static shapes");
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    Loops &l = loops.emplace_back();
    for (auto [d, it] : llvm::enumerate(op.getIteratorTypesArray())) {
      if (it == utils::IteratorType::parallel) {
        l.parallel.push_back(d);
        l.points *= ranges[d];
        continue;
      }
      l.reduction.push_back(d);
      for (OpOperand &init : op.getDpsInitsMutable())
        if (maps[init.getOperandNumber()].isFunctionOfDim(d))
          return op.emitOpError("writes its output through a reduction loop");
    }
    most = std::max(most, l.points);
  }
  LaunchShape shape = gridStrideShape(most, blockSize);

  auto c = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(b, loc, v); };
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value first = arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, bid, c(shape.threads)), tid);
  for (auto [constOp, l] : llvm::zip(ops, loops)) {
    linalg::GenericOp op = constOp;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    const SmallVector<unsigned> &parallel = l.parallel, &reduction = l.reduction;
    scf::ForOp::create(
        b, loc, first, c(l.points), c(shape.blocks * shape.threads), ValueRange{},
        [&](OpBuilder &nb, Location, Value linear, ValueRange) {
          SmallVector<Value> ivs(ranges.size(), arith::ConstantIndexOp::create(nb, loc, 0));
          delinearize(nb, loc, linear, parallel, ranges, ivs);
          SmallVector<Value> outs;
          for (OpOperand &init : op.getDpsInitsMutable())
            outs.push_back(loadThroughMap(nb, loc, map.lookup(init.get()),
                                          maps[init.getOperandNumber()], ivs));
          // The reduction loops overwrite their entries of a copy; outputs
          // are indexed by the parallel loops only.
          SmallVector<Value> loopIvs = ivs;
          SmallVector<Value> results = reduce(nb, op, map, loopIvs, reduction, ranges, outs);
          for (auto [init, v] : llvm::zip(op.getDpsInitsMutable(), results))
            storeThroughMap(nb, loc, v, map.lookup(init.get()), maps[init.getOperandNumber()],
                            ivs);
          scf::YieldOp::create(nb, loc);
        });
  }
  return shape;
}

/// The bytes of kernel parameters `values` take once lowered: a memref is
/// two pointers, an offset, and a size and a stride a dimension.
int64_t parameterBytes(ArrayRef<Value> values) {
  int64_t bytes = 0;
  for (Value v : values)
    if (auto memref = llvm::dyn_cast<MemRefType>(v.getType()))
      bytes += 8 * (3 + 2 * memref.getRank());
    else
      bytes += 8;
  return bytes;
}

/// The most bytes of parameters a kernel may take: 32764 on NVIDIA from
/// PTX ISA 8.1 (sm_70 and later; 4352 before), which tetra-compile targets;
/// 4 KiB on AMD, HIP's limit, which the HSA backend keeps to.
int64_t maxParameterBytes(StringRef target) { return target == "nvvm" ? 32764 : 4096; }

/// Whether neither op writes a buffer the other touches, as an operand or
/// from its body (a captured buffer read at computed indices: rotary's
/// tables). In one kernel, with no barrier between them, a thread may read
/// what another thread, or another block, has not written yet.
bool independent(linalg::GenericOp x, linalg::GenericOp y) {
  for (OpOperand &a : x->getOpOperands())
    for (OpOperand &c : y->getOpOperands())
      if ((x.isDpsInit(&a) || y.isDpsInit(&c)) && rootBuffer(a.get()) == rootBuffer(c.get()))
        return false;
  return !writesWhatTheOtherCaptures(x, y);
}

FailureOr<GemmShape> gemmShape(linalg::GenericOp op, const Gemm &g) {
  auto aType = llvm::cast<MemRefType>(g.a.getType());
  auto cType = llvm::cast<MemRefType>(g.c.getType());
  if (!aType.hasStaticShape() || !cType.hasStaticShape())
    return op.emitOpError("is a matrix product of dynamic shape; GPU kernels need static shapes");
  return GemmShape{cType.getDimSize(0), cType.getDimSize(1),
                   aType.getDimSize(g.transA ? 0 : 1), g.transA, g.transB};
}

/// A fill of its one output with 0.0 (linalg.fill, generalised).
bool isZeroFill(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 1 || op.getNumDpsInits() != 1 || op.getNumReductionLoops() != 0)
    return false;
  Value value = op.getDpsInputOperand(0)->get();
  auto yield = llvm::cast<linalg::YieldOp>(op.getRegion().front().getTerminator());
  return !llvm::isa<ShapedType>(value.getType()) && matchPattern(value, m_AnyZeroFloat()) &&
         yield.getNumOperands() == 1 && yield.getOperand(0) == op.getRegion().getArgument(0);
}

/// Whether `view` is `c` or a reshape of it (collapse, expand): the same
/// elements in the same row-major order.
bool isReshapeOf(Value view, Value c) {
  while (view != c) {
    Operation *def = view.getDefiningOp();
    if (!llvm::isa_and_nonnull<memref::CollapseShapeOp, memref::ExpandShapeOp>(def))
      return false;
    view = def->getOperand(0);
  }
  return true;
}

/// The pointwise group right after `product` that can run in its kernel as
/// an epilogue (bias, activation, residual): parallel loops over C, or over
/// a reshape of it, reading it at its own point and no other view of C's
/// buffer, writing neither A's nor B's buffer, which other blocks still read.
std::optional<linalg::GenericOp> matchEpilogue(linalg::GenericOp product, const Gemm &g,
                                               linalg::GenericOp next) {
  auto cType = llvm::cast<MemRefType>(g.c.getType());
  if (!next || !adjacentGroups(product, next) || !next.hasPureBufferSemantics() ||
      next.getNumReductionLoops() != 0 || !cType.getLayout().isIdentity())
    return std::nullopt;
  AffineMap identity = AffineMap::getMultiDimIdentityMap(next.getNumLoops(), next.getContext());
  Value rootC = rootBuffer(g.c), rootA = rootBuffer(g.a), rootB = rootBuffer(g.b);
  bool readsC = false;
  for (OpOperand &operand : next->getOpOperands()) {
    Value root = rootBuffer(operand.get());
    if (root == rootC) {
      auto viewType = llvm::cast<MemRefType>(operand.get().getType());
      if (!isReshapeOf(operand.get(), g.c) || next.getMatchingIndexingMap(&operand) != identity ||
          next.getStaticLoopRanges() != SmallVector<int64_t>(viewType.getShape()))
        return std::nullopt;
      readsC |= next.payloadUsesValueFromOperand(&operand);
    }
    if (next.isDpsInit(&operand) && (root == rootA || root == rootB))
      return std::nullopt;
  }
  if (!readsC)
    return std::nullopt;
  return next;
}

struct ConvertLinalgToGPUKernelsPass
    : tetra::impl::ConvertLinalgToGPUKernelsBase<ConvertLinalgToGPUKernelsPass> {
  using Base::Base;
  bool warpgroups = false; // the GEMMs issue wgmma (gemm-instruction)

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (gemm != "tensor-cores" && gemm != "vendor") {
      module.emitError() << "convert-linalg-to-gpu-kernels: gemm must be tensor-cores or "
                            "vendor, not '"
                         << gemm << "'";
      return signalPassFailure();
    }
    if (gemmTile != "auto" && gemmTile != "64" && gemmTile != "128") {
      module.emitError() << "convert-linalg-to-gpu-kernels: gemm-tile must be auto, 64 or 128, "
                            "not '"
                         << gemmTile << "'";
      return signalPassFailure();
    }
    if (target != "nvvm" && target != "rocdl") {
      module.emitError() << "convert-linalg-to-gpu-kernels: target must be nvvm or rocdl, not '"
                         << target << "'";
      return signalPassFailure();
    }
    if (gemmInstruction != "auto" && gemmInstruction != "mma.sync" &&
        gemmInstruction != "wgmma") {
      module.emitError() << "convert-linalg-to-gpu-kernels: gemm-instruction must be auto, "
                            "mma.sync or wgmma, not '"
                         << gemmInstruction << "'";
      return signalPassFailure();
    }
    // wgmma is sm_90a's alone (the "a" features), and there auto takes it:
    // mma.sync leaves Hopper's tensor cores waiting on register fragments.
    bool hopper = target == "nvvm" && chip == "sm_90a";
    if (gemmInstruction == "wgmma" && !hopper) {
      module.emitError() << "convert-linalg-to-gpu-kernels: gemm-instruction=wgmma needs "
                            "target=nvvm chip=sm_90a, not target="
                         << target << " chip='" << chip.getValue() << "'";
      return signalPassFailure();
    }
    if (gemmInstruction == "mma.sync" && target != "nvvm") {
      module.emitError() << "convert-linalg-to-gpu-kernels: gemm-instruction=mma.sync needs "
                            "target=nvvm";
      return signalPassFailure();
    }
    warpgroups = gemmInstruction == "wgmma" || (gemmInstruction == "auto" && hopper);
    // Copies between buffers (bufferization's, the out-params') run on the
    // device too, as copy groups: the host would drag the data across.
    IRRewriter rewriter(&getContext());
    SmallVector<memref::CopyOp> copies;
    module.walk([&](memref::CopyOp copy) {
      auto type = llvm::dyn_cast<MemRefType>(copy.getSource().getType());
      if (type && type.hasStaticShape() && type.getRank() > 0 &&
          copy->getParentOfType<func::FuncOp>())
        copies.push_back(copy);
    });
    for (memref::CopyOp copy : copies) {
      rewriter.setInsertionPoint(copy);
      linalg::CopyOp::create(rewriter, copy.getLoc(), copy.getSource(), copy.getTarget());
      rewriter.eraseOp(copy);
    }
    // Named ops (fill, copy, matmul, ...) as generics: one kernel builder.
    SmallVector<linalg::LinalgOp> named;
    module.walk([&](linalg::LinalgOp op) {
      if (!llvm::isa<linalg::GenericOp>(op))
        named.push_back(op);
    });
    for (linalg::LinalgOp op : named) {
      rewriter.setInsertionPoint(op);
      if (failed(linalg::generalizeNamedOp(rewriter, op))) {
        op.emitOpError("has no generic form for a GPU kernel");
        return signalPassFailure();
      }
    }

    SmallVector<tetra::FlashAttentionOp> attentions;
    module.walk([&](tetra::FlashAttentionOp op) { attentions.push_back(op); });
    SmallVector<tetra::FlashAttentionGradOp> attentionGrads;
    module.walk([&](tetra::FlashAttentionGradOp op) { attentionGrads.push_back(op); });

    SmallVector<linalg::GenericOp> groups;
    module.walk([&](func::FuncOp func) {
      func.walk([&](linalg::GenericOp op) {
        if (!op->getParentOfType<linalg::LinalgOp>())
          groups.push_back(op);
      });
    });
    // Host loop nests that only add into memory (the embedding gradient).
    SmallVector<std::pair<scf::ForOp, ScatterAddNest>> scatters;
    module.walk([&](func::FuncOp func) {
      for (auto loop : func.getBody().getOps<scf::ForOp>())
        if (std::optional<ScatterAddNest> nest = matchScatterAdd(loop))
          scatters.push_back({loop, std::move(*nest)});
    });
    if (groups.empty() && attentions.empty() && attentionGrads.empty() && scatters.empty())
      return;
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(), UnitAttr::get(&getContext()));
    OpBuilder mb(module.getBodyRegion());
    mb.setInsertionPointToEnd(module.getBody());
    auto kernels = gpu::GPUModuleOp::create(mb, module.getLoc(), "kernels");
    SymbolTable symbols(kernels);

    llvm::DenseMap<Operation *, unsigned> counter;
    sharedKernels.clear();
    zeroFilled.clear();
    func::FuncOp vendorGemm;
    for (auto [i, op] : llvm::enumerate(groups)) {
      if (!op)
        continue; // a member of an earlier row kernel
      auto func = op->getParentOfType<func::FuncOp>();
      if (!op.hasPureBufferSemantics()) {
        op.emitOpError("is on tensors; outline GPU kernels after bufferization");
        return signalPassFailure();
      }
      std::optional<Gemm> gemm = matchGemm(op);
      if (gemm && this->gemm == "vendor") {
        if (!isFp32Gemm(*gemm)) {
          op.emitOpError("stores a matrix product's operands as bf16; the vendor GEMM takes "
                         "fp32 (use gemm=tensor-cores)");
          return signalPassFailure();
        }
        if (!vendorGemm)
          vendorGemm = declareGemmFunction(module, "tetra_gpu_sgemm");
        replaceWithGemmCall(op, *gemm, vendorGemm);
        continue;
      }
      // A zero fill right before the product of its buffer: the product
      // stores instead of adding, and the fill goes.
      if (foldsIntoProduct(groups, i)) {
        zeroFilled.insert(groups[i + 1]);
        op->erase();
        continue;
      }
      LogicalResult outlined = failure();
      std::optional<linalg::GenericOp> epilogue;
      if (gemm && i + 1 < groups.size())
        epilogue = matchEpilogue(op, *gemm, groups[i + 1]);
      if (epilogue) {
        // Its own kernel, gemm_<shape>_<func>_<n>: the epilogue makes it
        // differ from other products.
        FailureOr<GemmShape> dims = shapeOf(op, *gemm);
        if (failed(dims))
          return signalPassFailure();
        std::string name = "gemm_" + gemmShapeName(*dims) + "_" + func.getName().str() + "_" +
                           std::to_string(counter[func]++);
        outlined = outline({{op, std::nullopt}, {*epilogue, std::nullopt}}, gemm, name, kernels,
                           symbols);
        groups[i + 1] = nullptr;
      } else if (gemm) {
        outlined = outlineGemm(op, *gemm, kernels, symbols);
      } else {
        SmallVector<RowRunMember> run = matchRowRun(groups, i);
        std::string kind = run.size() > 1            ? "row_fused"
                           : !run.empty()            ? "row_reduction"
                           : op.getNumReductionLoops() ? "reduction"
                                                       : "pointwise";
        if (run.empty()) {
          run = pointwiseSet(groups, i);
          if (run.size() > 1)
            kind = "pointwise_fused";
        }
        std::string name =
            (func.getName() + "_" + std::to_string(counter[func]++) + "_" + kind).str();
        outlined = outline(run, std::nullopt, name, kernels, symbols);
        // The run's later members are outlined with it.
        for (size_t j = i + 1; j < i + run.size(); ++j)
          groups[j] = nullptr;
      }
      if (failed(outlined))
        return signalPassFailure();
    }
    for (auto &[loop, nest] : scatters) {
      auto func = loop->getParentOfType<func::FuncOp>();
      std::string name =
          (func.getName() + "_" + std::to_string(counter[func]++) + "_scatter_add").str();
      if (failed(outlineScatterAdd(loop, nest, name, kernels, symbols)))
        return signalPassFailure();
    }
    for (tetra::FlashAttentionOp op : attentions)
      outlineAttention(op, kernels, symbols);
    for (tetra::FlashAttentionGradOp op : attentionGrads)
      outlineAttentionGrad(op, kernels, symbols);
  }

  /// What makes attention kernels differ, and the name it gives them:
  /// <B>x<S>x<H>x<D>_kv<T>x<Hkv>[_causal][_window<W>][_at].
  static AttentionShape attentionShape(Value query, Value key, bool causal, IntegerAttr window,
                                       std::optional<APFloat> scale, bool queryPosition) {
    ArrayRef<int64_t> q = llvm::cast<MemRefType>(query.getType()).getShape();
    ArrayRef<int64_t> k = llvm::cast<MemRefType>(key.getType()).getShape();
    AttentionShape shape{q[0], q[1], q[2], k[1], k[2], q[3], causal, std::nullopt,
                         scale ? scale->convertToDouble()
                               : 1.0 / std::sqrt(static_cast<double>(q[3])),
                         queryPosition};
    if (window)
      shape.window = window.getInt();
    return shape;
  }
  static std::string attentionName(StringRef prefix, const AttentionShape &s) {
    std::string name;
    llvm::raw_string_ostream os(name);
    os << prefix << "_" << s.batch << "x" << s.queries << "x" << s.heads << "x" << s.headDim
       << "_kv" << s.keys << "x" << s.kvHeads << (s.causal ? "_causal" : "");
    if (s.window)
      os << "_window" << *s.window;
    if (s.queryPosition)
      os << "_at";
    return name;
  }

  /// A launch at `op` of the attention kernel `name` on `args`, made by
  /// `build` (on the kernel's arguments) unless one of that shape exists.
  void launchAttention(Operation *op, StringRef name, const AttentionShape &shape,
                       ArrayRef<Value> args, gpu::GPUModuleOp kernels, SymbolTable &symbols,
                       function_ref<LaunchShape(OpBuilder &, gpu::GPUFuncOp, ValueRange)> build) {
    std::string key = name.str();
    llvm::raw_string_ostream keyOs(key);
    keyOs << " " << shape.scale;
    SmallVector<Type> argTypes;
    for (Value v : args) {
      keyOs << " " << v.getType();
      argTypes.push_back(v.getType());
    }
    (void)launchShared(op, key, args, [&]() -> FailureOr<Outlined> {
      return makeKernel(kernels, symbols, op->getLoc(), name, argTypes,
                        [&](OpBuilder &b, gpu::GPUFuncOp fn) -> FailureOr<LaunchShape> {
                          return build(b, fn, fn.getBody().front().getArguments());
                        });
    });
  }

  /// attention_<shape>[_lse] (with the log-sum-exp for the backward).
  void outlineAttention(tetra::FlashAttentionOp op, gpu::GPUModuleOp kernels,
                        SymbolTable &symbols) {
    AttentionShape shape = attentionShape(op.getQuery(), op.getKey(), op.getCausal(),
                                          op.getWindowAttr(), op.getScale(),
                                          static_cast<bool>(op.getQueryPosition()));
    Value lse = op.getLogsumexp();
    SmallVector<Value> args{op.getQuery(), op.getKey(), op.getValue(), op.getResult()};
    if (lse)
      args.push_back(lse);
    if (Value position = op.getQueryPosition())
      args.push_back(position);
    std::string name = attentionName("attention", shape) + (lse ? "_lse" : "");
    launchAttention(op, name, shape, args, kernels, symbols,
                    [&](OpBuilder &b, gpu::GPUFuncOp fn, ValueRange a) {
                      Value kernelLse = lse ? a[4] : Value();
                      Value position = shape.queryPosition ? a.back() : Value();
                      return buildFlashAttention(b, fn, op.getLoc(), target, a[0], a[1], a[2],
                                                 a[3], kernelLse, position, shape);
                    });
    op->erase();
  }

  /// attention_grad_query_<shape>, then attention_grad_kv_<shape>.
  void outlineAttentionGrad(tetra::FlashAttentionGradOp op, gpu::GPUModuleOp kernels,
                            SymbolTable &symbols) {
    AttentionShape shape = attentionShape(op.getQuery(), op.getKey(), op.getCausal(),
                                          op.getWindowAttr(), op.getScale(), false);
    SmallVector<Value> in{op.getQuery(), op.getKey(),       op.getValue(),
                          op.getGrad(),  op.getLogsumexp(), op.getDelta()};
    auto operands = [](ValueRange a) {
      return AttentionGradOperands{a[0], a[1], a[2], a[3], a[4], a[5]};
    };
    SmallVector<Value> queryArgs(in), keyValueArgs(in);
    queryArgs.push_back(op.getQueryGrad());
    keyValueArgs.append({op.getKeyGrad(), op.getValueGrad()});
    launchAttention(op, attentionName("attention_grad_query", shape), shape, queryArgs, kernels,
                    symbols, [&](OpBuilder &b, gpu::GPUFuncOp fn, ValueRange a) {
                      return buildFlashAttentionQueryGrad(b, fn, op.getLoc(), target,
                                                          operands(a), a[6], shape);
                    });
    launchAttention(op, attentionName("attention_grad_kv", shape), shape, keyValueArgs, kernels,
                    symbols, [&](OpBuilder &b, gpu::GPUFuncOp fn, ValueRange a) {
                      return buildFlashAttentionKeyValueGrad(b, fn, op.getLoc(), target,
                                                             operands(a), a[6], a[7], shape);
                    });
    op->erase();
  }

  /// A kernel and the launch it needs, for the ops that share it.
  struct Outlined {
    gpu::GPUFuncOp kernel;
    LaunchShape shape;
  };
  /// Shared kernels (GEMMs, attention) by what makes them differ: shape,
  /// transposition or mask, operand types.
  llvm::StringMap<Outlined> sharedKernels;

  /// A launch before `op` of the kernel `key` names, which `make` builds
  /// the first time.
  LogicalResult launchShared(Operation *op, StringRef key, ValueRange args,
                             function_ref<FailureOr<Outlined>()> make) {
    auto found = sharedKernels.find(key);
    if (found == sharedKernels.end()) {
      FailureOr<Outlined> made = make();
      if (failed(made))
        return failure();
      found = sharedKernels.insert({key, *made}).first;
    }
    launchKernel(op, found->second, args);
    return success();
  }

  /// A kernel `name(argTypes)` in `kernels`, its body from `build` (which
  /// returns the launch it needs), its known block size set.
  FailureOr<Outlined>
  makeKernel(gpu::GPUModuleOp kernels, SymbolTable &symbols, Location loc, StringRef name,
             TypeRange argTypes,
             function_ref<FailureOr<LaunchShape>(OpBuilder &, gpu::GPUFuncOp)> build) {
    MLIRContext *ctx = &getContext();
    OpBuilder kb = OpBuilder::atBlockEnd(kernels.getBody());
    auto fn = gpu::GPUFuncOp::create(kb, loc, name, FunctionType::get(ctx, argTypes, {}));
    fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
    symbols.insert(fn);
    OpBuilder b = OpBuilder::atBlockBegin(&fn.getBody().front());
    FailureOr<LaunchShape> shape = build(b, fn);
    if (failed(shape))
      return failure();
    gpu::ReturnOp::create(b, loc);
    fn.setKnownBlockSizeAttr(
        DenseI32ArrayAttr::get(ctx, {static_cast<int32_t>(shape->threads), 1, 1}));
    return Outlined{fn, *shape};
  }

  /// Whether groups[i] is a zero fill that the product right after it,
  /// into the same buffer, can do itself.
  bool foldsIntoProduct(ArrayRef<linalg::GenericOp> groups, size_t i) const {
    linalg::GenericOp fill = groups[i];
    if (gemm == "vendor" || !isZeroFill(fill) || i + 1 >= groups.size() || !groups[i + 1] ||
        !adjacentGroups(fill, groups[i + 1]))
      return false;
    std::optional<Gemm> next = matchGemm(groups[i + 1]);
    return next && next->c == fill.getDpsInitOperand(0)->get();
  }

  /// groups[i] and the adjacent parallel groups after it that are
  /// independent of all before them (AdamW's updates, fills, copies): one
  /// launch runs them one after the other. Fills that a product absorbs,
  /// products and the starts of row kernels end the set.
  SmallVector<RowRunMember> pointwiseSet(ArrayRef<linalg::GenericOp> groups, size_t i) const {
    linalg::GenericOp first = groups[i];
    SmallVector<RowRunMember> set{{first, std::nullopt}};
    if (first.getNumReductionLoops() != 0)
      return set;
    // The kernel's parameters so far, counted as each op joins.
    llvm::SetVector<Value> params(llvm::from_range, capture({first}).args);
    int64_t bytes = parameterBytes(params.getArrayRef());
    for (size_t j = i + 1; j < groups.size(); ++j) {
      linalg::GenericOp next = groups[j];
      if (!next || !adjacentGroups(set.back().op, next) || next.getNumReductionLoops() != 0 ||
          !next.hasPureBufferSemantics() || matchGemm(next) || foldsIntoProduct(groups, j) ||
          !matchRowRun(groups, j).empty() ||
          !llvm::all_of(set, [&](const RowRunMember &m) { return independent(m.op, next); }))
        break;
      SmallVector<Value> added;
      for (Value v : capture({next}).args)
        if (!params.contains(v))
          added.push_back(v);
      if (bytes + parameterBytes(added) > maxParameterBytes(target))
        break;
      bytes += parameterBytes(added);
      params.insert_range(added);
      set.push_back({next, std::nullopt});
    }
    return set;
  }

  /// Products whose destination was zero-filled just before (the fill
  /// erased): they overwrite it.
  llvm::DenseSet<Operation *> zeroFilled;
  FailureOr<GemmShape> shapeOf(linalg::GenericOp op, const Gemm &g) {
    FailureOr<GemmShape> dims = gemmShape(op, g);
    if (succeeded(dims))
      dims->overwrite = zeroFilled.contains(op);
    return dims;
  }

  static std::string gemmShapeName(const GemmShape &d) {
    return (Twine(d.m) + "x" + Twine(d.n) + "x" + Twine(d.k) + "_" + (d.transA ? "t" : "n") +
            (d.transB ? "t" : "n") + (d.overwrite ? "_b0" : ""))
        .str();
  }

  /// Matrix products of one shape (and operand types) share one kernel,
  /// named after its shape: gemm_<M>x<N>x<K>_<n|t><n|t>[_b0] (b0: C = AB).
  LogicalResult outlineGemm(linalg::GenericOp op, const Gemm &gemm, gpu::GPUModuleOp kernels,
                            SymbolTable &symbols) {
    FailureOr<GemmShape> dims = shapeOf(op, gemm);
    if (failed(dims))
      return failure();
    Captures captures = capture({op});
    std::string key = gemmShapeName(*dims);
    llvm::raw_string_ostream os(key);
    std::string name = "gemm_" + key;
    for (Value v : {gemm.a, gemm.b, gemm.c})
      os << " " << llvm::find(captures.args, v) - captures.args.begin();
    for (Value v : captures.args)
      os << " " << v.getType();
    if (!captures.constants.empty())
      return outline({{op, std::nullopt}}, gemm, name, kernels, symbols);
    // outline() launches the kernel it makes itself; later products reuse it.
    auto found = sharedKernels.find(key);
    if (found != sharedKernels.end()) {
      launchKernel(op, found->second, captures.args);
      op->erase();
      return success();
    }
    FailureOr<Outlined> made = outline({{op, std::nullopt}}, gemm, name, kernels, symbols);
    if (failed(made))
      return failure();
    sharedKernels[key] = *made;
    return success();
  }

  /// What a kernel reads from outside: operands, and values the body
  /// captures. Constants are cheaper copied in than passed.
  struct Captures {
    SmallVector<Value> args;
    SmallVector<Operation *> constants;
  };
  static Captures capture(ArrayRef<linalg::GenericOp> ops) {
    SmallVector<Operation *> generic;
    for (linalg::GenericOp op : ops)
      generic.push_back(op);
    return captureOf(generic);
  }
  static Captures captureOf(ArrayRef<Operation *> ops) {
    llvm::SetVector<Value> captured;
    for (Operation *op : ops) {
      captured.insert(op->getOperands().begin(), op->getOperands().end());
      for (Region &region : op->getRegions())
        getUsedValuesDefinedAbove(region, captured);
    }
    Captures c;
    for (Value v : captured) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>() && !llvm::isa<ShapedType>(v.getType()))
        c.constants.push_back(def);
      else
        c.args.push_back(v);
    }
    return c;
  }

  /// The nest `loop` heads as kernel `name`, one thread an iteration,
  /// launched where it was.
  LogicalResult outlineScatterAdd(scf::ForOp loop, const ScatterAddNest &nest, StringRef name,
                                  gpu::GPUModuleOp kernels, SymbolTable &symbols) {
    Captures captures = captureOf({loop.getOperation()});
    SmallVector<Type> argTypes;
    for (Value v : captures.args)
      argTypes.push_back(v.getType());
    FailureOr<Outlined> made = makeKernel(
        kernels, symbols, loop.getLoc(), name, argTypes,
        [&](OpBuilder &b, gpu::GPUFuncOp fn) -> FailureOr<LaunchShape> {
          IRMapping map;
          for (auto [v, arg] : llvm::zip(captures.args, fn.getArguments()))
            map.map(v, arg);
          for (Operation *def : captures.constants)
            b.clone(*def, map);
          return buildScatterAdd(b, nest, map, blockSize);
        });
    if (failed(made))
      return failure();
    launchKernel(loop, *made, captures.args);
    loop->erase();
    return success();
  }

  /// A launch of `kernel` on `args` before `op`.
  static void launchKernel(Operation *op, const Outlined &kernel, ValueRange args) {
    Location loc = op->getLoc();
    OpBuilder hb(op);
    auto dim = [&](int64_t v) { return arith::ConstantIndexOp::create(hb, loc, v); };
    Value one = dim(1);
    gpu::LaunchFuncOp::create(hb, loc, kernel.kernel,
                              gpu::KernelDim3{dim(kernel.shape.blocks), one, one},
                              gpu::KernelDim3{dim(kernel.shape.threads), one, one}, Value(), args);
  }

  /// The run's ops as one kernel `name`, launched where the last was: a
  /// GEMM (`gemm`, and its epilogue), a row kernel (a reduction among
  /// them), or one thread per point (pointwise ops, one after the other).
  FailureOr<Outlined> outline(ArrayRef<RowRunMember> run, std::optional<Gemm> gemm,
                              StringRef name, gpu::GPUModuleOp kernels, SymbolTable &symbols) {
    linalg::GenericOp op = run.front().op;
    Location loc = op.getLoc();
    SmallVector<linalg::GenericOp> ops;
    for (const RowRunMember &m : run)
      ops.push_back(m.op);
    Captures captures = capture(ops);
    const SmallVector<Value> &args = captures.args;
    SmallVector<Type> argTypes;
    for (Value v : args)
      argTypes.push_back(v.getType());
    FailureOr<Outlined> made = makeKernel(
        kernels, symbols, loc, name, argTypes,
        [&](OpBuilder &b, gpu::GPUFuncOp fn) -> FailureOr<LaunchShape> {
          IRMapping map;
          for (auto [v, arg] : llvm::zip(args, fn.getArguments()))
            map.map(v, arg);
          for (Operation *def : captures.constants)
            b.clone(*def, map);
          if (gemm) {
            FailureOr<GemmShape> dims = shapeOf(op, *gemm);
            if (failed(dims))
              return failure();
            // A pointwise consumer at each element of C, once stored: its
            // loops walk C (or a reshape of it) in row-major order.
            linalg::GenericOp consumer = run.size() > 1 ? run[1].op : linalg::GenericOp();
            auto epilogue = [&](OpBuilder &eb, Location el, Value row, Value col) {
              Value linear = arith::AddIOp::create(
                  eb, el, arith::MulIOp::create(eb, el, row,
                                                arith::ConstantIndexOp::create(eb, el, dims->n)),
                  col);
              SmallVector<int64_t> ranges = consumer.getStaticLoopRanges();
              SmallVector<Value> ivs(ranges.size());
              delinearize(eb, el, linear, llvm::to_vector(llvm::seq<unsigned>(0, ranges.size())),
                          ranges, ivs);
              updateAtPoint(eb, el, consumer, map, ivs);
            };
            return buildTensorCoreGemm(b, fn, loc, target, map.lookup(gemm->a),
                                       map.lookup(gemm->b), map.lookup(gemm->c), *dims,
                                       gemmTile == "auto" ? GemmTile::Auto
                                       : gemmTile == "64" ? GemmTile::Small
                                                          : GemmTile::Large,
                                       consumer ? GemmEpilogue(epilogue) : GemmEpilogue(),
                                       warpgroups ? GemmInstruction::Warpgroup
                                                  : GemmInstruction::Warp);
          }
          if (llvm::any_of(run, [](const RowRunMember &m) { return m.rows.has_value(); }))
            return buildRowKernel(b, fn, run, map, blockSize);
          return buildPointwise(b, ops, map, blockSize);
        });
    if (succeeded(made)) {
      launchKernel(ops.back(), *made, args);
      for (linalg::GenericOp member : ops)
        member->erase();
    }
    return made;
  }
};

} // namespace
