#!/usr/bin/env bash
# Exposed communication with each collective overlap on and off, 2 ranks.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/build.sh"
tetra_build
/usr/bin/python3 "$(dirname "$0")/bench.py" --bin "$TETRA_BUILD/bin" --out "$TETRA_BUILD/bench-overlap" "$@"
