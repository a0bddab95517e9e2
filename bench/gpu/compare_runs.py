"""Compares a GPU run of Tetra with the CPU run of the same model (stdlib only).

logits CPU.f32 GPU.f32 TOL: raw float32 logits (tetra-run --dump-logits);
  passes when max |gpu - cpu| <= TOL * max |cpu|.
losses CPU.jsonl GPU.jsonl TOL: per-step losses (tetra-run --log); passes
  when every step's |gpu - cpu| <= TOL * |cpu|.
"""
import array
import json
import sys


def read_floats(path):
    values = array.array("f")
    with open(path, "rb") as f:
        values.frombytes(f.read())
    return values


def losses(path):
    return [json.loads(line)["loss"] for line in open(path) if line.strip()]


def main():
    mode, cpu, gpu, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    if mode == "logits":
        a, b = read_floats(cpu), read_floats(gpu)
        if len(a) != len(b):
            sys.exit("logits: %d values on the CPU, %d on the GPU" % (len(a), len(b)))
        scale = max(abs(x) for x in a)
        worst = max(abs(x - y) for x, y in zip(a, b))
        ok = worst <= tol * scale
        print("logits: %d values, max |gpu - cpu| = %.3e = %.2e of max |cpu| (tolerance %.0e) %s"
              % (len(a), worst, worst / scale, tol, "ok" if ok else "FAILED"))
    else:
        a, b = losses(cpu), losses(gpu)
        if len(a) != len(b):
            sys.exit("losses: %d steps on the CPU, %d on the GPU" % (len(a), len(b)))
        ok = True
        for step, (x, y) in enumerate(zip(a, b), 1):
            rel = abs(x - y) / abs(x)
            ok = ok and rel <= tol
            print("  step %d: loss cpu %.6f gpu %.6f (relative difference %.2e)" % (step, x, y, rel))
        print("losses: %d steps, tolerance %.0e relative %s" % (len(a), tol, "ok" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


main()
