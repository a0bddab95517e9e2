"""Greedy generation of tetra-run (--generate) against PyTorch: the same
weights, the same prompts, the reference model decoding greedily one token at
a time. The continuations must be identical token for token (the weights are
random and large enough that no two logits tie)."""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
from oracle_common import prepare, run  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--prompt-len", type=int, default=4)
    parser.add_argument("--new", type=int, default=8)
    args = parser.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    seq = args.prompt_len + args.new
    # Micro-batch 2: three prompts take two batches.
    art, weights, ckpt, tokens, _ = prepare(args.config, args.bin, args.work, 2, seq, 5)
    vocab = cfg.get("vocab_size")
    gen = np.random.default_rng(11)
    prompts = gen.integers(0, vocab, size=(args.prompts, args.prompt_len)).astype(np.uint16)
    prompt_file = os.path.join(args.work, "prompts.u16")
    prompts.tofile(prompt_file)
    out = run([os.path.join(args.bin, "tetra-run"), art, "--init-from", ckpt, "--generate",
               "--prompt-tokens", prompt_file, "--prompt-len", str(args.prompt_len),
               "--max-new-tokens", str(args.new)])
    tetra = [[int(t) for t in line.split()] for line in out.strip().splitlines()]
    ok = len(tetra) == args.prompts
    with torch.no_grad():
        for p, got in zip(prompts, tetra):
            ids = torch.from_numpy(p.astype(np.int64))[None]
            for _ in range(args.new):
                logits = reference.forward(cfg, weights, ids)
                ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
            want = ids[0, args.prompt_len:].tolist()
            print(f"prompt {p.tolist()}: tetra {got} torch {want}")
            ok &= got == want
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
