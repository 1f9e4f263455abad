#!/usr/bin/env python3
"""Plot durable_put throughput against writer count, one series per
durability mode, as a hand-written SVG (Python 3 standard library only).

Reads criterion's ``<criterion>/durable_put/*/*/new/{benchmark,estimates}.json``
(through ``summary.load``): ids ``eddy_<mode>_<N>_writer[s]`` become points
(N, acknowledged writes per second at the median) of series ``<mode>``;
``fdatasync_loop`` becomes a dashed horizontal reference line.

    python3 benches/plot.py [--criterion target/criterion] \\
        [--out docs/benchmarks-durable-put.svg]
"""

import argparse
import math
import os
import re
import sys
from xml.sax.saxutils import escape

sys.dont_write_bytecode = True  # no __pycache__ in benches/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from summary import load  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
NAMES = {"sync": "Durability::Sync", "none": "Durability::None",
         "periodic": "Durability::Periodic"}
ID = re.compile(r"^eddy_([a-z0-9]+?)_(\d+)_writers?$")


def series_of(benches):
    """({mode: [(writers, writes/s)]}, fdatasync writes/s or None)."""
    series, baseline = {}, None
    for b in benches:
        rate = b.per_second()
        if rate is None:
            continue
        if b.function == "fdatasync_loop":
            baseline = rate
            continue
        m = ID.match(b.function)
        if m:
            series.setdefault(m.group(1), []).append((int(m.group(2)), rate))
    for points in series.values():
        points.sort()
    return series, baseline


def nice_max(value):
    """A round axis maximum at or above ``value``."""
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * exp >= value:
            return step * exp
    return 10 * exp


def fmt_rate(v):
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e3:
        return f"{v / 1e3:.3g}k"
    return f"{v:.3g}"


def svg(series, baseline, title):
    width, height = 780, 440
    left, right, top, bottom = 80, 230, 50, 60
    pw, ph = width - left - right, height - top - bottom
    writers = sorted({w for pts in series.values() for w, _ in pts}) or [1]
    lo, hi = math.log2(min(writers)), math.log2(max(writers))
    # Pad half a doubling on each side so no point sits on the frame.
    lo, hi = lo - 0.5, hi + 0.5
    values = [r for pts in series.values() for _, r in pts] + ([baseline] if baseline else [])
    ymax = nice_max(max(values) * 1.05 if values else 1)

    def x(w):
        return left + (math.log2(w) - lo) / (hi - lo) * pw

    def y(v):
        return top + ph - v / ymax * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left + pw / 2}" y="24" text-anchor="middle" font-size="15" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    # Grid and y ticks.
    for i in range(6):
        v = ymax * i / 5
        yy = y(v)
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end">'
                   f'{fmt_rate(v)}</text>')
    # X ticks at the measured writer counts (log2 scale).
    for w in writers:
        xx = x(w)
        out.append(f'<line x1="{xx:.1f}" y1="{top + ph}" x2="{xx:.1f}" y2="{top + ph + 5}" '
                   f'stroke="black"/>')
        out.append(f'<text x="{xx:.1f}" y="{top + ph + 20}" text-anchor="middle">{w}</text>')
    out += [
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="black"/>',
        f'<text x="{left + pw / 2}" y="{height - 15}" text-anchor="middle">'
        'writer threads (log scale)</text>',
        f'<text transform="translate(20 {top + ph / 2}) rotate(-90)" text-anchor="middle">'
        'acknowledged writes / s (median)</text>',
    ]
    legend = []
    if baseline:
        yy = y(baseline)
        out.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" '
                   f'stroke="#555" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{left + 6}" y="{yy + 14:.1f}" fill="#555">'
                   f'{fmt_rate(baseline)}</text>')
        legend.append(("fdatasync loop (serial limit)", "#555", True))
    for i, (mode, pts) in enumerate(sorted(series.items())):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{x(w):.1f},{y(r):.1f}" for w, r in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for w, r in pts:
            out.append(f'<circle cx="{x(w):.1f}" cy="{y(r):.1f}" r="4" fill="{color}"/>')
            out.append(f'<text x="{x(w) + 6:.1f}" y="{y(r) - 6:.1f}" fill="{color}">'
                       f'{fmt_rate(r)}</text>')
        legend.append((NAMES.get(mode, mode), color, False))
    for i, (label, color, dashed) in enumerate(legend):
        ly = top + 10 + i * 22
        lx = left + pw + 15
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 24}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 30}" y="{ly + 4}">{escape(label)}</text>')
    if not series:
        out.append(f'<text x="{left + pw / 2}" y="{top + ph / 2}" text-anchor="middle">'
                   'no durable_put results</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--criterion", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "criterion"))
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "benchmarks-durable-put.svg"))
    parser.add_argument("--title", default="durable_put: throughput by writer count")
    args = parser.parse_args(argv)
    benches = load(args.criterion).get("durable_put", [])
    series, baseline = series_of(benches)
    if not series:
        print(f"warning: no eddy_<mode>_<N>_writers results under {args.criterion}/durable_put",
              file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(svg(series, baseline, args.title))
    modes = ", ".join(f"{m} ({len(p)} points)" for m, p in sorted(series.items()))
    print(f"wrote {args.out}: {modes or 'no series'}"
          + (f", fdatasync baseline {baseline:.0f}/s" if baseline else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
