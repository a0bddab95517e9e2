//===- CollectiveOps.cpp - collectives over named grid axes ---------------===//
//
// all_gather, reduce_scatter and all_reduce, in synchronous form and as
// `*_start` -> !tetra.token -> `tetra.wait`. Group sizes come from the grid of
// the enclosing module or function, so shapes are checked against it.
//
//===----------------------------------------------------------------------===//
#include "AxisSyntax.h"
#include "ShapeHelpers.h"
#include "tetra/TetraOps.h"

using namespace mlir;
using namespace mlir::tetra;

ParseResult tetra::parseGridAxes(OpAsmParser &parser, DenseI32ArrayAttr &axes) {
  SmallVector<int32_t> list;
  if (parseAxisList(parser, list))
    return failure();
  axes = DenseI32ArrayAttr::get(parser.getContext(), list);
  return success();
}

void tetra::printGridAxes(OpAsmPrinter &printer, Operation *,
                          DenseI32ArrayAttr axes) {
  printAxisList(printer, axes.asArrayRef());
}

namespace {
enum class Resize { Same, Gather, Scatter };
} // namespace

/// Checks the axes, finds the grid, and checks that `result` is `input`
/// gathered (or scattered) along `dim` by the group size.
static LogicalResult verifyCollective(Operation *op, ArrayRef<int32_t> axes,
                                      RankedTensorType input, Type resultType,
                                      Resize resize, int64_t dim) {
  if (axes.empty())
    return op->emitOpError("needs at least one grid axis");
  if (failed(verifyAxisList([op] { return op->emitOpError(); }, axes, "axis list")))
    return failure();
  GridAttr grid = lookupGrid(op);
  if (!grid)
    return op->emitOpError("needs a grid: put `tetra.grid = #tetra.grid<...>` "
                           "on the enclosing function or module");
  int64_t group = 1;
  for (int32_t a : axes)
    group *= grid.getSize(static_cast<GridAxis>(a));

  auto result = llvm::dyn_cast<RankedTensorType>(resultType);
  if (!result)
    return op->emitOpError("result must be a ranked tensor, got ") << resultType;
  if (result.getElementType() != input.getElementType())
    return op->emitOpError("result element type ")
           << result.getElementType() << " differs from input element type "
           << input.getElementType();
  if (result.getRank() != input.getRank())
    return op->emitOpError("result rank ")
           << result.getRank() << " differs from input rank " << input.getRank();
  if (resize == Resize::Same)
    return success();
  if (dim < 0 || dim >= input.getRank())
    return op->emitOpError("dim ")
           << dim << " is out of range for rank " << input.getRank();
  for (int64_t i = 0; i < input.getRank(); ++i) {
    int64_t in = input.getDimSize(i), out = result.getDimSize(i);
    if (i != dim) {
      if (!sizesAgree(in, out))
        return op->emitOpError("dimension ")
               << i << " changes from " << sizeToString(in) << " to "
               << sizeToString(out) << " but only dim " << dim << " may";
      continue;
    }
    if (ShapedType::isDynamic(in) || ShapedType::isDynamic(out))
      continue;
    if (resize == Resize::Gather && out != in * group)
      return op->emitOpError("gathering dim ")
             << dim << " of size " << in << " over a group of " << group
             << " ranks gives " << in * group << ", not " << out;
    if (resize == Resize::Scatter && (in % group != 0 || out != in / group))
      return op->emitOpError("scattering dim ")
             << dim << " of size " << in << " over a group of " << group
             << " ranks needs a multiple of " << group << " and gives "
             << (in % group ? std::string("no integer size")
                            : std::to_string(in / group))
             << ", not " << out;
  }
  return success();
}

static Type tokenResult(Value token) {
  return llvm::cast<TokenType>(token.getType()).getResult();
}

LogicalResult AllGatherOp::verify() {
  return verifyCollective(*this, getAxes(), getInput().getType(),
                          getResult().getType(), Resize::Gather, getDim());
}
LogicalResult ReduceScatterOp::verify() {
  return verifyCollective(*this, getAxes(), getInput().getType(),
                          getResult().getType(), Resize::Scatter, getDim());
}
LogicalResult AllReduceOp::verify() {
  return verifyCollective(*this, getAxes(), getInput().getType(),
                          getResult().getType(), Resize::Same, 0);
}
LogicalResult FanOutOp::verify() {
  return verifyCollective(*this, getAxes(), getInput().getType(),
                          getResult().getType(), Resize::Same, 0);
}
LogicalResult AllGatherStartOp::verify() {
  return verifyCollective(*this, getAxes(), getInput().getType(),
                          tokenResult(getToken()), Resize::Gather, getDim());
}
LogicalResult ReduceScatterStartOp::verify() {
  return verifyCollective(*this, getAxes(), getInput().getType(),
                          tokenResult(getToken()), Resize::Scatter, getDim());
}
LogicalResult AllReduceStartOp::verify() {
  if (tokenResult(getToken()) != getInput().getType())
    return emitOpError("token carries ")
           << tokenResult(getToken()) << " but an all_reduce yields its input type "
           << getInput().getType();
  return verifyCollective(*this, getAxes(), getInput().getType(),
                          tokenResult(getToken()), Resize::Same, 0);
}

LogicalResult WaitOp::inferReturnTypes(MLIRContext *, std::optional<Location>,
                                       Adaptor adaptor,
                                       SmallVectorImpl<Type> &results) {
  results.push_back(tokenResult(adaptor.getToken()));
  return success();
}
