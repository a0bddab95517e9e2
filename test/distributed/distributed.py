"""End-to-end checks of training on 4D grids under mpirun.

equivalence: for every grid given, three AdamW steps of the model compiled
  with --grid give the losses, gradient norms, parameters and optimizer
  moments of the single-process run, within the tolerances below.
resume: a checkpoint saved on one grid continues on others (and on one
  process) exactly as the uninterrupted run does.
memory: on each grid given, the per-rank memory tetra-run predicts at start
  is within 5% of the peak tensor memory it measures over the steps.

Tolerances (float32 sums in other orders; AdamW divides by sqrt(v), which
amplifies differences of tiny gradients):
  loss, gradient norm: |d| <= 1e-5 * max(1, |ref|)
  tensors:             |d| <= 2e-5 + 1e-3 * max|ref| (per tensor)
"""
import argparse
import itertools
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "oracle"))
import safetensors_io  # noqa: E402

STEPS = 3


def grids_of(product):
    """Every (x, y, z, data) of powers of two with the given product."""
    sizes = [1 << k for k in range(product.bit_length())]
    return [g for g in itertools.product(sizes, repeat=4) if np.prod(g) == product]


def parse_grids(text):
    grids = []
    for part in text.split(","):
        if part.startswith("product="):
            grids += grids_of(int(part.split("=")[1]))
        else:
            grids.append(tuple(int(v) for v in part.split("x")))
    return grids


def name(grid):
    return "x".join(str(v) for v in grid)


class Runner:
    def __init__(self, args):
        self.args = args
        os.makedirs(args.work, exist_ok=True)
        with open(args.config) as f:
            vocab = json.load(f)["vocab_size"]
        # Tokens with some structure, so the loss moves.
        rng = np.random.default_rng(7)
        tokens = (np.arange(6000) * 7) % vocab
        noise = rng.random(tokens.size) < 0.3
        tokens[noise] = rng.integers(0, vocab, noise.sum())
        self.data = os.path.join(args.work, "tokens.u16")
        tokens.astype(np.uint16).tofile(self.data)

    def run(self, cmd, what):
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            sys.exit(f"FAIL {what}: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
        return result

    def compile(self, grid):
        out = os.path.join(self.args.work, "art-" + name(grid))
        self.run([os.path.join(self.args.bin, "tetra-compile"), self.args.config,
                  "--machine", "cpu", "--seq-len", str(self.args.seq_len),
                  "--micro-batch", str(self.args.micro_batch),
                  "--global-batch", str(2 * self.args.micro_batch),
                  "--grid", name(grid), "--kernel-opt", "O1", "-o", out,
                  *(["--goldfish", self.args.goldfish] if self.args.goldfish else [])],
                 "compile " + name(grid))
        return out

    def train(self, grid, artifact, tag, steps, extra=()):
        ranks = int(np.prod(grid))
        log = os.path.join(self.args.work, f"{tag}.jsonl")
        ckpt = os.path.join(self.args.work, f"{tag}.safetensors")
        if os.path.exists(log):
            os.remove(log)
        cmd = [os.path.join(self.args.bin, "tetra-run"), artifact, "--data", self.data,
               "--steps", str(steps), "--lr", "5e-3", "--warmup", "1",
               "--log", log, "--save-checkpoint", ckpt, *extra]
        if ranks > 1:
            cmd = ["mpirun", "--oversubscribe", "-np", str(ranks)] + cmd
        self.last = self.run(cmd, f"train {tag} on {name(grid)}")
        with open(log) as f:
            metrics = [json.loads(line) for line in f]
        return metrics, safetensors_io.load(ckpt)


def compare_metrics(ref, got, what):
    worst = 0.0
    for r, g in zip(ref, got):
        assert r["step"] == g["step"], (what, r["step"], g["step"])
        for key in ("loss", "grad_norm"):
            d = abs(r[key] - g[key])
            bound = 1e-5 * max(1.0, abs(r[key]))
            worst = max(worst, d / bound)
            if d > bound:
                sys.exit(f"FAIL {what}: step {r['step']} {key} {g[key]!r} vs {r[key]!r} "
                         f"(|d| {d:.3e} > {bound:.3e})")
    return worst


def compare_tensors(ref, got, what):
    if set(ref) != set(got):
        sys.exit(f"FAIL {what}: checkpoint names differ: "
                 f"{sorted(set(ref) ^ set(got))[:5]}")
    worst = 0.0
    for key in ref:
        r = np.asarray(ref[key], dtype=np.float64)
        g = np.asarray(got[key], dtype=np.float64)
        if r.shape != g.shape:
            sys.exit(f"FAIL {what}: {key} has shape {g.shape}, expected {r.shape}")
        if r.size == 0 or key == "optimizer.step":
            if not np.array_equal(r, g):
                sys.exit(f"FAIL {what}: {key} is {g}, expected {r}")
            continue
        bound = 2e-5 + 1e-3 * np.abs(r).max()
        d = np.abs(r - g).max()
        worst = max(worst, d / bound)
        if d > bound:
            sys.exit(f"FAIL {what}: {key} differs by {d:.3e} > {bound:.3e}")
    return worst


def equivalence(args, runner):
    ref_metrics, ref_ckpt = runner.train((1, 1, 1, 1), runner.compile((1, 1, 1, 1)), "ref",
                                         STEPS)
    print(f"reference (1 process): losses {[round(m['loss'], 6) for m in ref_metrics]}"
          + (f", dropped targets {[m['dropped_tokens'] for m in ref_metrics]}"
             if "dropped_tokens" in ref_metrics[0] else ""))
    for grid in parse_grids(args.grids):
        metrics, ckpt = runner.train(grid, runner.compile(grid), "grid-" + name(grid), STEPS)
        dropped = [m.get("dropped_tokens") for m in metrics]
        if dropped != [m.get("dropped_tokens") for m in ref_metrics]:
            sys.exit(f"FAIL {name(grid)}: dropped tokens {dropped}, expected "
                     f"{[m.get('dropped_tokens') for m in ref_metrics]}")
        m = compare_metrics(ref_metrics, metrics, name(grid))
        t = compare_tensors(ref_ckpt, ckpt, name(grid))
        print(f"grid {name(grid)} ({int(np.prod(grid))} ranks): losses and grad norms at "
              f"{100 * m:.1f}% of tolerance, parameters and moments at {100 * t:.1f}%",
              flush=True)


def resume(args, runner):
    grids = parse_grids(args.grids)
    first, others = grids[0], grids[1:]
    art = runner.compile(first)
    straight, straight_ckpt = runner.train(first, art, "straight", 2 * STEPS)
    runner.train(first, art, "first-half", 2 * STEPS, ["--stop-at", str(STEPS)])
    half = os.path.join(args.work, "first-half.safetensors")
    for grid in others:
        metrics, ckpt = runner.train(grid, runner.compile(grid), "resumed-" + name(grid),
                                     2 * STEPS, ["--init-from", half])
        if [m["step"] for m in metrics] != list(range(STEPS + 1, 2 * STEPS + 1)):
            sys.exit(f"FAIL resume on {name(grid)}: ran steps {[m['step'] for m in metrics]}")
        m = compare_metrics(straight[STEPS:], metrics, "resume on " + name(grid))
        t = compare_tensors(straight_ckpt, ckpt, "resume on " + name(grid))
        print(f"saved on {name(first)} at step {STEPS}, resumed on {name(grid)}: steps "
              f"{STEPS + 1}-{2 * STEPS} at {100 * m:.1f}% of tolerance, final state at "
              f"{100 * t:.1f}%", flush=True)


def memory(args, runner):
    import re
    for grid in parse_grids(args.grids):
        runner.train(grid, runner.compile(grid), "memory-" + name(grid), STEPS)
        found = re.search(r"measured peak ([0-9.]+) MiB of tensors \(predicted ([0-9.]+) MiB",
                          runner.last.stderr)
        if not found:
            sys.exit(f"FAIL memory on {name(grid)}: no memory report in\n{runner.last.stderr}")
        measured, predicted = float(found.group(1)), float(found.group(2))
        error = abs(predicted - measured) / measured
        print(f"grid {name(grid)}: predicted {predicted:.2f} MiB per rank, measured "
              f"{measured:.2f} MiB ({100 * error:.1f}% apart)", flush=True)
        if error > 0.05:
            sys.exit(f"FAIL memory on {name(grid)}: prediction {100 * error:.1f}% off")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=["equivalence", "resume", "memory"])
    p.add_argument("--config", required=True)
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--grids", required=True,
                   help="XxYxZxD,... or product=N (every power-of-two grid of N ranks)")
    p.add_argument("--seq-len", type=int, default=8)
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--goldfish", help="compile with this goldfish loss (tetra-compile's syntax)")
    args = p.parse_args()
    runner = Runner(args)
    {"equivalence": equivalence, "resume": resume, "memory": memory}[args.mode](args, runner)
    print("OK")


if __name__ == "__main__":
    main()
