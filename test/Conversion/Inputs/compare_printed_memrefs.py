"""Compares the memrefs two runs printed with printMemrefF32, in order:
max |gpu - cpu| <= tolerance * max |cpu| for each."""
import re
import sys


def memrefs(path):
    text = open(path).read()
    parts = text.split("Unranked Memref")[1:]
    out = []
    for part in parts:
        data = part.split("data =", 1)[1]
        out.append([float(x) for x in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?|-?nan|-?inf", data)])
    return out


def main():
    cpu, gpu, tolerance = memrefs(sys.argv[1]), memrefs(sys.argv[2]), float(sys.argv[3])
    if len(cpu) != len(gpu) or not cpu:
        sys.exit("printed %d and %d memrefs" % (len(cpu), len(gpu)))
    failed = False
    for i, (a, b) in enumerate(zip(cpu, gpu)):
        if len(a) != len(b):
            sys.exit("memref %d: %d and %d values" % (i, len(a), len(b)))
        scale = max(abs(x) for x in a)
        diff = max(abs(x - y) for x, y in zip(a, b))
        ok = diff <= tolerance * scale
        failed |= not ok
        print("memref %d: %d values, max |gpu - cpu| = %.3e = %.2e of max |cpu| %s"
              % (i, len(a), diff, diff / scale, "ok" if ok else "FAILED"))
    sys.exit(1 if failed else 0)


main()
