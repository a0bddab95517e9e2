"""Goldfish masks written from ALGORITHMS.md section 3, independently of the
compiler: `static` and the reference "hash-avalanche" `hash` rule."""
import torch

U64 = (1 << 64) - 1
MASK = (1 << 32) - 1


def avalanche(key):
    """The reference hash, all arithmetic on unsigned 64-bit words."""
    key &= U64
    key = (((~key) & U64) + ((key << 21) & U64)) & U64 & MASK
    key = (((key << 21) & U64) - key - 1) & U64
    key = key ^ (key >> 24)
    key = ((key + ((key << 3) & U64)) + ((key << 8) & U64)) & U64 & MASK
    key = (key * 265) & U64
    key = key ^ (key >> 14)
    key = ((key + ((key << 2) & U64)) + ((key << 4) & U64)) & U64 & MASK
    key = (key * 21) & U64
    key = key ^ (key >> 28)
    key = (key + ((key << 31) & U64)) & U64 & MASK
    return key


def dropped(targets, spec):
    """Bool tensor: True where the rule drops the target. `targets` [B, S];
    `spec` like "hash:k=4:h=13" or "static:k=4:start=1"."""
    mode, *fields = spec.split(":")
    opts = {"k": 4, "h": 13, "start": 0}
    for f in fields:
        key, value = f.split("=")
        opts[key] = int(value)
    k, h, start = opts["k"], opts["h"], opts["start"]
    out = torch.zeros(targets.shape, dtype=torch.bool)
    for b in range(targets.shape[0]):
        row = [int(t) for t in targets[b]]
        for i in range(len(row)):
            if mode == "static":
                out[b, i] = i >= start and (i - start) % k == 0
            elif i >= h - 1:
                product = 1
                for t in row[i - h + 1:i + 1]:
                    product = (product * t) & U64  # two's complement wrap
                out[b, i] = avalanche(product) < MASK / k
    return out
