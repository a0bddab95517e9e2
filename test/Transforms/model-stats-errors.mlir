// RUN: tetra-opt %s -split-input-file -verify-diagnostics --tetra-model-stats -o /dev/null

// What --tetra-model-stats needs, and says when it is missing.
// expected-error @+1 {{no `func.func @forward` to count FLOPs of}}
module attributes {tetra.model = #tetra.model<family = "llama", layers = 2, context_length = 16>} {
}

// -----

// expected-error @+1 {{no sequence length for the FLOP count: the module has no `tetra.model` context; pass seq-len=N}}
module {
  func.func @forward() { return }
}
