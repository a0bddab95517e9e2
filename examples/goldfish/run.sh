#!/usr/bin/env bash
# The goldfish memorisation experiment, one command: builds Tetra if needed,
# trains a small model many epochs on a few random sequences with the
# standard loss and with goldfish loss, and prints the table of
# docs/goldfish.md. Output lands in build/goldfish/.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/build.sh"
tetra_build
/usr/bin/python3 "$TETRA_ROOT/examples/goldfish/experiment.py" --bin "$TETRA_BUILD/bin" \
  --out "$TETRA_BUILD/goldfish" "$@"
