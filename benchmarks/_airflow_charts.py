"""Hand-written SVG charts of bench_airflow_triggerer.py results: ours, dbt Cloud's, floor vs N.

Usage: _airflow_charts.py [results.json]   (the benchmark calls ``draw_all`` after each run)
"""

from __future__ import annotations

import json
import math
import sys
from html import escape
from pathlib import Path
from typing import Any

COLORS = {"floor": "#7f7f7f", "bare": "#2ca02c", "ours": "#1f77b4", "dbt": "#d62728"}
NAMES = {
    "floor": "floor (no I/O)",
    "bare": "bare aiohttp poller",
    "ours": "PlanasonixJobTrigger",
    "dbt": "DbtCloudRunJobTrigger",
}

METRICS: list[tuple[str, str, Any]] = [
    (
        "life-cpu",
        "Triggerer CPU per trigger over its life, ms (runner + supervisor)",
        lambda r: r["life_cpu_ms_per_trigger"]["sup"] + r["life_cpu_ms_per_trigger"]["run"],
    ),
    (
        "detection-p99",
        "Detection latency p99, s (job done -> task instance scheduled)",
        lambda r: r["detection_s"]["p99"],
    ),
    ("all-polled", "Time until every trigger has polled once, s", lambda r: r["all_polled_s"]),
    ("log-lines", "Log lines per trigger", lambda r: r["log_lines_per_trigger"]),
]


def _nice_max(value: float) -> float:
    if value <= 0 or value != value:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exp >= value:
            return step * exp
    return 10 * exp


def chart(results: list[dict[str, Any]], title: str, value_of: Any, subtitle: str) -> str:
    width, height, left, right, top, bottom = 640, 360, 70, 190, 50, 50
    pw, ph = width - left - right, height - top - bottom
    sizes = sorted({(r["n"], r["poll_s"]) for r in results})
    series: dict[str, list[tuple[int, float]]] = {}
    # A leg that did not schedule every task instance (a trigger that stalled) has figures for
    # part of its triggers only: it is named under the chart, not drawn as a point.
    incomplete = [r for r in results if r.get("scheduled", r["n"]) < r["n"]]
    for r in results:
        if r in incomplete:
            continue
        v = value_of(r)
        if v is None or v != v:
            continue
        series.setdefault(r["kind"], []).append((sizes.index((r["n"], r["poll_s"])), float(v)))
    ymax = _nice_max(max((v for pts in series.values() for _, v in pts), default=1.0) * 1.05)

    def x(i: int) -> float:
        return left + (pw * (i + 0.5) / max(len(sizes), 1))

    def y(v: float) -> float:
        return top + ph - ph * v / ymax

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<text x="{left}" y="37" fill="#555">{escape(subtitle)}</text>',
    ]
    for k in range(6):
        v = ymax * k / 5
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e5e5e5"/>'
        )
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" stroke="#333"/>')
    out.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#333"/>'
    )
    for i, (n, poll) in enumerate(sizes):
        out.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" text-anchor="middle">N={n:,}</text>')
        out.append(
            f'<text x="{x(i):.1f}" y="{top + ph + 30}" text-anchor="middle" fill="#555">'
            f"poll {poll:g} s</text>"
        )
    for row, kind in enumerate(k for k in ("ours", "dbt", "bare", "floor") if k in series):
        pts = sorted(series[kind])
        color = COLORS[kind]
        if len(pts) > 1:
            path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, v in pts:
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="{color}"/>')
            out.append(f'<text x="{x(i) + 6:.1f}" y="{y(v) - 6:.1f}" fill="{color}">{v:.3g}</text>')
        ly = top + 10 + 20 * row
        out.append(
            f'<rect x="{left + pw + 15}" y="{ly - 9}" width="12" height="12" fill="{color}"/>'
        )
        out.append(f'<text x="{left + pw + 32}" y="{ly + 1}">{escape(NAMES[kind])}</text>')
    for row, r in enumerate(incomplete):
        lines = (
            f"not drawn: {NAMES[r['kind']]}",
            f"at N={r['n']:,}, {r.get('scheduled', 0):,} of {r['n']:,} scheduled,",
            f"{r.get('polled_once', 0):,} polled once (stalled)",
        )
        for k, line in enumerate(lines):
            out.append(
                f'<text x="{left + pw + 15}" y="{top + 90 + 44 * row + 12 * k}" '
                f'fill="{COLORS[r["kind"]]}" font-size="10">{escape(line)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def draw_all(results_json: Path) -> list[Path]:
    data = json.loads(Path(results_json).read_text())
    results = data["results"]
    meta = data.get("meta", {})
    subtitle = ("SMOKE (small N, noisy) — " if meta.get("smoke") else "") + (
        "airflow triggerer, SQLite, " + f"{meta.get('cpus', '?')} cores, {meta.get('when', '')}"
    )
    written = []
    for slug, title, value_of in METRICS:
        path = Path(results_json).with_name(f"chart-{slug}.svg")
        path.write_text(chart(results, title, value_of, subtitle))
        written.append(path)
    return written


if __name__ == "__main__":
    target = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else (Path(__file__).resolve().parent / "results" / "airflow-triggerer" / "results.json")
    )
    for p in draw_all(target):
        print(p)
