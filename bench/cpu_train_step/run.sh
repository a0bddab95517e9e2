#!/usr/bin/env bash
# Tetra's CPU training step against PyTorch eager, measured side by side.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/build.sh"
tetra_build
/usr/bin/python3 "$(dirname "$0")/bench.py" --bin "$TETRA_BUILD/bin" "$@"
