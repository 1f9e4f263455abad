#!/usr/bin/env bash
# End-to-end tests: boto3 against a real `eddy serve`.
#
#   scripts/e2e.sh                 # setup venv, build eddy (debug), run tests/e2e
#   scripts/e2e.sh -k kinesis -x   # extra arguments go to pytest
#
# Environment:
#   CARGO_TARGET_DIR   cargo's target directory (default: <repo>/target)
#   EDDY_BIN           use this eddy binary instead of building one
#   E2E_VENV, PYTHON   see scripts/e2e-setup.sh
#
# Exits with pytest's status (non-zero when any test fails or none ran).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
start=$(date +%s)

"$repo/scripts/e2e-setup.sh"
venv="${E2E_VENV:-$repo/.e2e/venv}"

if [[ -z "${EDDY_BIN:-}" ]]; then
    target="${CARGO_TARGET_DIR:-$repo/target}"
    [[ "$target" = /* ]] || target="$repo/$target"
    echo "e2e: building eddy (cargo build -p eddy-cli, target dir $target)"
    CARGO_TARGET_DIR="$target" cargo build --quiet -p eddy-cli
    EDDY_BIN="$target/debug/eddy"
fi
if [[ ! -x "$EDDY_BIN" ]]; then
    echo "e2e: no executable eddy at $EDDY_BIN" >&2
    exit 2
fi
export EDDY_BIN
echo "e2e: testing $EDDY_BIN"

mkdir -p "$repo/.e2e"
set +e
"$venv/bin/python" -m pytest "$repo/tests/e2e" -rfE --junitxml="$repo/.e2e/junit.xml" "$@"
status=$?
set -e

elapsed=$(( $(date +%s) - start ))
if [[ $status -eq 0 ]]; then
    echo "e2e: PASSED in ${elapsed}s (JUnit report: .e2e/junit.xml)"
else
    echo "e2e: FAILED (pytest exit $status) in ${elapsed}s (JUnit report: .e2e/junit.xml)"
fi
exit $status
