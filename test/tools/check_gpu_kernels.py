"""Counts what tetra-compile's GPU path produced, for gpu-artifact.test.

outlined FILE.mlir: the --emit gpu module; every gpu.launch_func launches a
  gpu.func there, every gpu.func is launched, only GEMM kernels (gemm_*,
  one per shape) serve more than one launch, and no linalg op is left
  outside the kernels.
artifact DIR FILE.mlir: the manifest's kernel count equals the kernels in
  the assembly (PTX .entry or AMDGCN .amdhsa_kernel) and the outlined
  count; every gemm and attention kernel's assembly issues tensor-core
  instructions.
async DIR: of the PTX's gemm and attention kernels, how many copy to
  shared memory asynchronously (cp.async).
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
        if set(launches) != set(funcs) or len(set(funcs)) != len(funcs):
            sys.exit("launches %d of %d kernels, but the kernels are %d"
                     % (len(launches), len(set(launches)), len(funcs)))
        shared = sorted(f for f in set(launches) if launches.count(f) > 1
                        and not f.startswith(("gemm_", "attention_")))
        if shared:
            sys.exit("kernels other than GEMMs and attention serve several launches: %s"
                     % shared)
        left = len(re.findall(r"\blinalg\.\w+", host))
        loops = len(re.findall(r"\bscf\.(?:for|while|parallel)\b", host))
        gemms = [f for f in funcs if f.startswith("gemm_")]
        gemm_launches = sum(1 for f in launches if f.startswith("gemm_"))
        attention = [f for f in funcs if f.startswith("attention_")]
        attention_launches = sum(1 for f in launches if f.startswith("attention_"))
        print("launches %d of %d kernels; gemm kernels: %d for %d launches; "
              "attention kernels: %d for %d launches; linalg ops left in host code: %d; "
              "loops left in host code: %d"
              % (len(launches), len(funcs), len(gemms), gemm_launches, len(attention),
                 attention_launches, left, loops))
        return
    if mode == "async":
        assembly = open(sys.argv[2] + "/kernels/kernels.ptx").read()
        bodies = re.split(r"\.visible \.entry ", assembly)[1:]
        for kind in ("gemm_", "attention_"):
            mine = [b for b in bodies if b.startswith(kind)]
            copying = [b for b in mine if "cp.async.cg.shared.global" in b]
            print("%s kernels copying asynchronously: %d of %d;"
                  % (kind.rstrip("_"), len(copying), len(mine)), end=" ")
        print()
        return
    directory, mlir = sys.argv[2], sys.argv[3]
    manifest = json.load(open(directory + "/manifest.json"))["gpu"]
    assembly = open(directory + "/" + manifest["assembly"]).read()
    _, _, funcs = outlined(mlir)
    if manifest["codegen"] == "nvvm":
        names = re.findall(r"\.visible \.entry (\w+)\(", assembly)
        bodies = re.split(r"\.visible \.entry ", assembly)[1:]
        # sm_90a's GEMMs issue wgmma; attention stays warp-wide.
        warp = "mma.sync.aligned.m16n8k16"
        gemm = "wgmma.mma_async.sync.aligned.m64n" if manifest["chip"] == "sm_90a" else warp
        tensor = {"gemm_": gemm, "attention_": warp}
    else:
        names = re.findall(r"\.amdhsa_kernel (\w+)", assembly)
        # Each function starts at its label, alone on a line.
        bodies = re.split(r"\n(?=[A-Za-z_]\w*:\s*\n)", assembly)[1:]
        mfma = "v_mfma_f32_16x16x16bf16_1k"
        tensor = {"gemm_": mfma, "attention_": mfma}
    counts = (manifest["kernels"], len(names), len(funcs))
    if len(set(counts)) != 1:
        sys.exit("kernel counts differ: manifest %d, assembly %d, outlined %d" % counts)
    for body in bodies:
        name = re.match(r"\s*(\w+)", body).group(1)
        for kind, instruction in tensor.items():
            if name.startswith(kind) and instruction not in body:
                sys.exit("%s issues no %s" % (name, instruction))
    print("kernels: manifest == assembly == outlined (%d); every gemm and attention kernel "
          "uses the tensor cores (gemm: %s, attention: %s)"
          % (counts[0], tensor["gemm_"], tensor["attention_"]))


main()
