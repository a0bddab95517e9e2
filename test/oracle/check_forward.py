"""Compiles a model config with tetra-compile, runs its forward pass and loss
with tetra-run on random weights and tokens, and compares logits and loss with
the independent PyTorch forward pass in reference.py.

Tolerances (fp32): max |logit difference| <= 1e-4 * max(1, max |logit|);
|loss difference| <= 1e-5 * max(1, loss)."""
import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
import safetensors_io  # noqa: E402


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr}")
    return result.stdout


def random_weights(names_and_shapes, seed):
    """Values of our own, independent of Tetra's initialisers."""
    gen = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in sorted(names_and_shapes.items()):
        noise = torch.randn(shape, generator=gen)
        if name.endswith(".bias"):
            weights[name] = 0.1 * noise
        elif len(shape) == 1:  # norm scales
            weights[name] = 1.0 + 0.1 * noise
        else:
            weights[name] = 0.3 * noise
    return weights


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--bin", required=True, help="directory of the tetra tools")
    parser.add_argument("--work", required=True)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    with open(args.config) as f:
        cfg = json.load(f)
    art = os.path.join(args.work, "artifact")
    run([os.path.join(args.bin, "tetra-compile"), args.config, "--seq-len", str(args.seq),
         "--micro-batch", str(args.batch), "-o", art])

    tetra_run = os.path.join(args.bin, "tetra-run")
    init = os.path.join(args.work, "init.safetensors")
    run([tetra_run, art, "--save-checkpoint", init])
    # The model's parameters (the checkpoint also holds the optimizer state).
    shapes = {name: list(t.shape) for name, t in safetensors_io.load(init).items()
              if not name.startswith("optimizer.")}
    weights = random_weights(shapes, args.seed)
    ckpt = os.path.join(args.work, "weights.safetensors")
    safetensors_io.save(ckpt, weights)

    vocab = weights[next(n for n in weights if "embed" in n or "wte" in n)].shape[0]
    gen = np.random.default_rng(args.seed)
    tokens = gen.integers(0, vocab, size=args.batch * args.seq + 1).astype(np.uint16)
    data = os.path.join(args.work, "tokens.bin")
    tokens.tofile(data)

    logits_file = os.path.join(args.work, "logits.bin")
    out = run([tetra_run, art, "--init-from", ckpt, "--data", data, "--evaluate",
               "--dump-logits", logits_file])
    tetra_loss = float(re.search(r"loss: (\S+)", out).group(1))
    tetra_logits = torch.from_numpy(np.fromfile(logits_file, dtype=np.float32))

    ids = torch.from_numpy(tokens[:-1].astype(np.int64)).view(args.batch, args.seq)
    targets = torch.from_numpy(tokens[1:].astype(np.int64)).view(args.batch, args.seq)
    with torch.no_grad():
        ref_logits = reference.forward(cfg, weights, ids)
        ref_loss = F.cross_entropy(ref_logits.reshape(-1, ref_logits.shape[-1]),
                                   targets.reshape(-1)).item()
    tetra_logits = tetra_logits.view(ref_logits.shape)
    err = (tetra_logits - ref_logits).abs().max().item()
    scale = max(1.0, ref_logits.abs().max().item())
    loss_err = abs(tetra_loss - ref_loss)
    name = os.path.basename(args.config)
    print(f"{name}: max |logit diff| = {err:.3g} (max |logit| {scale:.3g}); "
          f"loss tetra {tetra_loss:.6f} torch {ref_loss:.6f} diff {loss_err:.3g}")
    ok = err <= 1e-4 * scale and loss_err <= 1e-5 * max(1.0, ref_loss)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
