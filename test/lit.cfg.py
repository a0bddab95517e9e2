# -*- Python -*-
# lit configuration of Tetra's IR, importer and tool tests.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "Tetra"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.tetra_obj_root, "test")
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit"]

config.substitutions.append(("%examples", os.path.join(config.tetra_src_root, "examples")))
# The PyTorch oracle runs on Debian's python3 (the first python3 on PATH may
# lack torch).
config.substitutions.append(("%python", "/usr/bin/python3"))
config.substitutions.append(("%tetra_bin", config.tetra_tools_dir))
config.substitutions.append(("%tetra_src", config.tetra_src_root))
config.substitutions.append(("%tetra_obj", config.tetra_obj_root))

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tool_dirs = [config.tetra_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["tetra-opt", "tetra-translate", "tetra-compile", "tetra-run", "tetra-calibrate"], tool_dirs)

# GPU kernels: ptxas assembles PTX for sm_90a; the ROCm folder the build lays
# out holds the device libraries and ld.lld.
config.substitutions.append(("%ptxas", os.path.join(config.cuda_path, "bin", "ptxas")))
config.substitutions.append(("%cuda_path", config.cuda_path))
config.substitutions.append(("%rocm_path", config.rocm_path))
# Single kernels run by MLIR's JIT, emulated threads from the runtime's emulator.
config.substitutions.append(("%mlir_runner", os.path.join(config.llvm_tools_dir, "mlir-runner")))
config.substitutions.append(("%mlir_lib_dir", os.path.join(config.llvm_tools_dir, "..", "lib")))
config.substitutions.append(("%tetra_lib_dir", os.path.join(config.tetra_obj_root, "lib")))
config.environment["ROCM_PATH"] = config.rocm_path
# A machine with an NVIDIA driver runs GPU artifacts instead of refusing them.
try:
    import ctypes
    ctypes.CDLL("libcuda.so.1")
    config.available_features.add("cuda-driver")
except OSError:
    pass
if os.path.exists("/dev/kfd"):
    config.available_features.add("amd-gpu")
