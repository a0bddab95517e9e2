# Sourced by scripts/test and scripts/demo: installs what is missing, then
# configures (once) and builds Tetra in build/ with Ninja and ccache.
set -euo pipefail

TETRA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TETRA_BUILD="${TETRA_BUILD:-$TETRA_ROOT/build}"

# tetra_build [TARGET...]: everything, or just the targets named.
tetra_build() {
  "$TETRA_ROOT/scripts/bootstrap"
  if [[ ! -f "$TETRA_BUILD/build.ninja" ]]; then
    echo "== configuring $TETRA_BUILD"
    cmake -G Ninja -S "$TETRA_ROOT" -B "$TETRA_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  echo "== building (ninja -C $TETRA_BUILD $*)"
  ninja -C "$TETRA_BUILD" "$@"
}
