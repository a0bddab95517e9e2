"""tetra-run --goldfish-mask against the rules of ALGORITHMS.md section 3
computed in Python (goldfish.py): every row, bit for bit."""
import argparse
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import goldfish  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--goldfish", required=True)
    parser.add_argument("--seq", type=int, default=24)
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--max-id", type=int, default=5,
                        help="token ids are drawn from 0 .. max-id - 1")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    art = os.path.join(args.work, "artifact")
    subprocess.run([os.path.join(args.bin, "tetra-compile"), args.config, "--seq-len",
                    str(args.seq), "--micro-batch", "4", "--goldfish", args.goldfish, "-o", art],
                   check=True)
    # Few distinct ids, so windows repeat; 0 included (a window with 0 has key 0).
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, args.max_id, size=args.rows * args.seq + 1).astype(np.uint16)
    data = os.path.join(args.work, "tokens.bin")
    tokens.tofile(data)
    out = subprocess.run([os.path.join(args.bin, "tetra-run"), art, "--data", data,
                          "--goldfish-mask", "--rows", str(args.rows)],
                         check=True, capture_output=True, text=True).stdout.split()
    targets = torch.tensor(np.stack([tokens[r * args.seq + 1:(r + 1) * args.seq + 1]
                                     for r in range(args.rows)]).astype(np.int64))
    expected = ["".join("1" if d else "0" for d in row)
                for row in goldfish.dropped(targets, args.goldfish).tolist()]
    drops = sum(line.count("1") for line in expected)
    print(f"{args.goldfish}: {drops} of {args.rows * args.seq} targets dropped")
    for got, want in zip(out, expected):
        print(got, "ok" if got == want else f"!= {want}")
    ok = out == expected and drops > 0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
