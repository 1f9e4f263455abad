#!/usr/bin/env bash
# Checks every dependency's licence, source and version against deny.toml,
# installing cargo-deny first if this machine lacks it. Idempotent.
#
# The advisories check is not run here: it fetches the RustSec advisory
# database from outside the package registries, which this project's build
# machines cannot reach. Run `cargo deny check advisories` where the network
# allows; deny.toml lists the advisories eddy knowingly carries.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deny --version >/dev/null 2>&1; then
    echo "deny: installing cargo-deny"
    cargo install cargo-deny --locked --quiet
fi
cargo deny --log-level warn check bans licenses sources
