//===- Sharding.h - what tetra-shard and tetra-partition share -------------===//
//
// The state the ops' sharding rules (ShardableOpInterface) read and write:
// the grid, the layout of every value, which parameters hold a vocabulary
// (and may be padded), and helpers that build the collectives of section 1
// of the AxoNN algorithm (fan-out, all-reduce, weight all-gather).
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_SHARDING_H
#define TETRA_SHARDING_H

#include "tetra/TetraOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::tetra {

/// tetra-shard's record: a function argument's layout, an op's result layouts.
inline constexpr llvm::StringLiteral kLayoutAttr = "tetra.layout";
inline constexpr llvm::StringLiteral kLayoutsAttr = "tetra.layouts";

/// Axes of one layout dimension, outermost first.
using AxisList = SmallVector<GridAxis, 2>;

class ShardingState {
public:
  explicit ShardingState(GridAttr grid) : grid(grid) {}
  GridAttr getGrid() const { return grid; }
  MLIRContext *getContext() const { return grid.getContext(); }

  //===--- layouts ---------------------------------------------------------===//
  /// The layout of a value; null when nothing set it.
  LayoutAttr getLayout(Value value) const { return layouts.lookup(value); }
  void setLayout(Value value, LayoutAttr layout) { layouts[value] = layout; }

  /// A layout from per-dimension axes; axes of one rank are left out, so a
  /// layout only names real splits.
  LayoutAttr layout(ArrayRef<AxisList> dims, ArrayRef<GridAxis> flat = {}) const;
  /// An activation [batch, ...]: samples over data*z, `last` on the last
  /// dimension, nothing else split.
  LayoutAttr activation(unsigned rank, ArrayRef<GridAxis> last = {}) const;
  /// `base` with dimension `dim` split over `axes` instead.
  LayoutAttr withDim(LayoutAttr base, unsigned dim, ArrayRef<GridAxis> axes) const;

  /// The parameter a tetra.get_param value reads (null for other values).
  ParamOp paramOf(Value value) const;
  /// Marks parameters holding a vocabulary (embedding tables, LM heads):
  /// their first dimension may be padded to a multiple of its split.
  void markVocab(ParamOp param) { vocab.insert(param.getSymName()); }
  bool isVocab(ParamOp param) const { return param && vocab.contains(param.getSymName()); }

  /// Gives the parameter read by `value` the layout `layout`, or checks it
  /// already has that one; `user` is the op whose rule asks.
  LogicalResult assignParam(Operation *user, Value value, LayoutAttr layout);
  /// Checks that `operand` of `op` has layout `expected`.
  LogicalResult expectLayout(Operation *op, Value operand, LayoutAttr expected,
                             StringRef what) const;
  /// Checks that every split dimension of `type` divides by its group;
  /// `paddedDim` (if any) may be padded instead.
  LogicalResult checkDivides(Operation *op, StringRef what, ShapedType type,
                             LayoutAttr layout,
                             std::optional<unsigned> paddedDim = std::nullopt) const;

  //===--- partition -------------------------------------------------------===//
  int64_t groupSize(ArrayRef<GridAxis> axes) const { return grid.getSize(axes); }
  /// The shard of `global` one rank holds: split dimensions divided (rounded
  /// up: padding), flattened and divided again when the layout is flat.
  RankedTensorType localType(RankedTensorType global, LayoutAttr layout) const;
  /// The axes as a collective's attribute.
  DenseI32ArrayAttr axesAttr(ArrayRef<GridAxis> axes) const;
  /// `axes` as an attribute, or null when they span a single rank.
  DenseI32ArrayAttr axesAttrOrNull(ArrayRef<GridAxis> axes) const {
    return groupSize(axes) > 1 ? axesAttr(axes) : DenseI32ArrayAttr();
  }
  /// tetra.fan_out over `axes` (the value itself on a single rank); one per
  /// value and axes, so layers reading the same input (q, k, v) share it and
  /// its gradient is all-reduced once.
  Value fanOut(OpBuilder &b, Location loc, Value value, ArrayRef<GridAxis> axes) const;
  /// tetra.all_reduce (sum) over `axes` (the value itself on a single rank).
  Value allReduce(OpBuilder &b, Location loc, Value value, ArrayRef<GridAxis> axes) const;
  /// The block of a parameter a rank computes with: its stored shard
  /// gathered over the layout's flat axes and reshaped (AxoNN's all-gather
  /// of the weight over z).
  Value gatheredBlock(OpBuilder &b, Location loc, Value shard) const;
  /// Sets every result type of `op` to the local type of its layout.
  void localizeResults(Operation *op) const;

private:
  GridAttr grid;
  llvm::DenseMap<Value, LayoutAttr> layouts;
  llvm::StringSet<> vocab;
  mutable llvm::DenseMap<std::pair<Value, Attribute>, Value> fanOuts;
};

/// An op without a sharding rule that neither reads nor makes a tensor (a
/// position cast to an index): it runs alike on every rank.
bool isReplicatedScalarOp(Operation *op);

/// The axes of a layout's last dimension (empty for rank 0).
AxisList lastAxes(LayoutAttr layout);
/// Writes "x" or "y*z" (or "nothing").
std::string axesToString(ArrayRef<GridAxis> axes);

} // namespace mlir::tetra

#endif // TETRA_SHARDING_H
