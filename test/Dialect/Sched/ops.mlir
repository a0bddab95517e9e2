// RUN: tetra-opt %s | tetra-opt | FileCheck %s
// RUN: tetra-opt %s -split-input-file -verify-diagnostics --mlir-print-op-generic | tetra-opt | FileCheck %s

// CHECK-LABEL: sched.plan @train_step attributes {version = 1 : i64}
// CHECK: sched.zero "grad_sum" like "param"
// CHECK: sched.repeat 4 {
// CHECK-NEXT: sched.load_batch
// CHECK-NEXT: sched.launch @grad
// CHECK-NEXT: sched.accumulate "grad" into "grad_sum"
// CHECK: sched.scale "grad_sum" by 2.500000e-01
// CHECK: sched.clip_norm "grad_sum"
// CHECK: sched.launch @update {bind = {grad = "grad_sum"}}
sched.plan @train_step attributes {version = 1} {
  sched.zero "grad_sum" like "param"
  sched.repeat 4 {
    sched.load_batch
    sched.launch @grad
    sched.accumulate "grad" into "grad_sum"
  }
  sched.scale "grad_sum" by 0.25
  sched.clip_norm "grad_sum"
  sched.launch @update {bind = {grad = "grad_sum"}}
}
