#!/usr/bin/env bash
# End-to-end tests with a second set of real clients against a real `eddy serve`:
# the AWS SDK for JavaScript v3 (tests/e2e-js, node:test) and an AWS CLI v1 smoke test.
#
#   scripts/e2e-js.sh                                  # install, build eddy (debug), run everything
#   scripts/e2e-js.sh --test-name-pattern=Subscribe    # extra arguments go to `node --test`
#
# Installs (each idempotent: a stamp holding the hash of the lock file and of the
# interpreter makes a second run a no-op):
#   tests/e2e-js/node_modules   `npm ci` from tests/e2e-js/package-lock.json (npm registry)
#   .e2e/venv-cli               awscli from tests/e2e-js/requirements-cli.txt (PyPI)
#
# Environment:
#   CARGO_TARGET_DIR   cargo's target directory (default: <repo>/target)
#   EDDY_BIN           use this eddy binary instead of building one
#   E2E_CLI_VENV       venv for the AWS CLI (default: <repo>/.e2e/venv-cli)
#   PYTHON             interpreter to create that venv with (default: python3)
#   NODE               node binary (default: node; Node.js 20 or newer)
#
# Exits with the test runner's status (non-zero when any test fails).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
start=$(date +%s)
js="$repo/tests/e2e-js"
node="${NODE:-node}"
python="${PYTHON:-python3}"
cli_venv="${E2E_CLI_VENV:-$repo/.e2e/venv-cli}"
cli_req="$js/requirements-cli.txt"

# -- Node.js and the SDK -------------------------------------------------------------
if ! command -v "$node" >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "e2e-js: node and npm are required (Node.js 20 or newer)" >&2
    exit 1
fi
node_major="$("$node" -p 'process.versions.node.split(".")[0]')"
if (( node_major < 20 )); then
    echo "e2e-js: Node.js 20 or newer is required, found $("$node" --version)" >&2
    exit 1
fi
npm_stamp="$js/node_modules/.e2e-js-stamp"
npm_want="$( { "$node" --version; cat "$js/package.json" "$js/package-lock.json"; } | sha256sum | cut -d' ' -f1)"
if [[ -f "$npm_stamp" && "$(cat "$npm_stamp")" == "$npm_want" ]]; then
    echo "e2e-js: tests/e2e-js/node_modules is up to date"
else
    echo "e2e-js: npm ci in tests/e2e-js"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$npm_want" > "$npm_stamp"
fi

# -- the AWS CLI (v1) in its own venv ------------------------------------------------
if ! command -v "$python" >/dev/null 2>&1; then
    echo "e2e-js: $python not found; install Python 3.9 or newer" >&2
    exit 1
fi
cli_stamp="$cli_venv/.e2e-stamp"
cli_want="$( { "$python" -c 'import sys; print(sys.version)'; cat "$cli_req"; } | sha256sum | cut -d' ' -f1)"
if [[ -x "$cli_venv/bin/aws" && -f "$cli_stamp" && "$(cat "$cli_stamp")" == "$cli_want" ]]; then
    echo "e2e-js: $cli_venv is up to date"
else
    echo "e2e-js: creating $cli_venv"
    rm -rf "$cli_venv"
    mkdir -p "$(dirname "$cli_venv")"
    if ! "$python" -m venv "$cli_venv"; then
        echo "e2e-js: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    fi
    "$cli_venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$cli_req"
    "$cli_venv/bin/python" -m pip check --disable-pip-version-check >/dev/null
    "$cli_venv/bin/aws" --version
    echo "$cli_want" > "$cli_stamp"
fi
export EDDY_AWS_CLI="$cli_venv/bin/aws"
# The pinned SDK supports Node.js 20; its notice about later releases needing 22 is noise here.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

# -- eddy ------------------------------------------------------------------------------
if [[ -z "${EDDY_BIN:-}" ]]; then
    target="${CARGO_TARGET_DIR:-$repo/target}"
    [[ "$target" = /* ]] || target="$repo/$target"
    echo "e2e-js: building eddy (cargo build -p eddy-cli, target dir $target)"
    CARGO_TARGET_DIR="$target" cargo build --quiet -p eddy-cli
    EDDY_BIN="$target/debug/eddy"
fi
if [[ ! -x "$EDDY_BIN" ]]; then
    echo "e2e-js: no executable eddy at $EDDY_BIN" >&2
    exit 2
fi
export EDDY_BIN
echo "e2e-js: testing $EDDY_BIN with $("$node" --version), $("$EDDY_AWS_CLI" --version 2>&1)"

# -- run ----------------------------------------------------------------------------------
mkdir -p "$repo/.e2e"
tests_start=$(date +%s)
set +e
(cd "$js" && "$node" --test --test-concurrency=2 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=junit --test-reporter-destination="$repo/.e2e/junit-js.xml" \
    "$@" test/)
status=$?
set -e

end=$(date +%s)
summary="in $(( end - start ))s (tests $(( end - tests_start ))s; JUnit report: .e2e/junit-js.xml)"
if [[ $status -eq 0 ]]; then
    echo "e2e-js: PASSED $summary"
else
    echo "e2e-js: FAILED (node --test exit $status) $summary"
fi
exit $status
