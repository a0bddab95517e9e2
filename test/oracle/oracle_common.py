"""Shared steps of the oracle tests: compile a config, make random weights
and tokens of our own, and run the tetra tools."""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
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


def prepare(config, bin_dir, work, batch, seq, seed, global_batch=None, samples=None,
            goldfish=None):
    """Compiles `config`, writes random weights and tokens; returns
    (artifact dir, weights dict, checkpoint path, token array, token file)."""
    os.makedirs(work, exist_ok=True)
    art = os.path.join(work, "artifact")
    cmd = [os.path.join(bin_dir, "tetra-compile"), config, "--seq-len", str(seq),
           "--micro-batch", str(batch), "-o", art]
    if global_batch:
        cmd += ["--global-batch", str(global_batch)]
    if goldfish:
        cmd += ["--goldfish", goldfish]
    run(cmd)
    init = os.path.join(work, "init.safetensors")
    run([os.path.join(bin_dir, "tetra-run"), art, "--save-checkpoint", init])
    # The model's parameters (the checkpoint also holds the optimizer state).
    shapes = {name: list(t.shape) for name, t in safetensors_io.load(init).items()
              if not name.startswith("optimizer.")}
    weights = random_weights(shapes, seed)
    ckpt = os.path.join(work, "weights.safetensors")
    safetensors_io.save(ckpt, weights)
    vocab = weights[next(n for n in weights if "embed" in n or "wte" in n)].shape[0]
    gen = np.random.default_rng(seed)
    count = (samples or batch) * seq + 1
    tokens = gen.integers(0, vocab, size=count).astype(np.uint16)
    data = os.path.join(work, "tokens.bin")
    tokens.tofile(data)
    return art, weights, ckpt, tokens, data


def sample_batch(tokens, first, count, seq):
    """Samples first..first+count-1 as the runtime cuts them."""
    ids = np.stack([tokens[(first + i) * seq:(first + i) * seq + seq] for i in range(count)])
    tgt = np.stack([tokens[(first + i) * seq + 1:(first + i) * seq + seq + 1]
                    for i in range(count)])
    return torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(tgt.astype(np.int64))
