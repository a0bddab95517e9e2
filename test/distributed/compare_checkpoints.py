"""Two checkpoints hold the same tensors, equal to a tolerance.

Collective overlap cuts the forward GEMMs into pieces of samples; OpenBLAS
may round a row differently when the GEMM has fewer rows (its kernels and
blocking depend on the shape and the processor), so runs with and without
overlap agree to float rounding, not always bit for bit.
"""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/oracle")
from safetensors_io import load  # noqa: E402

a, b = load(sys.argv[1]), load(sys.argv[2])
if sorted(a) != sorted(b):
    sys.exit(f"different tensors: {sorted(set(a) ^ set(b))}")
worst = 0.0
for name in a:
    x, y = np.asarray(a[name], np.float64), np.asarray(b[name], np.float64)
    if x.shape != y.shape:
        sys.exit(f"{name}: shapes {x.shape} and {y.shape}")
    bound = 1e-6 * max(1.0, float(np.abs(y).max()))
    d = float(np.abs(x - y).max()) if x.size else 0.0
    worst = max(worst, d / bound)
    if d > bound:
        sys.exit(f"{name}: max |difference| {d:g} over the bound {bound:g}")
print(f"checkpoints equal: worst difference {100 * worst:.1f}% of the bound")
