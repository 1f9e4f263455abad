#!/usr/bin/env python3
"""Summarise a criterion run of eddy's benchmarks as markdown.

Reads every ``<criterion>/<group>/.../new/{benchmark,estimates}.json`` that
criterion wrote, and prints (or writes with ``--out``) one table per group:
benchmark id, median time per iteration (criterion's median point estimate),
throughput at that median, and the ratio of its throughput to the group's
baseline measured in the same run (``sled_raw``, ``fdatasync_loop``).
Then the issue's targets that can be computed from these ratios, met or
missed, and the markdown printed by the bench binaries (``--extra FILE``).

Python 3 standard library only.

    python3 benches/summary.py --criterion target/criterion \\
        --extra target/bench-out/fanout_latency.md --out target/bench-summary.md
"""

import argparse
import json
import os
import re
import sys

# The baseline id of each group: ratios are throughput / baseline's.
BASELINES = {
    "put_item": "sled_raw",
    # put_item built with the system allocator (benches/run.sh).
    "put_item_system_alloc": "sled_raw",
    "durable_put": "fdatasync_loop",
    "get_item": "sled_raw",
    "query": "sled_raw",
}
# Groups in the order the suite runs them; others follow alphabetically.
ORDER = ["put_item", "put_item_system_alloc", "durable_put", "get_item", "query", "get_records"]


class Bench:
    """One benchmark id's results."""

    def __init__(self, meta, estimates):
        self.group = meta["group_id"]
        self.function = meta.get("function_id") or ""
        self.value = meta.get("value_str") or ""
        self.full_id = meta.get("full_id") or meta.get("title")
        self.median_ns = estimates["median"]["point_estimate"]
        low_high = estimates["median"].get("confidence_interval", {})
        self.low_ns = low_high.get("lower_bound")
        self.high_ns = low_high.get("upper_bound")
        throughput = meta.get("throughput") or {}
        self.elements = throughput.get("Elements")
        self.bytes = throughput.get("Bytes")

    @property
    def id(self):
        return self.function + ("/" + self.value if self.value else "")

    def per_second(self):
        """Elements (or bytes) per second at the median, or None."""
        amount = self.elements if self.elements is not None else self.bytes
        if amount is None or self.median_ns <= 0:
            return None
        return amount / (self.median_ns * 1e-9)


def load(criterion_dir):
    """All benchmarks under ``criterion_dir``, by group id."""
    groups = {}
    for root, _dirs, files in os.walk(criterion_dir):
        if os.path.basename(root) != "new":
            continue
        if "benchmark.json" not in files or "estimates.json" not in files:
            continue
        with open(os.path.join(root, "benchmark.json")) as f:
            meta = json.load(f)
        with open(os.path.join(root, "estimates.json")) as f:
            estimates = json.load(f)
        bench = Bench(meta, estimates)
        groups.setdefault(bench.group, []).append(bench)
    return groups


def natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def sort_benches(group, benches):
    base = BASELINES.get(group)
    return sorted(
        benches,
        key=lambda b: (natural(b.value), b.function != base, natural(b.function)),
    )


def baseline_of(group, bench, benches):
    """The baseline benchmark a row is compared with, or None."""
    base = BASELINES.get(group)
    candidates = [b for b in benches if b.function == base]
    for b in candidates:
        if b.value == bench.value:
            return b
    for b in candidates:
        if not b.value:
            return b
    return candidates[0] if candidates else None


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(per_second, bench):
    if per_second is None:
        return "–"
    unit = "B/s" if bench.elements is None else "/s"
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if per_second >= scale:
            return f"{per_second / scale:.3g} {prefix}{unit}"
    return f"{per_second:.3g} {unit}"


def ratio(bench, base):
    if base is None or bench.median_ns <= 0:
        return None
    return base.median_ns / bench.median_ns


def group_table(group, benches):
    lines = [f"### {group}", ""]
    base_name = BASELINES.get(group)
    lines.append(
        "| id | median time | throughput | ratio to "
        + (f"`{base_name}`" if base_name else "baseline")
        + " |"
    )
    lines.append("|---|---:|---:|---:|")
    for b in sort_benches(group, benches):
        r = ratio(b, baseline_of(group, b, benches))
        lines.append(
            f"| `{b.id}` | {fmt_time(b.median_ns)} | {fmt_rate(b.per_second(), b)} | "
            + (f"{r:.2f}×" if r is not None else "–")
            + " |"
        )
    lines.append("")
    return lines


def find(groups, group, function, value=None):
    for b in groups.get(group, []):
        if b.function == function and (value is None or b.value == value):
            return b
    return None


def targets(groups):
    """The issue's targets computable from criterion's numbers."""
    rows = []

    def check(name, value, threshold, fmt="{:.2f}×"):
        goal = ">= " + fmt.format(threshold)
        if value is None:
            rows.append(f"| {name} | not measured | {goal} | – |")
        else:
            ok = value >= threshold
            rows.append(f"| {name} | {fmt.format(value)} | {goal} | {'met' if ok else 'missed'} |")

    for size in sorted({b.value for b in groups.get("put_item", [])}, key=natural):
        dest = find(groups, "put_item", "eddy_destination", size)
        for base, goal in (("sled_raw", 0.5), ("eddy_no_destination", 0.8)):
            other = find(groups, "put_item", base, size)
            value = ratio(dest, other) if dest and other else None
            check(f"put_item/{size}: eddy_destination / {base}", value, goal)
    fsync = find(groups, "durable_put", "fdatasync_loop")
    for function, goal in (("eddy_sync_1_writer", 0.8), ("eddy_sync_16_writers", 8.0)):
        b = find(groups, "durable_put", function)
        value = ratio(b, fsync) if b and fsync else None
        check(f"durable_put: {function} / fdatasync_loop", value, goal)
    for b in groups.get("get_records", []):
        per_second = b.per_second()
        check(
            f"get_records: {b.id} records/s",
            per_second,
            1e6,
            fmt="{:,.0f}",
        )
    if not rows:
        return []
    return [
        "### Targets (from the criterion groups)",
        "",
        "| target | measured | goal | |",
        "|---|---:|---|---|",
        *rows,
        "",
    ]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--criterion", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "criterion"))
    parser.add_argument("--preamble", help="markdown file to put first (the machine)")
    parser.add_argument("--extra", action="append", default=[],
                        help="markdown file to append (a bench binary's output)")
    parser.add_argument("--title", default="eddy benchmark summary")
    parser.add_argument("--out", help="write here instead of stdout")
    args = parser.parse_args(argv)

    groups = load(args.criterion)
    lines = [f"# {args.title}", ""]
    if args.preamble and os.path.exists(args.preamble):
        with open(args.preamble) as f:
            lines += [f.read().strip(), ""]
    if not groups:
        lines += [f"No criterion results under `{args.criterion}`.", ""]
    lines += [
        "Medians are criterion's median point estimate of the time per "
        "iteration; throughput is elements per second at that median; the "
        "ratio is throughput over the group's baseline in the same run.",
        "",
    ]
    names = [g for g in ORDER if g in groups] + sorted(set(groups) - set(ORDER))
    for g in names:
        lines += group_table(g, groups[g])
    lines += targets(groups)
    for path in args.extra:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            # Demote the binaries' "## " headings below the summary's.
            text = re.sub(r"^## ", "### ", text, flags=re.M)
            lines += [text, ""]
        else:
            lines += [f"*(no output: `{path}` is missing)*", ""]
    text = "\n".join(lines)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
        print(f"wrote {args.out}")
    else:
        print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
