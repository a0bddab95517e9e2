"""The goldfish memorisation experiment (ALGORITHMS.md section 3), small.

A model is trained many epochs on a handful of random token sequences, once
with the standard loss and once with goldfish loss; then it continues each
sequence's prefix greedily. A memorised sequence comes back verbatim. Reports,
for both losses: the exact-match rate of the continuations, the mean length of
the longest prefix of the continuation that matches the training text, and the
loss (unmasked) on held-out sequences. Everything runs through tetra-compile
and tetra-run.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def run(cmd, what):
    start = time.time()
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{what} failed:\n{result.stderr}")
    return result, time.time() - start


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bin", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--config", default=os.path.join(os.path.dirname(__file__), "model.json"))
    p.add_argument("--sequences", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--prefix", type=int, default=16)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--goldfish", default="hash:k=4:h=13")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kernel-opt", default="O3", help="tetra-compile --kernel-opt")
    p.add_argument("--check", action="store_true",
                   help="exit 1 unless the standard loss memorises more than goldfish loss "
                        "(exact matches and matching prefixes)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(args.config) as f:
        vocab = json.load(f)["vocab_size"]
    n, s = args.sequences, args.seq_len

    # Random sequences: nothing to learn but the sequences themselves. Sample
    # j of a token file is tokens[j*S .. j*S+S], so one extra token closes the
    # last sample.
    rng = np.random.default_rng(args.seed)
    train = rng.integers(1, vocab, size=(n, s)).astype(np.uint16)
    held_out = rng.integers(1, vocab, size=(n, s)).astype(np.uint16)
    files = {}
    for name, seqs in (("train", train), ("held-out", held_out)):
        files[name] = os.path.join(args.out, f"{name}.u16")
        np.concatenate([seqs.reshape(-1), seqs[:1, 0]]).tofile(files[name])
    prompts = os.path.join(args.out, "prompts.u16")
    train[:, :args.prefix].tofile(prompts)

    rows = []
    for label, goldfish in (("standard loss", None), (f"goldfish ({args.goldfish})", args.goldfish)):
        tag = "goldfish" if goldfish else "standard"
        art = os.path.join(args.out, tag)
        compile_cmd = [os.path.join(args.bin, "tetra-compile"), args.config, "--machine", "cpu",
                       "--seq-len", str(s), "--micro-batch", str(n),
                       "--kernel-opt", args.kernel_opt, "-o", art]
        if goldfish:
            compile_cmd += ["--goldfish", goldfish]
        run(compile_cmd, f"compiling the {label} model")
        ckpt = os.path.join(art, "trained.safetensors")
        # One step = one epoch (the global batch is every sequence).
        print(f"training with {label}: {args.epochs} epochs over {n} sequences of {s} tokens",
              flush=True)
        _, seconds = run([os.path.join(args.bin, "tetra-run"), art, "--data", files["train"],
                          "--steps", str(args.epochs), "--lr", str(args.lr), "--warmup", "20",
                          "--seed", str(args.seed), "--log", os.path.join(art, "metrics.jsonl"),
                          "--save-checkpoint", ckpt], f"training with {label}")
        with open(os.path.join(art, "metrics.jsonl")) as f:
            final = [json.loads(line) for line in f][-1]
        generated, _ = run([os.path.join(args.bin, "tetra-run"), art, "--init-from", ckpt,
                            "--generate", "--prompt-tokens", prompts, "--prompt-len",
                            str(args.prefix), "--max-new-tokens", str(s - args.prefix)],
                           f"generating with {label}")
        continuations = [[int(t) for t in line.split()]
                         for line in generated.stdout.strip().splitlines()]
        truth = train[:, args.prefix:]
        exact = sum(c == t.tolist() for c, t in zip(continuations, truth))
        prefixes = []
        for c, t in zip(continuations, truth):
            k = 0
            while k < len(c) and c[k] == t[k]:
                k += 1
            prefixes.append(k)
        validation, _ = run([os.path.join(args.bin, "tetra-run"), art, "--init-from", ckpt,
                             "--data", files["held-out"], "--evaluate"],
                            f"evaluating with {label}")
        val_loss = float(validation.stdout.split("loss:")[1].split()[0])
        rows.append((label, exact / n, float(np.mean(prefixes)), val_loss, final["loss"],
                     seconds))
        print(f"  {seconds:.0f} s; final training loss {final['loss']:.3f}", flush=True)

    width = max(len(r[0]) for r in rows)
    print()
    print(f"{n} random sequences of {s} tokens (vocabulary {vocab}), {args.epochs} epochs; "
          f"greedy continuation of the first {args.prefix} tokens ({s - args.prefix} tokens)")
    print()
    print(f"| {'loss'.ljust(width)} | exact-match rate | mean longest matching prefix | "
          f"held-out loss | final training loss |")
    print(f"|{'-' * (width + 2)}|---|---|---|---|")
    for label, rate, prefix, val, train_loss, _ in rows:
        print(f"| {label.ljust(width)} | {rate:.2f} ({round(rate * n)}/{n}) | "
              f"{prefix:.1f} of {s - args.prefix} tokens | {val:.3f} | {train_loss:.3f} |")
    if args.check:
        standard, goldfish = rows
        if not (standard[1] > goldfish[1] and standard[2] > 2 * goldfish[2]):
            sys.exit("FAIL: goldfish loss did not memorise less than the standard loss")
        print("PASS: the standard loss memorised more than goldfish loss")


if __name__ == "__main__":
    main()
