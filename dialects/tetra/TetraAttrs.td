//===- TetraAttrs.td - attributes of the tetra dialect -------*- tablegen -*-===//
#ifndef TETRA_ATTRS_TD
#define TETRA_ATTRS_TD

include "mlir/IR/AttrTypeBase.td"
include "TetraDialect.td"
include "TetraEnums.td"

class Tetra_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Tetra_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Tetra_GridAttr : Tetra_Attr<"Grid", "grid"> {
  let summary = "the 4D device grid: three tensor-parallel axes and data";
  let description = [{
    `#tetra.grid<x = 2, y = 2, z = 1, data = 2>`. Ranks are numbered with x
    fastest, then y, then z, then data, so x groups are the most local.
  }];
  let parameters = (ins "int64_t":$x, "int64_t":$y, "int64_t":$z, "int64_t":$data);
  let assemblyFormat = "`<` struct($x, $y, $z, $data) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of ranks along one axis.
    int64_t getSize(GridAxis axis) const;
    /// Product of the sizes of the given axes.
    int64_t getSize(::llvm::ArrayRef<GridAxis> axes) const;
    int64_t getNumDevices() const { return getX() * getY() * getZ() * getData(); }
  }];
}

def Tetra_LayoutAttr : Tetra_Attr<"Layout", "layout"> {
  let summary = "how a tensor is split over the grid axes";
  let description = [{
    One entry per tensor dimension: `_` (not split) or the axes that split it,
    outermost first (`y*z`). `flat = [z]` splits the tensor's local block once
    more after flattening it (AxoNN's depth sharding of weights); `partial = [x]`
    marks a value that still has to be summed over those axes.
    Example: `#tetra.layout<[y, x], flat = [z]>`.
  }];
  let parameters = (ins "::mlir::ArrayAttr":$dims,
                        "::mlir::DenseI32ArrayAttr":$flat,
                        "::mlir::DenseI32ArrayAttr":$partial);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The axes splitting dimension `dim`, outermost first.
    ::llvm::SmallVector<GridAxis> getDimAxes(unsigned dim) const;
    /// The axes splitting the flattened block.
    ::llvm::SmallVector<GridAxis> getFlatAxes() const;
    unsigned getRank() const { return getDims().size(); }
  }];
}

def Tetra_InitAttr : Tetra_Attr<"Init", "init"> {
  let summary = "initialiser of a parameter";
  let description = [{
    `#tetra.init<normal, std = 0.02>`, `#tetra.init<trunc_normal, std = 0.02>`
    (cut at ±3 std), `#tetra.init<zeros>`, `#tetra.init<ones>`.
  }];
  let parameters = (ins "InitKind":$kind, APFloatParameter<"standard deviation">:$std);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Tetra_LokiAttr : Tetra_Attr<"Loki", "loki"> {
  let summary = "low-rank-key sparse attention";
  let description = [{
    `#tetra.loki<dim_fraction = 0.25, topk_fraction = 0.25>`: approximate scores
    use the first `dim_fraction * head_dim` PCA components of the keys; exact
    attention runs over the `topk_fraction * length` best-scoring keys.
  }];
  let parameters = (ins APFloatParameter<"fraction of head_dim">:$dimFraction,
                        APFloatParameter<"fraction of keys">:$topkFraction);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Tetra_GoldfishAttr : Tetra_Attr<"Goldfish", "goldfish"> {
  let summary = "goldfish loss: drop about 1/k of the targets";
  let description = [{
    `#tetra.goldfish<hash, k = 4, h = 13>`; `static` drops positions
    start, start+k, ... (`start = N`, default 0); `table` needs
    `table = "FILE"`, a user-supplied table of uniform numbers.
  }];
  let parameters = (ins "GoldfishMode":$mode, "int64_t":$k, "int64_t":$h,
                        "int64_t":$start, StringRefParameter<"table file">:$table);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Tetra_ModelAttr : Tetra_Attr<"Model", "model"> {
  let summary = "what the importer knew about the model";
  let description = [{
    Placed on the module as `tetra.model`: the config's family, its number of
    transformer blocks (physical, not counting recurrence) and its context length.
  }];
  let parameters = (ins StringRefParameter<"model family">:$family,
                        "int64_t":$layers, "int64_t":$context_length);
  let assemblyFormat = "`<` struct($family, $layers, $context_length) `>`";
}

#endif // TETRA_ATTRS_TD
