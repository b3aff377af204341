"""The report: one result record per method, the tables on stdout and the JSON files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

SKIPPED: Final = ("not installed", "not applicable", "skipped")
METHODS: Final = ("psql", "pipeline", "pgloader", "rerun")
# CPU groups shown in the tables (all groups are in the JSON): the loader's own processes, then
# the backends of its database.
CPU_SHOWN: Final = ("psql", "pgloader", "consumers", "producer", "postgres")


def result(method: str, rows: int | None, seconds: float | None, **extra: Any) -> dict[str, Any]:
    rate = round(rows / seconds) if rows and seconds else None
    return {"method": method, "rows": rows, "seconds": round(seconds, 3) if seconds else seconds,
            "rows_per_s": rate, **extra}


def fmt(value: Any, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def timed(r: dict[str, Any] | None) -> float | None:
    """Seconds of a method that ran (None if it was skipped or is absent)."""
    return r.get("seconds") if r and r.get("status") not in SKIPPED else None


def ratio(num: float | None, den: float | None) -> float | None:
    return round(num / den, 3) if num and den else None


def ratios(res: dict[str, Any]) -> dict[str, float | None]:
    """Time ratios to the pipeline (psql seconds / pipeline seconds: above 1, the pipeline is
    faster)."""
    pipe = timed(res.get("pipeline"))
    return {"psql_over_pipeline": ratio(timed(res.get("psql")), pipe),
            "pgloader_over_pipeline": ratio(timed(res.get("pgloader")), pipe)}


def same_content(res: dict[str, Any]) -> dict[str, bool | None]:
    """Whether the pipeline's and pgloader's tables hold psql's rows, value for value (None: not
    compared, e.g. a dirty file, whose rows are not the clean file's)."""
    base = (res.get("psql") or {}).get("content")
    return {key: (None if not base or not (res.get(key) or {}).get("content")
                  else res[key]["content"] == base) for key in ("pipeline", "pgloader")}


def cpu_text(r: dict[str, Any]) -> str:
    per = r.get("cpu_s_per_1m_rows") or {}
    return " ".join(f"{k} {per[k]:.2f}" for k in CPU_SHOWN if per.get(k) is not None)


def method_line(key: str, r: dict[str, Any], psql_s: float | None) -> str:
    if r.get("status") in SKIPPED:
        why = f": {r['note']}" if r.get("note") and r["status"] == "not installed" else ""
        return f"{r['method']:<34} {r['status']}{why}"
    vs = ratio(psql_s, r.get("seconds")) if key != "rerun" else None
    rss = ", ".join(f"{k} {v:.0f}" for k, v in (r.get("peak_rss_mb") or {}).items())
    return (f"{r['method']:<34} {fmt(r['rows']):>10} {fmt(r['seconds'], '.2f'):>8} "
            f"{fmt(r['rows_per_s']):>9} {(f'{vs:.2f}x' if vs else '-'):>8}  "
            f"{cpu_text(r):<48} {rss}")


def run_table(run: dict[str, Any]) -> str:
    res = run["results"]
    psql_s = timed(res.get("psql"))
    kind = "dirty" if run["dirty"] else "clean"
    lines = [f"== {run['shape']}, {kind}, {run['rows']} rows: {run['file']}",
             f"{'method':<34} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'psql/this':>8}  "
             f"{'CPU s per 1M rows':<48} peak RSS MB"]
    lines += [method_line(k, res[k], psql_s) for k in METHODS if res.get(k)]
    return "\n".join(lines + notes(run))


def notes(run: dict[str, Any]) -> list[str]:
    res, out = run["results"], []
    timed = ", ".join(name for name in ("psql", "pgloader")
                      if res.get(name, {}).get("seconds") is not None)
    if res.get("psql", {}).get("note"):
        out.append(f"{timed or 'psql'}: {res['psql']['note']}")
    if timed and any(res.get(name, {}).get("reused") for name in ("psql", "pgloader")):
        out.append(f"{timed}: the figures of the clean run of this shape (timed once)")
    differs = [k for k, same in run.get("same_content_as_psql", {}).items() if same is False]
    if differs:
        out.append(f"content differs from psql's: {', '.join(differs)} (see the JSON)")
    pub = res.get("pipeline", {}).get("publish")
    if pub:
        batches = f"{pub['batches']} batch" + ("" if pub["batches"] == 1 else "es")
        out.append(f"producer alone: {fmt(pub['rows_per_s'])} rows/s, "
                   f"{fmt(pub['batches_per_s'])} batches/s ({batches} in "
                   f"{pub['elapsed_s']:.2f} s)")
    if res.get("rerun"):
        out.append(rerun_note(res["rerun"]))
    return out


def rerun_note(rerun: dict[str, Any]) -> str:
    pub = rerun.get("producer") or {}
    return (f"rerun / full run: {rerun['rerun_over_full']:.2f} (target <= 0.55); killed "
            f"with ~{rerun['published_at_kill']} rows published, "
            f"{rerun['offset_rows_at_kill']} in the saved offset, "
            f"{rerun['committed_at_kill']} committed, "
            f"{rerun['producer_age_at_kill_s']:.2f} s after the producer's start; rerun started "
            f"with {rerun['committed_at_rerun_start']} committed, resumed from line "
            f"{pub.get('resumed_from_line')}, republished {pub.get('rows_read')} rows")


def summary_table(runs: list[dict[str, Any]]) -> str:
    """One line per run: the three loaders side by side."""
    lines = [f"{'shape':<6} {'data':<5} {'rows':>9} {'psql s':>7} {'pipe s':>7} {'pgl s':>7} "
             f"{'psql/pipe':>9} {'pgl/pipe':>8} {'pipe rows/s':>11} "
             f"{'CPU s/1M: consumers':>19} {'producer':>8} {'postgres':>8}"]
    for run in runs:
        res, r = run["results"], run["ratios"]
        per = res["pipeline"].get("cpu_s_per_1m_rows") or {}
        lines.append(
            f"{run['shape']:<6} {'dirty' if run['dirty'] else 'clean':<5} {run['rows']:>9} "
            f"{fmt(timed(res.get('psql')), '.2f'):>7} {fmt(timed(res['pipeline']), '.2f'):>7} "
            f"{fmt(timed(res.get('pgloader')), '.2f'):>7} "
            f"{fmt(r['psql_over_pipeline'], '.2f'):>9} "
            f"{fmt(r['pgloader_over_pipeline'], '.2f'):>8} "
            f"{fmt(res['pipeline']['rows_per_s']):>11} {fmt(per.get('consumers'), '.2f'):>19} "
            f"{fmt(per.get('producer'), '.2f'):>8} {fmt(per.get('postgres'), '.2f'):>8}")
    return "\n".join(lines)


def tables(report: dict[str, Any]) -> str:
    parts = [run_table(run) for run in report["runs"]]
    if len(report["runs"]) > 1:
        parts.append("== side by side\n" + summary_table(report["runs"]))
    return "\n\n".join(parts)


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    runs = report["runs"]
    label = ("matrix" if report["matrix"] else
             f"{runs[0]['shape']}-{'dirty' if runs[0]['dirty'] else 'clean'}")
    path = out_dir / f"bench-{report['rows']}-{label}-{stamp}.json"
    text = json.dumps(report, indent=2, default=str) + "\n"
    path.write_text(text)
    (out_dir / "latest.json").write_text(text)
    return path
