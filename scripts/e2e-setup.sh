#!/usr/bin/env bash
# Creates .e2e/venv and installs the pinned end-to-end test dependencies
# (tests/e2e/requirements.txt). Idempotent: a stamp file holding the hash of
# the requirements and of the Python interpreter makes a second run a no-op.
#
# Environment:
#   E2E_VENV   venv location (default: <repo>/.e2e/venv)
#   PYTHON     interpreter to create the venv with (default: python3)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${E2E_VENV:-$repo/.e2e/venv}"
python="${PYTHON:-python3}"
req="$repo/tests/e2e/requirements.txt"
stamp="$venv/.e2e-stamp"

if ! command -v "$python" >/dev/null 2>&1; then
    echo "e2e-setup: $python not found; install Python 3.9 or newer" >&2
    exit 1
fi

want="$( { "$python" -c 'import sys; print(sys.version)'; cat "$req"; } | sha256sum | cut -d' ' -f1)"

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "e2e-setup: $venv is up to date"
    exit 0
fi

echo "e2e-setup: creating $venv"
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
if ! "$python" -m venv "$venv"; then
    echo "e2e-setup: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req"
# Check that what got installed is what was asked for.
"$venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
"$venv/bin/python" -c 'import boto3, botocore, pytest, requests'
echo "$want" > "$stamp"
echo "e2e-setup: installed $(grep -c '==' "$req") pinned packages into $venv"
