"""Compiles a model config with tetra-compile, runs its forward pass and loss
with tetra-run on random weights and tokens, and compares logits and loss with
the independent PyTorch forward pass in reference.py.

Tolerances (fp32): max |logit difference| <= 1e-4 * max(1, max |logit|);
|loss difference| <= 1e-5 * max(1, loss)."""
import argparse
import json
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
from oracle_common import prepare, run, sample_batch  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--bin", required=True, help="directory of the tetra tools")
    parser.add_argument("--work", required=True)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    art, weights, ckpt, tokens, data = prepare(args.config, args.bin, args.work,
                                               args.batch, args.seq, args.seed)
    logits_file = os.path.join(args.work, "logits.bin")
    out = run([os.path.join(args.bin, "tetra-run"), art, "--init-from", ckpt, "--data", data,
               "--evaluate", "--dump-logits", logits_file])
    tetra_loss = float(re.search(r"loss: (\S+)", out).group(1))
    tetra_logits = torch.from_numpy(np.fromfile(logits_file, dtype=np.float32))

    ids, targets = sample_batch(tokens, 0, args.batch, args.seq)
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
