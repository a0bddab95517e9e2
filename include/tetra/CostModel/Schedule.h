//===- Schedule.h - the work of an entry point, in program order ----------===//
//
// What the cost model simulates: one entry point of the compiled program
// (after tetra-partition and tetra-overlap) as the runtime executes it:
// kernels one after another on the compute stream, collectives started on
// the communication thread in program order, waits where the kernels block.
// Each kernel's work is counted from its op: the GEMMs it performs and the
// elements it reads and writes.
//
//===----------------------------------------------------------------------===//
#ifndef TETRA_COSTMODEL_SCHEDULE_H
#define TETRA_COSTMODEL_SCHEDULE_H

#include "tetra/CostModel/Network.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace mlir::tetra::cost {

/// `count` matrix products C[m, n] += A[m, k] B[k, n].
struct Gemm {
  int64_t m = 0, n = 0, k = 0, count = 1;
  double flops() const { return 2.0 * m * n * k * count; }
};

/// One collective a kernel issues itself and waits for (a norm's statistics,
/// the loss's vocabulary maxima).
struct InnerCollective {
  CollectiveKind kind;
  AxisMask axes;
  double elements;
};

/// What one kernel does.
struct Work {
  std::vector<Gemm> gemms;
  /// Elements read and written outside the GEMMs' operands.
  double memoryElements = 0;
  /// Elements of a materialised attention score matrix (written and read
  /// again by targets that do not fuse attention).
  double scoreElements = 0;
  std::vector<InnerCollective> collectives;
  double gemmFlops() const;
};

struct Task {
  enum Kind { Compute, Start, Wait } kind = Compute;
  std::string name; // the op's name, e.g. tetra.linear
  Work work;        // Compute
  CollectiveKind collective = CollectiveKind::AllReduce; // Start
  AxisMask axes = 0;                                     // Start
  double elements = 0;                                   // Start: see collectiveSeconds
  int64_t id = -1;  // Start and Wait: which collective
  bool forward = false; // before the loss: what recomputation repeats
};

struct Schedule {
  std::vector<Task> tasks;
  /// Elements of the tensors this entry holds at once, at most (a liveness
  /// walk in program order: activations kept for the backward pass,
  /// temporaries, gathered weights).
  double peakLiveElements = 0;
};

/// The schedule of `func`; an error naming the op when one has no cost rule.
FailureOr<Schedule> extractSchedule(func::FuncOp func);

/// The work of one op (no work for views and scalars); failure when the op
/// is of the tetra dialect and has no rule.
FailureOr<Work> workOf(Operation *op);

} // namespace mlir::tetra::cost

#endif // TETRA_COSTMODEL_SCHEDULE_H
