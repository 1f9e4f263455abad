#!/usr/bin/env bash
# Runs eddy's whole benchmark suite in a fixed order, then writes
# $TARGET/bench-summary.md (medians, throughput and ratios per group, the
# targets, and the bench binaries' tables) and the durable_put plot.
#
#   benches/run.sh            # the real run: takes a while, use a quiet machine
#   QUICK=1 benches/run.sh    # smoke run: short criterion times, small sizes;
#                             # its plot goes to $TARGET, not docs/
#
# Environment:
#   CARGO_TARGET_DIR   cargo's target dir (default: target); criterion's
#                      output is $CARGO_TARGET_DIR/criterion
#   QUICK=1            smoke mode (see above)
#   FANOUT_ARGS        arguments of fanout_latency (default: --rate 2000 --seconds 5)
#   RECOVERY_ARGS      arguments of recovery (default: --mb 100)
#   MEMORY_ARGS        arguments of memory (default: --items 1000000 --cache-mib 64)
#   GROUP_COMMIT_ARGS  arguments of group_commit (default: --seconds 5)
#   WRITE_CPU_ARGS     arguments of write_cpu (default: --items 200000 --items-4k 50000 --rounds 2)
#   PUT_RATIO_ARGS     arguments of put_ratio (default: --rounds 30 --slice-ms 300)
#   PLOT_OUT           where the SVG goes (default: docs/benchmarks-durable-put.svg)
#   KEEP_CRITERION=1   keep earlier criterion results (by default they are
#                      removed first, so the summary holds this run only)
set -euo pipefail
cd "$(dirname "$0")/.."

# Absolute: criterion runs in the bench crate's directory and writes under
# $CARGO_TARGET_DIR, which a relative path would resolve against that.
TARGET="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
export CARGO_TARGET_DIR="$TARGET"
OUT="$TARGET/bench-out"
SUMMARY="$TARGET/bench-summary.md"

if [[ "${QUICK:-0}" == 1 ]]; then
    CRITERION_ARGS=(--warm-up-time 1 --measurement-time 1 --sample-size 10)
    FANOUT_ARGS="${FANOUT_ARGS:---rate 1000 --seconds 1 --warmup 100}"
    RECOVERY_ARGS="${RECOVERY_ARGS:---mb 8}"
    MEMORY_ARGS="${MEMORY_ARGS:---items 20000 --cache-mib 64}"
    GROUP_COMMIT_ARGS="${GROUP_COMMIT_ARGS:---seconds 1 --baseline-seconds 1}"
    WRITE_CPU_ARGS="${WRITE_CPU_ARGS:---items 20000 --items-4k 5000 --rounds 1}"
    PUT_RATIO_ARGS="${PUT_RATIO_ARGS:---rounds 3 --slice-ms 100}"
    PLOT_OUT="${PLOT_OUT:-$TARGET/benchmarks-durable-put.svg}"
    TITLE="eddy benchmark summary (QUICK smoke run: not for publishing)"
else
    # Each group's configured warm-up, measurement time and sample size.
    CRITERION_ARGS=()
    FANOUT_ARGS="${FANOUT_ARGS:---rate 2000 --seconds 5}"
    RECOVERY_ARGS="${RECOVERY_ARGS:---mb 100}"
    MEMORY_ARGS="${MEMORY_ARGS:---items 1000000 --cache-mib 64}"
    GROUP_COMMIT_ARGS="${GROUP_COMMIT_ARGS:---seconds 5}"
    WRITE_CPU_ARGS="${WRITE_CPU_ARGS:---items 200000 --items-4k 50000 --rounds 2}"
    PUT_RATIO_ARGS="${PUT_RATIO_ARGS:---rounds 30 --slice-ms 300}"
    PLOT_OUT="${PLOT_OUT:-docs/benchmarks-durable-put.svg}"
    TITLE="eddy benchmark summary"
fi

echo "== build"
cargo bench -p eddy-benches --no-run

if [[ "${KEEP_CRITERION:-0}" != 1 ]]; then
    rm -rf "$TARGET/criterion"
fi
rm -rf "$OUT"
mkdir -p "$OUT"

for bench in put_item durable_put reads get_records; do
    echo "== criterion: $bench"
    cargo bench -p eddy-benches --bench "$bench" -- "${CRITERION_ARGS[@]}"
done
# The same put_item group built with the system allocator instead of
# mimalloc (group put_item_system_alloc; docs/benchmarks.md, "The allocator").
echo "== criterion: put_item, system allocator"
cargo bench -p eddy-benches --no-default-features --bench put_item -- "${CRITERION_ARGS[@]}"

run_binary() {
    local bench="$1"
    shift
    echo "== binary: $bench $*"
    # The binary prints markdown on stdout; cargo's own output goes to stderr.
    cargo bench -p eddy-benches --bench "$bench" -- "$@" | tee "$OUT/$bench.md"
}
# shellcheck disable=SC2086 # the *_ARGS are word lists
run_binary fanout_latency $FANOUT_ARGS
# shellcheck disable=SC2086
run_binary recovery $RECOVERY_ARGS
# shellcheck disable=SC2086
run_binary memory $MEMORY_ARGS
# shellcheck disable=SC2086
run_binary group_commit $GROUP_COMMIT_ARGS
# shellcheck disable=SC2086
run_binary write_cpu $WRITE_CPU_ARGS
# shellcheck disable=SC2086
run_binary put_ratio $PUT_RATIO_ARGS

echo "== summary"
{
    echo "- Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
    grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /- CPU: /' || true
    echo "- Commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo "- Date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "- Allocator: mimalloc in every bench binary, baselines included; the system allocator in put_item_system_alloc"
    echo "- Target dir: $TARGET; QUICK=${QUICK:-0}"
} > "$OUT/machine.md"
python3 benches/summary.py --criterion "$TARGET/criterion" --title "$TITLE" \
    --preamble "$OUT/machine.md" \
    --extra "$OUT/fanout_latency.md" \
    --extra "$OUT/recovery.md" \
    --extra "$OUT/memory.md" \
    --extra "$OUT/group_commit.md" \
    --extra "$OUT/write_cpu.md" \
    --extra "$OUT/put_ratio.md" \
    --out "$SUMMARY"
python3 benches/plot.py --criterion "$TARGET/criterion" --out "$PLOT_OUT"
echo "== done: $SUMMARY, $PLOT_OUT"
