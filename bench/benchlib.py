"""What the benchmarks share: the environment ranks run in, and running a tool."""
import array
import json
import os
import subprocess
import sys

# Open MPI as root with more ranks than cores; OpenBLAS on one thread per
# rank; waiting ranks yield the core instead of spinning on it.
MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1",
               OMPI_MCA_mpi_yield_when_idle="1")


def run(cmd, env=None):
    """Runs `cmd`; exits with its output when it fails."""
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    return result


def write_tokens(path, config, count):
    """`count` u16 token ids below the vocabulary of `config`, in a fixed
    pattern; returns `path`."""
    with open(config) as f:
        vocab = json.load(f)["vocab_size"]
    with open(path, "wb") as f:
        array.array("H", [(i * 7919 + i // 13) % vocab for i in range(count)]).tofile(f)
    return path
