"""The report: one result record per method, the table on stdout and the JSON files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def result(method: str, rows: int | None, seconds: float | None, **extra: Any) -> dict[str, Any]:
    rate = round(rows / seconds) if rows and seconds else None
    return {"method": method, "rows": rows, "seconds": round(seconds, 3) if seconds else seconds,
            "rows_per_s": rate, **extra}


def fmt(value: Any, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def table(report: dict[str, Any]) -> str:
    res = report["results"]
    psql_rate = (res.get("psql") or {}).get("rows_per_s")
    lines = [f"{'method':<34} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'vs psql':>8}  "
             "peak RSS MB"]
    for key in ("psql", "pipeline", "pgloader", "rerun"):
        r = res.get(key)
        if r is None:
            continue
        if r.get("status") in ("not installed", "not applicable", "skipped"):
            lines.append(f"{r['method']:<34} {r['status']}")
            continue
        ratio = (f"{r['rows_per_s'] / psql_rate:.2f}x"
                 if psql_rate and r.get("rows_per_s") and key != "rerun" else "-")
        rss = ", ".join(f"{k} {v:.0f}" for k, v in (r.get("peak_rss_mb") or {}).items())
        lines.append(f"{r['method']:<34} {fmt(r['rows']):>10} {fmt(r['seconds'], '.2f'):>8} "
                     f"{fmt(r['rows_per_s']):>9} {ratio:>8}  {rss}")
    lines += notes(res)
    return "\n".join(lines)


def notes(res: dict[str, Any]) -> list[str]:
    out = []
    if res.get("psql", {}).get("note"):
        out.append(f"psql: {res['psql']['note']}")
    pub = res.get("pipeline", {}).get("publish")
    if pub:
        out.append(f"producer alone: {fmt(pub['rows_per_s'])} rows/s, "
                   f"{fmt(pub['batches_per_s'])} batches/s ({pub['batches']} batches in "
                   f"{pub['elapsed_s']:.2f} s)")
    rerun = res.get("rerun")
    if rerun:
        pub = rerun.get("producer") or {}
        out.append(f"rerun / full run: {rerun['rerun_over_full']:.2f} (target <= 0.55); killed "
                   f"with ~{rerun['published_at_kill']} rows published, "
                   f"{rerun['offset_rows_at_kill']} in the saved offset, "
                   f"{rerun['committed_at_kill']} committed, "
                   f"{rerun['producer_age_at_kill_s']:.2f} s after the producer's start; "
                   "rerun started with "
                   f"{rerun['committed_at_rerun_start']} committed, resumed from line "
                   f"{pub.get('resumed_from_line')}, republished {pub.get('rows_read')} rows")
    return out


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kind = "dirty" if report["dirty"] else "clean"
    path = out_dir / f"bench-{report['rows']}-{kind}-{stamp}.json"
    text = json.dumps(report, indent=2, default=str) + "\n"
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path
