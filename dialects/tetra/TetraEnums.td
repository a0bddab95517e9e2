//===- TetraEnums.td - enumerations of the tetra dialect ----*- tablegen -*-===//
#ifndef TETRA_ENUMS_TD
#define TETRA_ENUMS_TD

include "mlir/IR/EnumAttr.td"
include "TetraDialect.td"

class Tetra_EnumAttr<EnumAttrInfo info, string name>
    : EnumAttr<Tetra_Dialect, info, name> {
  let assemblyFormat = "`<` $value `>`";
}

// The four axes of the AxoNN grid. Rank order: x fastest, then y, z, data.
def Tetra_GridAxis : I32EnumAttr<"GridAxis", "axis of the 4D device grid", [
    I32EnumAttrCase<"x", 0>, I32EnumAttrCase<"y", 1>,
    I32EnumAttrCase<"z", 2>, I32EnumAttrCase<"data", 3>]> {
  let cppNamespace = "::mlir::tetra";
  let genSpecializedAttr = 0;
}

def Tetra_ReduceKind : I32EnumAttr<"ReduceKind", "reduction of a collective", [
    I32EnumAttrCase<"sum", 0>, I32EnumAttrCase<"max", 1>]> {
  let cppNamespace = "::mlir::tetra";
  let genSpecializedAttr = 0;
}
def Tetra_ReduceKindAttr : Tetra_EnumAttr<Tetra_ReduceKind, "reduce">;

def Tetra_GoldfishMode : I32EnumAttr<"GoldfishMode", "goldfish mask rule", [
    I32EnumAttrCase<"Static", 0, "static">, I32EnumAttrCase<"Hash", 1, "hash">,
    I32EnumAttrCase<"Table", 2, "table">]> {
  let cppNamespace = "::mlir::tetra";
  let genSpecializedAttr = 0;
}

def Tetra_InitKind : I32EnumAttr<"InitKind", "parameter initialiser", [
    I32EnumAttrCase<"normal", 0>, I32EnumAttrCase<"trunc_normal", 1>,
    I32EnumAttrCase<"zeros", 2>, I32EnumAttrCase<"ones", 3>]> {
  let cppNamespace = "::mlir::tetra";
  let genSpecializedAttr = 0;
}

def Tetra_GeluApprox : I32EnumAttr<"GeluApprox", "GELU approximation", [
    I32EnumAttrCase<"none", 0>, I32EnumAttrCase<"tanh", 1>]> {
  let cppNamespace = "::mlir::tetra";
  let genSpecializedAttr = 0;
}
def Tetra_GeluApproxAttr : Tetra_EnumAttr<Tetra_GeluApprox, "gelu_approx">;

// Activation of a gated linear unit: silu gives SwiGLU, gelu/gelu_tanh GeGLU.
def Tetra_GluActivation : I32EnumAttr<"GluActivation", "activation of a GLU", [
    I32EnumAttrCase<"silu", 0>, I32EnumAttrCase<"gelu", 1>,
    I32EnumAttrCase<"gelu_tanh", 2>]> {
  let cppNamespace = "::mlir::tetra";
  let genSpecializedAttr = 0;
}
def Tetra_GluActivationAttr
    : Tetra_EnumAttr<Tetra_GluActivation, "glu_activation">;

// Which pairs RoPE rotates: the two halves of the head vector (Hugging Face
// "rotate half") or adjacent elements (complex-number form).
def Tetra_RotaryStyle : I32EnumAttr<"RotaryStyle", "pairing of rotary dims", [
    I32EnumAttrCase<"half", 0>, I32EnumAttrCase<"interleaved", 1>]> {
  let cppNamespace = "::mlir::tetra";
  let genSpecializedAttr = 0;
}
def Tetra_RotaryStyleAttr : Tetra_EnumAttr<Tetra_RotaryStyle, "rotary_style">;

// How a recurrent block combines its state s with the injected input e.
def Tetra_Injection : I32EnumAttr<"Injection", "input injection", [
    I32EnumAttrCase<"add", 0>, I32EnumAttrCase<"adapter", 1>]> {
  let cppNamespace = "::mlir::tetra";
  let genSpecializedAttr = 0;
}
def Tetra_InjectionAttr : Tetra_EnumAttr<Tetra_Injection, "injection">;

#endif // TETRA_ENUMS_TD
