#!/usr/bin/env bash
# Calibrates the cost model on this machine and compares its predicted step
# times with measured ones, for 1- and 2-rank CPU configurations.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/build.sh"
tetra_build
/usr/bin/python3 "$(dirname "$0")/bench.py" --bin "$TETRA_BUILD/bin" --out "$TETRA_BUILD/bench-cost-model" "$@"
