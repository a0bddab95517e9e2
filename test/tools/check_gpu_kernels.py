"""Counts what tetra-compile's GPU path produced, for gpu-artifact.test.

outlined FILE.mlir: the --emit gpu module; every gpu.launch_func has its own
  gpu.func, and no linalg op is left outside the kernels.
artifact DIR FILE.mlir: the manifest's kernel count equals the kernels in
  the assembly (PTX .entry or AMDGCN .amdhsa_kernel) and the outlined
  count; every gemm kernel's assembly issues tensor-core instructions.
"""
import json
import re
import sys


def outlined(path):
    text = open(path).read()
    host, _, kernels = text.partition("gpu.module @kernels")
    launches = re.findall(r"gpu\.launch_func\s+@kernels::@(\w+)", host)
    funcs = re.findall(r"gpu\.func @(\w+)\(", kernels)
    return host, launches, funcs


def main():
    mode = sys.argv[1]
    if mode == "outlined":
        host, launches, funcs = outlined(sys.argv[2])
        if sorted(launches) != sorted(funcs) or len(set(funcs)) != len(funcs):
            sys.exit("launches %d and kernels %d differ" % (len(launches), len(funcs)))
        left = len(re.findall(r"\blinalg\.\w+", host))
        gemms = sum(1 for f in funcs if f.endswith("_gemm"))
        print("launches == kernels (%d); gemm kernels: %d; linalg ops left in host code: %d"
              % (len(funcs), gemms, left))
        return
    directory, mlir = sys.argv[2], sys.argv[3]
    manifest = json.load(open(directory + "/manifest.json"))["gpu"]
    assembly = open(directory + "/" + manifest["assembly"]).read()
    _, _, funcs = outlined(mlir)
    if manifest["codegen"] == "nvvm":
        names = re.findall(r"\.visible \.entry (\w+)\(", assembly)
        bodies = re.split(r"\.visible \.entry ", assembly)[1:]
        tensor = "mma.sync.aligned.m16n8k16"
    else:
        names = re.findall(r"\.amdhsa_kernel (\w+)", assembly)
        # Each function starts at its label, alone on a line.
        bodies = re.split(r"\n(?=[A-Za-z_]\w*:\s*\n)", assembly)[1:]
        tensor = "v_mfma_f32_16x16x16bf16_1k"
    counts = (manifest["kernels"], len(names), len(funcs))
    if len(set(counts)) != 1:
        sys.exit("kernel counts differ: manifest %d, assembly %d, outlined %d" % counts)
    for body in bodies:
        name = re.match(r"\s*(\w+)", body).group(1)
        if name.endswith("_gemm") and tensor not in body:
            sys.exit("%s issues no %s" % (name, tensor))
    print("kernels: manifest == assembly == outlined (%d); every gemm kernel uses the "
          "tensor cores (%s)" % (counts[0], tensor))


main()
