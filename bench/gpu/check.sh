#!/usr/bin/env bash
# Tetra's GPU kernels on one NVIDIA GPU (sm_90a: H100/H200/GH200), checked
# against the CPU path and measured against cuBLAS and the device's peak.
#
#   bench/gpu/check.sh [ARCHIVE]   (about 5 minutes on one H200)
#
# ARCHIVE is what bench/gpu/prepare.sh made: the kernels, the model's artifacts
# and the CPU run's results, built where the toolchain is, so that the GPU
# machine needs only its driver, cuBLAS and NCCL. Without it, check.sh runs
# prepare.sh first (which needs the toolchain).
#
# 1. The tensor-core GEMM kernel tetra-opt generates (wgmma, sm_90a's
#    default), at 1024^3, 4096^3 and 8192^3 (and, at the last two, with
#    64x64 tiles instead of 128x128, and with mma.sync instead of wgmma):
#    error against fp32 cuBLAS (normwise, tolerance 1e-2: bf16 inputs),
#    TFLOP/s against cuBLAS with the same arithmetic (fp32 storage, bf16
#    tensor cores) and against cuBLAS on bf16 storage (the practical
#    peak; the H100/H200 datasheet's dense bf16 peak is 989 TFLOP/s).
# 2. The flash-attention kernel, causal, head_dim 128, at sequences of 2k and
#    8k (16 heads): 32 rows against attention computed on the host in double
#    (max |gpu - ref| <= 3e-2 max |ref|), TFLOP/s against cuBLAS's bf16 GEMM
#    (the issue's target: half of it at 8k). Then its backward (the forward
#    writing the log-sum-exp, the query-gradient and key/value-gradient
#    kernels): at 2k, 16 rows of dQ, dK and dV in two heads against the host
#    in double (tolerance 3e-2 each); TFLOP/s at 2k and 8k.
# 3. Every kernel of a model: tiny-llama-bytes compiled for alps and for the
#    CPU, the same initial parameters; logits of one batch compared
#    (max |gpu - cpu| <= 3e-2 max |cpu|: every GEMM rounds to bf16), then
#    5 training steps compared step by step (relative loss difference
#    <= 2e-2), with --gemm tensor-cores, with --gemm vendor, with
#    --storage bf16 and with --gemm-instruction mma.sync.
# Exit status: non-zero when any comparison fails.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${TETRA_GPU_WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
START=$SECONDS
status=0
stamp() { echo "== [$((SECONDS - START)) s] $*"; }

ARCHIVE="${1:-}"
if [[ -z $ARCHIVE ]]; then
  stamp "prepare (no archive given)"
  ARCHIVE="$WORK/bundle.tar.gz"
  "$HERE/prepare.sh" "$ARCHIVE"
fi
[[ -f $ARCHIVE ]] || { echo "check.sh: $ARCHIVE: no such archive (run bench/gpu/prepare.sh)" >&2; exit 1; }
tar -C "$WORK" -xzf "$ARCHIVE"
B="$WORK/bundle"

# cuBLAS and NCCL: the toolkit's, or the ones Python's CUDA wheels carry.
cuda_dirs=()
for lib in libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
  found=""
  for dir in "${CUDA_PATH:-/usr/local/cuda}/lib64" /usr/local/cuda/targets/x86_64-linux/lib \
             /usr/lib/x86_64-linux-gnu; do
    [[ -e $dir/$lib ]] && { found="$dir"; break; }
  done
  if [[ -z $found ]] && command -v python3 > /dev/null; then
    site="$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' \
            2> /dev/null || true)"
    [[ -n $site ]] && found="$(dirname "$(find "$site/nvidia" -name "$lib" 2> /dev/null | head -1)")"
  fi
  [[ -n $found && $found != . ]] || { echo "check.sh: $lib not found" >&2; exit 1; }
  cuda_dirs+=("$found")
done
export LD_LIBRARY_PATH="$B/lib:$(IFS=:; echo "${cuda_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Stop before any check if a library is missing.
for object in "$B"/bin/tetra-run "$B"/bin/*_check "$B"/lib/libtetra_cuda.so "$B"/models/*/kernels.so; do
  if ldd "$object" | grep -q "not found"; then
    echo "check.sh: ${object#$B/} cannot load:" >&2
    ldd "$object" | grep "not found" >&2
    exit 1
  fi
done
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,clocks.max.sm,memory.total --format=csv,noheader || true
fi
M="$B/modules"
# A kernel that hangs (a barrier some threads never reach) stops only its own
# check: each runs under a time limit, and the next still runs.
LIMIT="${TETRA_CHECK_LIMIT:-180}"
bounded() {
  local rc=0
  timeout -k 5 "$LIMIT" "$@" || rc=$?
  ((rc != 124)) || echo "check.sh: $(basename "$1") ran past $LIMIT s and was stopped" >&2
  return $rc
}

stamp "1. the generated GEMM kernel against cuBLAS"
for size in 1024 4096 8192; do
  bounded "$B/bin/gemm_check" "$M/gemm-$size.mlir" "$size" "$size" "$size" || status=1
done
# bf16 inputs (--storage bf16): the slices reach shared memory by cp.async.
for size in 1024 8192; do
  bounded "$B/bin/gemm_check" "$M/gemm-$size-bf16.mlir" "$size" "$size" "$size" bf16 || status=1
done
# gemm-tile=auto takes 128x128 from 4096 on; the other tile there, for the rule.
for size in 4096 8192; do
  echo "-- $size^3 with 64x64 tiles"
  bounded "$B/bin/gemm_check" "$M/gemm-$size-64.mlir" "$size" "$size" "$size" || status=1
done
# wgmma is auto's pick on sm_90a; mma.sync there too, for the rule.
for size in 4096 8192; do
  echo "-- $size^3 with mma.sync instead of wgmma"
  bounded "$B/bin/gemm_check" "$M/gemm-$size-mma.mlir" "$size" "$size" "$size" || status=1
done

stamp "2. the flash-attention kernel against the host and the bf16 peak"
# f32 inputs are staged through registers; bf16 ones (--storage bf16) reach
# shared memory by cp.async, a step's values landing beside its scores.
for type in f32 bf16; do
  for seq in 2048 8192; do
    bounded "$B/bin/attention_check" "$M/attention-$seq-$type.mlir" "$seq" 16 128 "$type" || status=1
  done
done

stamp "2b. the flash-attention backward against the host"
for seq in 2048 8192; do
  rows=16
  [[ $seq == 8192 ]] && rows=0 # the host reference would take minutes
  CHECK_ROWS=$rows bounded "$B/bin/attention_grad_check" "$M/attention-grad-$seq.mlir" "$seq" 16 128 \
    || status=1
done

stamp "3. a model's kernels against the CPU path (run by prepare.sh)"
D="$B/models"
for artifact in "$D"/alps-*/; do
  name="$(basename "$artifact")"
  name="${name#alps-}"
  stamp "   alps-$name"
  # A variant that fails to run fails the check; the next one still runs.
  if bounded "$B/bin/tetra-run" "$artifact" --evaluate --data-text "$D/data.txt" \
       --dump-logits "$WORK/alps-$name.logits"; then
    python3 "$B/bin/compare_runs.py" logits "$D/cpu.logits" "$WORK/alps-$name.logits" 3e-2 \
      || status=1
  else
    status=1
  fi
  if bounded "$B/bin/tetra-run" "$artifact" --steps 5 --data-text "$D/data.txt" \
       --log "$WORK/alps-$name.jsonl" > /dev/null; then
    python3 "$B/bin/compare_runs.py" losses "$D/cpu.jsonl" "$WORK/alps-$name.jsonl" 2e-2 \
      || status=1
  else
    status=1
  fi
done

stamp "done (status $status); files in $WORK"
exit $status
