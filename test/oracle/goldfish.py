"""Goldfish masks written from ALGORITHMS.md section 3, independently of the
compiler: `static`, the reference "hash-avalanche" `hash` rule, and the
"hash-table" `table` rule with a user's table file."""
import numpy as np
import torch

TABLE_SIZE = 1_000_003

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
    `spec` like "hash:k=4:h=13", "static:k=4:start=1" or
    "table:k=4:h=13:FILE" (FILE: 1,000,003 little-endian f32)."""
    mode, *fields = spec.split(":")
    opts = {"k": 4, "h": 13, "start": 0}
    table = None
    for f in fields:
        if "=" not in f:
            table = np.fromfile(f, dtype="<f4")
            assert table.size == TABLE_SIZE, f
            continue
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
                if mode == "table":
                    signed = product - (1 << 64) if product >> 63 else product
                    # Python's % is non-negative for a positive divisor, as
                    # torch's remainder; the comparison in float32.
                    out[b, i] = bool(table[signed % TABLE_SIZE] < np.float32(1 / k))
                else:
                    out[b, i] = avalanche(product) < MASK / k
    return out
