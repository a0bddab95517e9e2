"""One training step (forward, backward, clipping, AdamW) of the same ~10.8M
parameter Llama-style model at sequence 256, Tetra against PyTorch eager, in
one run, both on one thread. Prints which BLAS PyTorch uses and its GEMM
GFLOP/s on this core, the time ratio, and Tetra's achieved GFLOP/s.

Usage: bench.py --bin BUILD/bin [--steps N] [--micro-batch B]"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

# One thread on both sides: torch.set_num_threads does not reach the OpenBLAS
# that PyTorch calls, so pin it before torch loads it.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "oracle"))
import reference  # noqa: E402


def blas_library():
    with open("/proc/self/maps") as f:
        libs = {os.path.basename(l.split()[-1]) for l in f if "blas" in l.lower()}
    return ", ".join(sorted(libs)) or "none found"


def gemm_gflops(n=1024, repeats=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = os.path.join(HERE, "model.json")
    with open(config) as f:
        cfg = json.load(f)
    work = tempfile.mkdtemp(prefix="tetra-bench-")
    art = os.path.join(work, "artifact")
    print(f"PyTorch {torch.__version__}, BLAS: {blas_library()}, "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    peak = gemm_gflops()
    print(f"PyTorch single-thread GEMM (1024^3): {peak:.1f} GFLOP/s "
          "(the core's achievable peak for this comparison)")

    # Model FLOPs per training step: 3x the forward matrix FLOPs.
    ir = subprocess.run([os.path.join(args.bin, "tetra-translate"), "--import-config", config],
                        capture_output=True, text=True, check=True).stdout
    stats = subprocess.run([os.path.join(args.bin, "tetra-opt"), "--tetra-model-stats",
                            f"--tetra-model-stats=seq-len={args.seq}", "-o", "/dev/null"],
                           input=ir, capture_output=True, text=True, check=True).stdout
    params = int(re.search(r"parameters: (\d+)", stats).group(1))
    fwd = float(re.search(r"forward-flops-per-token: (\d+)", stats).group(1))
    tokens = args.micro_batch * args.seq
    step_flops = 3 * fwd * tokens
    print(f"model: {params} parameters, micro-batch {args.micro_batch} x {args.seq}, "
          f"{step_flops / 1e9:.2f} GFLOP per training step")

    subprocess.run([os.path.join(args.bin, "tetra-compile"), config, "--seq-len", str(args.seq),
                    "--micro-batch", str(args.micro_batch), "-o", art], check=True)
    data = os.path.join(work, "tokens.bin")
    gen = torch.Generator().manual_seed(0)
    count = (args.steps + 1) * tokens + 1
    torch.randint(0, cfg["vocab_size"], (count,), generator=gen).to(torch.int16).numpy().tofile(data)

    # Tetra: one thread; the first step is warm-up.
    log = os.path.join(work, "metrics.jsonl")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    subprocess.run([os.path.join(args.bin, "tetra-run"), art, "--data", data,
                    "--steps", str(args.steps + 1), "--log", log], check=True, env=env,
                   stderr=subprocess.DEVNULL)
    with open(log) as f:
        rates = [json.loads(line)["tokens_per_s"] for line in f][1:]
    tetra_step = sum(tokens / r for r in rates) / len(rates)

    # PyTorch eager: the same model, loss, clipping and AdamW.
    subprocess.run([os.path.join(args.bin, "tetra-run"), art, "--save-checkpoint",
                    os.path.join(work, "init.safetensors")], check=True)
    import safetensors_io  # noqa: E402
    weights = {n: t for n, t in safetensors_io.load(os.path.join(work, "init.safetensors")).items()
               if not n.startswith("optimizer.")}
    p = {n: w.clone().requires_grad_(True) for n, w in weights.items()}
    opt = torch.optim.AdamW([{"params": [w for w in p.values() if w.dim() >= 2], "weight_decay": 0.1},
                             {"params": [w for w in p.values() if w.dim() < 2], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    ids = torch.randint(0, cfg["vocab_size"], (args.micro_batch, args.seq + 1), generator=gen)
    times = []
    for _ in range(args.steps + 1):
        start = time.perf_counter()
        opt.zero_grad()
        logits = reference.forward(cfg, p, ids[:, :-1])
        F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)).backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
        times.append(time.perf_counter() - start)
    torch_step = sum(times[1:]) / len(times[1:])

    for name, seconds in (("Tetra  ", tetra_step), ("PyTorch", torch_step)):
        rate = step_flops / seconds / 1e9
        print(f"{name} train step: {seconds * 1e3:8.1f} ms  ({rate:.1f} GFLOP/s, "
              f"{100 * rate / peak:.0f}% of the GEMM peak)")
    print(f"ratio Tetra / PyTorch time: {tetra_step / torch_step:.2f} "
          f"({'Tetra faster' if tetra_step < torch_step else 'PyTorch faster'})")


if __name__ == "__main__":
    main()
