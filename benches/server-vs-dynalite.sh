#!/usr/bin/env bash
# The server load benchmark of docs/benchmarks.md: PutItem, GetItem and
# GetRecords over HTTP from 16 keep-alive connections, against `eddy serve`
# (in process, default Sync durability: every acknowledged write fsynced)
# and, in the same run, against dynalite on LevelDB.
#
#   benches/server-vs-dynalite.sh [seconds-per-phase]
#
# dynalite comes from the npm registry into .bench/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
mkdir -p .bench/dynalite
if [ ! -x .bench/dynalite/node_modules/.bin/dynalite ]; then
    (cd .bench/dynalite && npm install --no-audit --no-fund --silent dynalite@3.2.2)
fi
data="$(mktemp -d)"
port=45670
.bench/dynalite/node_modules/.bin/dynalite --port "$port" --path "$data" --createTableMs 0 > "$data/dynalite.log" 2>&1 &
dynalite_pid=$!
trap 'kill $dynalite_pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 50); do
    if (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; then break; fi
    sleep 0.1
done
cargo bench -q -p eddy-benches --bench server_load --no-run
echo "== eddy serve"
cargo bench -q -p eddy-benches --bench server_load -- --seconds "$seconds"
echo "== dynalite 3.2.2 (LevelDB)"
cargo bench -q -p eddy-benches --bench server_load -- --seconds "$seconds" --kinesis false --endpoint "http://127.0.0.1:$port"
