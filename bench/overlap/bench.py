"""Exposed communication with each overlap on and off, on 2 ranks.

For each grid (x = 2: the forward and backward all-reduces; z = 2: the weight
all-gathers, the dW reduce-scatters and the norms' gradient all-reduce;
data = 2: the gradient all-reduce), the model is compiled once per
overlap setting (none, each optimisation alone, all) and trained a few steps
under mpirun; the table gives the mean step time and the mean communication
the compute thread waited for (exposed), over the steps after the warm-up.
Settings run alternately, round after round, so that the machine's noise
falls on all of them alike.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import MPI_ENV, run, write_tokens  # noqa: E402

SETTINGS = {
    "2x1x1x1": ["none", "forward", "oar", "all"],
    "1x1x2x1": ["none", "oag", "ors", "dp", "all"],
    "1x1x1x2": ["none", "dp"],
}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "model.json"))
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--grids", default=",".join(SETTINGS))
    p.add_argument("--kernel-opt", default="O1",
                   help="clang level of the kernels (O1 compiles these in ~10 s, O3 in ~40 s; "
                        "the GEMMs are OpenBLAS's either way)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    env = MPI_ENV
    data = write_tokens(os.path.join(args.out, "tokens.u16"), args.config,
                        (args.steps + 1) * args.micro_batch * args.seq_len + 1)
    results = {}
    for grid in args.grids.split(","):
        for setting in SETTINGS[grid]:
            art = os.path.join(args.out, f"{grid}-{setting}")
            print(f"compiling {grid} with overlap {setting}", file=sys.stderr, flush=True)
            run([os.path.join(args.bin, "tetra-compile"), args.config, "--machine", "cpu",
                 "--seq-len", str(args.seq_len), "--micro-batch", str(args.micro_batch),
                 "--grid", grid, "--overlap", setting, "--kernel-opt", args.kernel_opt,
                 "-o", art])
    for round_ in range(args.rounds):
        for grid in args.grids.split(","):
            for setting in SETTINGS[grid]:
                art = os.path.join(args.out, f"{grid}-{setting}")
                log = os.path.join(args.out, f"{grid}-{setting}-{round_}.jsonl")
                if os.path.exists(log):
                    os.remove(log)
                print(f"round {round_ + 1}: {grid}, overlap {setting}", file=sys.stderr,
                      flush=True)
                run(["mpirun", "-np", "2", os.path.join(args.bin, "tetra-run"), art,
                     "--data", data, "--steps", str(args.steps), "--log", log], env)
                with open(log) as f:
                    lines = [json.loads(line) for line in f][args.warmup:]
                tokens = args.micro_batch * args.seq_len
                results.setdefault((grid, setting), []).extend(
                    (tokens / m["tokens_per_s"], m["exposed_comm_s"]) for m in lines)
    print(f"{os.path.basename(args.config)}: micro-batch {args.micro_batch} x {args.seq_len}, "
          f"2 ranks, mean of {args.rounds} x {args.steps - args.warmup} steps\n")
    print("| grid | overlap | step time (ms) | exposed communication (ms) | exposed vs none |")
    print("|---|---|---|---|---|")
    for grid in args.grids.split(","):
        base = None
        for setting in SETTINGS[grid]:
            samples = results[(grid, setting)]
            step = 1e3 * sum(s for s, _ in samples) / len(samples)
            exposed = 1e3 * sum(e for _, e in samples) / len(samples)
            if base is None:
                base = exposed
            print(f"| {grid} | {setting} | {step:.1f} | {exposed:.1f} | "
                  f"{exposed / base:.2f} |", flush=True)


if __name__ == "__main__":
    main()
