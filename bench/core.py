"""Timing, results and the printed table."""

import json
import logging
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger("bench")

RESULTS = Path(__file__).resolve().parent / "results"
REPEATS = 3


@dataclass
class Row:
    workload: str
    size: str
    metric: str
    ours: float | None
    baseline: float | None = None
    peer: float | None = None
    ratio: float | None = None
    goal: str = ""
    ok: bool | None = None
    note: str = ""
    versus: str = ""
    group: str = ""


@dataclass
class Run:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        logger.info("%s", _line(row))
        return row


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(
    variants: dict[str, Callable[[], object]], repeats: int = REPEATS, inner: int = 1
) -> dict:
    """Seconds per call of each variant: each round runs every variant (`inner` times), in
    turn; the median of the rounds is kept, so a noisy moment on the shared machine hits all
    variants alike."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(values) for name, values in samples.items()}


def latencies(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def ratio_row(
    run: Run,
    workload: str,
    size: str,
    metric: str,
    ours: float,
    other: float,
    *,
    goal: float,
    versus: str,
    peer: bool = False,
    higher_is_better: bool = True,
    note: str = "",
) -> Row:
    ratio = (ours / other) if higher_is_better else (other / ours)
    return run.add(
        Row(
            workload,
            size,
            metric,
            ours,
            baseline=None if peer else other,
            peer=other if peer else None,
            ratio=ratio,
            goal=f">= {goal:g}x {versus}",
            ok=ratio >= goal,
            note=note,
            versus=versus,
        )
    )


def limit_row(
    run: Run, workload: str, size: str, metric: str, ours: float, *, limit: float, note: str = ""
) -> Row:
    return run.add(
        Row(workload, size, metric, ours, goal=f"<= {limit:g}", ok=ours <= limit, note=note)
    )


def info_row(run: Run, workload: str, size: str, metric: str, ours: float | None, note: str = ""):
    return run.add(Row(workload, size, metric, ours, goal="(measured)", note=note))


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


HEAD = ("workload", "data size", "metric", "ours", "baseline", "peer", "ratio", "goal", "")


def _cells(row: Row) -> tuple:
    verdict = {True: "pass", False: "MISS", None: ""}[row.ok]
    return (
        row.workload,
        row.size,
        row.metric,
        _fmt(row.ours),
        _fmt(row.baseline),
        _fmt(row.peer),
        f"{row.ratio:.2f}x" if row.ratio is not None else "-",
        row.goal,
        verdict,
    )


def _line(row: Row) -> str:
    return " | ".join(_cells(row)) + (f"  ({row.note})" if row.note else "")


def table(run: Run) -> str:
    rows = [HEAD, *(_cells(r) for r in run.rows)]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(HEAD))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"- {r.workload} {r.metric}: {r.note}" for r in run.rows if r.note]
    text = "\n".join(lines)
    if notes or run.notes:
        text += "\n\nNotes:\n" + "\n".join(notes + [f"- {n}" for n in run.notes])
    return text


def save(run: Run, path: Path | None = None) -> Path:
    path = path or RESULTS / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"meta": run.meta, "rows": [asdict(r) for r in run.rows], "notes": run.notes}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def markdown(rows: list[dict]) -> str:
    """The table as Markdown (for docs/scaling.md), from the rows of a results JSON."""
    lines = ["| " + " | ".join(HEAD[:-1]) + " | result |", "|" + " --- |" * len(HEAD)]
    for data in rows:
        cells = _cells(Row(**data))
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    notes = [f"- {r['workload']}, {r['metric']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "")
