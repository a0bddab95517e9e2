#!/usr/bin/env bash
# Builds everything bench/gpu/check.sh runs on the GPU into one archive, on a
# machine with Tetra's toolchain (LLVM/MLIR 22, the CUDA toolkit): the GPU
# machine then needs only its driver, cuBLAS and NCCL.
#
#   bench/gpu/prepare.sh [ARCHIVE]    (default bench/gpu/bundle.tar.gz)
#
# The archive holds:
#   bin/      tetra-run-portable (as tetra-run: LLVM's Support library linked
#             in) and the three check programs;
#   lib/      libtetra_cuda.so and every library these need that a CUDA
#             machine may lack (OpenMPI, OpenBLAS, ...);
#   modules/  the kernels of the GEMM and attention checks, serialised by
#             ptxas for sm_90a (tetra-opt's output: host code and gpu.binary);
#   models/   the tiny Llama compiled for alps (four variants), the data and
#             the CPU run's logits and losses, computed here, that the GPU
#             runs must match.
# It checks that every library the binaries load is in lib/ or is one a CUDA
# machine has (glibc, libstdc++, the driver, cuBLAS, NCCL).
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/build.sh"
HERE="$TETRA_ROOT/bench/gpu"
ARCHIVE="$(realpath -m "${1:-$HERE/bundle.tar.gz}")"
CUDA="${CUDA_PATH:-/usr/local/cuda}"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
B="$STAGE/bundle"
mkdir -p "$B/bin" "$B/lib" "$B/modules" "$B/models"
START=$SECONDS
stamp() { echo "== [$((SECONDS - START)) s] $*"; }

stamp "build"
tetra_build tetra-opt tetra-compile tetra-run tetra-run-portable tetra_cuda
BIN="$TETRA_BUILD/bin"
cp "$BIN/tetra-run-portable" "$B/bin/tetra-run"
cp "$TETRA_BUILD/lib/libtetra_cuda.so" "$B/lib/"
cp "$HERE/compare_runs.py" "$B/bin/"
for check in gemm_check attention_check attention_grad_check; do
  g++ -O2 -std=c++17 -I"$CUDA/include" "$HERE/$check.cpp" -L"$CUDA/lib64" \
    -L"$CUDA/lib64/stubs" -lcuda -lcublas -o "$B/bin/$check"
done

# The kernels of one module: outlined, lowered to NVVM, serialised by ptxas.
# A third argument picks the GEMM's block tile (default: auto), a fourth its
# matrix instruction (default: auto, which is wgmma on sm_90a).
to_cubin() {
  "$BIN/tetra-opt" "$1" --pass-pipeline="builtin.module(\
convert-linalg-to-gpu-kernels{target=nvvm chip=sm_90a gemm-tile=${3:-auto} gemm-instruction=${4:-auto}},\
nvvm-attach-target{chip=sm_90a features=+ptx81 O=3},\
gpu.module(lower-affine,convert-scf-to-cf,convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,convert-nvvm-to-llvm,reconcile-unrealized-casts),\
gpu-module-to-binary{format=bin toolkit=$CUDA})" -o "$2"
}
M="$B/modules"
stamp "the GEMM checks' kernels"
gemm_module() { # SIZE TYPE OUT [TILE [INSTRUCTION]]
  local widen=()
  [[ $2 == bf16 ]] && widen=(-e '/%p = arith.mulf %a, %b : f32/c\    %aw = arith.extf %a : bf16 to f32\n    %bw = arith.extf %b : bf16 to f32\n    %p = arith.mulf %aw, %bw : f32')
  sed -e "s/@M@/$1/g" -e "s/@N@/$1/g" -e "s/@K@/$1/g" -e "s/@T@/$2/g" "${widen[@]}" \
    "$HERE/gemm.mlir.in" > "$STAGE/gemm.mlir"
  to_cubin "$STAGE/gemm.mlir" "$3" "${4:-auto}" "${5:-auto}"
}
for size in 1024 4096 8192; do gemm_module "$size" f32 "$M/gemm-$size.mlir"; done
# bf16 inputs (--storage bf16): the slices reach shared memory by cp.async.
for size in 1024 8192; do gemm_module "$size" bf16 "$M/gemm-$size-bf16.mlir"; done
# gemm-tile=auto takes 128x128 from 4096 on; 64x64 there too, for the rule.
for size in 4096 8192; do gemm_module "$size" f32 "$M/gemm-$size-64.mlir" 64; done
# The warp-wide mma.sync beside the default wgmma, for the rule.
for size in 4096 8192; do gemm_module "$size" f32 "$M/gemm-$size-mma.mlir" auto mma.sync; done

stamp "the attention checks' kernels"
for type in f32 bf16; do
  for seq in 2048 8192; do
    sed -e "s/@S@/$seq/g" -e "s/@H@/16/g" -e "s/@D@/128/g" -e "s/@T@/$type/g" \
      "$HERE/attention.mlir.in" > "$STAGE/attention.mlir"
    to_cubin "$STAGE/attention.mlir" "$M/attention-$seq-$type.mlir"
  done
done
for seq in 2048 8192; do
  sed -e "s/@S@/$seq/g" -e "s/@H@/16/g" -e "s/@D@/128/g" "$HERE/attention_grad.mlir.in" \
    > "$STAGE/attention-grad.mlir"
  to_cubin "$STAGE/attention-grad.mlir" "$M/attention-grad-$seq.mlir"
done

stamp "the model: the CPU run here, the alps artifacts for the GPU"
CONFIG="$TETRA_ROOT/examples/configs/tiny-llama-bytes.json"
SHAPE=(--seq-len 64 --micro-batch 4 --global-batch 4)
cp "$TETRA_ROOT/README.md" "$B/models/data.txt"
"$BIN/tetra-compile" "$CONFIG" "${SHAPE[@]}" -o "$STAGE/cpu"
"$BIN/tetra-run" "$STAGE/cpu" --evaluate --data-text "$B/models/data.txt" \
  --dump-logits "$B/models/cpu.logits"
"$BIN/tetra-run" "$STAGE/cpu" --steps 5 --data-text "$B/models/data.txt" \
  --log "$B/models/cpu.jsonl" > /dev/null
# Each variant: a name, then its tetra-compile options (check.sh runs each
# models/alps-NAME it finds). The host code is compiled for any x86-64 with AVX2, not for this CPU.
for variant in "tensor-cores:--gemm tensor-cores" "vendor:--gemm vendor" \
               "bf16-storage:--gemm tensor-cores --storage bf16" \
               "mma-sync:--gemm tensor-cores --gemm-instruction mma.sync"; do
  name="${variant%%:*}"
  read -r -a flags <<< "${variant#*:}"
  "$BIN/tetra-compile" "$CONFIG" "${SHAPE[@]}" --machine alps "${flags[@]}" \
    --host-cpu x86-64-v3 -o "$B/models/alps-$name"
  rm "$B/models/alps-$name/kernels.ll" # the IR kernels.so was compiled from
done

stamp "libraries"
# What a CUDA machine provides: glibc, the C++ runtime, the driver, cuBLAS, NCCL.
provided='^(ld-linux.*|lib(c|m|dl|rt|pthread|stdc\+\+|gcc_s|cuda|cublas|cublasLt|nccl)\.so.*)$'
objects=("$B"/bin/tetra-run "$B"/bin/*_check "$B"/lib/libtetra_cuda.so "$B"/models/*/kernels.so)
for object in "${objects[@]}"; do
  ldd "$object" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r name path; do
  [[ $name =~ $provided ]] || cp -L "$path" "$B/lib/$name"
done
# Every library each object needs is now in lib/ or provided.
missing=0
for object in "${objects[@]}" "$B"/lib/*.so*; do
  for needed in $(readelf -d "$object" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    if [[ ! -e "$B/lib/$needed" && ! $needed =~ $provided ]]; then
      echo "prepare.sh: ${object#$B/} needs $needed, which is neither in lib/ nor provided" >&2
      missing=1
    fi
  done
done
((missing == 0))

stamp "archive"
mkdir -p "$(dirname "$ARCHIVE")"
tar -C "$STAGE" -czf "$ARCHIVE.tmp" bundle
mv "$ARCHIVE.tmp" "$ARCHIVE"
du -sh "$B" | awk '{ print "unpacked: " $1 }'
ls -l "$ARCHIVE" | awk '{ printf "%s: %.1f MiB\n", $9, $5 / 1048576 }'
stamp "done"
