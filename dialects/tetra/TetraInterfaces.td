//===- TetraInterfaces.td - op interfaces of tetra -----------*- tablegen -*-===//
#ifndef TETRA_INTERFACES_TD
#define TETRA_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Tetra_ForwardFlopsOpInterface : OpInterface<"ForwardFlopsOpInterface"> {
  let cppNamespace = "::mlir::tetra";
  let description = [{
    Matrix FLOPs of one forward evaluation, per token, at a given sequence
    length. Ops with matrix products implement it; elementwise ops do not count
    (the convention of the field's FLOP formulas).
  }];
  let methods = [
    InterfaceMethod<"Forward FLOPs per token at sequence length `seqLen`.",
      "double", "getForwardFlopsPerToken", (ins "int64_t":$seqLen)>
  ];
}

def Tetra_DifferentiableOpInterface : OpInterface<"DifferentiableOpInterface"> {
  let cppNamespace = "::mlir::tetra";
  let description = [{
    The op's vector-Jacobian product: given the gradients of its results, it
    builds the gradients of its operands. tetra-autodiff walks a function
    backwards through this interface, so a new op brings its own rule.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds the operand gradients at `builder`'s insertion point.
        `resultGrads` has one entry per result (null: no gradient reaches it);
        `operandGrads` comes in with one null entry per operand and leaves with
        the gradient of every differentiable operand that has one.
      }],
      "::llvm::LogicalResult", "buildGradients",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>
  ];
}

def Tetra_ShardableOpInterface : OpInterface<"ShardableOpInterface"> {
  let cppNamespace = "::mlir::tetra";
  let description = [{
    The op's sharding rule on the 4D grid. tetra-shard asks every op for the
    layouts of its results given those of its operands (and for the layouts
    of the parameters it reads); tetra-partition then asks it to rewrite
    itself in local shapes, with the collectives its rule needs. An op
    without this interface cannot be sharded, which is an error, never a
    silent replication. The defaults are the elementwise rule: every result
    laid out as the first operand, and partitioned by taking local shapes.
  }];
  let methods = [
    InterfaceMethod<[{
        Reads the operands' layouts from `state` and records the results'
        (and the parameters' through `state.assignParam`); emits an error
        naming the dimension, its size and the axis when a split does not
        divide.
      }],
      "::llvm::LogicalResult", "inferLayouts", (ins "ShardingState &":$state),
      /*methodBody=*/"", /*defaultImplementation=*/[{
        return ::mlir::tetra::inferLayoutsLikeFirstOperand($_op, state);
      }]>,
    InterfaceMethod<[{
        Rewrites the op on local shapes (its operands are local already),
        inserting collectives on grid axes; may replace and erase the op.
      }],
      "::llvm::LogicalResult", "partition",
      (ins "ShardingState &":$state, "::mlir::OpBuilder &":$builder),
      /*methodBody=*/"", /*defaultImplementation=*/[{
        return ::mlir::tetra::partitionInPlace($_op, state);
      }]>
  ];
}

#endif // TETRA_INTERFACES_TD
