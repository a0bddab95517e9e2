//===- TetraAttrs.cpp - attributes of the tetra dialect -------------------===//
#include "AxisSyntax.h"
#include "ShapeHelpers.h"
#include "tetra/TetraDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/SmallSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include <cmath>

using namespace mlir;
using namespace mlir::tetra;

#define GET_ATTRDEF_CLASSES
#include "tetra/TetraAttrs.cpp.inc"

void TetraDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "tetra/TetraAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Axis lists
//===----------------------------------------------------------------------===//

StringRef tetra::axisName(int32_t axis) {
  if (auto sym = symbolizeGridAxis(axis))
    return stringifyGridAxis(*sym);
  return "<invalid>";
}

ParseResult tetra::parseAxis(AsmParser &parser, int32_t &axis) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef name;
  if (parser.parseKeyword(&name))
    return failure();
  std::optional<GridAxis> sym = symbolizeGridAxis(name);
  if (!sym)
    return parser.emitError(loc, "unknown grid axis '")
           << name << "' (expected x, y, z or data)";
  axis = static_cast<int32_t>(*sym);
  return success();
}

ParseResult tetra::parseAxisList(AsmParser &parser,
                                 SmallVectorImpl<int32_t> &axes) {
  return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
    int32_t axis;
    if (parseAxis(parser, axis))
      return failure();
    axes.push_back(axis);
    return success();
  });
}

void tetra::printAxisList(AsmPrinter &printer, ArrayRef<int32_t> axes) {
  printer << '[';
  llvm::interleaveComma(axes, printer,
                        [&](int32_t a) { printer << axisName(a); });
  printer << ']';
}

LogicalResult tetra::verifyAxisList(function_ref<InFlightDiagnostic()> emitError,
                                    ArrayRef<int32_t> axes, StringRef what) {
  llvm::SmallSet<int32_t, 4> seen;
  for (int32_t a : axes) {
    if (!symbolizeGridAxis(a))
      return emitError() << what << " names an invalid grid axis " << a;
    if (!seen.insert(a).second)
      return emitError() << what << " names grid axis '" << axisName(a)
                         << "' twice";
  }
  return success();
}

//===----------------------------------------------------------------------===//
// GridAttr
//===----------------------------------------------------------------------===//

LogicalResult GridAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t x, int64_t y, int64_t z, int64_t data) {
  for (auto [name, size] : {std::pair<StringRef, int64_t>{"x", x},
                            {"y", y}, {"z", z}, {"data", data}})
    if (size < 1)
      return emitError() << "grid axis '" << name
                         << "' must have at least 1 rank, got " << size;
  return success();
}

int64_t GridAttr::getSize(GridAxis axis) const {
  switch (axis) {
  case GridAxis::x:
    return getX();
  case GridAxis::y:
    return getY();
  case GridAxis::z:
    return getZ();
  case GridAxis::data:
    return getData();
  }
  llvm_unreachable("unknown grid axis");
}

int64_t GridAttr::getSize(ArrayRef<GridAxis> axes) const {
  int64_t size = 1;
  for (GridAxis a : axes)
    size *= getSize(a);
  return size;
}

//===----------------------------------------------------------------------===//
// LayoutAttr
//===----------------------------------------------------------------------===//

SmallVector<GridAxis> LayoutAttr::getDimAxes(unsigned dim) const {
  SmallVector<GridAxis> axes;
  for (int32_t a : llvm::cast<DenseI32ArrayAttr>(getDims()[dim]).asArrayRef())
    axes.push_back(static_cast<GridAxis>(a));
  return axes;
}

SmallVector<GridAxis> LayoutAttr::getFlatAxes() const {
  SmallVector<GridAxis> axes;
  for (int32_t a : getFlat().asArrayRef())
    axes.push_back(static_cast<GridAxis>(a));
  return axes;
}

LogicalResult LayoutAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayAttr dims, DenseI32ArrayAttr flat,
                                 DenseI32ArrayAttr partial) {
  SmallVector<int32_t> split;
  for (Attribute dim : dims) {
    auto axes = llvm::dyn_cast<DenseI32ArrayAttr>(dim);
    if (!axes)
      return emitError() << "layout dimension must be a list of grid axes";
    llvm::append_range(split, axes.asArrayRef());
  }
  llvm::append_range(split, flat.asArrayRef());
  if (failed(verifyAxisList(emitError, split, "layout")))
    return failure();
  if (failed(verifyAxisList(emitError, partial.asArrayRef(), "layout partial")))
    return failure();
  for (int32_t a : partial.asArrayRef())
    if (llvm::is_contained(split, a))
      return emitError() << "layout both splits and is partial over axis '"
                         << axisName(a) << "'";
  return success();
}

Attribute LayoutAttr::parse(AsmParser &parser, Type) {
  MLIRContext *ctx = parser.getContext();
  SmallVector<Attribute> dims;
  if (parser.parseLess())
    return {};
  auto parseDim = [&]() -> ParseResult {
    SmallVector<int32_t> axes;
    if (succeeded(parser.parseOptionalKeyword("_"))) {
      dims.push_back(DenseI32ArrayAttr::get(ctx, axes));
      return success();
    }
    do {
      int32_t axis;
      if (parseAxis(parser, axis))
        return failure();
      axes.push_back(axis);
    } while (succeeded(parser.parseOptionalStar()));
    dims.push_back(DenseI32ArrayAttr::get(ctx, axes));
    return success();
  };
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseDim))
    return {};
  SmallVector<int32_t> flat, partial;
  while (succeeded(parser.parseOptionalComma())) {
    StringRef key;
    SMLoc loc = parser.getCurrentLocation();
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    if (key == "flat") {
      if (parseAxisList(parser, flat))
        return {};
    } else if (key == "partial") {
      if (parseAxisList(parser, partial))
        return {};
    } else {
      parser.emitError(loc, "unknown layout key '")
          << key << "' (expected flat or partial)";
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<LayoutAttr>(ctx, ArrayAttr::get(ctx, dims),
                                       DenseI32ArrayAttr::get(ctx, flat),
                                       DenseI32ArrayAttr::get(ctx, partial));
}

void LayoutAttr::print(AsmPrinter &printer) const {
  printer << "<[";
  llvm::interleaveComma(getDims(), printer, [&](Attribute dim) {
    ArrayRef<int32_t> axes = llvm::cast<DenseI32ArrayAttr>(dim).asArrayRef();
    if (axes.empty()) {
      printer << "_";
      return;
    }
    llvm::interleave(
        axes, printer, [&](int32_t a) { printer << axisName(a); }, "*");
  });
  printer << "]";
  if (!getFlat().empty()) {
    printer << ", flat = ";
    printAxisList(printer, getFlat().asArrayRef());
  }
  if (!getPartial().empty()) {
    printer << ", partial = ";
    printAxisList(printer, getPartial().asArrayRef());
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// InitAttr
//===----------------------------------------------------------------------===//

static bool initNeedsStd(InitKind kind) {
  return kind == InitKind::normal || kind == InitKind::trunc_normal;
}

LogicalResult InitAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               InitKind kind, APFloat stdValue) {
  double std = stdValue.convertToDouble();
  if (initNeedsStd(kind) && !(std > 0.0 && std::isfinite(std)))
    return emitError() << "initialiser '" << stringifyInitKind(kind)
                       << "' needs a positive finite std, got "
                       << numberToString(std);
  if (!initNeedsStd(kind) && std != 0.0)
    return emitError() << "initialiser '" << stringifyInitKind(kind)
                       << "' takes no std";
  return success();
}

Attribute InitAttr::parse(AsmParser &parser, Type) {
  StringRef name;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword(&name))
    return {};
  std::optional<InitKind> kind = symbolizeInitKind(name);
  if (!kind) {
    parser.emitError(loc, "unknown initialiser '")
        << name << "' (expected normal, trunc_normal, zeros or ones)";
    return {};
  }
  double std = 0.0;
  if (succeeded(parser.parseOptionalComma()))
    if (parser.parseKeyword("std") || parser.parseEqual() ||
        parser.parseFloat(std))
      return {};
  if (parser.parseGreater())
    return {};
  return parser.getChecked<InitAttr>(parser.getContext(), *kind, APFloat(std));
}

void InitAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyInitKind(getKind());
  if (initNeedsStd(getKind())) {
    printer << ", std = ";
    printer.printFloat(getStd());
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// LokiAttr
//===----------------------------------------------------------------------===//

LogicalResult LokiAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               APFloat dimFraction, APFloat topkFraction) {
  for (auto [name, value] : {std::pair<StringRef, double>{
                                 "dim_fraction", dimFraction.convertToDouble()},
                             {"topk_fraction", topkFraction.convertToDouble()}})
    if (!(value > 0.0 && value <= 1.0))
      return emitError() << "Loki " << name << " must be in (0, 1], got "
                         << numberToString(value);
  return success();
}

Attribute LokiAttr::parse(AsmParser &parser, Type) {
  double dim = 0, topk = 0;
  if (parser.parseLess() || parser.parseKeyword("dim_fraction") ||
      parser.parseEqual() || parser.parseFloat(dim) || parser.parseComma() ||
      parser.parseKeyword("topk_fraction") || parser.parseEqual() ||
      parser.parseFloat(topk) || parser.parseGreater())
    return {};
  return parser.getChecked<LokiAttr>(parser.getContext(), APFloat(dim),
                                     APFloat(topk));
}

void LokiAttr::print(AsmPrinter &printer) const {
  printer << "<dim_fraction = ";
  printer.printFloat(getDimFraction());
  printer << ", topk_fraction = ";
  printer.printFloat(getTopkFraction());
  printer << ">";
}

//===----------------------------------------------------------------------===//
// GoldfishAttr
//===----------------------------------------------------------------------===//

LogicalResult GoldfishAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   GoldfishMode mode, int64_t k, int64_t h,
                                   int64_t start, StringRef table) {
  if (k < 2)
    return emitError() << "goldfish k must be at least 2, got " << k;
  if (h < 1)
    return emitError() << "goldfish h must be at least 1, got " << h;
  if (start < 0 || start >= k)
    return emitError() << "goldfish start must be in [0, k), got " << start;
  if (mode == GoldfishMode::Table && table.empty())
    return emitError() << "goldfish mode 'table' needs table = \"FILE\"";
  if (mode != GoldfishMode::Table && !table.empty())
    return emitError() << "goldfish table file is only used by mode 'table'";
  return success();
}

Attribute GoldfishAttr::parse(AsmParser &parser, Type) {
  StringRef name;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseKeyword(&name))
    return {};
  std::optional<GoldfishMode> mode = symbolizeGoldfishMode(name);
  if (!mode) {
    parser.emitError(loc, "unknown goldfish mode '")
        << name << "' (expected static, hash or table)";
    return {};
  }
  // Defaults are those of the published Goldfish models.
  int64_t k = 4, h = 13, start = 0;
  std::string table;
  while (succeeded(parser.parseOptionalComma())) {
    StringRef key;
    SMLoc keyLoc = parser.getCurrentLocation();
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    ParseResult parsed =
        key == "k"       ? parser.parseInteger(k)
        : key == "h"     ? parser.parseInteger(h)
        : key == "start" ? parser.parseInteger(start)
        : key == "table" ? parser.parseString(&table)
                         : (parser.emitError(keyLoc, "unknown goldfish key '")
                            << key << "' (expected k, h, start or table)",
                            failure());
    if (failed(parsed))
      return {};
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<GoldfishAttr>(parser.getContext(), *mode, k, h,
                                         start, table);
}

void GoldfishAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyGoldfishMode(getMode()) << ", k = " << getK()
          << ", h = " << getH();
  if (getStart() != 0)
    printer << ", start = " << getStart();
  if (!getTable().empty()) {
    printer << ", table = ";
    printer.printString(getTable());
  }
  printer << ">";
}
