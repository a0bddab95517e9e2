"""Reads the dynamic loader's log (LD_DEBUG=libs) of a program run from
bench/gpu/prepare.sh's archive and says whether every library it initialised
came from the archive's lib/ or is one a CUDA machine provides (glibc, the C++
runtime, the driver, cuBLAS, NCCL).

check_bundle_loads.py LOG BUNDLE_LIB
"""
import os
import re
import sys

PROVIDED = re.compile(r"^(ld-linux.*|lib(c|m|dl|rt|pthread|stdc\+\+|gcc_s|cuda|cublas|cublasLt|nccl)\.so.*)$")


def main(log, bundle_lib):
    bundle_lib = os.path.realpath(bundle_lib)
    loaded = set()
    with open(log, errors="replace") as f:
        for line in f:
            match = re.search(r"calling init: (\S+)", line)
            if match:
                loaded.add(match.group(1))
    if not loaded:
        print("the log names no library the loader initialised")
        return 1
    from_bundle = [p for p in loaded if os.path.dirname(os.path.realpath(p)) == bundle_lib]
    others = sorted(p for p in loaded if p not in from_bundle
                    and not PROVIDED.match(os.path.basename(p)))
    if others:
        print("loaded from outside the archive:", " ".join(others))
        return 1
    print(f"loaded {len(loaded)} libraries: {len(from_bundle)} from the archive, "
          f"the others glibc, the C++ runtime or CUDA's")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
