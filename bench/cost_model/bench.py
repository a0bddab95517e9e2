"""Predicted against measured training-step times on this machine.

1. Calibration: the model is trained a few steps with tetra-run --trace on
   the configurations in --calibrate (one process, and x = 2 on two ranks);
   tetra-calibrate fits a machine file (GEMM peak and efficiency by size,
   memory bandwidth, collective latency and bandwidth) to those traces.
2. Validation: every configuration in --configs is trained without tracing
   and its median step time after the warm-up is compared with the step time
   the calibrated cost model predicts for it (tetra-compile --report-json,
   the same grid and overlap).
Calibration and validation runs alternate, round after round, so that the
machine's noise falls on all of them alike.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402


def run(cmd):
    return benchlib.run(cmd, benchlib.MPI_ENV)


def ranks(grid):
    n = 1
    for s in grid.split("x"):
        n *= int(s)
    return n


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "model.json"))
    p.add_argument("--machine", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                     "examples", "machines", "cpu.json"))
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calibrate", default="1x1x1x1,2x1x1x1")
    p.add_argument("--configs", default="1x1x1x1,2x1x1x1,1x2x1x1,1x1x2x1,1x1x1x2")
    p.add_argument("--overlap", default="all")
    p.add_argument("--write-machine", help="also copy the calibrated machine file here")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    data = benchlib.write_tokens(os.path.join(args.out, "tokens.u16"), args.config,
                        (args.steps + 1) * args.micro_batch * args.seq_len + 1)

    grids = list(dict.fromkeys(args.calibrate.split(",") + args.configs.split(",")))
    for grid in grids:
        print(f"compiling {grid} ...", flush=True)
        run([f"{args.bin}/tetra-compile", args.config, "--seq-len", str(args.seq_len),
             "--micro-batch", str(args.micro_batch), "--grid", grid, "--overlap", args.overlap,
             "--kernel-opt", "O1", "-o", os.path.join(args.out, grid)])

    def train(grid, extra):
        log = os.path.join(args.out, f"{grid}.log")
        cmd = [f"{args.bin}/tetra-run", os.path.join(args.out, grid), "--data", data,
               "--steps", str(args.steps), "--log", log] + extra
        n = ranks(grid)
        if n > 1:
            cmd = ["mpirun", "-np", str(n), "--oversubscribe", "--bind-to", "none"] + cmd
        run(cmd)
        with open(log) as f:
            elapsed = [json.loads(line)["elapsed_s"] for line in f if line.strip()]
        steps = [b - a for a, b in zip([0.0] + elapsed, elapsed)]
        return steps[args.warmup:]

    # Calibration and measured runs alternate round after round, so that the
    # machine's drift (its load moves step times by tens of percent over
    # minutes) falls on the fit and the measurements alike.
    traces = []
    measured = {g: [] for g in args.configs.split(",")}
    for r in range(args.rounds):
        for grid in args.calibrate.split(","):
            tdir = os.path.join(args.out, f"trace-{grid}-{r}")
            print(f"round {r + 1}: {grid} (traced, for the calibration) ...", flush=True)
            train(grid, ["--trace", tdir])
            traces += [os.path.join(tdir, f) for f in sorted(os.listdir(tdir))
                       if f.endswith(".json")]
        for grid in measured:
            print(f"round {r + 1}: {grid} ...", flush=True)
            measured[grid] += train(grid, [])
    calibrated = os.path.join(args.out, "cpu-calibrated.json")
    print(run([f"{args.bin}/tetra-calibrate", "--machine", args.machine, "-o", calibrated]
              + traces).stdout, end="")
    if args.write_machine:
        with open(calibrated) as f, open(args.write_machine, "w") as g:
            g.write(f.read())

    print()
    print(f"model {os.path.basename(args.config)}, micro-batch {args.micro_batch} x "
          f"{args.seq_len} tokens, overlap {args.overlap}, {args.rounds} rounds x "
          f"{args.steps - args.warmup} steps; calibrated on {args.calibrate}")
    print(f"{'grid':<10} {'ranks':>5} {'measured (ms)':>14} {'predicted (ms)':>15} "
          f"{'predicted/measured':>19}")
    worst = 0
    for grid, steps in measured.items():
        report = os.path.join(args.out, f"predict-{grid}.json")
        run([f"{args.bin}/tetra-compile", args.config, "--seq-len", str(args.seq_len),
             "--micro-batch", str(args.micro_batch), "--grid", grid, "--overlap", args.overlap,
             "--machine", calibrated, "--report-json", report])
        with open(report) as f:
            predicted = json.load(f)["winner"]["step_s"]
        m = statistics.median(steps)
        ratio = predicted / m
        worst = max(worst, abs(ratio - 1))
        print(f"{grid:<10} {ranks(grid):>5} {m * 1e3:>14.1f} {predicted * 1e3:>15.1f} "
              f"{ratio:>19.3f}")
    print(f"largest error: {100 * worst:.1f}%")


if __name__ == "__main__":
    main()
